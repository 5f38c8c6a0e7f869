//! Configuration: embedded defaults (`config.default.toml`), then an optional
//! TOML file, then `SCREENHUB_*` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::IpNet;
use screenhub_core::retry::RetrySchedule;
use serde::{Deserialize, Deserializer, Serialize};

pub const DEFAULT_TOML: &str = include_str!("../../../config.default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(deserialize_with = "host_and_port")]
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key: String,
    #[serde(deserialize_with = "list_or_csv")]
    pub retry_schedule_ms: Vec<u64>,
    #[serde(deserialize_with = "list_or_csv")]
    pub outbound_allow: Vec<OutboundAllow>,
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
    /// The connection layer: see `crate::edge`.
    pub header_read_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    /// 0: half the process's open-file limit.
    pub max_connections: usize,
    /// 0: an eighth of `max_connections`, at least 8.
    pub max_connections_per_client: usize,
    /// Peers whose `X-Forwarded-For` names the client (load balancers).
    #[serde(deserialize_with = "list_or_csv")]
    pub trusted_proxies: Vec<Network>,
    /// Serve `/metrics` here instead of on `listen` (empty: on `listen`).
    pub metrics_listen: String,
    /// Require `Authorization: Bearer <metrics_token>` on `/metrics` (empty: none).
    pub metrics_token: String,
}

/// A network given as a CIDR (`10.0.0.0/8`) or a bare address (`10.0.0.7`,
/// taken as that one host), the way people write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(pub IpNet);

impl std::str::FromStr for Network {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
            .map(Network)
            .map_err(|_| {
                anyhow::anyhow!("`{s}` is neither an address (10.0.0.7) nor a network (10.0.0.0/8)")
            })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Network {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

/// An `outbound_allow` entry: a network or address, optionally narrowed to one
/// port (`127.0.0.1:9000`, `[::1]:9000`, `10.0.0.0/8:443`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundAllow {
    pub network: Network,
    /// `None`: every port.
    pub port: Option<u16>,
}

impl std::str::FromStr for OutboundAllow {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if let Ok(network) = s.parse::<Network>() {
            return Ok(Self {
                network,
                port: None,
            });
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Self {
                network: Network(addr.ip().into()),
                port: Some(addr.port()),
            });
        }
        // A network with a port: `10.0.0.0/8:443`.
        let hint = || {
            anyhow::anyhow!(
                "`{s}` is not an address (127.0.0.1), a network (127.0.0.0/8) or either with a port (127.0.0.1:9000)"
            )
        };
        let (network, port) = s.rsplit_once(':').ok_or_else(hint)?;
        Ok(Self {
            network: network.parse().map_err(|_| hint())?,
            port: Some(port.parse().map_err(|_| hint())?),
        })
    }
}

impl std::fmt::Display for OutboundAllow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.port, self.network.0) {
            (None, net) => net.fmt(f),
            (Some(port), IpNet::V6(net)) if net.prefix_len() == 128 => {
                write!(f, "[{}]:{port}", net.addr())
            }
            (Some(port), net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}:{port}", net.addr())
            }
            (Some(port), net) => write!(f, "{net}:{port}"),
        }
    }
}

/// Both read and written as their text form, so TOML lists, the
/// comma-separated environment form and `config show` agree.
macro_rules! as_text {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
as_text!(Network, OutboundAllow);

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

/// `HOST:PORT`, where HOST is an IP address or `localhost` (the loopback
/// address, as people type it).
fn host_and_port<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    parse_listen(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// An address to listen on, `HOST:PORT`; `localhost` is the IPv4 loopback.
/// Every `--listen` flag takes this form.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let parsed = match text.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| {
        format!("`{text}` is not HOST:PORT (e.g. 127.0.0.1:8080, localhost:8080 or 0.0.0.0:8080)")
    })
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
                .merge(Flags(overrides));
        let config: Config = figment
            .extract()
            .map_err(|e| anyhow::anyhow!(describe_errors(e)))?;
        config
            .validate()
            .map_err(|e| anyhow::anyhow!(name_the_origin(&figment, &e.to_string())))?;
        Ok(config)
    }

    /// Every setting's name, as the TOML file spells it.
    fn keys() -> Vec<String> {
        Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .extract::<Dict>()
            .map(|d| d.into_keys().collect())
            .unwrap_or_default()
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
        anyhow::ensure!(
            self.header_read_timeout_ms >= 100 && self.idle_timeout_ms >= 100,
            "header_read_timeout_ms and idle_timeout_ms must be at least 100"
        );
        if !self.metrics_listen.is_empty() {
            parse_listen(&self.metrics_listen).map_err(|_| {
                anyhow::anyhow!(
                    "metrics_listen must be an address and port such as 127.0.0.1:9090 or localhost:9090 (got `{}`)",
                    self.metrics_listen
                )
            })?;
        }
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

/// Command-line flags as a configuration layer, so that errors name the flag
/// (`--listen`) rather than a place in this file.
struct Flags<'a>(&'a Overrides);

impl Provider for Flags<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAGS)
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::defaults(self.0).data()
    }
}

const FLAGS: &str = "command-line flag";

/// Where a setting came from, spelled as the person typed it:
/// `--listen`, `SCREENHUB_LISTEN`, `listen in /etc/screenhub.toml`.
fn origin(metadata: Option<&Metadata>, key: &str) -> String {
    let Some(metadata) = metadata else {
        return format!("`{key}`");
    };
    if metadata.name == FLAGS {
        format!("--{}", key.replace('_', "-"))
    } else if metadata.name.contains("environment variable") {
        format!("SCREENHUB_{}", key.to_ascii_uppercase())
    } else if let Some(figment::Source::File(path)) = &metadata.source {
        format!("`{key}` in {}", path.display())
    } else {
        format!("`{key}`")
    }
}

/// figment's errors, one line each, naming the flag, variable or file entry
/// at fault and the form it expects (not a place in this crate's source).
fn describe_errors(error: figment::Error) -> String {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                return format!(
                    "{} is not a setting (the settings are {}; see config.default.toml)",
                    origin(e.metadata.as_ref(), field),
                    Config::keys().join(", ")
                );
            }
            let key = e.path.join(".");
            let kind = match &e.kind {
                figment::error::Kind::Message(m) => m.clone(),
                other => other.to_string(),
            };
            format!("{}: {kind}", origin(e.metadata.as_ref(), &key))
        })
        .collect();
    format!("invalid configuration: {}", lines.join("; "))
}

/// A validation message starts with the setting's name (`public_url must …`);
/// name it the way the person set it instead.
fn name_the_origin(figment: &Figment, message: &str) -> String {
    let key: String = message
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
        .collect();
    match figment.find_metadata(&key) {
        Some(metadata) if !key.is_empty() => format!(
            "invalid configuration: {}{}",
            origin(Some(metadata), &key),
            &message[key.len()..]
        ),
        _ => format!("invalid configuration: {message}"),
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
    fn addresses_are_taken_as_people_write_them() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "SCREENHUB_OUTBOUND_ALLOW",
                "127.0.0.1,10.0.0.0/8:443,[::1]:9000",
            );
            jail.set_env("SCREENHUB_TRUSTED_PROXIES", "10.0.0.7, 192.168.0.0/16");
            jail.set_env("SCREENHUB_METRICS_LISTEN", "127.0.0.1:9090");
            jail.set_env("SCREENHUB_METRICS_TOKEN", "t0k");
            let c = Config::load(None, &Overrides::default()).unwrap();
            let allow: Vec<String> = c.outbound_allow.iter().map(|a| a.to_string()).collect();
            assert_eq!(allow, ["127.0.0.1/32", "10.0.0.0/8:443", "[::1]:9000"]);
            assert!(c.trusted_proxies[0].contains("10.0.0.7".parse().unwrap()));
            assert!(c.trusted_proxies[1].contains("192.168.4.5".parse().unwrap()));
            assert_eq!(c.metrics_listen, "127.0.0.1:9090");
            assert_eq!(c.metrics_token, "t0k");
            jail.set_env("SCREENHUB_TRUSTED_PROXIES", "lb.internal");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("lb.internal"), "{err}");
            jail.set_env("SCREENHUB_TRUSTED_PROXIES", "");
            jail.set_env("SCREENHUB_METRICS_LISTEN", "port 9090");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCREENHUB_METRICS_LISTEN"), "{err}");
            jail.set_env("SCREENHUB_METRICS_LISTEN", "localhost:9090");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.metrics_listen, "localhost:9090");
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
    fn errors_name_the_flag_or_variable_and_the_expected_form() {
        figment::Jail::expect_with(|jail| {
            let flag = |listen: &str| {
                Config::load(
                    None,
                    &Overrides {
                        listen: Some(listen.into()),
                        ..Default::default()
                    },
                )
            };
            assert_eq!(
                flag("localhost:8096").unwrap().listen.to_string(),
                "127.0.0.1:8096"
            );
            let err = flag("localhost").unwrap_err().to_string();
            assert!(
                err.contains("--listen: `localhost` is not HOST:PORT"),
                "{err}"
            );
            assert!(!err.contains(".rs"), "no source location: {err}");

            jail.set_env("SCREENHUB_LISTEN", "here:80");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCREENHUB_LISTEN: `here:80`"), "{err}");
            jail.clear_env();

            jail.set_env("SCREENHUB_DELIVERY_CONCURRENCY", "0");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("SCREENHUB_DELIVERY_CONCURRENCY must be at least 1"),
                "{err}"
            );
            jail.clear_env();

            jail.set_env("SCREENHUB_LISTN", "127.0.0.1:1");
            let err = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCREENHUB_LISTN is not a setting"), "{err}");
            assert!(err.contains("delivery_concurrency, "), "{err}");
            jail.clear_env();

            // The test suite's switches are not the binary's settings.
            jail.set_env("SCREENHUB_TEST_SKIP_BROWSER", "1");
            Config::load(None, &Overrides::default()).unwrap();

            jail.create_file("hub.toml", "listen = 8080")?;
            let err = Config::load(Some(Path::new("hub.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("`listen` in "), "{err}");
            assert!(err.contains("hub.toml"), "{err}");
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
            assert!(
                err.contains("SCREENHUB_DASHBOARD_SESSION_HOURS must be between"),
                "{err}"
            );
            Ok(())
        });
    }
}
