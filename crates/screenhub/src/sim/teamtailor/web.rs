//! The recruiter's and admin's pages: the partner record, companies, the
//! Marketplace activation form, a job's stages with their triggers, its
//! candidates (move one into a stage to trigger the order), and each
//! candidate's result cards with status, summary, score, grade, details,
//! attachments, the report link and the partner's buttons.
//!
//! Server-rendered, plain forms, no JavaScript needed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::rules::FormField;
use super::state::{AuthScheme, PartnerSettings};
use super::{NewCandidate, NewCompany, Stack, TeamtailorSim};

pub fn routes() -> Router<TeamtailorSim> {
    Router::new()
        .route("/", get(home))
        .route("/static/sim.css", get(crate::sim::stylesheet))
        .route("/companies", post(create_company))
        .route("/companies/{co}", get(company_page))
        .route("/companies/{co}/activation", post(activate))
        .route("/companies/{co}/triggers", post(add_trigger))
        .route("/companies/{co}/candidates", post(add_candidate))
        .route("/candidates/{id}", get(candidate_page))
        .route("/candidates/{id}/move", post(move_candidate))
        .route("/cards/{id}/click", post(click))
}

#[derive(Deserialize)]
struct Flash {
    message: Option<String>,
    error: Option<bool>,
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("No such {what} in this sandbox"),
    )
        .into_response()
}

fn back(path: &str, message: &str, error: bool) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("message", message)
        .append_pair("error", if error { "true" } else { "false" })
        .finish();
    Redirect::to(&format!("{path}?{query}")).into_response()
}

#[derive(Template)]
#[template(path = "sim/teamtailor_home.html")]
struct HomePage {
    partner: Option<PartnerSettings>,
    auth: &'static str,
    companies: Vec<(String, String, &'static str)>,
    message: String,
}

async fn home(State(sim): State<TeamtailorSim>, Query(flash): Query<Flash>) -> Response {
    let partner = sim.partner();
    let auth = match partner.as_ref().map(|p| p.auth_scheme) {
        Some(AuthScheme::TokenOnly) => "Token only",
        Some(AuthScheme::BearerOnly) => "Bearer only",
        _ => "Token or Bearer",
    };
    let companies = sim
        .companies()
        .into_iter()
        .map(|c| {
            let state = if c.activated {
                "activated"
            } else {
                "not activated"
            };
            (c.id, c.name, state)
        })
        .collect();
    crate::sim::render(&HomePage {
        partner,
        auth,
        companies,
        message: flash.message.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
struct CompanyForm {
    name: String,
    stack: Stack,
}

async fn create_company(State(sim): State<TeamtailorSim>, Form(f): Form<CompanyForm>) -> Response {
    match sim.create_company(NewCompany {
        name: f.name,
        stack: f.stack,
        job_title: None,
    }) {
        Ok(c) => Redirect::to(&format!("/companies/{}", c.id)).into_response(),
        Err(e) => back("/", &e, true),
    }
}

#[derive(Template)]
#[template(path = "sim/teamtailor_company.html")]
struct CompanyPage {
    id: String,
    name: String,
    activated: bool,
    activation_messages: Vec<String>,
    activation_fields: Vec<FormField>,
    job_title: String,
    stages: Vec<(u64, String, String)>,
    candidates: Vec<(u64, String, String)>,
    message: String,
    error: bool,
}

/// The activation form's fields, as the admin sees them.
fn activation_fields(config: &Value) -> Vec<FormField> {
    super::rules::check_config(config.to_string().as_bytes())
        .map(|f| f.fields)
        .unwrap_or_default()
}

async fn company_page(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(company) = sim.companies().into_iter().find(|c| c.id == co) else {
        return not_found("company");
    };
    let stage_name = |id: u64| {
        company
            .stages
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let stages = company
        .stages
        .iter()
        .map(|s| {
            let trigger = company
                .triggers
                .iter()
                .find(|t| t.stage_id == s.id)
                .map(|t| {
                    t.webhook_data
                        .values()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .map(|d| {
                    if d.is_empty() {
                        "(no options)".into()
                    } else {
                        d
                    }
                })
                .unwrap_or_default();
            (s.id, s.name.clone(), trigger)
        })
        .collect();
    let candidates = sim
        .candidates(&co)
        .into_iter()
        .map(|c| {
            (
                c.id,
                format!("{} {}", c.first_name, c.last_name),
                stage_name(c.stage_id),
            )
        })
        .collect();
    crate::sim::render(&CompanyPage {
        id: company.id.clone(),
        name: company.name.clone(),
        activated: company.activated,
        activation_messages: company.activation_messages.clone(),
        activation_fields: sim
            .partner()
            .map(|p| activation_fields(&p.activation_config))
            .unwrap_or_default(),
        job_title: company.job_title.clone(),
        stages,
        candidates,
        message: flash.message.unwrap_or_default(),
        error: flash.error.unwrap_or(false),
    })
}

async fn activate(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    Form(values): Form<Map<String, Value>>,
) -> Response {
    let path = format!("/companies/{co}");
    match sim.activate(&co, values).await {
        Ok((true, _)) => back(&path, "Activated", false),
        Ok((false, messages)) => back(&path, &messages.join(" "), true),
        Err(e) => back(&path, &e.to_string(), true),
    }
}

async fn add_trigger(
    State(sim): State<TeamtailorSim>,
    Path(co): Path<String>,
    Form(mut values): Form<Map<String, Value>>,
) -> Response {
    let path = format!("/companies/{co}");
    let Some(stage_id) = values
        .remove("stage_id")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
    else {
        return back(&path, "pick a stage", true);
    };
    values.retain(|_, v| v.as_str().is_some_and(|s| !s.is_empty()));
    match sim.add_trigger(&co, stage_id, values).await {
        Ok(_) => back(&path, "Trigger added", false),
        Err(e) => back(&path, &e.to_string(), true),
    }
}

async fn add_candidate(State(sim): State<TeamtailorSim>, Path(co): Path<String>) -> Response {
    let path = format!("/companies/{co}");
    match sim.add_candidate(&co, NewCandidate::default()) {
        Ok(c) => back(
            &path,
            &format!("{} {} added", c.first_name, c.last_name),
            false,
        ),
        Err(e) => back(&path, &e.to_string(), true),
    }
}

#[derive(Deserialize)]
struct MoveForm {
    stage_id: u64,
}

async fn move_candidate(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<u64>,
    Form(f): Form<MoveForm>,
) -> Response {
    let path = format!("/candidates/{id}");
    match sim.move_candidate(id, f.stage_id).await {
        Ok(Some(_)) => back(&path, "Moved; the trigger sent the order", false),
        Ok(None) => back(&path, "Moved", false),
        Err(e) => back(&path, &e.to_string(), true),
    }
}

#[derive(Deserialize)]
struct ClickForm {
    endpoint: String,
}

async fn click(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<String>,
    Form(f): Form<ClickForm>,
) -> Response {
    let Some(card) = sim.card(&id) else {
        return not_found("partner result");
    };
    let path = format!("/candidates/{}", card.candidate_id);
    match sim.click(&id, &f.endpoint).await {
        Ok(r) => back(
            &path,
            &format!("The partner answered: {}", r.verdict),
            false,
        ),
        Err(e) => back(&path, &e.to_string(), true),
    }
}

/// A card as the recruiter sees it.
pub struct CardView {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub error: String,
    /// The first 150 characters; the rest under "View details".
    pub summary: String,
    pub more: String,
    pub score: String,
    pub grade: String,
    pub details: Vec<(String, String)>,
    pub attachments: Vec<(String, String)>,
    pub url: String,
    pub actions: Vec<(String, String)>,
}

const SUMMARY_SHOWN: usize = 150;

fn card_view(card: &super::Card) -> CardView {
    let summary = card.summary.clone().unwrap_or_default();
    let shown: String = summary.chars().take(SUMMARY_SHOWN).collect();
    let more: String = summary.chars().skip(SUMMARY_SHOWN).collect();
    let package = card.event["partner-event"]["webhook-data"]
        .as_object()
        .map(|d| {
            d.values()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    CardView {
        id: card.id.clone(),
        trigger: format!("Background check {package}").trim().to_owned(),
        status: card.status.clone(),
        error: card.error.clone().unwrap_or_default(),
        summary: shown,
        more,
        score: card.score.map(|s| format!("{s}")).unwrap_or_default(),
        grade: card.grade.clone().unwrap_or_default().replace('_', " "),
        details: card
            .details
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        attachments: card.attachments.clone(),
        url: card.url.clone().unwrap_or_default(),
        actions: card.actions.clone(),
    }
}

#[derive(Template)]
#[template(path = "sim/teamtailor_candidate.html")]
struct CandidatePage {
    company_id: String,
    company: String,
    job: String,
    stage: String,
    name: String,
    email: String,
    cards: Vec<CardView>,
    refresh: bool,
    message: String,
}

async fn candidate_page(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<u64>,
    Query(flash): Query<Flash>,
) -> Response {
    let (candidate, company) = {
        let state = sim.state();
        let Some(candidate) = state.candidates.iter().find(|c| c.id == id).cloned() else {
            return not_found("candidate");
        };
        let company = state.company(&candidate.company_id).cloned();
        (candidate, company)
    };
    let Some(company) = company else {
        return not_found("company");
    };
    let cards: Vec<CardView> = sim
        .cards()
        .iter()
        .filter(|c| c.candidate_id == id)
        .map(card_view)
        .collect();
    let refresh = cards
        .iter()
        .any(|c| matches!(c.status.as_str(), "sending" | "sent" | "pending") && c.error.is_empty());
    crate::sim::render(&CandidatePage {
        company_id: company.id.clone(),
        company: company.name.clone(),
        job: company.job_title.clone(),
        stage: company
            .stages
            .iter()
            .find(|s| s.id == candidate.stage_id)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        name: format!("{} {}", candidate.first_name, candidate.last_name),
        email: candidate.email,
        cards,
        refresh,
        message: flash.message.unwrap_or_default(),
    })
}
