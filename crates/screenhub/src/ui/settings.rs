//! `/dashboard/packages` and `/dashboard/endpoints`: what the vendor sells
//! and where its webhooks go, to view, create and edit. Every change goes
//! through [`crate::manage`], as the vendor API's do, so the rules and the
//! audit trail are the same; a rejected form comes back with what was typed
//! and the reason.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::Form as ListForm;
use screenhub_core::event::EventType;
use screenhub_core::package::PackageKind;
use screenhub_core::{AccountId, EndpointId};
use screenhub_store::{Package, WebhookEndpoint};
use serde::Deserialize;

use super::dashboard::{account_names, not_found, switch, CsrfForm, Notice, Operator, PAGE_SIZE};
use super::{page, when, PageError, PageResult};
use crate::error::ApiError;
use crate::manage::{self, CreateEndpoint, PackageBody, PackagePatch, UpdateEndpoint};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/packages", get(packages))
        .route(
            "/dashboard/packages/new",
            get(new_package_page).post(create_package),
        )
        .route(
            "/dashboard/packages/{id}/edit",
            get(edit_package_page).post(update_package),
        )
        .route("/dashboard/packages/{id}/{action}", post(package_switch))
        .route("/dashboard/endpoints", get(endpoints))
        .route(
            "/dashboard/endpoints/new",
            get(new_endpoint_page).post(create_endpoint),
        )
        .route(
            "/dashboard/endpoints/{id}/edit",
            get(edit_endpoint_page).post(update_endpoint),
        )
        .route(
            "/dashboard/endpoints/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/dashboard/endpoints/{id}/{action}", post(endpoint_switch))
}

/// A rejected change is shown on its form; anything else (not found, a
/// database failure) as a page of its own.
fn form_error(e: ApiError) -> Result<(StatusCode, String), PageError> {
    if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT {
        Ok((e.status, e.message))
    } else {
        Err(e.into())
    }
}

/// One page of a short list the store returns whole (packages, endpoints):
/// the items after the one with id `after`, and the id to continue from.
fn page_after<T>(items: Vec<T>, after: &str, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let start = match after {
        "" => 0,
        a => items.iter().position(|i| id(i) == a).map_or(0, |p| p + 1),
    };
    let more = items.len() > start + PAGE_SIZE as usize;
    let page: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(PAGE_SIZE as usize)
        .collect();
    let next = more
        .then(|| page.last().map(|i| id(i).to_owned()))
        .flatten();
    (page, next)
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    saved: String,
}

// ---- packages ----------------------------------------------------------------

struct PackageRow {
    id: String,
    name: String,
    description: String,
    kind: &'static str,
    screenings: String,
    offered_to: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "packages.html")]
struct Packages {
    nav: &'static str,
    csrf: String,
    operator: String,
    notice: Option<String>,
    rows: Vec<PackageRow>,
    next_href: Option<String>,
}

async fn packages(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let names = account_names(&state).await?;
    let (list, next) = page_after(state.store.list_packages().await?, &q.after, |p| &p.id);
    let rows = list
        .into_iter()
        .map(|p| PackageRow {
            offered_to: match &p.account_ids {
                None => "every account".into(),
                Some(ids) => ids
                    .iter()
                    .map(|i| names.get(i.as_str()).cloned().unwrap_or(i.to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            screenings: p.screenings.join(", "),
            kind: p.kind.as_str(),
            id: p.id,
            name: p.name,
            description: p.description,
            active: p.active,
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &Packages {
            nav: "packages",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            notice: (!q.saved.is_empty()).then(|| format!("Package `{}` saved.", q.saved)),
            rows,
            next_href: next.map(|a| format!("/dashboard/packages?after={a}")),
        },
    ))
}

/// The package form as typed (or as stored, when it first opens).
#[derive(Deserialize, Default)]
#[serde(default)]
struct PackageForm {
    csrf: String,
    id: String,
    kind: String,
    name: String,
    description: String,
    /// One screening a line.
    screenings: String,
    /// `all`, or `some`: only the accounts in `account_ids`.
    offered_to: String,
    account_ids: Vec<String>,
    active: Option<String>,
}

impl PackageForm {
    fn from_package(p: &Package) -> Self {
        Self {
            csrf: String::new(),
            id: p.id.clone(),
            kind: p.kind.as_str().into(),
            name: p.name.clone(),
            description: p.description.clone(),
            screenings: p.screenings.join("\n"),
            offered_to: if p.account_ids.is_some() {
                "some"
            } else {
                "all"
            }
            .into(),
            account_ids: p
                .account_ids
                .iter()
                .flatten()
                .map(|a| a.to_string())
                .collect(),
            active: p.active.then(|| "on".into()),
        }
    }

    /// The fields as the vendor API takes them; the rules are checked there.
    fn fields(&self) -> Result<PackageBody, ApiError> {
        let kind = PackageKind::parse(&self.kind)
            .ok_or_else(|| ApiError::validation("kind must be background_check or assessment"))?;
        let account_ids = match self.offered_to.as_str() {
            "some" => Some(
                self.account_ids
                    .iter()
                    .map(|a| {
                        a.parse::<AccountId>().map_err(|_| {
                            ApiError::validation(format!("account_ids: `{a}` is not an account id"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => None,
        };
        Ok(PackageBody {
            id: self.id.trim().to_owned(),
            kind,
            name: self.name.clone(),
            description: self.description.clone(),
            screenings: self
                .screenings
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            account_ids,
            active: self.active.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "package_form.html")]
struct PackageFormPage {
    nav: &'static str,
    csrf: String,
    operator: String,
    /// None: a new package.
    editing: Option<String>,
    f: PackageForm,
    kinds: [&'static str; 2],
    accounts: Vec<(String, String)>,
    error: Option<String>,
}

async fn package_form(
    state: &AppState,
    op: &Operator,
    status: StatusCode,
    editing: Option<String>,
    f: PackageForm,
    error: Option<String>,
) -> PageResult {
    let mut accounts: Vec<(String, String)> = account_names(state).await?.into_iter().collect();
    accounts.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(page(
        status,
        &PackageFormPage {
            nav: "packages",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            editing,
            f,
            kinds: [
                PackageKind::BackgroundCheck.as_str(),
                PackageKind::Assessment.as_str(),
            ],
            accounts,
            error,
        },
    ))
}

async fn new_package_page(State(state): State<AppState>, op: Operator) -> PageResult {
    let f = PackageForm {
        kind: PackageKind::BackgroundCheck.as_str().into(),
        offered_to: "all".into(),
        active: Some("on".into()),
        ..Default::default()
    };
    package_form(&state, &op, StatusCode::OK, None, f, None).await
}

async fn create_package(
    State(state): State<AppState>,
    op: Operator,
    ListForm(f): ListForm<PackageForm>,
) -> PageResult {
    op.check(&f.csrf)?;
    let created = match f.fields() {
        Ok(body) => manage::create_package(&state, &op.actor(), body).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(p) => Ok(saved("packages", &p.id)),
        Err(e) => {
            let (status, message) = form_error(e)?;
            package_form(&state, &op, status, None, f, Some(message)).await
        }
    }
}

async fn edit_package_page(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> PageResult {
    let p = manage::find_package(&state, &id).await?;
    let f = PackageForm::from_package(&p);
    package_form(&state, &op, StatusCode::OK, Some(p.id), f, None).await
}

async fn update_package(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    ListForm(mut f): ListForm<PackageForm>,
) -> PageResult {
    op.check(&f.csrf)?;
    // The id is the one in the address; a package's id never changes.
    f.id = id.clone();
    let updated = match f.fields() {
        Ok(b) => {
            let patch = PackagePatch {
                kind: Some(b.kind),
                name: Some(b.name),
                description: Some(b.description),
                screenings: Some(b.screenings),
                account_ids: Some(b.account_ids),
                active: Some(b.active),
            };
            manage::update_package(&state, &op.actor(), &id, patch).await
        }
        Err(e) => Err(e),
    };
    match updated {
        Ok(p) => Ok(saved("packages", &p.id)),
        Err(e) => {
            let (status, message) = form_error(e)?;
            package_form(&state, &op, status, Some(id), f, Some(message)).await
        }
    }
}

async fn package_switch(
    State(state): State<AppState>,
    op: Operator,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let actor = op.actor();
    let on_off = ("activate", "deactivate");
    switch(
        &op,
        &form,
        &action,
        on_off,
        "/dashboard/packages",
        async |active| {
            let patch = PackagePatch {
                active: Some(active),
                ..Default::default()
            };
            manage::update_package(&state, &actor, &id, patch).await
        },
    )
    .await
}

/// Back to the list, which says what was saved.
fn saved(list: &str, id: &str) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("saved", id)
        .finish();
    Redirect::to(&format!("/dashboard/{list}?{query}")).into_response()
}

// ---- webhook endpoints ---------------------------------------------------------

struct EndpointRow {
    id: String,
    url: String,
    description: String,
    events: String,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "endpoints.html")]
struct Endpoints {
    nav: &'static str,
    csrf: String,
    operator: String,
    notice: Option<String>,
    rows: Vec<EndpointRow>,
    next_href: Option<String>,
}

fn event_names(events: &Option<Vec<EventType>>) -> Vec<String> {
    events
        .iter()
        .flatten()
        .map(|t| t.as_str().to_owned())
        .collect()
}

async fn endpoints(
    State(state): State<AppState>,
    op: Operator,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let (list, next) = page_after(state.store.list_endpoints().await?, &q.after, |e| {
        e.id.as_str()
    });
    let rows = list
        .into_iter()
        .map(|e| EndpointRow {
            id: e.id.to_string(),
            events: match &e.events {
                None => "every event".into(),
                Some(_) => event_names(&e.events).join(", "),
            },
            url: e.url,
            description: e.description,
            disabled: e.disabled,
            created: when(e.created_at),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &Endpoints {
            nav: "endpoints",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            notice: (!q.saved.is_empty()).then(|| format!("Endpoint {} saved.", q.saved)),
            rows,
            next_href: next.map(|a| format!("/dashboard/endpoints?after={a}")),
        },
    ))
}

/// The endpoint form as typed (or as stored, when it first opens).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EndpointForm {
    csrf: String,
    url: String,
    description: String,
    /// `all`, or `some`: only the types in `events`.
    events_scope: String,
    events: Vec<String>,
    enabled: Option<String>,
}

impl EndpointForm {
    fn from_endpoint(e: &WebhookEndpoint) -> Self {
        Self {
            csrf: String::new(),
            url: e.url.clone(),
            description: e.description.clone(),
            events_scope: if e.events.is_some() { "some" } else { "all" }.into(),
            events: event_names(&e.events),
            enabled: (!e.disabled).then(|| "on".into()),
        }
    }

    /// `None` subscribes to every event type.
    fn events(&self) -> Option<Vec<String>> {
        (self.events_scope == "some").then(|| self.events.clone())
    }
}

#[derive(Template)]
#[template(path = "endpoint_form.html")]
struct EndpointFormPage {
    nav: &'static str,
    csrf: String,
    operator: String,
    /// None: a new endpoint.
    editing: Option<String>,
    f: EndpointForm,
    event_types: Vec<&'static str>,
    error: Option<String>,
}

fn endpoint_form(
    op: &Operator,
    status: StatusCode,
    editing: Option<String>,
    f: EndpointForm,
    error: Option<String>,
) -> Response {
    page(
        status,
        &EndpointFormPage {
            nav: "endpoints",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            editing,
            f,
            event_types: EventType::WEBHOOK.iter().map(|t| t.as_str()).collect(),
            error,
        },
    )
}

fn endpoint_id(raw: &str) -> Result<EndpointId, PageError> {
    raw.parse().map_err(|_| not_found("webhook endpoint"))
}

async fn new_endpoint_page(op: Operator) -> Response {
    let f = EndpointForm {
        events_scope: "all".into(),
        enabled: Some("on".into()),
        ..Default::default()
    };
    endpoint_form(&op, StatusCode::OK, None, f, None)
}

async fn create_endpoint(
    State(state): State<AppState>,
    op: Operator,
    ListForm(f): ListForm<EndpointForm>,
) -> PageResult {
    op.check(&f.csrf)?;
    let body = CreateEndpoint {
        url: f.url.clone(),
        events: f.events(),
        description: f.description.clone(),
    };
    match manage::create_endpoint(&state, &op.actor(), body).await {
        Ok((endpoint, secret)) => Ok(secret_notice(
            &op,
            "Webhook endpoint created",
            format!(
                "Webhooks for {} are signed with this secret (Standard Webhooks). Copy it into your \
                 receiver now: it is shown only this once. You can rotate it later.",
                endpoint.url
            ),
            secret,
        )),
        Err(e) => {
            let (status, message) = form_error(e)?;
            Ok(endpoint_form(&op, status, None, f, Some(message)))
        }
    }
}

async fn edit_endpoint_page(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
) -> PageResult {
    let e = manage::find_endpoint(&state, &endpoint_id(&id)?).await?;
    let f = EndpointForm::from_endpoint(&e);
    Ok(endpoint_form(&op, StatusCode::OK, Some(id), f, None))
}

async fn update_endpoint(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    ListForm(f): ListForm<EndpointForm>,
) -> PageResult {
    op.check(&f.csrf)?;
    let body = UpdateEndpoint {
        url: Some(f.url.clone()),
        events: Some(f.events()),
        description: Some(f.description.clone()),
        disabled: Some(f.enabled.is_none()),
    };
    match manage::update_endpoint(&state, &op.actor(), &endpoint_id(&id)?, body).await {
        Ok(e) => Ok(saved("endpoints", e.id.as_str())),
        Err(e) => {
            let (status, message) = form_error(e)?;
            Ok(endpoint_form(&op, status, Some(id), f, Some(message)))
        }
    }
}

#[derive(Deserialize)]
struct RotateForm {
    #[serde(default)]
    csrf: String,
    /// How long the old secret keeps working, in seconds (0: not at all).
    #[serde(default)]
    grace_seconds: u64,
}

async fn rotate_secret(
    State(state): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Form(form): Form<RotateForm>,
) -> PageResult {
    op.check(&form.csrf)?;
    let id = endpoint_id(&id)?;
    let grace = Some(form.grace_seconds);
    let secret = manage::rotate_endpoint_secret(&state, &op.actor(), &id, grace).await?;
    let old = if form.grace_seconds > 0 {
        format!(
            "The old secret keeps working until {}; webhooks carry both signatures until then.",
            when(state.now() + form.grace_seconds as i64 * 1000)
        )
    } else {
        "The old secret stopped working now.".into()
    };
    Ok(secret_notice(
        &op,
        "New signing secret",
        format!("{old} Copy the new one into your receiver: it is shown only this once."),
        secret,
    ))
}

fn secret_notice(op: &Operator, heading: &str, message: String, secret: String) -> Response {
    page(
        StatusCode::OK,
        &Notice {
            nav: "endpoints",
            csrf: op.session.csrf_token.clone(),
            operator: op.session.api_key_name.clone(),
            back_href: "/dashboard/endpoints".into(),
            heading: heading.into(),
            message,
            secret: Some(secret),
        },
    )
}

async fn endpoint_switch(
    State(state): State<AppState>,
    op: Operator,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let id = endpoint_id(&id)?;
    let actor = op.actor();
    let on_off = ("enable", "disable");
    switch(
        &op,
        &form,
        &action,
        on_off,
        "/dashboard/endpoints",
        async |enable| {
            let patch = UpdateEndpoint {
                disabled: Some(!enable),
                ..Default::default()
            };
            manage::update_endpoint(&state, &actor, &id, patch).await
        },
    )
    .await
}
