//! Extractors that turn bad input into clear errors instead of axum's plain-text
//! rejections: JSON bodies (with the path of the offending field), query strings,
//! path ids, and the vendor's bearer key.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use std::net::IpAddr;

use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body, parsed strictly, with errors that name the offending field.
pub struct ApiJson<T>(pub T);

/// Is the request's content type JSON (`application/json` or `…+json`)?
pub fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Read a request body, mapping a too-large body to a 413.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

/// Parse JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            // serde_json calls a wrong-typed enum (`"ats": 1`) a syntax error;
            // in a body that is valid JSON it is the field that is wrong.
            Category::Syntax
                if path != "."
                    && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
            {
                ApiError::validation(format!(
                    "`{path}`: wrong type; see the API reference for the values it takes"
                ))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("the request body is not valid JSON: {inner}"))
            }
            Category::Data if path == "." => ApiError::validation(format!(
                "the request body is not the expected object: {inner}"
            )),
            Category::Data => ApiError::validation(format!("`{path}`: {inner}")),
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let json = is_json_content_type(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if has_type && !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Query parameters, with a clear error naming the bad parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                ApiError::bad_request(format!("query parameter `{}`: {}", e.path(), e.inner()))
            })
    }
}

/// Parse an id from the path; a malformed one is simply not found.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no {what} with id `{}`",
                raw.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// The vendor API key that authenticated this request.
pub struct VendorKey(pub screenhub_store::ApiKey);

impl VendorKey {
    /// Who to name in the audit log.
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.0.id)
    }
}

/// The credentials of an `Authorization` header with this scheme; schemes
/// match in any case (`Bearer`, `bearer`, `BEARER`), as RFC 9110 says.
pub fn authorization<'h>(headers: &'h axum::http::HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, credentials) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
}

/// The client's IP address, when the server knows it: the direct peer, or,
/// when the peer is one of `trusted_proxies`, the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. A client cannot
/// choose its address by sending the header itself.
pub fn client_ip(state: &AppState, parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip()
        .to_canonical();
    let proxies = &state.config.trusted_proxies;
    if !crate::edge::is_trusted(proxies, peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !crate::edge::is_trusted(proxies, client) {
            break;
        }
    }
    Some(client)
}

impl FromRequestParts<AppState> for VendorKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The key is checked first: a valid one always gets through, and only
        // failures count towards (and are slowed by) the brake.
        let refuse = |message: &str| match state.auth_limiter.failed(client_ip(state, parts)) {
            Some(secs) => ApiError::locked_out(secs),
            None => ApiError::unauthorized(message),
        };
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(refuse(
                "missing API key: send `Authorization: Bearer <vendor API key>` (create one with `screenhub keys create`)",
            ));
        }
        let Some(token) = authorization(&parts.headers, "Bearer") else {
            return Err(refuse(
                "the Authorization header must be `Bearer <vendor API key>`",
            ));
        };
        match state.vendor_key(token).await? {
            Some(key) => Ok(VendorKey(key)),
            None => Err(refuse(
                "this API key is not valid; it may have been revoked",
            )),
        }
    }
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
