//! The outbound HTTP client for webhooks and Ashby, safe against SSRF: it
//! resolves names itself and refuses private, loopback and link-local
//! addresses unless allow-listed, never follows redirects, and times out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::OutboundAllow;

/// Which addresses outbound calls may reach.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allow: Vec<OutboundAllow>,
}

/// Addresses that are not on the public internet.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24, IETF protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64
        }
    }
}

impl OutboundPolicy {
    pub fn new(allow: Vec<OutboundAllow>) -> Self {
        Self { allow }
    }

    /// May a call reach `ip` on `port`? The resolver knows no port (`None`):
    /// it lets a name reach an internal address only through an entry for
    /// every port, so a port-narrowed entry cannot be widened by a DNS name
    /// that points at the address; it permits IP-literal URLs at its port.
    pub fn permits(&self, ip: IpAddr, port: Option<u16>) -> bool {
        !is_internal(ip)
            || self
                .allow
                .iter()
                .any(|rule| rule.network.contains(ip) && (rule.port.is_none() || rule.port == port))
    }

    /// Check a URL before calling it: http(s) only, and an IP-literal host must be
    /// permitted (named hosts are checked when the resolver runs).
    pub fn check_url(&self, raw: &str) -> Result<url::Url, String> {
        let url =
            screenhub_core::order::validate_http_url(raw).map_err(|e| format!("the URL {e}"))?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = ip {
            let port = url.port_or_known_default();
            if !self.permits(ip, port) {
                let shown = match port {
                    Some(port) => SocketAddr::new(ip, port).to_string(),
                    None => ip.to_string(),
                };
                return Err(refusal(&shown));
            }
        }
        Ok(url)
    }
}

fn refusal(host: &str) -> String {
    format!(
        "{host} is a private, loopback or link-local address, which outbound calls may not reach; \
         add it (an address, a network, or either with a port: 127.0.0.1:9000) to outbound_allow \
         (SCREENHUB_OUTBOUND_ALLOW) if this is intended"
    )
}

/// Resolves names itself so that every address a request may connect to has
/// passed the policy (no DNS rebinding between check and connect).
struct PolicyResolver(Arc<OutboundPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip(), None))
                .collect();
            if permitted.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = if resolved.is_empty() {
                    format!("{host} did not resolve to any address").into()
                } else {
                    refusal(&host).into()
                };
                return Err(err);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

pub fn user_agent() -> String {
    format!("Screenhub/{}", env!("CARGO_PKG_VERSION"))
}

/// The one outbound client: connection reuse, the policy's resolver, no redirects.
/// Up to `concurrency` idle connections per host are kept, so a worker busy
/// with one receiver reuses its connections instead of opening new ones.
pub fn client(policy: &OutboundPolicy, timeout: Duration, concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver(Arc::new(policy.clone()))))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(concurrency.max(8))
        .user_agent(user_agent())
        .build()
        .expect("the outbound HTTP client configuration is valid")
}

/// Why a request never got an answer, in a few words.
pub fn describe_transport_error(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut message = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = e.source();
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let strict = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(!strict.permits(ip.parse().unwrap(), None), "{ip}");
        }
        assert!(strict.permits("93.184.216.34".parse().unwrap(), None));
        let local = OutboundPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(local.permits("127.0.0.1".parse().unwrap(), Some(1)));
        assert!(!local.permits("10.0.0.1".parse().unwrap(), None));
    }

    #[test]
    fn an_allowed_address_can_be_bare_or_narrowed_to_a_port() {
        let bare = OutboundPolicy::new(vec!["127.0.0.1".parse().unwrap()]);
        assert!(bare.check_url("http://127.0.0.1:1234/x").is_ok());
        assert!(bare.check_url("http://127.0.0.2:1234/x").is_err());
        let narrowed = OutboundPolicy::new(vec![
            "127.0.0.1:9000".parse().unwrap(),
            "[::1]:9000".parse().unwrap(),
            "10.0.0.0/8:443".parse().unwrap(),
        ]);
        assert!(narrowed.check_url("http://127.0.0.1:9000/x").is_ok());
        assert!(narrowed.check_url("http://[::1]:9000/x").is_ok());
        assert!(narrowed.check_url("https://10.1.2.3/x").is_ok());
        let refused = narrowed.check_url("http://127.0.0.1:9001/x").unwrap_err();
        assert!(refused.contains("127.0.0.1:9001"), "{refused}");
        assert!(narrowed.check_url("http://10.1.2.3/x").is_err());
        // A name resolving to the address is not let through at any port.
        assert!(!narrowed.permits("127.0.0.1".parse().unwrap(), None));
    }

    #[test]
    fn urls_are_checked() {
        let strict = OutboundPolicy::default();
        assert!(strict
            .check_url("http://127.0.0.1:8080/x")
            .unwrap_err()
            .contains("outbound_allow"));
        assert!(strict.check_url("http://[::1]/x").is_err());
        assert!(strict.check_url("ftp://example.com/x").is_err());
        assert!(strict.check_url("https://example.com/x").is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_private_addresses() {
        let policy = OutboundPolicy::default();
        let client = client(&policy, Duration::from_secs(2), 8);
        let err = client.get("http://localhost:9/").send().await.unwrap_err();
        assert!(
            describe_transport_error(&err).contains("outbound_allow"),
            "{}",
            describe_transport_error(&err)
        );
    }
}
