//! A local Teamtailor that plays the assessment Partner API towards a partner
//! (the hub's `/ats/teamtailor`), exactly as strict as the protocol notes say
//! Teamtailor is (`shared/teamtailor/PARTNER_API.md`, "What our simulator must
//! enforce"): it saves a company's activation form and calls the partner's
//! validation endpoint with the provider key (a JWT signed with the partner API
//! key, or a JWE under the webhook secret); it fetches the `/config` form when a
//! trigger is set up and turns `_` into `-` in the picked values; when a
//! candidate moves into a triggering stage it creates the partner result
//! (`sending`) and posts the order `webhook` **once** with
//! `Teamtailor-Signature: t=…,v1=HMAC(secret, "<t>.<event id>")`, never retrying
//! (a reply that is not 2xx in time is a lost order); it serves the Partner API
//! (`PUT <update-url>` in JSON:API with `X-Api-Version: 20180828`) and checks
//! every body; and it renders the candidate's result card with its buttons,
//! whose clicks post the original event back to the partner.
//!
//! Self-contained on purpose: its wire rules (`rules`) and JOSE (`jose`) are
//! written from the notes, not shared with the hub, and proved against the
//! fixed examples in `docs/teamtailor-examples/` ([`EXAMPLES_DIR`]).
//!
//! # Control API (JSON, for tests and scripts)
//!
//! Errors are `{"error": {"code", "message"}}`. Companies are `co-1`…,
//! candidates, stages and triggers integers, partner results UUIDs. Each log
//! keeps its last 50 000 records.
//!
//! | route | does |
//! |---|---|
//! | `GET /_sim/partner`, `PUT /_sim/partner` | the partner record: `base_url`, `api_key`, `webhook_secret`, `activation_config` (as `PUT /partners/{id}` saves it; `validateEndpoint` next to or inside `config`), `webhook_config` (static form, or `null`), `key_form` (`jwt`, `jwe_a256gcm`, `jwe_a256gcm_hex`, `jwe_a128gcm`), `auth_scheme` (`either`, `token_only`, `bearer_only`), `action_headers` (`both`, `provider_key`, `signature`, `none`), `webhook_timeout_ms`, `dynamic_activation` (fetch the activation form with `GET activation?company_id=…` on each save) |
//! | `GET /_sim/companies`, `POST /_sim/companies` | companies; create with `{"name", "stack"?: "eu"/"na"/"ap", "job_title"?}`: a job with stages Inbox (1st), Screening, Background check, Hired |
//! | `POST /_sim/companies/{co}/activation` | save the activation form `{"values": {"externalTriggerToken": …}}`: issues the provider key, calls the validation endpoint; answers `{activated, messages, provider_key}` |
//! | `POST /_sim/companies/{co}/triggers` | `{"stage_id", "values": {"package": …}}`: fetch `/config`, check it, fill it; answers the trigger with its `webhook_data` |
//! | `GET /_sim/companies/{co}/candidates`, `POST …` | candidates (`{"first_name"?, "last_name"?, "email"?}`), put in the first stage |
//! | `POST /_sim/candidates/{id}/move` | `{"stage_id"}`: a trigger there sends the webhook; answers `{"card"}` (or `null`) |
//! | `GET /_sim/cards`, `GET /_sim/cards/{id}` | partner results as the recruiter sees them (status, summary, score, grade, details, attachments, buttons, error, lost) |
//! | `POST /_sim/cards/{id}/click` | `{"endpoint"}` (default the first button): click a result-card button; answers the call record |
//! | `GET /_sim/webhooks` | every webhook: headers, body, the reply and its outcome (`accepted`, `refused` with the text, `lost` with why), warnings |
//! | `GET /_sim/calls` | activation checks, `/config` fetches and button clicks, with their verdicts |
//! | `GET /_sim/api` | every Partner API request: headers, body, status answered, the JSON:API errors |
//! | `GET /_sim/faults`, `POST /_sim/faults` | see [`Faults`] |
//! | `GET /_sim/conformance` | the outcome (point 13 of the notes) |
//!
//! The Partner API: `PUT`/`GET /partner/v1/partner-results/{id}`,
//! `GET /partner/v1/partner-results`, `GET /partner/v1/partner-activations`
//! and `GET`/`PUT /partner/v1/partners/1` (the operator's setup: `base-url`,
//! `webhook-activation-config`, `webhook-config`, `dynamic-activation-config`;
//! `name` immutable), for
//! the EU stack at the sim's root, NA under `/na` and AP under `/au` (each
//! card's `update-url` names its company's stack; a result is 404 on another).
//! The recruiter's pages: `/` (partner record and companies), `/companies/{co}`
//! (activation, the job's stages and triggers, candidates), `/candidates/{id}`
//! (the result cards with their buttons).
//!
//! # Against the hub
//!
//! `screenhub sim teamtailor --partner-base-url http://127.0.0.1:8080/ats/teamtailor
//! --api-key K --webhook-secret S --token <ETT> --package <slug>` (creates a
//! company, activates it, adds a trigger on "Background check") with the hub's
//! `SCREENHUB_TEAMTAILOR_API_KEY=K`, `SCREENHUB_TEAMTAILOR_WEBHOOK_SECRET=S` and
//! `SCREENHUB_TEAMTAILOR_API_BASE_URL` pointing here.

mod api;
pub mod cli;
mod control;
mod faults;
pub mod jose;
mod partner;
pub mod rules;
mod state;
#[cfg(test)]
mod tests;
mod web;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

pub use faults::{Faults, LostReply};
pub use jose::KeyForm;
pub use partner::SimError;
pub use state::{
    ActionHeaders, ApiRecord, AuthScheme, CallRecord, Candidate, Card, Company, PartnerSettings,
    Stack, Stage, Trigger, WebhookOutcome, WebhookRecord,
};

use state::State;

/// The fixed examples the simulator is checked against; the hub's tests can
/// read them too.
pub const EXAMPLES_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/teamtailor-examples"
);

/// Where partner results live on a stack's Partner API.
pub const PARTNER_RESULTS_PATH: &str = "/partner/v1/partner-results";

#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Where the partner and browsers reach the sim; by default `http://<listen address>`.
    pub public_url: Option<String>,
    pub partner: Option<PartnerSettings>,
}

/// The simulated Teamtailor. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct TeamtailorSim {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    http: reqwest::Client,
    public_url: Mutex<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
    #[serde(default)]
    pub stack: Stack,
    pub job_title: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCandidate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// The outcome a partner is judged by.
#[derive(Debug, Clone, Serialize)]
pub struct Conformance {
    pub passed: bool,
    pub cards: usize,
    pub done: usize,
    pub not_done: Vec<String>,
    pub lost_webhooks: usize,
    pub refused_webhooks: usize,
    pub rejected_api_calls: usize,
    pub problems: Vec<String>,
}

const FIRST_NAMES: [&str; 6] = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara"];
const LAST_NAMES: [&str; 6] = [
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov",
];
const STAGES: [&str; 4] = ["Inbox", "Screening", "Background check", "Hired"];

impl TeamtailorSim {
    pub fn new(config: SimConfig) -> Self {
        Self::build(config, StdRng::from_entropy())
    }

    pub fn with_seed(config: SimConfig, seed: u64) -> Self {
        Self::build(config, StdRng::seed_from_u64(seed))
    }

    fn build(config: SimConfig, rng: StdRng) -> Self {
        let mut state = State::new(rng);
        state.partner = config.partner;
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                // Each call sets its own timeout from the partner record.
                http: reqwest::Client::builder()
                    // Teamtailor posts once to the URL it has; a redirect is not followed.
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
                public_url: Mutex::new(config.public_url.unwrap_or_default()),
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

    pub fn public_url(&self) -> String {
        self.inner
            .public_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_public_url_if_unset(&self, url: String) {
        let mut public = self
            .inner
            .public_url
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if public.is_empty() {
            *public = url;
        }
    }

    /// Save the partner record.
    pub fn set_partner(&self, settings: PartnerSettings) -> Result<(), String> {
        if !rules::is_http_url(&settings.base_url) {
            return Err("base_url must be an http(s) URL".into());
        }
        if settings.api_key.trim().is_empty() || settings.webhook_secret.trim().is_empty() {
            return Err("api_key and webhook_secret must not be empty".into());
        }
        if !(1..=600_000).contains(&settings.webhook_timeout_ms) {
            return Err("webhook_timeout_ms must be 1 to 600000".into());
        }
        if let Some(config) = &settings.webhook_config {
            rules::check_config(config.to_string().as_bytes())
                .map_err(|p| format!("webhook_config: {}", p.join("; ")))?;
        }
        self.state().partner = Some(settings);
        Ok(())
    }

    pub fn partner(&self) -> Option<PartnerSettings> {
        self.state().partner.clone()
    }

    pub fn create_company(&self, new: NewCompany) -> Result<Company, String> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err("name must be 1 to 200 characters".into());
        }
        let mut state = self.state();
        if state.companies.len() >= state::MAX_COMPANIES {
            return Err(format!(
                "this sandbox holds {} companies already",
                state::MAX_COMPANIES
            ));
        }
        let n = state.companies.len() + 1;
        let job_id = 12_000 + n as u64;
        let stages = STAGES
            .iter()
            .map(|s| Stage {
                id: state.next_id(),
                name: (*s).to_owned(),
            })
            .collect();
        let uuid: String = (0..11)
            .map(|_| {
                let alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
                alphabet[state.rng.gen_range(0..alphabet.len())] as char
            })
            .collect();
        let company = Company {
            id: format!("co-{n}"),
            uuid,
            name: name.to_owned(),
            stack: new.stack,
            form_values: serde_json::Map::new(),
            provider_key: None,
            activated: false,
            activation_messages: Vec::new(),
            job_id,
            job_title: new
                .job_title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "Backend Engineer".into()),
            stages,
            triggers: Vec::new(),
            recruiter: (
                30 + n as u64,
                format!("rita@company{n}.example"),
                "Rita Recruiter".into(),
            ),
        };
        state.companies.push(company.clone());
        Ok(company)
    }

    pub fn companies(&self) -> Vec<Company> {
        self.state().companies.clone()
    }

    pub fn add_candidate(
        &self,
        company_id: &str,
        new: NewCandidate,
    ) -> Result<Candidate, SimError> {
        let mut state = self.state();
        let first_stage = state
            .company(company_id)
            .ok_or_else(|| SimError::UnknownCompany(company_id.to_owned()))?
            .stages[0]
            .id;
        if state.candidates.len() >= state::MAX_CANDIDATES {
            return Err(SimError::Invalid(format!(
                "this sandbox holds {} candidates already",
                state::MAX_CANDIDATES
            )));
        }
        let id = 54_000 + state.next_id();
        let first_name = new
            .first_name
            .unwrap_or_else(|| FIRST_NAMES[state.rng.gen_range(0..FIRST_NAMES.len())].into());
        let last_name = new
            .last_name
            .unwrap_or_else(|| LAST_NAMES[state.rng.gen_range(0..LAST_NAMES.len())].into());
        if first_name.trim().is_empty() || last_name.trim().is_empty() {
            return Err(SimError::Invalid(
                "first_name and last_name must not be empty".into(),
            ));
        }
        let candidate = Candidate {
            id,
            uuid: uuid::Uuid::from_u128(state.rng.gen()).to_string(),
            company_id: company_id.to_owned(),
            email: new
                .email
                .unwrap_or_else(|| format!("{}.{id}@example.com", first_name.to_ascii_lowercase())),
            first_name,
            last_name,
            stage_id: first_stage,
        };
        state.candidates.push(candidate.clone());
        Ok(candidate)
    }

    pub fn candidates(&self, company_id: &str) -> Vec<Candidate> {
        self.state()
            .candidates
            .iter()
            .filter(|c| c.company_id == company_id)
            .cloned()
            .collect()
    }

    pub fn cards(&self) -> Vec<Card> {
        self.state().cards.clone()
    }

    pub fn card(&self, id: &str) -> Option<Card> {
        self.state().cards.iter().find(|c| c.id == id).cloned()
    }

    pub fn webhooks(&self) -> Vec<WebhookRecord> {
        self.state().webhooks.clone()
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.state().calls.clone()
    }

    pub fn api_calls(&self) -> Vec<ApiRecord> {
        self.state().api.clone()
    }

    pub(crate) fn record_api(&self, record: ApiRecord) {
        state::push_bounded(&mut self.state().api, record);
    }

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
        Ok(())
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }

    /// Point 13: every order reached a terminal card, no webhook was lost, and
    /// no Partner API call broke a rule.
    pub fn conformance(&self) -> Conformance {
        let state = self.state();
        let not_done: Vec<String> = state
            .cards
            .iter()
            .filter(|c| !c.is_done())
            .map(|c| format!("{} is {}", c.id, c.status))
            .collect();
        let lost = state
            .webhooks
            .iter()
            .filter(|w| matches!(w.outcome, WebhookOutcome::Lost { .. }))
            .count();
        let refused = state
            .webhooks
            .iter()
            .filter(|w| matches!(w.outcome, WebhookOutcome::Refused { .. }))
            .count();
        let rejected: Vec<&ApiRecord> = state
            .api
            .iter()
            .filter(|a| !a.fault && a.status >= 400)
            .collect();
        let mut problems: Vec<String> = rejected
            .iter()
            .flat_map(|a| {
                a.errors
                    .iter()
                    .map(move |e| format!("{} {}: {} {}", a.method, a.path, a.status, e.detail))
            })
            .collect();
        problems.extend(state.webhooks.iter().flat_map(|w| w.warnings.clone()));
        problems.extend(state.calls.iter().flat_map(|c| c.warnings.clone()));
        Conformance {
            passed: not_done.is_empty()
                && lost == 0
                && rejected.is_empty()
                && !state.cards.is_empty(),
            cards: state.cards.len(),
            done: state.cards.len() - not_done.len(),
            not_done,
            lost_webhooks: lost,
            refused_webhooks: refused,
            rejected_api_calls: rejected.len(),
            problems,
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    use screenhub_core::clock::Clock;
    screenhub_core::clock::SystemClock.now_ms()
}

/// The sim's HTTP surface: the Partner API, `/_sim` and the pages.
pub fn router(sim: TeamtailorSim) -> Router {
    api::routes()
        .merge(control::routes())
        .merge(web::routes())
        .with_state(sim)
}

pub async fn serve(listener: tokio::net::TcpListener, sim: TeamtailorSim) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        sim.set_public_url_if_unset(format!("http://{addr}"));
    }
    axum::serve(listener, router(sim)).await
}

/// Bind `addr` (port 0 for any), serve the sim in the background, and answer
/// its base URL.
pub async fn spawn(addr: std::net::SocketAddr, sim: TeamtailorSim) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    sim.set_public_url_if_unset(base.clone());
    tokio::spawn(serve(listener, sim));
    Ok(base)
}
