//! Greenhouse's own endpoint: `PATCH <url from send_test>`, "Mark Test as
//! Completed". Only the partner-level credential passes (an org key or any
//! other gets 403, as in grnhse/greenhouse-api-docs#355 and #575); another
//! method gets 412; an unknown take-home test 404. A 200 has an empty body and
//! is followed at once by a `test_status` read.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::state::{push_bounded, PatchCredential, PatchRecord, StopReason};
use super::{GreenhouseSim, TAKE_HOME_TESTS_PATH};

pub fn routes() -> Router<GreenhouseSim> {
    Router::new().route(
        &format!("{TAKE_HOME_TESTS_PATH}/{{id}}"),
        any(take_home_test),
    )
}

/// The Basic pair of a request, if it sent one.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl GreenhouseSim {
    /// Who the request authenticated as.
    fn patch_credential(&self, headers: &HeaderMap) -> PatchCredential {
        let Some((user, password)) = basic_credentials(headers) else {
            return PatchCredential::Missing;
        };
        let state = self.state();
        if let Some(partner) = &state.partner {
            if same(&user, &partner.patch_username) && same(&password, &partner.patch_password) {
                return PatchCredential::Partner;
            }
        }
        if state
            .orgs
            .iter()
            .any(|o| same(&user, &o.key) || same(&password, &o.key))
        {
            PatchCredential::OrgKey
        } else {
            PatchCredential::Wrong
        }
    }
}

async fn take_home_test(
    State(sim): State<GreenhouseSim>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let credential = sim.patch_credential(&headers);
    let mut record = PatchRecord {
        at_ms: sim.now_ms(),
        method: method.to_string(),
        take_home_test_id: id.clone(),
        credential,
        status: 200,
        fault: None,
        read_after: false,
    };
    let known = id.parse::<u64>().ok().and_then(|n| sim.interview(n));
    let (status, retry_after) = if method != Method::PATCH {
        (StatusCode::PRECONDITION_FAILED, None)
    } else if credential != PatchCredential::Partner {
        (StatusCode::FORBIDDEN, None)
    } else if known.is_none() {
        (StatusCode::NOT_FOUND, None)
    } else {
        let fault = {
            let mut state = sim.state();
            let state = &mut *state;
            state.faults.take_patch_error(&mut state.rng)
        };
        match fault {
            Some(code) => {
                record.fault = Some(format!("answered {code} (simulated)"));
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    sim.faults().retry_after_secs,
                )
            }
            None => (StatusCode::OK, None),
        }
    };
    record.status = status.as_u16();
    if let (StatusCode::OK, Some(interview)) = (status, &known) {
        let leaving = matches!(
            interview.stopped,
            Some(StopReason::Hired | StopReason::Rejected)
        );
        if leaving {
            // The stage shows no change; what Greenhouse answers is a setting.
            let code = sim.partner().map(|p| p.hired_patch_status).unwrap_or(200);
            record.status = code;
            push_bounded(&mut sim.state().patches, record);
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::OK)
                .into_response();
        }
        if interview.frozen.is_none() {
            record.read_after = true;
            let (sim, n) = (sim.clone(), interview.take_home_test_id);
            // Reply first, then read: Greenhouse calls test_status upon the PATCH.
            tokio::spawn(async move {
                let _ = sim.read_status(n, false).await;
            });
        }
    }
    push_bounded(&mut sim.state().patches, record);
    let mut response = status.into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    response
}
