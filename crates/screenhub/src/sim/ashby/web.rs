//! The sim's web pages: the flow as an Ashby user sees it, following the hub's
//! Ashby setup guide. Admin → Integrations (partner key, "Create New API Key"),
//! a job with candidates in pipeline stages, New Activity → Assessment → type →
//! Add Activity, Start Assessment with a confirmation, then the activity card
//! with the sent time, "pending", and the result with its Full Report link.
//!
//! Server-rendered, plain forms, no JavaScript needed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rand::rngs::StdRng;
use serde::Deserialize;
use serde_json::{json, Value};

use std::collections::HashMap;

use screenhub_ashby::public::{permission_in_ashby_words, DataValue, DataValueType};

use super::fixtures;
use super::partner::StartOptions;
use super::state::{AssessmentState, SimAssessment, DEFAULT_PERMISSIONS, KNOWN_PERMISSIONS};
use super::AshbySim;

const STAGES: [&str; 4] = ["Application Review", "Phone Screen", "Onsite", "Offer"];
const CANDIDATES: usize = 8;

/// The job and its candidates, made up once from the sim's generator.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub job: Value,
    pub candidates: Vec<PipelineCandidate>,
}

#[derive(Debug, Clone)]
pub struct PipelineCandidate {
    pub candidate: Value,
    pub application: Value,
    pub stage: &'static str,
    pub activities: Vec<Activity>,
}

/// An assessment activity on a candidate, before and after it is started.
#[derive(Debug, Clone)]
pub struct Activity {
    pub assessment_type_id: String,
    pub type_name: String,
    pub assessment_id: Option<String>,
    /// What the partner said when the start failed (shown to the recruiter).
    pub error: Option<String>,
}

impl Pipeline {
    pub fn generate(rng: &mut StdRng) -> Self {
        let job = fixtures::job(rng);
        let candidates = fixtures::different_candidates(rng, CANDIDATES)
            .into_iter()
            .enumerate()
            .map(|(i, candidate)| {
                let mut application = fixtures::application(rng);
                application["status"] = json!("Active");
                PipelineCandidate {
                    candidate,
                    application,
                    stage: STAGES[i % STAGES.len()],
                    activities: Vec::new(),
                }
            })
            .collect();
        Self { job, candidates }
    }
}

impl PipelineCandidate {
    fn id(&self) -> &str {
        self.candidate["ashby_id"].as_str().unwrap_or_default()
    }
    fn name(&self) -> String {
        format!(
            "{} {}",
            self.candidate["first_name"].as_str().unwrap_or_default(),
            self.candidate["last_name"].as_str().unwrap_or_default()
        )
    }
}

pub fn routes() -> Router<AshbySim> {
    Router::new()
        .route("/", get(job_page))
        .route("/static/sim.css", get(crate::sim::stylesheet))
        .route("/admin/integrations", get(integrations_page))
        .route("/admin/integrations/partner", post(save_partner))
        .route("/admin/integrations/api-keys", post(create_api_key))
        .route("/candidates/{cid}", get(candidate_page))
        .route("/candidates/{cid}/activities", post(add_activity))
        .route(
            "/candidates/{cid}/activities/{n}/start",
            get(confirm_start).post(start),
        )
        .route("/candidates/{cid}/activities/{n}/cancel", post(cancel))
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%b %-d, %Y at %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

// ---------- Admin → Integrations ----------

#[derive(Template)]
#[template(path = "sim/ashby_integrations.html")]
struct IntegrationsPage {
    show_unlaunched: bool,
    enabled: bool,
    base_url: String,
    /// A key just created: shown this once.
    new_key: Option<String>,
    keys: Vec<KeyRow>,
    /// The permissions a new key can get: API name, Ashby's words, ticked by default.
    permissions: Vec<(&'static str, &'static str, bool)>,
    message: Option<String>,
}

struct KeyRow {
    prefix: String,
    title: String,
    /// In Ashby's words.
    permissions: String,
    revoked: bool,
}

#[derive(Deserialize)]
struct IntegrationsQuery {
    unlaunched: Option<String>,
    saved: Option<String>,
}

fn integrations(
    sim: &AshbySim,
    show_unlaunched: bool,
    new_key: Option<String>,
    message: Option<String>,
) -> Response {
    let state = sim.state();
    let mut keys: Vec<KeyRow> = state
        .keys
        .iter()
        .map(|(key, r)| KeyRow {
            prefix: format!("{}…", key.chars().take(6).collect::<String>()),
            title: r.title.clone(),
            permissions: r
                .permissions
                .iter()
                .map(|p| permission_in_ashby_words(p))
                .collect::<Vec<_>>()
                .join(", "),
            revoked: r.revoked,
        })
        .collect();
    keys.sort_by(|a, b| (&a.prefix, &a.title).cmp(&(&b.prefix, &b.title)));
    let page = IntegrationsPage {
        show_unlaunched: show_unlaunched || new_key.is_some(),
        enabled: state.partner.is_some(),
        base_url: state
            .partner
            .as_ref()
            .map(|p| p.base_url.clone())
            .unwrap_or_default(),
        new_key,
        keys,
        permissions: KNOWN_PERMISSIONS
            .iter()
            .map(|p| {
                (
                    *p,
                    permission_in_ashby_words(p),
                    DEFAULT_PERMISSIONS.contains(p),
                )
            })
            .collect(),
        message,
    };
    drop(state);
    crate::sim::render(&page)
}

async fn integrations_page(
    State(sim): State<AshbySim>,
    Query(q): Query<IntegrationsQuery>,
) -> Response {
    let message = q
        .saved
        .map(|_| "Saved. Ashby now calls the partner with this API key.".to_owned());
    integrations(&sim, q.unlaunched.is_some(), None, message)
}

#[derive(Deserialize)]
struct PartnerForm {
    base_url: String,
    api_key: String,
}

async fn save_partner(State(sim): State<AshbySim>, Form(form): Form<PartnerForm>) -> Response {
    match sim.set_partner(form.base_url.trim(), form.api_key.trim()) {
        Ok(()) => Redirect::to("/admin/integrations?saved=1").into_response(),
        Err(e) => integrations(&sim, true, None, Some(format!("Not saved: {e}"))),
    }
}

/// The ticked permission boxes: each is a field named after the permission.
async fn create_api_key(
    State(sim): State<AshbySim>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let permissions = KNOWN_PERMISSIONS
        .iter()
        .filter(|p| form.contains_key(**p))
        .map(|p| (*p).to_owned())
        .collect();
    let key = sim
        .create_key(Some("Screenhub".into()), Some(permissions))
        .key;
    integrations(&sim, true, Some(key), None)
}

// ---------- the job and its pipeline ----------

struct CandidateRow {
    id: String,
    name: String,
    email: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "sim/ashby_job.html")]
struct JobPage {
    job_name: String,
    req_id: String,
    stages: Vec<(&'static str, Vec<CandidateRow>)>,
    partner_set: bool,
}

impl AshbySim {
    /// The sandbox's job and candidates, made up on first use.
    pub fn pipeline(&self) -> Pipeline {
        let mut state = self.state();
        let state = &mut *state;
        state
            .pipeline
            .get_or_insert_with(|| Pipeline::generate(&mut state.rng))
            .clone()
    }

    fn with_candidate<T>(
        &self,
        cid: &str,
        f: impl FnOnce(&mut PipelineCandidate) -> T,
    ) -> Option<T> {
        self.pipeline();
        let mut state = self.state();
        let candidate = state
            .pipeline
            .as_mut()?
            .candidates
            .iter_mut()
            .find(|c| c.id() == cid)?;
        Some(f(candidate))
    }
}

async fn job_page(State(sim): State<AshbySim>) -> Response {
    let pipeline = sim.pipeline();
    let stages = STAGES
        .iter()
        .map(|stage| {
            let rows = pipeline
                .candidates
                .iter()
                .filter(|c| c.stage == *stage)
                .map(|c| CandidateRow {
                    id: c.id().to_owned(),
                    name: c.name(),
                    email: c.candidate["email"].as_str().unwrap_or_default().to_owned(),
                    summary: activity_summary(&sim, c),
                })
                .collect();
            (*stage, rows)
        })
        .collect();
    let page = JobPage {
        job_name: pipeline.job["name"].as_str().unwrap_or_default().to_owned(),
        req_id: pipeline.job["req_id"].as_str().unwrap_or("—").to_owned(),
        stages,
        partner_set: sim.state().partner.is_some(),
    };
    crate::sim::render(&page)
}

fn activity_summary(sim: &AshbySim, c: &PipelineCandidate) -> String {
    match c.activities.last() {
        None => String::new(),
        Some(a) => match a.assessment_id.as_deref().and_then(|id| sim.assessment(id)) {
            None => format!("{}: not started", a.type_name),
            Some(s) => format!("{}: {}", a.type_name, state_word(&s)),
        },
    }
}

fn state_word(a: &SimAssessment) -> &'static str {
    match a.state {
        AssessmentState::AwaitingUpdate => "sent",
        AssessmentState::InProgress => "pending",
        AssessmentState::Completed => "completed",
        AssessmentState::Cancelled => "cancelled",
    }
}

// ---------- a candidate and the activity card ----------

/// A data value as the card shows it.
pub struct ValueView {
    pub label: String,
    pub text: String,
    /// `link`, `pass`, `fail` or `text`.
    pub kind: &'static str,
}

/// Ashby's data-value types, rendered sensibly: a link, pass/fail, a duration.
pub fn value_view(v: &DataValue) -> ValueView {
    let (text, kind) = match (v.r#type, &v.value) {
        (DataValueType::Url, Value::String(url)) => (url.clone(), "link"),
        (DataValueType::BooleanSuccess, Value::Bool(true)) => ("Pass".to_owned(), "pass"),
        (DataValueType::BooleanSuccess, _) => ("Fail".to_owned(), "fail"),
        (DataValueType::NumericDurationMinutes, v) => {
            (duration_text(v.as_f64().unwrap_or(0.0)), "text")
        }
        (_, Value::String(s)) => (s.clone(), "text"),
        (_, other) => (other.to_string(), "text"),
    };
    ValueView {
        label: v.label.clone(),
        text,
        kind,
    }
}

/// `2 days 3 hours`, `45 minutes`.
fn duration_text(minutes: f64) -> String {
    let total = minutes.max(0.0).round() as i64;
    let (days, hours, mins) = (total / 1440, total % 1440 / 60, total % 60);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(plural(days, "day"));
    }
    if hours > 0 {
        parts.push(plural(hours, "hour"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(plural(mins, "minute"));
    }
    parts.join(" ")
}

struct ActivityCard {
    n: usize,
    type_name: String,
    started: bool,
    /// `pending`, `completed`, `cancelled`, or empty before the start.
    state: &'static str,
    status: String,
    sent_at: String,
    result: Option<ValueView>,
    report_url: Option<String>,
    fields: Vec<ValueView>,
    cancelled_reason: String,
    error: String,
    can_cancel: bool,
}

fn card(sim: &AshbySim, n: usize, a: &Activity) -> ActivityCard {
    let s = a.assessment_id.as_deref().and_then(|id| sim.assessment(id));
    let mut card = ActivityCard {
        n,
        type_name: a.type_name.clone(),
        started: s.is_some(),
        state: "",
        status: String::new(),
        sent_at: String::new(),
        result: None,
        report_url: None,
        fields: Vec::new(),
        cancelled_reason: String::new(),
        error: a.error.clone().unwrap_or_default(),
        can_cancel: false,
    };
    if let Some(s) = s {
        card.state = match s.state {
            AssessmentState::Completed => "completed",
            AssessmentState::Cancelled => "cancelled",
            _ => "pending",
        };
        card.status = s
            .status
            .as_ref()
            .map(|v| value_view(v).text)
            .unwrap_or_else(|| "Sent".into());
        card.sent_at = when(s.started_at_ms.unwrap_or(s.start_requested_at_ms));
        card.result = s.result.as_ref().map(value_view);
        card.report_url = s
            .profile_url
            .as_ref()
            .and_then(|v| v.value.as_str().map(str::to_owned));
        card.fields = s.metadata.iter().map(value_view).collect();
        card.cancelled_reason = s
            .cancelled_reason
            .as_ref()
            .map(|v| value_view(v).text)
            .unwrap_or_default();
        card.can_cancel = card.state == "pending";
    }
    card
}

#[derive(Template)]
#[template(path = "sim/ashby_candidate.html")]
struct CandidatePage {
    cid: String,
    name: String,
    email: String,
    stage: &'static str,
    job_name: String,
    cards: Vec<ActivityCard>,
    /// The New Activity form is open.
    adding: bool,
    /// From `assessment.list`.
    types: Vec<(String, String)>,
    problem: String,
    /// Refresh while a result is pending (no JavaScript needed).
    refresh: bool,
}

#[derive(Deserialize)]
struct CandidateQuery {
    new: Option<String>,
}

/// The Assessment Type dropdown, filled by the partner's `assessment.list`.
async fn assessment_types(sim: &AshbySim) -> (Vec<(String, String)>, String) {
    match sim.list_assessment_types().await {
        Ok(listed) => {
            let types = listed
                .assessment_types
                .iter()
                .map(|t| (t.assessment_type_id.to_string(), t.name.clone()))
                .collect::<Vec<_>>();
            let problem = if types.is_empty() {
                listed
                    .call
                    .problems
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "The partner offers no assessment types.".into())
            } else {
                String::new()
            };
            (types, problem)
        }
        Err(e) => (Vec::new(), e.to_string()),
    }
}

async fn candidate_page(
    State(sim): State<AshbySim>,
    Path(cid): Path<String>,
    Query(q): Query<CandidateQuery>,
) -> Response {
    let pipeline = sim.pipeline();
    let Some(c) = pipeline.candidates.iter().find(|c| c.id() == cid) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "No such candidate in this sandbox",
        )
            .into_response();
    };
    let adding = q.new.is_some();
    let (types, problem) = if adding {
        assessment_types(&sim).await
    } else {
        (Vec::new(), String::new())
    };
    let cards: Vec<ActivityCard> = c
        .activities
        .iter()
        .enumerate()
        .map(|(n, a)| card(&sim, n, a))
        .collect();
    let page = CandidatePage {
        cid: cid.clone(),
        name: c.name(),
        email: c.candidate["email"].as_str().unwrap_or_default().to_owned(),
        stage: c.stage,
        job_name: pipeline.job["name"].as_str().unwrap_or_default().to_owned(),
        refresh: !adding && cards.iter().any(|c| c.state == "pending"),
        cards,
        adding,
        types,
        problem,
    };
    crate::sim::render(&page)
}

#[derive(Deserialize)]
struct TypeForm {
    assessment_type_id: String,
}

async fn type_name(sim: &AshbySim, type_id: &str) -> Option<String> {
    let known = sim
        .state()
        .assessment_types
        .iter()
        .find(|t| t.assessment_type_id.to_string() == type_id)
        .map(|t| t.name.clone());
    match known {
        Some(name) => Some(name),
        None => assessment_types(sim)
            .await
            .0
            .into_iter()
            .find(|(id, _)| id == type_id)
            .map(|(_, name)| name),
    }
}

async fn add_activity(
    State(sim): State<AshbySim>,
    Path(cid): Path<String>,
    Form(form): Form<TypeForm>,
) -> Response {
    let Some(name) = type_name(&sim, &form.assessment_type_id).await else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "Pick an Assessment Type from the list.",
        )
            .into_response();
    };
    let added = sim.with_candidate(&cid, |c| {
        c.activities.push(Activity {
            assessment_type_id: form.assessment_type_id.clone(),
            type_name: name,
            assessment_id: None,
            error: None,
        })
    });
    match added {
        Some(()) => Redirect::to(&format!("/candidates/{cid}")).into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "No such candidate in this sandbox",
        )
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "sim/ashby_confirm_start.html")]
struct ConfirmPage {
    cid: String,
    n: usize,
    name: String,
    selected: String,
    types: Vec<(String, String)>,
    problem: String,
}

async fn confirm_start(
    State(sim): State<AshbySim>,
    Path((cid, n)): Path<(String, usize)>,
) -> Response {
    let Some((name, selected)) = sim
        .with_candidate(&cid, |c| {
            c.activities
                .get(n)
                .map(|a| (c.name(), a.assessment_type_id.clone()))
        })
        .flatten()
    else {
        return (axum::http::StatusCode::NOT_FOUND, "No such activity").into_response();
    };
    let (types, problem) = assessment_types(&sim).await;
    crate::sim::render(&ConfirmPage {
        cid,
        n,
        name,
        selected,
        types,
        problem,
    })
}

async fn start(
    State(sim): State<AshbySim>,
    Path((cid, n)): Path<(String, usize)>,
    Form(form): Form<TypeForm>,
) -> Response {
    let pipeline = sim.pipeline();
    let Some(c) = pipeline.candidates.iter().find(|c| c.id() == cid) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "No such candidate in this sandbox",
        )
            .into_response();
    };
    let name = type_name(&sim, &form.assessment_type_id).await;
    let outcome = sim
        .start_assessment(StartOptions {
            assessment_type_id: Some(form.assessment_type_id.clone()),
            candidate: Some(c.candidate.clone()),
            job: Some(pipeline.job.clone()),
            application: Some(c.application.clone()),
            additional_fields: None,
        })
        .await;
    let (assessment_id, error) = match outcome {
        Ok(o) => match (&o.assessment_id, &o.recruiter_message) {
            (Some(id), _) => (Some(id.clone()), None),
            (None, Some(message)) => (None, Some(message.clone())),
            (None, None) => (
                None,
                Some(format!("The partner answered HTTP {}", o.call.status)),
            ),
        },
        Err(e) => (None, Some(e.to_string())),
    };
    sim.with_candidate(&cid, |c| {
        if let Some(a) = c.activities.get_mut(n) {
            a.assessment_type_id = form.assessment_type_id.clone();
            if let Some(name) = name {
                a.type_name = name;
            }
            a.error = error;
            if assessment_id.is_some() {
                a.assessment_id = assessment_id;
            }
        }
    });
    Redirect::to(&format!("/candidates/{cid}")).into_response()
}

async fn cancel(State(sim): State<AshbySim>, Path((cid, n)): Path<(String, usize)>) -> Response {
    let id = sim
        .with_candidate(&cid, |c| {
            c.activities.get(n).and_then(|a| a.assessment_id.clone())
        })
        .flatten();
    if let Some(id) = id {
        let failure = match sim.cancel_assessment(&id).await {
            Ok(o) if o.call.status != 200 => Some(format!(
                "The partner answered HTTP {} to the cancellation",
                o.call.status
            )),
            Ok(o) => o.error_message,
            Err(e) => Some(e.to_string()),
        };
        sim.with_candidate(&cid, |c| {
            if let Some(a) = c.activities.get_mut(n) {
                a.error = failure;
            }
        });
    }
    Redirect::to(&format!("/candidates/{cid}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_values_render_as_people_read_them() {
        let v = DataValue::new(
            "eta",
            "ETA",
            DataValueType::NumericDurationMinutes,
            json!(2940),
        );
        assert_eq!(value_view(&v).text, "2 days 1 hour");
        let v = DataValue::new("r", "Result", DataValueType::BooleanSuccess, json!(false));
        assert_eq!(
            (value_view(&v).text.as_str(), value_view(&v).kind),
            ("Fail", "fail")
        );
        let v = DataValue::new(
            "u",
            "Full Report",
            DataValueType::Url,
            json!("https://v.example/r/1"),
        );
        assert_eq!(value_view(&v).kind, "link");
        assert_eq!(duration_text(0.0), "0 minutes");
    }
}
