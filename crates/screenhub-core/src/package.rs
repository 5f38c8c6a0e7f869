//! Packages: what the vendor sells, shown to Ashby as "Assessment Types".

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    BackgroundCheck,
    Assessment,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackgroundCheck => "background_check",
            Self::Assessment => "assessment",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "background_check" => Some(Self::BackgroundCheck),
            "assessment" => Some(Self::Assessment),
            _ => None,
        }
    }
}

/// Namespace for the UUIDs Ashby sees for packages (UUIDv5 of the slug), so the
/// same slug always maps to the same Assessment Type id.
const PACKAGE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5c7e_e2b1_4a3d_4f0e_9b8a_1d2c_3e4f_5a6b);

/// The stable Assessment Type id Ashby sees for a package slug.
pub fn ats_type_id(slug: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&PACKAGE_NAMESPACE, slug.as_bytes())
}

/// A package id is a slug the vendor chooses: lowercase letters, digits, `-` and `_`.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    let ok_len = (1..=64).contains(&slug.len());
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let ok_start = slug
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "package id `{}` must be 1–64 characters of lowercase letters, digits, `-` or `_`, starting with a letter or digit",
            slug.chars().take(80).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_are_stable_and_distinct() {
        assert_eq!(ats_type_id("basic"), ats_type_id("basic"));
        assert_ne!(ats_type_id("basic"), ats_type_id("pro"));
        assert_eq!(ats_type_id("basic").get_version_num(), 5);
    }

    #[test]
    fn slugs() {
        assert!(validate_slug("criminal-basic_2").is_ok());
        for bad in ["", "Basic", "-x", "a b", &"x".repeat(65)] {
            assert!(validate_slug(bad).is_err(), "{bad}");
        }
    }
}
