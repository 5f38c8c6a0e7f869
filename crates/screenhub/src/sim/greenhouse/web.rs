//! The recruiter's pages, following Greenhouse's setup article: the partner
//! integration (set by Greenhouse's Partnerships team), organisations with the
//! key their admin sent through Support, a job whose interview plan has the
//! partner stage with a test picked from `list_tests`, its candidates with
//! *Send Test* (one or in bulk), and each candidate's test: sent, pending, then
//! the score, the metadata rows and the report link.
//!
//! Server-rendered, plain forms, no JavaScript needed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::Form as ListForm;
use serde::Deserialize;
use serde_json::Value;

use super::partner::SendOptions;
use super::state::{
    CandidateStatus, Interview, Mode, PartnerSettings, StopReason, RESUME_LIFETIME_MS,
};
use super::{GreenhouseSim, NewCandidate, NewOrg};

pub fn routes() -> Router<GreenhouseSim> {
    Router::new()
        .route("/", get(home))
        .route("/static/sim.css", get(crate::sim::stylesheet))
        .route("/partner", post(save_partner))
        .route("/orgs", post(create_org))
        .route("/orgs/{org}", get(job_page))
        .route("/orgs/{org}/stage", post(save_stage))
        .route("/orgs/{org}/candidates", post(add_candidate))
        .route("/orgs/{org}/send_test", post(send_bulk))
        .route("/people/{id}", get(candidate_page))
        .route("/people/{id}/send_test", post(send_one))
        .route("/people/{id}/hire", post(hire))
        .route("/people/{id}/reject", post(reject))
        .route("/resumes/{id}", get(resume))
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%b %-d, %Y %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("No such {what} in this sandbox"),
    )
        .into_response()
}

// ---------- home: the partner integration and organisations ----------

#[derive(Template)]
#[template(path = "sim/greenhouse_home.html")]
struct HomePage {
    partner: Option<PartnerSettings>,
    polls: bool,
    orgs: Vec<(String, String, usize)>,
    message: String,
}

#[derive(Deserialize)]
struct Flash {
    message: Option<String>,
}

fn home_page(sim: &GreenhouseSim, message: String) -> Response {
    let state = sim.state();
    let orgs = state
        .orgs
        .iter()
        .map(|o| {
            let n = state.candidates.iter().filter(|c| c.org_id == o.id).count();
            (o.id.clone(), o.name.clone(), n)
        })
        .collect();
    let partner = state.partner.clone();
    drop(state);
    crate::sim::render(&HomePage {
        polls: partner.as_ref().is_some_and(PartnerSettings::polls),
        partner,
        orgs,
        message,
    })
}

async fn home(State(sim): State<GreenhouseSim>, Query(q): Query<Flash>) -> Response {
    home_page(&sim, q.message.unwrap_or_default())
}

#[derive(Deserialize)]
struct PartnerForm {
    base_url: String,
    patch_username: String,
    patch_password: String,
    mode: Option<String>,
}

async fn save_partner(State(sim): State<GreenhouseSim>, Form(form): Form<PartnerForm>) -> Response {
    let mut settings = PartnerSettings::new(
        form.base_url.trim().to_owned(),
        form.patch_username.trim().to_owned(),
        form.patch_password,
    );
    settings.mode = if form.mode.as_deref() == Some("poll") {
        Mode::Poll
    } else {
        Mode::Patch
    };
    match sim.set_partner(settings) {
        Ok(warnings) => {
            let message = if warnings.is_empty() {
                "Saved. Greenhouse calls the partner at these URLs.".to_owned()
            } else {
                format!("Saved, but: {}", warnings.join("; "))
            };
            home_page(&sim, message)
        }
        Err(e) => home_page(&sim, format!("Not saved: {e}")),
    }
}

async fn create_org(State(sim): State<GreenhouseSim>, Form(new): Form<NewOrg>) -> Response {
    match sim.create_org(new) {
        Ok(org) => Redirect::to(&format!("/orgs/{}", org.id)).into_response(),
        Err(e) => home_page(&sim, format!("Not created: {e}")),
    }
}

// ---------- the job, its partner stage and candidates ----------

/// A take-home test as the recruiter sees it on the stage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestView {
    id: u64,
    test_name: String,
    sent_at: String,
    /// `pending`, `completed`, `failed`.
    state: &'static str,
    label: String,
    score: String,
    rows: Vec<(String, String)>,
    report_url: String,
    error: String,
    warnings: Vec<String>,
}

fn primitive_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

pub fn test_view(i: &Interview) -> TestView {
    let shown = i.frozen.as_ref().or(i.status.as_ref());
    let (state, label) = match (&i.partner_interview_id, &i.frozen, &i.stopped) {
        (None, _, _) if i.send_error.is_some() => ("failed", "Not sent".to_owned()),
        (None, _, _) => ("pending", "Sending…".to_owned()),
        (Some(_), Some(_), _) => ("completed", "Complete".to_owned()),
        (Some(_), None, Some(StopReason::Expired)) => {
            ("failed", "No result after 8 weeks".to_owned())
        }
        (Some(_), None, _) => (
            "pending",
            format!(
                "Sent, pending{}",
                shown
                    .map(|s| format!(" (partner: {})", s.partner_status))
                    .unwrap_or_default()
            ),
        ),
    };
    let complete = i.frozen.as_ref();
    TestView {
        id: i.take_home_test_id,
        test_name: i.partner_test_name.clone(),
        sent_at: when(i.sent_at_ms),
        state,
        label,
        score: complete
            .and_then(|f| f.partner_score.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        rows: complete
            .map(|f| {
                f.metadata
                    .iter()
                    .map(|(k, v)| (k.clone(), primitive_text(v)))
                    .collect()
            })
            .unwrap_or_default(),
        report_url: complete
            .and_then(|f| f.partner_profile_url.clone())
            .unwrap_or_default(),
        error: i.send_error.clone().unwrap_or_default(),
        warnings: i.warnings.clone(),
    }
}

struct CandidateRow {
    id: u64,
    name: String,
    email: String,
    status: CandidateStatus,
    test: Option<TestView>,
}

#[derive(Template)]
#[template(path = "sim/greenhouse_job.html")]
struct JobPage {
    org_id: String,
    org_name: String,
    job_name: String,
    stage_name: Option<String>,
    editing_stage: bool,
    tests: Vec<(String, String)>,
    problem: String,
    rows: Vec<CandidateRow>,
    refresh: bool,
}

#[derive(Deserialize)]
struct JobQuery {
    edit_stage: Option<String>,
    problem: Option<String>,
}

async fn job_page(
    State(sim): State<GreenhouseSim>,
    Path(org_id): Path<String>,
    Query(q): Query<JobQuery>,
) -> Response {
    let Some(org) = sim.state().org(&org_id).cloned() else {
        return not_found("organisation");
    };
    let editing_stage = q.edit_stage.is_some() || org.stage.is_none();
    let mut problem = q.problem.unwrap_or_default();
    let mut tests = Vec::new();
    if editing_stage {
        match sim.list_tests(&org_id).await {
            Ok(listed) => {
                tests = listed
                    .tests
                    .into_iter()
                    .map(|t| (t.partner_test_id, t.partner_test_name))
                    .collect();
                if let Some(why) = listed
                    .call
                    .errors
                    .first()
                    .or(listed.call.transport.as_ref())
                {
                    problem = format!("Greenhouse could not read the partner's tests: {why}");
                } else if tests.is_empty() {
                    problem = "The partner offers no tests for this organisation.".into();
                }
            }
            Err(e) => problem = e.to_string(),
        }
    }
    let interviews = sim.interviews();
    let rows: Vec<CandidateRow> = sim
        .candidates(&org_id)
        .into_iter()
        .map(|c| CandidateRow {
            test: interviews
                .iter()
                .rev()
                .find(|i| i.candidate_id == c.id)
                .map(test_view),
            id: c.id,
            name: c.name(),
            email: c.email.clone(),
            status: c.status,
        })
        .collect();
    let page = JobPage {
        refresh: !editing_stage
            && rows
                .iter()
                .any(|r| r.test.as_ref().is_some_and(|t| t.state == "pending")),
        org_id,
        org_name: org.name,
        job_name: org.job_name,
        stage_name: org.stage.map(|s| s.partner_test_name),
        editing_stage,
        tests,
        problem,
        rows,
    };
    crate::sim::render(&page)
}

#[derive(Deserialize)]
struct StageForm {
    partner_test_id: String,
}

fn back_to_job(org_id: &str, problem: Option<String>) -> Response {
    match problem {
        None => Redirect::to(&format!("/orgs/{org_id}")).into_response(),
        Some(p) => {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("problem", &p)
                .finish();
            Redirect::to(&format!("/orgs/{org_id}?{q}")).into_response()
        }
    }
}

async fn save_stage(
    State(sim): State<GreenhouseSim>,
    Path(org_id): Path<String>,
    Form(form): Form<StageForm>,
) -> Response {
    let problem = sim
        .set_stage(&org_id, &form.partner_test_id)
        .await
        .err()
        .map(|e| e.to_string());
    back_to_job(&org_id, problem)
}

#[derive(Deserialize)]
struct CandidateForm {
    first_name: String,
    last_name: String,
    email: String,
}

async fn add_candidate(
    State(sim): State<GreenhouseSim>,
    Path(org_id): Path<String>,
    Form(form): Form<CandidateForm>,
) -> Response {
    let filled = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let problem = sim
        .add_candidate(
            &org_id,
            NewCandidate {
                first_name: filled(form.first_name),
                last_name: filled(form.last_name),
                email: filled(form.email),
                ..NewCandidate::default()
            },
        )
        .err()
        .map(|e| e.to_string());
    back_to_job(&org_id, problem)
}

#[derive(Deserialize)]
struct BulkForm {
    #[serde(default)]
    candidate_id: Vec<u64>,
}

async fn send_bulk(
    State(sim): State<GreenhouseSim>,
    Path(org_id): Path<String>,
    ListForm(form): ListForm<BulkForm>,
) -> Response {
    if form.candidate_id.is_empty() {
        return back_to_job(&org_id, Some("Select at least one candidate.".into()));
    }
    let mine: Vec<u64> = form
        .candidate_id
        .into_iter()
        .filter(|id| {
            sim.state()
                .candidate(*id)
                .is_some_and(|c| c.org_id == org_id)
        })
        .take(500)
        .collect();
    let problems: Vec<String> = sim
        .send_tests(&mine)
        .await
        .into_iter()
        .filter_map(Result::err)
        .map(|e| e.to_string())
        .collect();
    back_to_job(&org_id, (!problems.is_empty()).then(|| problems.join("; ")))
}

// ---------- a candidate ----------

#[derive(Template)]
#[template(path = "sim/greenhouse_candidate.html")]
struct CandidatePage {
    id: u64,
    org_id: String,
    job_name: String,
    stage_name: String,
    name: String,
    email: String,
    application_id: u64,
    status: CandidateStatus,
    tests: Vec<TestView>,
    refresh: bool,
}

async fn candidate_page(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Response {
    let Some(c) = id
        .parse()
        .ok()
        .and_then(|id| sim.state().candidate(id).cloned())
    else {
        return not_found("candidate");
    };
    let Some(org) = sim.state().org(&c.org_id).cloned() else {
        return not_found("organisation");
    };
    let tests: Vec<TestView> = sim
        .interviews()
        .iter()
        .filter(|i| i.candidate_id == c.id)
        .rev()
        .map(test_view)
        .collect();
    crate::sim::render(&CandidatePage {
        refresh: tests.iter().any(|t| t.state == "pending"),
        id: c.id,
        org_id: org.id,
        job_name: org.job_name,
        stage_name: org
            .stage
            .map(|s| s.partner_test_name)
            .unwrap_or_else(|| "no partner stage yet".into()),
        name: c.name(),
        email: c.email,
        application_id: c.application_id,
        status: c.status,
        tests,
    })
}

async fn send_one(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Response {
    let Some(c) = id
        .parse()
        .ok()
        .and_then(|id| sim.state().candidate(id).cloned())
    else {
        return not_found("candidate");
    };
    let problem = sim
        .send_test(c.id, SendOptions::default())
        .await
        .err()
        .map(|e| e.to_string());
    back_to_job(&c.org_id, problem)
}

async fn set_status(sim: &GreenhouseSim, id: &str, status: CandidateStatus) -> Response {
    match id
        .parse()
        .ok()
        .map(|id| sim.set_candidate_status(id, status))
    {
        Some(Ok(c)) => Redirect::to(&format!("/people/{}", c.id)).into_response(),
        _ => not_found("candidate"),
    }
}

async fn hire(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Response {
    set_status(&sim, &id, CandidateStatus::Hired).await
}

async fn reject(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Response {
    set_status(&sim, &id, CandidateStatus::Rejected).await
}

/// The `resume_url` of a take-home test: works for 7 simulated days.
async fn resume(State(sim): State<GreenhouseSim>, Path(id): Path<String>) -> Response {
    let Some(i) = id.parse().ok().and_then(|id| sim.interview(id)) else {
        return not_found("résumé");
    };
    if sim.now_ms() > i.sent_at_ms + RESUME_LIFETIME_MS {
        return (
            StatusCode::FORBIDDEN,
            "This résumé link expired 7 days after the test was sent.",
        )
            .into_response();
    }
    let name = sim
        .state()
        .candidate(i.candidate_id)
        .map(|c| c.name())
        .unwrap_or_default();
    (
        [("content-type", "text/plain; charset=utf-8")],
        format!("Résumé of {name}\n\n(A stand-in file served by the Greenhouse simulator.)\n"),
    )
        .into_response()
}
