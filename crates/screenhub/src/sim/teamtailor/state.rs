//! What the simulated Teamtailor holds: the partner record, companies with
//! their activation, one job each with stages and triggers, candidates, the
//! partner results (cards), and bounded logs of every exchange.

use serde::Serialize;
use serde_json::{Map, Value};

use super::faults::Faults;
use super::jose::KeyForm;
use super::rules::{CardUpdate, ConfigForm, Violation};

/// Each log keeps this many records (the oldest go first).
pub const MAX_LOG: usize = 50_000;
pub const MAX_COMPANIES: usize = 1_000;
pub const MAX_CANDIDATES: usize = 100_000;

/// Teamtailor's stacks; each has its own Partner API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    #[default]
    Eu,
    Na,
    Ap,
}

/// Which scheme the Partner API takes with the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `Token <key>` or `Bearer <key>` (the docs show both).
    #[default]
    Either,
    TokenOnly,
    BearerOnly,
}

/// Which headers a result-card button click carries (open point 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActionHeaders {
    /// The provider key and a fresh signature, as on the webhook.
    #[default]
    Both,
    ProviderKey,
    Signature,
    None,
}

/// The partner record (what Teamtailor's Integration's Hub holds).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PartnerSettings {
    /// e.g. `https://hub.example/ats/teamtailor`.
    pub base_url: String,
    pub api_key: String,
    pub webhook_secret: String,
    /// What `PUT /partners/{id}` saved as `webhook-activation-config`.
    pub activation_config: Value,
    /// A static `webhook-config`: when set, `/config` is never called.
    pub webhook_config: Option<Value>,
    pub key_form: KeyForm,
    pub auth_scheme: AuthScheme,
    pub action_headers: ActionHeaders,
    /// How long Teamtailor waits for the webhook's reply.
    pub webhook_timeout_ms: u64,
    /// The partner's name in the Integration's Hub (immutable).
    pub name: String,
    /// `dynamic-activation-config`: fetch the activation form from the
    /// partner (`GET activation?company_id=…`) each time it is saved.
    pub dynamic_activation: bool,
}

impl PartnerSettings {
    pub fn new(base_url: String, api_key: String, webhook_secret: String) -> Self {
        Self {
            base_url,
            api_key,
            webhook_secret,
            activation_config: default_activation_config(),
            webhook_config: None,
            key_form: KeyForm::Jwt,
            auth_scheme: AuthScheme::Either,
            action_headers: ActionHeaders::Both,
            webhook_timeout_ms: 10_000,
            name: "Screenhub".into(),
            dynamic_activation: false,
        }
    }
}

/// The activation form Screenhub's operator command saves (notes, "Activation form").
pub fn default_activation_config() -> Value {
    serde_json::json!({
        "config": {"fields": [
            {"type": "infobox", "icon": "info", "content": "Paste the token from your vendor's connect page."},
            {"id": "externalTriggerToken", "type": "password", "label": "External Trigger Token", "required": true}
        ]},
        "validateEndpoint": "activation/validate"
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    pub id: u64,
    pub stage_id: u64,
    pub webhook_data: Map<String, Value>,
    pub criteria: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Company {
    pub id: String,
    pub uuid: String,
    pub name: String,
    pub stack: Stack,
    /// The activation form's values, as saved.
    pub form_values: Map<String, Value>,
    /// Issued on save; `None` until the form is saved.
    pub provider_key: Option<String>,
    pub activated: bool,
    /// What the activation check answered, as the admin reads it.
    pub activation_messages: Vec<String>,
    pub job_id: u64,
    pub job_title: String,
    pub stages: Vec<Stage>,
    pub triggers: Vec<Trigger>,
    pub recruiter: (u64, String, String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: u64,
    pub uuid: String,
    pub company_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub stage_id: u64,
}

/// A partner result: the card on the candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub id: String,
    pub company_id: String,
    pub candidate_id: u64,
    pub job_id: u64,
    pub stage_id: u64,
    pub trigger_id: u64,
    pub update_url: String,
    /// The event as sent, re-sent on a button click.
    pub event: Value,
    pub status: String,
    pub summary: Option<String>,
    pub url: Option<String>,
    pub score: Option<f64>,
    pub grade: Option<String>,
    pub duration_secs: Option<u64>,
    pub details: Map<String, Value>,
    pub attachments: Vec<(String, String)>,
    pub actions: Vec<(String, String)>,
    pub criteria: Vec<(String, Option<f64>)>,
    pub criteria_ids: Vec<String>,
    /// The webhook's refusal text, or why the order was lost.
    pub error: Option<String>,
    pub lost: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Card {
    pub fn apply(&mut self, u: &CardUpdate, now_ms: i64) {
        if let Some(s) = &u.status {
            self.status.clone_from(s);
        }
        if let Some(s) = &u.summary {
            self.summary = Some(s.clone());
        }
        if let Some(s) = &u.url {
            self.url = Some(s.clone());
        }
        if let Some(s) = u.score {
            self.score = Some(s);
        }
        if let Some(g) = &u.grade {
            self.grade.clone_from(g);
        }
        if let Some(d) = u.duration_secs {
            self.duration_secs = Some(d);
        }
        if let Some(d) = &u.details {
            self.details.clone_from(d);
        }
        if let Some(a) = &u.attachments {
            self.attachments.clone_from(a);
        }
        if let Some(a) = &u.actions {
            self.actions.clone_from(a);
        }
        if let Some(c) = &u.criteria {
            self.criteria.clone_from(c);
        }
        self.updated_ms = now_ms;
    }

    /// Terminal as the conformance outcome counts it.
    pub fn is_done(&self) -> bool {
        match self.status.as_str() {
            "completed" => self.url.is_some() && self.score.is_some(),
            "failed" => self.summary.as_deref().is_some_and(|s| !s.is_empty()),
            _ => false,
        }
    }
}

/// How a webhook ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// 2xx in time.
    Accepted,
    /// ≥ 400: the text the card shows.
    Refused { text: String },
    /// No 2xx in time: the order is lost (never re-sent).
    Lost { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookRecord {
    pub event_id: String,
    pub partner_result_id: String,
    pub url: String,
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub body: Value,
    pub reply_status: Option<u16>,
    pub reply_body: String,
    pub outcome: WebhookOutcome,
    pub warnings: Vec<String>,
    pub at_ms: i64,
}

/// Any other call the sim made to the partner.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// `activation/validate`, `config`, or an action endpoint.
    pub kind: String,
    pub url: String,
    pub status: Option<u16>,
    pub body: String,
    pub verdict: String,
    pub warnings: Vec<String>,
    pub at_ms: i64,
}

/// Every request on the Partner API and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ApiRecord {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub api_version: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub status: u16,
    pub errors: Vec<Violation>,
    /// A fault answered instead of the verdict.
    pub fault: bool,
    pub at_ms: i64,
}

pub struct State {
    pub partner: Option<PartnerSettings>,
    pub companies: Vec<Company>,
    pub candidates: Vec<Candidate>,
    pub cards: Vec<Card>,
    pub config_forms: Vec<(String, ConfigForm)>,
    pub webhooks: Vec<WebhookRecord>,
    pub calls: Vec<CallRecord>,
    pub api: Vec<ApiRecord>,
    pub faults: Faults,
    pub rng: rand::rngs::StdRng,
    pub next_id: u64,
}

impl State {
    pub fn new(rng: rand::rngs::StdRng) -> Self {
        Self {
            partner: None,
            companies: Vec::new(),
            candidates: Vec::new(),
            cards: Vec::new(),
            config_forms: Vec::new(),
            webhooks: Vec::new(),
            calls: Vec::new(),
            api: Vec::new(),
            faults: Faults::default(),
            rng,
            next_id: 1,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn company(&self, id: &str) -> Option<&Company> {
        self.companies.iter().find(|c| c.id == id)
    }

    pub fn card_mut(&mut self, id: &str) -> Option<&mut Card> {
        self.cards.iter_mut().find(|c| c.id == id)
    }
}

pub fn push_bounded<T>(log: &mut Vec<T>, item: T) {
    if log.len() >= MAX_LOG {
        log.remove(0);
    }
    log.push(item);
}
