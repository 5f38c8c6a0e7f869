//! A local Ashby: the public API the hub calls (`apiKey.info`, `assessment.update`,
//! `candidate.info`, `application.info`, `job.info`, `file.info`) with Ashby's auth,
//! envelope and strict validation; a driver that calls a partner's endpoints the
//! way Ashby does; fault injection; and a JSON control API under `/_sim`.
//!
//! Self-contained on purpose: it depends only on `screenhub-core`,
//! `screenhub-ashby` and the web stack, so it can run next to any hub build.
//! All state lives in memory.

mod control;
mod faults;
mod fixtures;
mod partner;
mod public_api;
mod state;
#[cfg(test)]
mod tests;
mod web;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::post;
use axum::Router;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use screenhub_core::clock::{rfc3339, Clock, SystemClock};

pub use faults::{dropped_connection, ErrorKind, Fault, FaultCounters, Faults};
pub use partner::{
    judge_cancel_answer, judge_custom_fields_answer, judge_start_answer, CancelOutcome,
    CancelVerdict, CustomFieldsOutcome, InlineUpdate, ListOutcome, PartnerCall, SimError,
    StartOptions, StartOutcome, StartVerdict, CUSTOM_FIELDS_METHOD,
};
pub use state::{
    ApiKeyRecord, AssessmentState, PartnerConfig, ReceivedUpdate, RejectedUpdate, SimAssessment,
    UpdateSource, DEFAULT_PERMISSIONS, KNOWN_PERMISSIONS,
};

use state::State;

#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Ashby API keys that exist from the start, with [`DEFAULT_PERMISSIONS`]:
    /// every permission the hub needs.
    pub api_keys: Vec<String>,
    /// The partner's base URL (for the hub: `http://…/ats/ashby`).
    pub partner_base_url: Option<String>,
    /// The partner key Ashby sends: the hub's External Trigger Token.
    pub partner_key: Option<String>,
}

/// The simulated Ashby. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct AshbySim {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// For calls to the partner.
    http: reqwest::Client,
}

/// A new Ashby API key, as shown once when it is created.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub key: String,
    pub title: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    pub permissions: Vec<String>,
}

pub(crate) fn now_ms() -> i64 {
    SystemClock.now_ms()
}

impl AshbySim {
    pub fn new(config: SimConfig) -> Self {
        Self::build(config, StdRng::from_entropy())
    }

    /// A sim whose faults and made-up data are the same on every run.
    pub fn with_seed(config: SimConfig, seed: u64) -> Self {
        Self::build(config, StdRng::seed_from_u64(seed))
    }

    fn build(config: SimConfig, rng: StdRng) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let mut state = State::new(rng);
        let created_at = rfc3339(now_ms());
        for key in config.api_keys {
            state.keys.insert(
                key,
                ApiKeyRecord {
                    title: "Configured key".into(),
                    created_at: created_at.clone(),
                    permissions: DEFAULT_PERMISSIONS.map(str::to_owned).to_vec(),
                    revoked: false,
                },
            );
        }
        state.partner = config.partner_base_url.map(|base_url| PartnerConfig {
            base_url,
            key: config.partner_key.unwrap_or_default(),
        });
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                http,
            }),
        }
    }

    /// The state, even if a panicking thread poisoned the lock: every update
    /// to it is a single assignment or push, so it is never left half-written.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Create an Ashby API key. Without `permissions`, it gets [`DEFAULT_PERMISSIONS`].
    pub fn create_key(&self, title: Option<String>, permissions: Option<Vec<String>>) -> NewKey {
        let key = screenhub_core::secret::generate_token("");
        let record = ApiKeyRecord {
            title: title.unwrap_or_else(|| "Screenhub".into()),
            created_at: rfc3339(now_ms()),
            permissions: permissions
                .unwrap_or_else(|| DEFAULT_PERMISSIONS.map(str::to_owned).to_vec()),
            revoked: false,
        };
        let new = NewKey {
            key: key.clone(),
            title: record.title.clone(),
            created_at: record.created_at.clone(),
            permissions: record.permissions.clone(),
        };
        self.state().keys.insert(key, record);
        new
    }

    /// Deactivate a key; false if there is no such key.
    pub fn revoke_key(&self, key: &str) -> bool {
        match self.state().keys.get_mut(key) {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Point the sim at a partner (for the hub: `http://…/ats/ashby` and the
    /// account's External Trigger Token).
    pub fn set_partner(&self, base_url: &str, key: &str) -> Result<(), String> {
        screenhub_core::order::validate_http_url(base_url).map_err(|e| format!("base_url {e}"))?;
        if key.trim().is_empty() {
            return Err("key must not be empty".into());
        }
        self.state().partner = Some(PartnerConfig {
            base_url: base_url.to_owned(),
            key: key.to_owned(),
        });
        Ok(())
    }

    /// Replace the fault settings (and reseed when `seed` is given); resets the counters.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        let mut state = self.state();
        if let Some(seed) = faults.seed {
            state.rng = StdRng::seed_from_u64(seed);
        }
        state.faults = Faults {
            seed: None,
            ..faults
        };
        state.fault_counters = FaultCounters::default();
        Ok(())
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// How many faults were injected since they were last set.
    pub fn fault_counters(&self) -> FaultCounters {
        self.state().fault_counters.clone()
    }

    pub fn assessment(&self, id: &str) -> Option<SimAssessment> {
        self.state().assessment(id).cloned()
    }

    /// Every assessment, in the order they were started.
    pub fn assessments(&self) -> Vec<SimAssessment> {
        self.state().assessments.clone()
    }

    /// Every refused update, in the order received.
    pub fn rejections(&self) -> Vec<RejectedUpdate> {
        self.state().rejections.clone()
    }
}

/// The sim's HTTP API: Ashby's public API (with faults), `/_sim` and the web
/// pages (without).
pub fn router(sim: AshbySim) -> Router {
    let public = Router::new()
        .route("/apiKey.info", post(public_api::api_key_info))
        .route("/assessment.update", post(public_api::assessment_update))
        .route("/candidate.info", post(public_api::candidate_info))
        .route("/application.info", post(public_api::application_info))
        .route("/job.info", post(public_api::job_info))
        .route("/file.info", post(public_api::file_info))
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            faults::inject,
        ));
    public
        .merge(control::routes())
        .merge(web::routes())
        .with_state(sim)
}

/// Serve the sim until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, sim: AshbySim) -> std::io::Result<()> {
    axum::serve(listener, router(sim)).await
}
