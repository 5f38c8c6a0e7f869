//! Typed, prefixed identifiers. A prefix tells a person what an id names
//! (`acct_…`, `dlv_…`); the type stops one kind of id being passed as another.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by 26 characters)")]
pub struct IdParseError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = json!(concat!($prefix, "01JDQ8Z5X9M2K4T6V8W0Y2A4C6")))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id: time-ordered (ULID), so ids sort in creation order.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::new()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.strip_prefix($prefix) {
                    Some(rest) if ulid::Ulid::from_string(rest).is_ok() => Ok(Self(s.to_owned())),
                    _ => Err(IdParseError { kind: $kind, prefix: $prefix, value: s.chars().take(64).collect() }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// One linked employer ATS account.
    AccountId, "acct_", "account");
prefixed_id!(
    /// A vendor API key (the id, never the secret).
    ApiKeyId, "key_", "API key");
prefixed_id!(
    /// One outbound message: a vendor webhook or an ATS update.
    DeliveryId, "dlv_", "delivery");
prefixed_id!(
    /// A vendor webhook endpoint.
    EndpointId, "ep_", "webhook endpoint");
prefixed_id!(
    /// A one-time employer connect session.
    ConnectSessionId, "cs_", "connect session");

/// An order's id is the `assessment_id` Ashby sees, and Ashby types it as a UUID.
/// UUIDv7 keeps ids in creation order, which makes them usable as a cursor.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct OrderId(pub uuid::Uuid);

impl OrderId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl FromStr for OrderId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| IdParseError {
                kind: "order",
                prefix: "",
                value: s.chars().take(64).collect(),
            })
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_foreign_prefixes() {
        let id = AccountId::generate();
        assert!(id.as_str().starts_with("acct_"));
        assert_eq!(id.as_str().parse::<AccountId>().unwrap(), id);
        let err = id
            .as_str()
            .replace("acct_", "dlv_")
            .parse::<AccountId>()
            .unwrap_err();
        assert!(err.to_string().contains("not a valid account id"));
        assert!("acct_nope".parse::<AccountId>().is_err());
    }

    #[test]
    fn ids_sort_in_creation_order() {
        let a = OrderId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = OrderId::generate();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
