//! Configuration: embedded defaults (`config.default.toml`), then an optional
//! TOML file, then `SCREENHUB_*` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use screenhub_core::retry::RetrySchedule;
use serde::{Deserialize, Deserializer, Serialize};

pub const DEFAULT_TOML: &str = include_str!("../../../config.default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key: String,
    #[serde(deserialize_with = "list_or_csv")]
    pub retry_schedule_ms: Vec<u64>,
    #[serde(deserialize_with = "list_or_csv")]
    pub outbound_allow: Vec<IpNet>,
    pub outbound_timeout_ms: u64,
    pub delivery_concurrency: usize,
    pub failing_after_attempts: u32,
    pub failing_after_secs: u64,
    pub ashby_api_base_url: String,
    /// The Basic credential Greenhouse gave this deployment for its "Mark
    /// Test as Completed" PATCH (never the account's token).
    pub greenhouse_patch_username: String,
    pub greenhouse_patch_password: String,
    /// The only hosts the PATCH (and its credential) may go to.
    #[serde(deserialize_with = "list_or_csv")]
    pub greenhouse_patch_hosts: Vec<String>,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    pub auth_failure_limit: u32,
    pub auth_failure_window_secs: u64,
    pub pii_retention_days: u32,
    pub dashboard_session_hours: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Accept a TOML list, or a comma-separated string (the form environment
/// variables take: `SCREENHUB_RETRY_SCHEDULE_MS=0,100,1000`).
fn list_or_csv<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv<T> {
        List(Vec<T>),
        Csv(String),
        One(u64),
    }
    match ListOrCsv::<T>::deserialize(d)? {
        ListOrCsv::List(v) => Ok(v),
        ListOrCsv::One(n) => n
            .to_string()
            .parse()
            .map(|v| vec![v])
            .map_err(serde::de::Error::custom),
        ListOrCsv::Csv(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<T>()
                    .map_err(|e| serde::de::Error::custom(format!("`{p}`: {e}")))
            })
            .collect(),
    }
}

/// Overrides from command-line flags (only those given).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Load the layered configuration. `file` is the `--config` path, if any.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        let figment =
            figment
                // SCREENHUB_CONFIG names the file; SCREENHUB_TEST_* belong to the test suite.
                .merge(Env::prefixed("SCREENHUB_").filter(|k| {
                    k != "config" && !k.as_str().to_ascii_lowercase().starts_with("test_")
                }))
                .merge(Serialized::defaults(overrides));
        let config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults only (tests and the demo start from here).
    pub fn defaults() -> Self {
        Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("the embedded default configuration is valid")
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.retry_schedule()
            .map_err(|e| anyhow::anyhow!("retry_schedule_ms: {e}"))?;
        if !self.public_url.is_empty() {
            screenhub_core::order::validate_http_url(&self.public_url)
                .map_err(|e| anyhow::anyhow!("public_url {e}"))?;
        }
        anyhow::ensure!(
            self.delivery_concurrency > 0,
            "delivery_concurrency must be at least 1"
        );
        anyhow::ensure!(
            (1..=720).contains(&self.dashboard_session_hours),
            "dashboard_session_hours must be between 1 and 720 (30 days)"
        );
        anyhow::ensure!(
            self.failing_after_attempts > 0,
            "failing_after_attempts must be at least 1"
        );
        anyhow::ensure!(
            self.greenhouse_patch_hosts
                .iter()
                .all(|h| !h.is_empty() && !h.contains(['/', ':', ' ', '@'])),
            "greenhouse_patch_hosts (SCREENHUB_GREENHOUSE_PATCH_HOSTS) must be bare host names, e.g. app.greenhouse.io,127.0.0.1"
        );
        anyhow::ensure!(
            self.greenhouse_patch_username.is_empty() == self.greenhouse_patch_password.is_empty(),
            "set both greenhouse_patch_username and greenhouse_patch_password \
             (SCREENHUB_GREENHOUSE_PATCH_USERNAME / SCREENHUB_GREENHOUSE_PATCH_PASSWORD), or neither"
        );
        anyhow::ensure!(
            self.outbound_timeout_ms >= 100,
            "outbound_timeout_ms must be at least 100"
        );
        Ok(())
    }

    pub fn retry_schedule(&self) -> Result<RetrySchedule, String> {
        RetrySchedule::new(self.retry_schedule_ms.clone())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("screenhub.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The base URL people and the ATS reach this hub at (no trailing slash).
    pub fn public_url(&self, bound: SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("http://{bound}")
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its large error type
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_and_valid() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.retry_schedule().unwrap(), RetrySchedule::default());
        assert!(c.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn env_lists_may_be_comma_separated() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SCREENHUB_RETRY_SCHEDULE_MS", "0,10,20");
            jail.set_env("SCREENHUB_OUTBOUND_ALLOW", "127.0.0.0/8, 10.1.0.0/16");
            jail.set_env("SCREENHUB_LISTEN", "127.0.0.1:9999");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.retry_schedule_ms, vec![0, 10, 20]);
            assert_eq!(c.outbound_allow.len(), 2);
            assert_eq!(c.listen.to_string(), "127.0.0.1:9999");
            let c = Config::load(
                None,
                &Overrides {
                    listen: Some("127.0.0.1:1".into()),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(c.listen.to_string(), "127.0.0.1:1");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_explained() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SCREENHUB_RETRY_SCHEDULE_MS", "0,soon");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("soon"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_dashboard_session_length_is_configurable_within_bounds() {
        assert_eq!(Config::defaults().dashboard_session_hours, 12);
        figment::Jail::expect_with(|jail| {
            jail.set_env("SCREENHUB_DASHBOARD_SESSION_HOURS", "2");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.dashboard_session_hours, 2);
            jail.set_env("SCREENHUB_DASHBOARD_SESSION_HOURS", "0");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("dashboard_session_hours"), "{err}");
            Ok(())
        });
    }
}
