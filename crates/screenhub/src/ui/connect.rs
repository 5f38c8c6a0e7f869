//! `/connect/{link}`: the page an employer's Ashby admin opens to connect.
//! It shows only that link's account, and stops working once the connection
//! is complete.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use screenhub_store::{Account, ConnectLinkState, ConnectSession};
use serde::Deserialize;

use screenhub_core::account::Ats;
use screenhub_core::clock::rfc3339;

use super::{message, page, PageError, PageResult};
use crate::connectors::ashby::connect_ats_key;
use crate::connectors::connector;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/connect/{link}", get(show).post(verify))
}

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage {
    account_name: String,
    status: &'static str,
    status_label: &'static str,
    status_reason: Option<String>,
    token: String,
    show_partner_url: bool,
    partner_base_url: String,
    link_token: String,
    error: Option<String>,
}

/// Greenhouse's connect page: the key and the steps; nothing to paste back.
#[derive(Template)]
#[template(path = "connect_greenhouse.html")]
struct GreenhouseConnectPage {
    account_name: String,
    status: &'static str,
    status_label: &'static str,
    status_reason: Option<String>,
    token: String,
    steps: &'static [&'static str],
    first_call: Option<String>,
    last_call: Option<String>,
}

#[derive(Template)]
#[template(path = "connect_done.html")]
struct ConnectDone {
    account_name: String,
    key_title: Option<String>,
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    api_key: String,
}

/// The same page for every link that cannot be used: it says why, and
/// nothing about the account behind it.
fn unusable(state: Option<ConnectLinkState>) -> PageError {
    let (status, heading, text) = match state {
        Some(ConnectLinkState::Used) => (
            StatusCode::GONE,
            "This link has already been used",
            "The connection it was made for is complete, so the link no longer works. \
             If you need to connect again or change the Ashby API key, ask your vendor for a new link.",
        ),
        Some(ConnectLinkState::Expired) => (
            StatusCode::GONE,
            "This link has expired",
            "Connect links work for a limited time. Ask your vendor for a new link.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Check that you copied the whole link. If it still does not work, ask your vendor for a new one.",
        ),
    };
    PageError::new(message(status, heading, text))
}

async fn usable(state: &AppState, link: &str) -> Result<(ConnectSession, Account), PageError> {
    let session = state
        .store
        .find_connect_session(link)
        .await?
        .ok_or_else(|| unusable(None))?;
    match session.state(state.now()) {
        ConnectLinkState::Usable => {}
        other => return Err(unusable(Some(other))),
    }
    let account = state
        .store
        .get_account(&session.account_id)
        .await?
        .ok_or_else(|| unusable(None))?;
    Ok((session, account))
}

async fn connect_page(
    state: &AppState,
    account: &Account,
    link: String,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let token = state.store.reveal_account_token(&account.id).await?;
    let account_status = account.status();
    if account.ats != Ats::Ashby {
        let guide = connector(account.ats).guide();
        let status_label = match account_status.as_str() {
            "active" => "Connected",
            "pending" => guide.pending_label,
            "error" => "Needs attention",
            _ => "Disabled by the vendor",
        };
        return Ok(page(
            status,
            &GreenhouseConnectPage {
                account_name: account.name.clone(),
                status: account_status.as_str(),
                status_label,
                status_reason: account.status_reason.clone(),
                token,
                steps: guide.steps,
                first_call: account.first_ats_call_at.map(rfc3339),
                last_call: account.last_ats_call_at.map(rfc3339),
            },
        ));
    }
    let status_label = match account_status.as_str() {
        "active" => "Connected",
        "pending" => "Waiting for the Ashby API key",
        "error" => "Needs attention",
        _ => "Disabled by the vendor",
    };
    Ok(page(
        status,
        &ConnectPage {
            account_name: account.name.clone(),
            status: account_status.as_str(),
            status_label,
            status_reason: account.status_reason.clone(),
            token,
            show_partner_url: true,
            partner_base_url: state.ats_partner_base_url(),
            link_token: link,
            error,
        },
    ))
}

async fn show(State(state): State<AppState>, Path(link): Path<String>) -> PageResult {
    let (_, account) = usable(&state, &link).await?;
    connect_page(&state, &account, link, None, StatusCode::OK).await
}

/// Check the pasted Ashby key live; on success the link is used up and this
/// response is the last page it shows. Each try is a live call to Ashby, so
/// the failed-authentication brake is consulted before it, and a key Ashby
/// refuses counts as a failure.
async fn verify(
    State(state): State<AppState>,
    Path(link): Path<String>,
    parts: Parts,
    Form(form): Form<KeyForm>,
) -> Result<Response, PageError> {
    let ip = crate::extract::client_ip(&state, &parts);
    if let Err(secs) = state.auth_limiter.check(ip) {
        return Err(too_many_tries(secs));
    }
    let (session, account) = usable(&state, &link).await?;
    if !connector(account.ats).guide().takes_api_key {
        // Nothing to paste for this ATS: show the page again.
        return connect_page(&state, &account, link, None, StatusCode::OK).await;
    }
    match connect_ats_key(&state, &account.id, &form.api_key).await {
        Ok(account) => {
            state
                .store
                .use_connect_session(&session.id, state.now())
                .await?;
            crate::ops::audit(
                &state,
                &format!("connect_session:{}", session.id),
                "account.connected",
                Some(("account", account.id.as_str())),
                serde_json::json!({ "ats_key_title": account.ats_key_title }),
            )
            .await;
            Ok(page(
                StatusCode::OK,
                &ConnectDone {
                    account_name: account.name,
                    key_title: account.ats_key_title,
                },
            ))
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(unusable(None)),
        Err(e) => {
            if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                state.auth_limiter.failed(ip);
            }
            connect_page(&state, &account, link, Some(e.message), e.status).await
        }
    }
}

fn too_many_tries(secs: u64) -> PageError {
    let mut response = message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many tries",
        format!("Too many keys were refused from this address. Try again in {secs} seconds."),
    );
    response
        .headers_mut()
        .insert(axum::http::header::RETRY_AFTER, secs.into());
    PageError::new(response)
}
