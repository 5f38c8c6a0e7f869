//! `/dashboard/…`: the vendor's operators see and fix what happens. Sign-in
//! with a vendor API key gives a server-side session (cookie scoped to
//! `/dashboard`); every form carries the session's CSRF token.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use screenhub_core::clock::Millis;
use screenhub_core::delivery::DeliveryState;
use screenhub_core::event::EventType;
use screenhub_core::order::{OrderResult, OrderStatus, Outcome};
use screenhub_core::{AccountId, DeliveryId, OrderId};
use screenhub_store::{
    Account, AccountPatch, DashboardSession, Delivery, DeliveryFilter, Order, OrderFilter,
};
use serde::Deserialize;

use super::charts::{self, Column};
use super::{message, page, when, PageError, PageResult};
use crate::ops;
use crate::state::AppState;

const COOKIE: &str = "screenhub_session";
const DAY_MS: Millis = 86_400_000;
pub(super) const PAGE_SIZE: u32 = 50;
const STATUSES: [&str; 5] = ["pending", "in_progress", "completed", "cancelled", "failed"];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview))
        .route("/dashboard/", get(overview))
        .route("/dashboard/sign-in", get(sign_in_page).post(sign_in))
        .route("/dashboard/sign-out", post(sign_out))
        .route("/dashboard/orders", get(orders))
        .route("/dashboard/orders/{id}", get(order))
        .route("/dashboard/deliveries", get(deliveries))
        .route("/dashboard/deliveries/{id}", get(delivery))
        .route("/dashboard/deliveries/{id}/retry", post(retry_delivery))
        .route("/dashboard/accounts", get(accounts))
        .route("/dashboard/accounts/{id}/{action}", post(account_action))
}

// ---- session -------------------------------------------------------------

/// A signed-in operator. Without a live session, pages redirect to sign-in.
pub struct Operator {
    pub(super) session: DashboardSession,
    cookie: String,
}

fn cookie_value(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/dashboard/sign-in").into_response();
        let cookie = cookie_value(parts).ok_or_else(to_sign_in)?;
        match state
            .store
            .find_dashboard_session(&cookie, state.now())
            .await
        {
            Ok(Some(session)) => Ok(Operator { session, cookie }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(*PageError::from(e).0),
        }
    }
}

impl Operator {
    /// Who to name in the audit log.
    pub(super) fn actor(&self) -> String {
        format!("dashboard:{}", self.session.api_key_id)
    }

    /// Every POST form must carry this session's CSRF token.
    pub(super) fn check(&self, form_token: &str) -> Result<(), PageError> {
        if screenhub_core::secret::hashes_equal(
            form_token.as_bytes(),
            self.session.csrf_token.as_bytes(),
        ) {
            return Ok(());
        }
        Err(PageError::new(message(
            StatusCode::FORBIDDEN,
            "This form was rejected",
            "It did not come from your dashboard session (its security token is missing or wrong), \
             so nothing was changed. Go back, reload the page and try again.",
        )))
    }
}

fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/dashboard; Max-Age={max_age_secs}{secure}"
    ))
    .expect("a cookie made of token characters")
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    error: Option<String>,
    /// The command that makes a key this hub accepts (its own data directory
    /// or database, not wherever the reader's shell happens to be).
    create_key: String,
}

impl SignIn {
    fn new(state: &AppState, error: Option<String>) -> Self {
        Self {
            error,
            create_key: crate::app::keys_create_command(&state.config),
        }
    }
}

async fn sign_in_page(State(state): State<AppState>) -> Response {
    page(StatusCode::OK, &SignIn::new(&state, None))
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    api_key: String,
}

async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let key = form.api_key.trim();
    let found = if key.is_empty() {
        None
    } else {
        state.store.find_api_key(key).await?
    };
    let Some(key) = found else {
        // Guessing keys through this form is slowed down like the APIs are; a
        // valid key always signs in.
        let ip = crate::extract::client_ip(&state, &parts);
        if let Some(secs) = state.auth_limiter.failed(ip) {
            let error =
                format!("Too many failed sign-ins from this address. Try again in {secs} seconds.");
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &SignIn::new(&state, Some(error)),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
            return Ok(response);
        }
        let error = if key.is_empty() {
            "Paste a vendor API key (it starts with shk_).".to_owned()
        } else {
            "This API key is not valid for this hub; it may have been revoked, or made for another data directory. Check it, or create one as shown above.".to_owned()
        };
        return Ok(page(
            StatusCode::UNAUTHORIZED,
            &SignIn::new(&state, Some(error)),
        ));
    };
    let now = state.now();
    let session_secs = state.config.dashboard_session_hours * 3600;
    let (cookie, _) = state
        .store
        .create_dashboard_session(&key.id, now + session_secs as Millis * 1000, now)
        .await?;
    tracing::info!(api_key_id = %key.id, "dashboard sign-in");
    let mut response = Redirect::to("/dashboard").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, &cookie, session_secs as i64),
    );
    Ok(response)
}

async fn sign_out(
    State(state): State<AppState>,
    op: Operator,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    op.check(&form.csrf)?;
    state.store.delete_dashboard_session(&op.cookie).await?;
    let mut response = page(
        StatusCode::OK,
        &super::Message {
            heading: "You have signed out".into(),
            message: "Your dashboard session has ended on this device.".into(),
            link: Some(("/dashboard/sign-in".into(), "Sign in again".into())),
        },
    );
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    Ok(response)
}

// ---- overview ------------------------------------------------------------

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    nav: &'static str,
    csrf: String,
    operator: String,
    today_total: i64,
    week_total: i64,
    troubled: i64,
    accounts_in_error: i64,
    by_status: Vec<(&'static str, i64, i64)>,
    credential_alert: Option<String>,
    orders_chart: String,
    latency_chart: String,
}

fn day_label(day_start: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(day_start)
        .map(|t| t.format("%m-%d").to_string())
        .unwrap_or_default()
}

async fn overview(State(state): State<AppState>, op: Operator) -> PageResult {
    let now = state.now();
    let today = now - now.rem_euclid(DAY_MS);
    let first_day = today - 13 * DAY_MS;
    let store = &state.store;
    // Whole UTC days: today, and today with the 6 days before it.
    let today_counts = store.order_counts_since_day(today).await?;
    let week_counts = store.order_counts_since_day(today - 6 * DAY_MS).await?;
    let per_day: HashMap<Millis, i64> =
        store.orders_per_day(first_day).await?.into_iter().collect();
    let mut latencies: HashMap<Millis, Vec<i64>> = HashMap::new();
    for (created, completed) in store.delivery_latencies(first_day, 20_000).await? {
        let day = completed - completed.rem_euclid(DAY_MS);
        latencies.entry(day).or_default().push(completed - created);
    }
    let days: Vec<Millis> = (0..14).map(|i| first_day + i * DAY_MS).collect();
    let orders_columns: Vec<Column> = days
        .iter()
        .map(|d| Column {
            label: day_label(*d),
            values: vec![per_day.get(d).copied().unwrap_or(0) as f64],
        })
        .collect();
    let latency_columns: Vec<Column> = days
        .iter()
        .map(|d| {
            let mut v = latencies.remove(d).unwrap_or_default();
            v.sort_unstable();
            let p50 = charts::percentile(&v, 50.0).unwrap_or(0) as f64;
            let p95 = charts::percentile(&v, 95.0).unwrap_or(0) as f64;
            Column {
                label: day_label(*d),
                values: vec![p95, p50],
            }
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &Overview {
            nav: "overview",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            today_total: today_counts.total(),
            week_total: week_counts.total(),
            troubled: store.count_troubled_deliveries().await?,
            accounts_in_error: store.count_accounts_in_error().await?,
            by_status: STATUSES
                .iter()
                .map(|s| (*s, today_counts.get(s), week_counts.get(s)))
                .collect(),
            credential_alert: credential_alert(&state).await?,
            orders_chart: charts::bars("Orders per day", &orders_columns, ""),
            latency_chart: charts::bars("Delivery latency p95 and p50", &latency_columns, " ms"),
        },
    ))
}

// ---- orders --------------------------------------------------------------

#[derive(Deserialize, Default)]
struct OrdersQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    before: String,
}

impl OrdersQuery {
    fn href(&self, before: Option<&str>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("email", &self.email),
            ("status", &self.status),
            ("account", &self.account),
            ("package", &self.package),
            ("since", &self.since),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(b) = before {
            s.append_pair("before", b);
        }
        format!("/dashboard/orders?{}", s.finish())
    }

    /// The store filter, or what is wrong with the query, for a person.
    fn filter(&self) -> Result<OrderFilter, String> {
        let status = match self.status.as_str() {
            "" => None,
            s => Some(OrderStatus::parse(s).ok_or(format!("unknown status `{s}`"))?),
        };
        let account_id = match self.account.as_str() {
            "" => None,
            a => Some(
                a.parse::<AccountId>()
                    .map_err(|_| format!("`{a}` is not an account id"))?,
            ),
        };
        let created_after = match self.since.as_str() {
            "" => None,
            d => {
                let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("`{d}` is not a date (YYYY-MM-DD)"))?;
                Some(
                    date.and_time(chrono::NaiveTime::MIN)
                        .and_utc()
                        .timestamp_millis()
                        - 1,
                )
            }
        };
        let before = match self.before.as_str() {
            "" => None,
            b => Some(b.parse::<OrderId>().map_err(|_| {
                "the page link is damaged; start again from the newest orders".to_owned()
            })?),
        };
        let email = self.email.trim();
        Ok(OrderFilter {
            account_id,
            status,
            package_id: (!self.package.is_empty()).then(|| self.package.clone()),
            created_after,
            updated_after: None,
            candidate_email: (!email.is_empty()).then(|| email.to_owned()),
            before,
            limit: PAGE_SIZE + 1,
        })
    }
}

struct OrderRow {
    id: String,
    created: String,
    candidate: String,
    email: String,
    package: String,
    job: String,
    account: String,
    status: &'static str,
    outcome: Option<&'static str>,
}

/// The candidate's name and email as the connector normalized them (PII;
/// gone once purged).
fn candidate(order: &Order) -> (String, String) {
    let Some(c) = order.intake.as_ref().map(|i| &i.candidate) else {
        return ("(purged)".into(), String::new());
    };
    let name = format!("{} {}", c.first_name, c.last_name);
    (name.trim().to_owned(), c.email.clone())
}

/// The job column: Greenhouse sends none.
fn job_label(order: &Order) -> String {
    if order.job_name.is_empty() {
        "—".to_owned()
    } else {
        order.job_name.clone()
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct Orders {
    nav: &'static str,
    csrf: String,
    operator: String,
    q: OrdersQuery,
    statuses: [&'static str; 5],
    accounts: Vec<(String, String)>,
    packages: Vec<(String, String)>,
    rows: Vec<OrderRow>,
    error: Option<String>,
    paged: bool,
    first_href: String,
    next_href: Option<String>,
}

pub(super) async fn account_names(state: &AppState) -> Result<HashMap<String, String>, PageError> {
    Ok(state
        .store
        .list_accounts(None, 1000)
        .await?
        .into_iter()
        .map(|a| (a.id.to_string(), a.name))
        .collect())
}

async fn orders(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<OrdersQuery>,
) -> PageResult {
    let names = account_names(&state).await?;
    let (orders, error) = match q.filter() {
        Ok(filter) => (state.store.list_orders(&filter).await?, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let more = orders.len() > PAGE_SIZE as usize;
    let rows: Vec<OrderRow> = orders
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|o| {
            let (name, email) = candidate(o);
            OrderRow {
                id: o.id.to_string(),
                created: when(o.created_at),
                candidate: name,
                email,
                package: o.package_name.clone(),
                job: job_label(o),
                account: names
                    .get(o.account_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                status: o.status.as_str(),
                outcome: o.outcome.map(|x| x.as_str()),
            }
        })
        .collect();
    let next_href = more.then(|| q.href(rows.last().map(|r| r.id.as_str())));
    let mut accounts: Vec<(String, String)> = names.into_iter().collect();
    accounts.sort_by(|a, b| a.1.cmp(&b.1));
    let packages = state
        .store
        .list_packages()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(page(
        status,
        &Orders {
            nav: "orders",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            paged: !q.before.is_empty(),
            first_href: q.href(None),
            q,
            statuses: STATUSES,
            accounts,
            packages,
            rows,
            error,
            next_href,
        },
    ))
}

struct TimelineEntry {
    at: String,
    kind: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    nav: &'static str,
    csrf: String,
    operator: String,
    id: String,
    candidate: String,
    email: String,
    status: &'static str,
    outcome: Option<&'static str>,
    package: String,
    job: String,
    account: String,
    created: String,
    updated: String,
    extra: Vec<(&'static str, String)>,
    result: Option<ResultView>,
    events: Vec<TimelineEntry>,
    deliveries: Vec<DeliveryRow>,
}

/// A result as the ATS's activity card shows it: the verdict, the link to the
/// full report, the score and summary, and a verdict per screening.
struct ResultView {
    verdict: String,
    /// The badge's class: `pass`, `fail`, `review` or `none`.
    kind: &'static str,
    report_url: String,
    score: Option<String>,
    summary: Option<String>,
    screenings: Vec<ScreeningView>,
    completed: String,
}

struct ScreeningView {
    name: String,
    verdict: &'static str,
    kind: &'static str,
    detail: Option<String>,
}

fn verdict(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "Pass",
        Outcome::Fail => "Fail",
        Outcome::Review => "Needs review",
        Outcome::None => "Completed",
    }
}

impl From<&OrderResult> for ResultView {
    fn from(r: &OrderResult) -> Self {
        let score = r.score.as_ref().map(screenhub_ashby::mapping::score_text);
        Self {
            verdict: match (r.outcome, &score) {
                (Outcome::None, Some(score)) => score.clone(),
                (outcome, _) => verdict(outcome).to_owned(),
            },
            kind: r.outcome.as_str(),
            report_url: r.report_url.clone(),
            score,
            summary: r.summary.clone(),
            screenings: r
                .screenings
                .iter()
                .map(|s| ScreeningView {
                    name: s.name.clone(),
                    verdict: verdict(s.outcome),
                    kind: s.outcome.as_str(),
                    detail: s.detail.clone(),
                })
                .collect(),
            completed: when(r.completed_at),
        }
    }
}

pub(super) fn not_found(what: &str) -> PageError {
    PageError::new(message(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("There is no {what} with this id."),
    ))
}

/// A short, readable summary of an event's data for the timeline.
fn event_detail(data: &serde_json::Value) -> String {
    let Some(map) = data.as_object() else {
        return String::new();
    };
    let text = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if text.chars().count() > 240 {
        format!("{}…", text.chars().take(240).collect::<String>())
    } else {
        text
    }
}

async fn order(State(state): State<AppState>, op: Operator, Path(id): Path<String>) -> PageResult {
    let id: OrderId = id.parse().map_err(|_| not_found("order"))?;
    let order = state
        .store
        .get_order(&id, None)
        .await?
        .ok_or_else(|| not_found("order"))?;
    let events = state.store.order_events(&id).await?;
    let deliveries = state
        .store
        .list_deliveries(&DeliveryFilter {
            order_id: Some(id),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let account = state
        .store
        .get_account(&order.account_id)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    let (name, email) = candidate(&order);
    let mut extra = vec![("ATS", order.ats.label().to_owned())];
    if !order.application_status.is_empty() {
        extra.push(("Application status (ATS)", order.application_status.clone()));
    }
    if order.ats == screenhub_core::account::Ats::Greenhouse && order.intake.is_some() {
        let doorbell = crate::connectors::greenhouse::patch_url(&order).unwrap_or_else(|| {
            "none: Greenhouse sent no url, so it learns the result only by polling".into()
        });
        extra.push(("Greenhouse PATCH URL", doorbell));
    }
    // The progress the vendor last reported means nothing once the order ended.
    if order.status == OrderStatus::InProgress {
        let label = order.progress_label.as_deref().unwrap_or("In progress");
        let progress = match order.eta_minutes {
            Some(eta) => format!("{label} ({})", screenhub_ashby::mapping::time_left(eta)),
            None => label.to_owned(),
        };
        extra.push(("Progress", progress));
    }
    if let Some(r) = &order.cancel_reason {
        extra.push(("Cancelled", r.clone()));
    }
    if let Some(r) = &order.failure_reason {
        extra.push(("Failure", r.clone()));
    }

    Ok(page(
        StatusCode::OK,
        &OrderPage {
            nav: "orders",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            id: order.id.to_string(),
            candidate: name,
            email,
            status: order.status.as_str(),
            outcome: order.outcome.map(|o| o.as_str()),
            package: order.package_name.clone(),
            job: job_label(&order),
            account,
            created: when(order.created_at),
            updated: when(order.updated_at),
            extra,
            result: order.result.as_ref().map(ResultView::from),
            events: events
                .iter()
                .map(|e| TimelineEntry {
                    at: when(e.created_at),
                    kind: e.event_type.as_str().to_owned(),
                    detail: event_detail(&e.data),
                })
                .collect(),
            deliveries: deliveries.iter().map(DeliveryRow::from).collect(),
        },
    ))
}

// ---- deliveries ----------------------------------------------------------

struct DeliveryRow {
    id: String,
    created: String,
    target: String,
    event: String,
    state: &'static str,
    state_class: &'static str,
    attempts: i64,
    last: String,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        let retrying = d.state == DeliveryState::Pending && d.attempts > d.round_start;
        let (state, state_class) = if retrying {
            ("retrying", "retrying")
        } else {
            (d.state.as_str(), d.state.as_str())
        };
        let last = match (d.last_status, &d.last_error) {
            (Some(code), Some(e)) => format!("HTTP {code} — {e}"),
            (Some(code), None) => format!("HTTP {code}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "—".into(),
        };
        Self {
            id: d.id.to_string(),
            created: when(d.created_at),
            target: match d.target.as_str() {
                "ats" => "ATS (Ashby)".into(),
                _ => "your webhook".into(),
            },
            event: d.event_type.clone(),
            state,
            state_class,
            attempts: d.attempts,
            last,
        }
    }
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct Deliveries {
    nav: &'static str,
    csrf: String,
    operator: String,
    troubled: Vec<DeliveryRow>,
    rows: Vec<DeliveryRow>,
    next_href: Option<String>,
}

#[derive(Deserialize, Default)]
struct DeliveriesQuery {
    #[serde(default)]
    before: Option<i64>,
}

async fn deliveries(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<DeliveriesQuery>,
) -> PageResult {
    let troubled = if q.before.is_none() {
        state
            .store
            .list_deliveries(&DeliveryFilter {
                troubled_first: true,
                limit: PAGE_SIZE,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|d| {
                matches!(d.state, DeliveryState::Dead | DeliveryState::Failed)
                    || (d.state == DeliveryState::Pending && d.attempts > d.round_start)
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows = state
        .store
        .list_deliveries(&DeliveryFilter {
            before_seq: q.before,
            limit: PAGE_SIZE + 1,
            ..Default::default()
        })
        .await?;
    let more = rows.len() > PAGE_SIZE as usize;
    let rows: Vec<&Delivery> = rows.iter().take(PAGE_SIZE as usize).collect();
    let next_href = more
        .then(|| {
            rows.last()
                .map(|d| format!("/dashboard/deliveries?before={}", d.seq))
        })
        .flatten();
    Ok(page(
        StatusCode::OK,
        &Deliveries {
            nav: "deliveries",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            troubled: troubled.iter().map(DeliveryRow::from).collect(),
            rows: rows.into_iter().map(DeliveryRow::from).collect(),
            next_href,
        },
    ))
}

struct AttemptRow {
    n: i64,
    at: String,
    code: String,
    duration: String,
    error: String,
    excerpt: String,
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    nav: &'static str,
    csrf: String,
    operator: String,
    d: DeliveryRow,
    order_id: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    retryable: bool,
    attempts: Vec<AttemptRow>,
    payload: String,
}

#[derive(Deserialize, Default)]
struct DeliveryQuery {
    #[serde(default)]
    retried: Option<String>,
}

async fn delivery(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> PageResult {
    let id: DeliveryId = id.parse().map_err(|_| not_found("delivery"))?;
    let (d, payload, attempts) = state
        .store
        .get_delivery(&id)
        .await?
        .ok_or_else(|| not_found("delivery"))?;
    Ok(page(
        StatusCode::OK,
        &DeliveryPage {
            nav: "deliveries",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            order_id: d.order_id.map(|o| o.to_string()),
            notice: q
                .retried
                .map(|_| "Queued for another attempt. Reload to see how it went.".into()),
            error: None,
            retryable: matches!(d.state, DeliveryState::Dead | DeliveryState::Failed),
            d: DeliveryRow::from(&d),
            attempts: attempts
                .iter()
                .map(|a| AttemptRow {
                    n: a.attempt,
                    at: when(a.started_at),
                    code: a.status_code.map_or("—".into(), |c| c.to_string()),
                    duration: format!("{} ms", a.duration_ms),
                    error: a.error.clone().unwrap_or_default(),
                    excerpt: a.response_excerpt.clone().unwrap_or_default(),
                })
                .collect(),
            payload: serde_json::to_string_pretty(&payload).unwrap_or_default(),
        },
    ))
}

async fn retry_delivery(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    op.check(&form.csrf)?;
    let id: DeliveryId = id.parse().map_err(|_| not_found("delivery"))?;
    let delivery = state.store.retry_delivery(&id, state.now()).await?;
    state.work_added();
    tracing::info!(delivery_id = %id, "delivery retried from the dashboard");
    let target = Some(("delivery", id.as_str()));
    let details = serde_json::json!({"order_id": delivery.order_id});
    ops::audit(&state, &op.actor(), "delivery.retried", target, details).await;
    Ok(Redirect::to(&format!("/dashboard/deliveries/{id}?retried=1")).into_response())
}

// ---- accounts ------------------------------------------------------------

struct AccountRow {
    id: String,
    name: String,
    ats: &'static str,
    /// When the ATS called (Greenhouse: its first call makes the account active).
    ats_calls: Option<String>,
    /// What the ATS reported or the hub refused lately (not tied to an order).
    ats_news: Vec<String>,
    environment: &'static str,
    status: &'static str,
    reason: Option<String>,
    token_prefix: String,
    created: String,
    last_activity: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct Accounts {
    nav: &'static str,
    csrf: String,
    operator: String,
    rows: Vec<AccountRow>,
    credential_alert: Option<String>,
    next_href: Option<String>,
}

/// The deployment's Greenhouse PATCH credential was refused, and no PATCH
/// has gone through since: say so on every overview.
async fn credential_alert(state: &AppState) -> Result<Option<String>, PageError> {
    let problem = state
        .store
        .get_setting(crate::connectors::greenhouse::CREDENTIAL_PROBLEM_SETTING)
        .await?;
    Ok(problem.and_then(|p| {
        let since = p["since"].as_str()?;
        Some(format!("{} (since {since})", p["message"].as_str()?))
    }))
}

/// The last few things an account's ATS reported, or that the hub refused
/// it, outside any order (Greenhouse shows nobody its errors).
async fn ats_news(state: &AppState, account: &Account) -> Result<Vec<String>, PageError> {
    if account.ats == screenhub_core::account::Ats::Ashby {
        return Ok(vec![]);
    }
    let events = state.store.account_events(&account.id, 50).await?;
    Ok(events
        .iter()
        .filter(|e| {
            matches!(
                e.event_type,
                EventType::AtsResponseError | EventType::AtsRequestRefused
            )
        })
        .take(3)
        .map(|e| {
            format!(
                "{} {}: {}",
                when(e.created_at),
                e.event_type.as_str(),
                event_detail(&e.data)
            )
        })
        .collect())
}

#[derive(Deserialize, Default)]
struct AfterQuery {
    #[serde(default)]
    after: String,
}

async fn accounts(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<AfterQuery>,
) -> PageResult {
    let after = match q.after.as_str() {
        "" => None,
        a => Some(a.parse::<AccountId>().map_err(|_| not_found("account"))?),
    };
    let list = state
        .store
        .list_accounts(after.as_ref(), PAGE_SIZE + 1)
        .await?;
    let more = list.len() > PAGE_SIZE as usize;
    let mut news = Vec::new();
    for a in list.iter().take(PAGE_SIZE as usize) {
        news.push(ats_news(&state, a).await?);
    }
    let rows: Vec<AccountRow> = list
        .iter()
        .take(PAGE_SIZE as usize)
        .zip(news)
        .map(|(a, ats_news)| AccountRow {
            id: a.id.to_string(),
            name: a.name.clone(),
            ats: a.ats.label(),
            ats_calls: (a.ats != screenhub_core::account::Ats::Ashby).then(|| {
                match (a.first_ats_call_at, a.last_ats_call_at) {
                    (Some(first), Some(last)) => {
                        format!("first call {}, last {}", when(first), when(last))
                    }
                    _ => format!("{} has not called yet", a.ats.label()),
                }
            }),
            ats_news,
            environment: a.environment.as_str(),
            status: a.status().as_str(),
            reason: a.status_reason.clone(),
            token_prefix: a.token_prefix.clone(),
            created: when(a.created_at),
            last_activity: a.last_activity_at.map_or("never".into(), when),
            disabled: a.disabled_at.is_some(),
        })
        .collect();
    let next_href = more
        .then(|| {
            rows.last()
                .map(|a| format!("/dashboard/accounts?after={}", a.id))
        })
        .flatten();
    Ok(page(
        StatusCode::OK,
        &Accounts {
            nav: "accounts",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            rows,
            credential_alert: credential_alert(&state).await?,
            next_href,
        },
    ))
}

#[derive(Template)]
#[template(path = "notice.html")]
pub(super) struct Notice {
    pub nav: &'static str,
    pub csrf: String,
    pub operator: String,
    pub back_href: String,
    pub heading: String,
    pub message: String,
    pub secret: Option<String>,
}

/// The on/off buttons of the list pages (enable/disable, activate/…): check
/// the form, read which of the two `actions` was asked for, apply it, and go
/// back to the list.
pub(super) async fn switch<T>(
    op: &Operator,
    form: &CsrfForm,
    action: &str,
    (on, off): (&str, &str),
    back: &str,
    apply: impl AsyncFnOnce(bool) -> Result<T, crate::error::ApiError>,
) -> PageResult {
    op.check(&form.csrf)?;
    let turn_on = match action {
        a if a == on => true,
        a if a == off => false,
        _ => return Err(not_found("action")),
    };
    apply(turn_on).await?;
    Ok(Redirect::to(back).into_response())
}

async fn account_action(
    State(state): State<AppState>,
    op: Operator,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    op.check(&form.csrf)?;
    let id: AccountId = id.parse().map_err(|_| not_found("account"))?;
    let now = state.now();
    let notice = |heading: &str, message: String, secret: String| Notice {
        nav: "accounts",
        csrf: op.session.csrf_token.clone(),
        operator: op.session.api_key_name.clone(),
        back_href: "/dashboard/accounts".into(),
        heading: heading.into(),
        message,
        secret: Some(secret),
    };
    let target = Some(("account", id.as_str()));
    match action.as_str() {
        "rotate-token" => {
            let (account, token) = state.store.rotate_account_token(&id, None, now).await?;
            tracing::info!(account_id = %id, "token rotated from the dashboard");
            let details = serde_json::json!({"grace_period_seconds": null});
            ops::audit(
                &state,
                &op.actor(),
                "account.token_rotated",
                target,
                details,
            )
            .await;
            Ok(page(
                StatusCode::OK,
                &notice(
                    "New External Trigger Token",
                    format!(
                        "The old token of {} stopped working now. The employer must paste this one into Ashby \
                         (Admin → Integrations → this integration → API Key); their connect page shows it too.",
                        account.name
                    ),
                    token,
                ),
            ))
        }
        "connect-link" => {
            let (url, expires_at) = ops::create_connect_link(
                &state.store,
                &op.actor(),
                &state.public_url,
                &id,
                None,
                now,
            )
            .await?;
            Ok(page(
                StatusCode::OK,
                &notice(
                    "Connect link",
                    format!(
                        "Send this link to the employer's Ashby admin. It works until {} or until the connection is complete.",
                        when(expires_at)
                    ),
                    url,
                ),
            ))
        }
        _ => {
            let back = "/dashboard/accounts";
            switch(
                &op,
                &form,
                &action,
                ("enable", "disable"),
                back,
                async |enable| {
                    let patch = AccountPatch {
                        name: None,
                        disabled: Some(!enable),
                    };
                    state.store.update_account(&id, patch, now).await?;
                    let details = serde_json::json!({"name": null, "disabled": !enable});
                    ops::audit(&state, &op.actor(), "account.updated", target, details).await;
                    Ok(())
                },
            )
            .await
        }
    }
}
