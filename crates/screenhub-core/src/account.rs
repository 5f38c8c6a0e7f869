//! Accounts: one linked employer ATS account each.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Waiting for the employer's ATS API key to be verified.
    Pending,
    Active,
    /// Something needs the employer's attention; `status_reason` says what.
    Error,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Error => "error",
            Self::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Active, Self::Error, Self::Disabled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    #[default]
    Production,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Test => "test",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "production" => Some(Self::Production),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

/// Which applicant tracking system an account is linked to. Everything
/// specific to one lives in its connector (`screenhub::connectors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ats {
    #[default]
    Ashby,
    Greenhouse,
}

impl Ats {
    pub const ALL: [Ats; 2] = [Self::Ashby, Self::Greenhouse];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ashby => "ashby",
            Self::Greenhouse => "greenhouse",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
    /// The ATS's name as people write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ashby => "Ashby",
            Self::Greenhouse => "Greenhouse",
        }
    }
    /// The ATS's API the hub calls for an account, where there is one per account.
    pub fn default_api_base_url(self) -> &'static str {
        match self {
            Self::Ashby => "https://api.ashbyhq.com",
            // Greenhouse is never called at an account-wide address: the
            // doorbell goes to the URL each send_test names.
            Self::Greenhouse => "https://app.greenhouse.io",
        }
    }
}

impl std::fmt::Display for Ats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
