//! The subset of Ashby's public API the hub calls, with Ashby's auth, envelope
//! and strict validation of `assessment.update`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

use screenhub_ashby::public::{
    codes, new_request_id, permission_in_ashby_words, ErrorEnvelope, SuccessEnvelope,
    API_KEYS_READ, CANDIDATES_READ, CANDIDATES_WRITE, JOBS_READ,
};

use super::fixtures::candidate_extras;
use super::state::{ApiKeyRecord, SimAssessment, UpdateSource};
use super::{now_ms, AshbySim};

/// Ashby's error envelope, with a request id in the body and in `x-ashby-request-id`.
pub fn envelope_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let request_id = new_request_id();
    let body = ErrorEnvelope::new(code, message, Some(request_id.clone()));
    with_request_id((status, Json(body)).into_response(), &request_id)
}

/// A refusal in Ashby's terms, turned into its envelope at the edge.
struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// Most request problems come back as HTTP 200 with `success: false`.
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, codes::INVALID_INPUT, message)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        envelope_error(self.status, self.code, self.message)
    }
}

fn envelope_ok(results: impl Serialize) -> Response {
    with_request_id(
        Json(SuccessEnvelope::new(results)).into_response(),
        &new_request_id(),
    )
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-ashby-request-id", value);
    }
    response
}

/// The API key from `Authorization: Basic base64("<key>:")`, if one was sent.
fn basic_username(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let username = decoded
        .split_once(':')
        .map_or(decoded.as_str(), |(user, _)| user);
    (!username.is_empty()).then(|| username.to_owned())
}

/// 401 without a key, 403 for an unknown or revoked key, 403
/// `missing_endpoint_permission` when the key lacks the `permission` the
/// endpoint needs (every endpoint needs one, as in Ashby).
fn authenticate(
    sim: &AshbySim,
    headers: &HeaderMap,
    permission: &str,
) -> Result<ApiKeyRecord, Refused> {
    let Some(key) = basic_username(headers) else {
        return Err(Refused::new(
            StatusCode::UNAUTHORIZED,
            codes::MISSING_API_KEY,
            "No API key was sent. Send it as the username of HTTP Basic auth with an empty password.",
        ));
    };
    let record = sim.state().keys.get(&key).cloned();
    let record = match record {
        Some(r) if !r.revoked => r,
        Some(_) => {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                codes::INVALID_API_KEY,
                "This API key has been deactivated.",
            ))
        }
        None => {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                codes::INVALID_API_KEY,
                "This API key is not valid.",
            ))
        }
    };
    if !record.has(permission) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            codes::MISSING_ENDPOINT_PERMISSION,
            format!(
                "This API key does not have the {permission} permission ({}) this endpoint needs.",
                permission_in_ashby_words(permission)
            ),
        ));
    }
    Ok(record)
}

/// The JSON object in the body, or Ashby's answer to a body that isn't one.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refused> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(Refused::invalid(format!(
            "Content-Type must be application/json, not `{}`",
            content_type.chars().take(100).collect::<String>()
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(Refused::invalid("the request body must be a JSON object")),
        Err(e) => Err(Refused::invalid(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// A required string parameter of an `*.info` call.
fn string_param(body: &Value, name: &str) -> Result<String, Refused> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(Refused::invalid(format!(
            "{name} must be a non-empty string"
        ))),
        None => Err(Refused::invalid(format!("{name} is required"))),
    }
}

/// Ashby's documented answer: `title` and `createdAt` (its optional `scopes`
/// is left out), and no list of permissions.
pub async fn api_key_info(State(sim): State<AshbySim>, headers: HeaderMap) -> Response {
    match authenticate(&sim, &headers, API_KEYS_READ) {
        Ok(key) => envelope_ok(json!({"title": key.title, "createdAt": key.created_at})),
        Err(refused) => refused.into_response(),
    }
}

pub async fn assessment_update(
    State(sim): State<AshbySim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = authenticate(&sim, &headers, CANDIDATES_WRITE) {
        return refused.into_response();
    }
    let body = match json_body(&headers, &body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let outcome = sim
        .state()
        .receive_update(body, UpdateSource::Api, now_ms());
    match outcome {
        Ok(()) => envelope_ok(json!({})),
        Err(refusal) => envelope_error(StatusCode::OK, refusal.code, refusal.message),
    }
}

/// Run an `*.info` call: authenticate, read the parameter, look it up.
fn info_call(
    sim: &AshbySim,
    headers: &HeaderMap,
    body: &Bytes,
    permission: &str,
    param: &str,
    lookup: impl FnOnce(&[SimAssessment], &str) -> Option<Value>,
    not_found: (&str, &str),
) -> Response {
    let id = match authenticate(sim, headers, permission)
        .and_then(|_| json_body(headers, body))
        .and_then(|b| string_param(&b, param))
    {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let found = lookup(&sim.state().assessments, &id);
    match found {
        Some(results) => envelope_ok(results),
        None => envelope_error(
            StatusCode::OK,
            not_found.0,
            format!("{} {id} was not found", not_found.1),
        ),
    }
}

/// The latest assessment whose `part` (candidate, application, job) has this Ashby id.
fn latest<'a>(assessments: &'a [SimAssessment], part: &str, id: &str) -> Option<&'a SimAssessment> {
    let part_of = |a: &'a SimAssessment| match part {
        "candidate" => &a.candidate,
        "application" => &a.application,
        _ => &a.job,
    };
    assessments
        .iter()
        .rev()
        .find(|a| part_of(a).get("ashby_id").and_then(Value::as_str) == Some(id))
}

fn text(v: &Value, field: &str) -> Value {
    v.get(field).cloned().unwrap_or(Value::Null)
}

fn full_name(candidate: &Value) -> String {
    let part = |f: &str| {
        candidate
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    format!("{} {}", part("first_name"), part("last_name"))
        .trim()
        .to_owned()
}

pub async fn candidate_info(
    State(sim): State<AshbySim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    info_call(
        &sim,
        &headers,
        &body,
        CANDIDATES_READ,
        "id",
        |assessments, id| {
            let a = latest(assessments, "candidate", id)?;
            let c = &a.candidate;
            let extras = candidate_extras(id);
            let email = json!({"value": text(c, "email"), "type": "Personal", "isPrimary": true});
            let phone = json!({"value": extras.phone, "type": "Mobile", "isPrimary": true});
            let application_ids: Vec<Value> = assessments
                .iter()
                .filter(|x| x.candidate.get("ashby_id").and_then(Value::as_str) == Some(id))
                .map(|x| text(&x.application, "ashby_id"))
                .collect();
            Some(json!({
                "id": id,
                "name": full_name(c),
                "primaryEmailAddress": email,
                "emailAddresses": [email],
                "primaryPhoneNumber": phone,
                "phoneNumbers": [phone],
                "location": {"id": format!("loc_{id}"), "locationSummary": extras.location},
                "resumeFileHandle": {"id": extras.resume_handle, "name": "resume.pdf", "handle": extras.resume_handle},
                "applicationIds": application_ids,
                "profileUrl": text(c, "ashby_profile_url"),
            }))
        },
        (codes::CANDIDATE_NOT_FOUND, "Candidate"),
    )
}

pub async fn application_info(
    State(sim): State<AshbySim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    info_call(
        &sim,
        &headers,
        &body,
        CANDIDATES_READ,
        "applicationId",
        |assessments, id| {
            let a = latest(assessments, "application", id)?;
            let (c, j) = (&a.candidate, &a.job);
            Some(json!({
                "id": id,
                "status": text(&a.application, "status"),
                "candidate": {
                    "id": text(c, "ashby_id"),
                    "name": full_name(c),
                    "primaryEmailAddress": {"value": text(c, "email"), "type": "Personal", "isPrimary": true},
                },
                "currentInterviewStage": {"id": "stage_background_check", "title": "Background check", "type": "Offer"},
                "job": {"id": text(j, "ashby_id"), "title": text(j, "name")},
                "hiringTeam": text(j, "hiringTeam"),
            }))
        },
        (codes::APPLICATION_NOT_FOUND, "Application"),
    )
}

pub async fn job_info(State(sim): State<AshbySim>, headers: HeaderMap, body: Bytes) -> Response {
    info_call(
        &sim,
        &headers,
        &body,
        JOBS_READ,
        "id",
        |assessments, id| {
            let j = &latest(assessments, "job", id)?.job;
            Some(json!({
                "id": id,
                "title": text(j, "name"),
                "requisitionId": text(j, "req_id"),
                "status": "Open",
                "hiringTeam": text(j, "hiringTeam"),
                "jobUrl": text(j, "ashby_job_url"),
            }))
        },
        (codes::JOB_NOT_FOUND, "Job"),
    )
}

pub async fn file_info(State(sim): State<AshbySim>, headers: HeaderMap, body: Bytes) -> Response {
    // The temporary URL points back at the sim, at whatever host the caller used.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    info_call(
        &sim,
        &headers,
        &body,
        CANDIDATES_READ,
        "fileHandle",
        |assessments, handle| {
            let candidate_id = handle.strip_prefix("resume_")?;
            latest(assessments, "candidate", candidate_id)?;
            Some(json!({"url": format!("http://{host}/_sim/files/{handle}")}))
        },
        (codes::FILE_NOT_FOUND, "File"),
    )
}
