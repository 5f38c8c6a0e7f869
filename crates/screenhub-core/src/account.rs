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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ats {
    #[default]
    Ashby,
}

impl Ats {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ashby => "ashby",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        (s == "ashby").then_some(Self::Ashby)
    }
    pub fn default_api_base_url(self) -> &'static str {
        match self {
            Self::Ashby => "https://api.ashbyhq.com",
        }
    }
}
