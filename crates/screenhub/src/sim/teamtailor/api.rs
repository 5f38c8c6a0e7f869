//! Teamtailor's Partner API as the partner calls it: `PUT <update-url>`, the
//! partner-result reads and `GET /partner-activations`, JSON:API with
//! `X-Api-Version: 20180828`, the API key as `Token` or `Bearer` (or only one
//! of them, by setting). Every request is recorded with its verdict; errors are
//! JSON:API `errors` arrays.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::Rng;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::faults::take;
use super::rules::{self, Violation, API_VERSION, JSON_API};
use super::state::{ApiRecord, AuthScheme, Card, PartnerSettings, Stack};
use super::{now_ms, TeamtailorSim, PARTNER_RESULTS_PATH};

pub fn routes() -> Router<TeamtailorSim> {
    let mut router = Router::new();
    for (prefix, stack) in [("", Stack::Eu), ("/na", Stack::Na), ("/au", Stack::Ap)] {
        router = router
            .route(
                &format!("{prefix}{PARTNER_RESULTS_PATH}/{{id}}"),
                get(move |s, p, h, m, u, b| result(s, p, h, m, u, b, stack))
                    .put(move |s, p, h, m, u, b| result(s, p, h, m, u, b, stack)),
            )
            .route(
                &format!("{prefix}{PARTNER_RESULTS_PATH}"),
                get(move |s, h, m, u| list_results(s, h, m, u, stack)),
            )
            .route(
                &format!("{prefix}/partner/v1/partner-activations"),
                get(move |s, h, m, u| activations(s, h, m, u, stack)),
            );
    }
    router.route(
        "/partner/v1/partners/{id}",
        get(partner_record).put(partner_record),
    )
}

/// The partner record's id on the sim.
pub const PARTNER_ID: &str = "1";

fn partner_document(p: &PartnerSettings) -> Value {
    json!({"data": {"id": PARTNER_ID, "type": "partners", "attributes": {
        "name": p.name, "base-url": p.base_url,
        "webhook-activation-config": p.activation_config,
        "webhook-config": p.webhook_config,
        "dynamic-activation-config": p.dynamic_activation}}})
}

/// `GET`/`PUT /partners/{id}`: the operator's setup of the partner record.
async fn partner_record(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let write = method == Method::PUT;
    let (status, errors, response) = {
        let mut state = sim.state();
        let verdict = match state.partner.as_mut() {
            None => Err(vec![no_partner()]),
            Some(p) => check_headers(&headers, write, &p.api_key, p.auth_scheme)
                .map_err(|v| vec![v])
                .and_then(|()| {
                    if id == PARTNER_ID {
                        Ok(p)
                    } else {
                        Err(vec![Violation {
                            status: 404,
                            pointer: String::new(),
                            detail: format!("no partner {id}"),
                        }])
                    }
                }),
        };
        let verdict = verdict.and_then(|p| {
            if write {
                let u = rules::check_partner_update(&body, &id, &p.name)?;
                if let Some(b) = u.base_url {
                    p.base_url = b;
                }
                if let Some(c) = u.activation_config {
                    p.activation_config = c;
                }
                if let Some(c) = u.webhook_config {
                    p.webhook_config = c;
                }
                if let Some(d) = u.dynamic_activation {
                    p.dynamic_activation = d;
                }
            }
            Ok(partner_document(p))
        });
        match verdict {
            Err(v) => (v[0].status, v.clone(), errors_response(&v)),
            Ok(doc) => (200, Vec::new(), ok_response(doc)),
        }
    };
    sim.record_api(api_record(
        &headers, &method, &uri, &body, status, errors, false,
    ));
    response
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn no_partner() -> Violation {
    Violation {
        status: 503,
        pointer: String::new(),
        detail: "this Teamtailor has no partner set up yet".into(),
    }
}

/// The log entry of one Partner API request (bodies kept up to 64 KiB).
fn api_record(
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    status: u16,
    errors: Vec<Violation>,
    fault: bool,
) -> ApiRecord {
    ApiRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        authorization: header(headers, "authorization"),
        api_version: header(headers, "x-api-version"),
        content_type: header(headers, "content-type"),
        body: String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned(),
        status,
        errors,
        fault,
        at_ms: now_ms(),
    }
}

/// A JSON:API error answer.
fn errors_response(violations: &[Violation]) -> Response {
    let status = violations.first().map_or(400, |v| v.status);
    let body = json!({"errors": violations.iter().map(|v| json!({
        "status": v.status.to_string(),
        "title": StatusCode::from_u16(v.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error"),
        "detail": v.detail,
        "source": {"pointer": v.pointer},
    })).collect::<Vec<_>>()});
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(JSON_API));
    response
}

fn ok_response(body: Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static(JSON_API));
    h.insert("x-api-version", HeaderValue::from_static(API_VERSION));
    response
}

/// The headers every Partner API call needs: the key with an accepted
/// scheme, then the version header; on writes the JSON:API content type.
pub fn check_headers(
    headers: &HeaderMap,
    write: bool,
    api_key: &str,
    scheme: AuthScheme,
) -> Result<(), Violation> {
    let auth = header(headers, "authorization").unwrap_or_default();
    let (given_scheme, key) = auth.split_once(' ').unwrap_or(("", ""));
    let scheme_ok = match scheme {
        AuthScheme::Either => matches!(given_scheme, "Token" | "Bearer"),
        AuthScheme::TokenOnly => given_scheme == "Token",
        AuthScheme::BearerOnly => given_scheme == "Bearer",
    };
    if !scheme_ok || !bool::from(key.as_bytes().ct_eq(api_key.as_bytes())) {
        return Err(Violation {
            status: 401,
            pointer: String::new(),
            detail: "Unauthorized: the Authorization header must carry the partner API key".into(),
        });
    }
    if header(headers, "x-api-version").as_deref() != Some(API_VERSION) {
        return Err(Violation {
            status: 406,
            pointer: String::new(),
            detail: format!("the X-Api-Version header must be {API_VERSION}"),
        });
    }
    let content_type = header(headers, "content-type").unwrap_or_default();
    if write && content_type.split(';').next().map(str::trim) != Some(JSON_API) {
        return Err(Violation {
            status: 415,
            pointer: String::new(),
            detail: format!("Content-Type must be {JSON_API}"),
        });
    }
    Ok(())
}

fn card_document(card: &Card) -> Value {
    json!({"data": {
        "id": card.id,
        "type": "partner-results",
        "links": {"self": card.update_url},
        "attributes": {
            "status": card.status,
            "summary": card.summary,
            "url": card.url,
            "assessment": {"score": card.score, "grade": card.grade, "duration": card.duration_secs},
            "details": card.details,
            "attachments": card.attachments.iter().map(|(u, d)| json!({"url": u, "description": d})).collect::<Vec<_>>(),
            "actions": card.actions.iter().map(|(t, e)| json!({"buttonText": t, "endpoint": e})).collect::<Vec<_>>(),
            "assessment-criteria": card.criteria.iter().map(|(id, s)| json!({"id": id, "score": s})).collect::<Vec<_>>(),
            "job-id": card.job_id,
            "candidate-id": card.candidate_id,
        }
    }})
}

#[allow(clippy::too_many_arguments)]
async fn result(
    State(sim): State<TeamtailorSim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    body: Bytes,
    stack: Stack,
) -> Response {
    let write = method == Method::PUT;
    let (status, violations, response, fault) = {
        let mut state = sim.state();
        let verdict = match &state.partner {
            None => Err(vec![no_partner()]),
            Some(p) => {
                check_headers(&headers, write, &p.api_key, p.auth_scheme).map_err(|v| vec![v])
            }
        };
        // A partner sees only its results, on their own stack.
        let card = state.cards.iter().find(|c| {
            c.id == id
                && state
                    .company(&c.company_id)
                    .is_some_and(|co| co.stack == stack)
        });
        let verdict = verdict.and_then(|()| {
            card.cloned().ok_or_else(|| {
                vec![Violation {
                    status: 404,
                    pointer: String::new(),
                    detail: format!("no partner result {id}"),
                }]
            })
        });
        let verdict = verdict.and_then(|card| {
            if write {
                rules::check_update(&body, &id, &card.criteria_ids).map(|u| (card, Some(u)))
            } else {
                Ok((card, None))
            }
        });
        match verdict {
            Err(v) => (v[0].status, v.clone(), errors_response(&v), false),
            Ok((card, update)) => {
                let faults = &mut state.faults;
                let rate = faults.api_error_rate;
                let fault = write
                    && (take(&mut faults.api_errors) || (rate > 0.0 && state.rng.gen_bool(rate)));
                if fault {
                    let f = &state.faults;
                    let status = f.api_error_status;
                    let mut response = errors_response(&[Violation {
                        status,
                        pointer: String::new(),
                        detail: "injected fault".into(),
                    }]);
                    if let Some(secs) = f.retry_after_secs {
                        response
                            .headers_mut()
                            .insert("retry-after", HeaderValue::from(secs));
                    }
                    (status, Vec::new(), response, true)
                } else {
                    let now = now_ms();
                    let card = match (update, state.card_mut(&card.id)) {
                        (Some(u), Some(c)) => {
                            c.apply(&u, now);
                            c.clone()
                        }
                        _ => card,
                    };
                    (200, Vec::new(), ok_response(card_document(&card)), false)
                }
            }
        }
    };
    sim.record_api(api_record(
        &headers, &method, &uri, &body, status, violations, fault,
    ));
    response
}

/// Read-only calls: the key and version header, else the list.
fn read_only(
    sim: &TeamtailorSim,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    list: impl FnOnce(&super::state::State) -> Value,
) -> Response {
    let (status, errors, response) = {
        let state = sim.state();
        let checked = match &state.partner {
            None => Err(no_partner()),
            Some(p) => check_headers(headers, false, &p.api_key, p.auth_scheme),
        };
        match checked {
            Err(v) => (v.status, vec![v.clone()], errors_response(&[v])),
            Ok(()) => (200, Vec::new(), ok_response(list(&state))),
        }
    };
    sim.record_api(api_record(headers, method, uri, &[], status, errors, false));
    response
}

/// One page holding every record (the sim's lists are small).
fn list_document(data: Vec<Value>) -> Value {
    let n = data.len();
    json!({"data": data, "meta": {"record-count": n, "page-count": 1}})
}

async fn list_results(
    State(sim): State<TeamtailorSim>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    stack: Stack,
) -> Response {
    read_only(&sim, &headers, &method, &uri, |state| {
        let data: Vec<Value> = state
            .cards
            .iter()
            .filter(|c| {
                state
                    .company(&c.company_id)
                    .is_some_and(|co| co.stack == stack)
            })
            .map(|c| card_document(c)["data"].clone())
            .collect();
        list_document(data)
    })
}

async fn activations(
    State(sim): State<TeamtailorSim>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    stack: Stack,
) -> Response {
    read_only(&sim, &headers, &method, &uri, |state| {
        let data: Vec<Value> = state
            .companies
            .iter()
            .filter(|c| c.stack == stack && c.activated)
            .map(|c| {
                json!({"id": c.id, "type": "partner-activations", "attributes": {
                    "provider-key": c.provider_key, "company-name": c.name, "company-uuid": c.uuid}})
            })
            .collect();
        list_document(data)
    })
}
