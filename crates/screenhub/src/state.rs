//! What every handler and worker shares.

use std::ops::Deref;
use std::sync::Arc;

use screenhub_ashby::AshbyClient;
use screenhub_core::clock::{Clock, Millis};
use screenhub_core::retry::RetrySchedule;
use screenhub_store::{ApiKey, Store, StoreResult};
use tokio::sync::Notify;

use crate::config::Config;
use crate::outbound::OutboundPolicy;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: Config,
    /// Where people and the ATS reach this hub (no trailing slash).
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    /// Wakes the delivery dispatcher when new work is written.
    pub wake: Arc<Notify>,
    /// Asks for new work to be announced to the other nodes (see
    /// `dispatch::announce_work`); repeated requests fold into one.
    pub announce: Arc<Notify>,
    pub http: reqwest::Client,
    pub ashby: AshbyClient,
    pub policy: OutboundPolicy,
    pub schedule: RetrySchedule,
    /// Identifies this process's leases.
    pub node_id: String,
    /// Slows down clients that keep failing authentication.
    pub auth_limiter: crate::auth_limit::FailedAuthLimiter,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Store,
        config: Config,
        public_url: String,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let policy = OutboundPolicy::new(config.outbound_allow.clone());
        let outbound_timeout = std::time::Duration::from_millis(config.outbound_timeout_ms);
        let http = crate::outbound::client(&policy, outbound_timeout, config.delivery_concurrency);
        let schedule = config.retry_schedule().map_err(anyhow::Error::msg)?;
        Ok(Self(Arc::new(Inner {
            store,
            public_url,
            clock,
            wake: Arc::new(Notify::new()),
            announce: Arc::new(Notify::new()),
            ashby: AshbyClient::new(http.clone(), crate::outbound::user_agent())
                .with_key_check_budget(outbound_timeout),
            http,
            policy,
            schedule,
            node_id: format!("node-{}", ulid::Ulid::new()),
            auth_limiter: crate::auth_limit::FailedAuthLimiter::new(
                config.auth_failure_limit,
                std::time::Duration::from_secs(config.auth_failure_window_secs),
            ),
            config,
        })))
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// The base URL the employer's Ashby must call.
    pub fn ats_partner_base_url(&self) -> String {
        self.partner_base_url(screenhub_core::account::Ats::Ashby)
    }

    /// The base URL an ATS calls this hub at: `<public URL>/ats/<ats>`.
    pub fn partner_base_url(&self, ats: screenhub_core::account::Ats) -> String {
        format!("{}/ats/{}", self.public_url, ats.as_str())
    }

    pub async fn vendor_key(&self, token: &str) -> StoreResult<Option<ApiKey>> {
        self.store.find_api_key(token).await
    }

    /// New deliveries were committed: let this node's dispatcher and the
    /// other nodes know now.
    pub fn work_added(&self) {
        self.wake.notify_one();
        self.announce.notify_one();
    }

    /// Wake this node's dispatcher only (e.g. a slot or an order's queue freed up).
    pub fn wake_dispatcher(&self) {
        self.wake.notify_one();
    }
}
