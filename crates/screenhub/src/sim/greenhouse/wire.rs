//! Greenhouse's side of the Assessment Partner API, written from the protocol
//! notes alone (not from the hub's code): the bodies Greenhouse sends and the
//! checks it applies to every answer. Pure functions, no I/O, so the checks can
//! be proved against the fixed examples in `tests/examples/greenhouse/`.
//!
//! Every message below is part of the simulator's contract: the examples hold
//! them verbatim, and the partner receives them in `response_error`.

use std::net::IpAddr;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub const LIST_TESTS: &str = "list_tests";
pub const SEND_TEST: &str = "send_test";
pub const TEST_STATUS: &str = "test_status";
pub const RESPONSE_ERROR: &str = "response_error";

/// The one message Greenhouse documents, kept to the letter.
pub const MISSING_PROFILE_URL: &str =
    "partner_status is 'complete' but partner_profile url is missing";

/// Greenhouse refuses API keys of 171 characters or more.
pub const MAX_KEY_CHARS: usize = 170;

/// One test offered by `list_tests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedTest {
    pub partner_test_id: String,
    pub partner_test_name: String,
}

/// A valid `test_status` answer, as the recruiter's stage shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusAnswer {
    pub partner_status: String,
    pub partner_profile_url: Option<String>,
    pub partner_score: Option<serde_json::Number>,
    /// In the partner's order: the rows the recruiter reads top to bottom.
    pub metadata: Vec<(String, Value)>,
}

impl StatusAnswer {
    pub fn is_complete(&self) -> bool {
        self.partner_status == "complete"
    }
}

/// The verdict on one answer: what it means when valid, and every violation
/// (posted to `response_error`) and warning (recorded only).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<T> {
    pub value: Option<T>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl<T> Verdict<T> {
    fn invalid(errors: Vec<String>) -> Self {
        Self {
            value: None,
            errors,
            warnings: Vec::new(),
        }
    }
}

/// How a JSON value is named in a message.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The status and JSON body every answer needs before its own checks.
fn json_answer(api_call: &str, status: u16, body: &[u8]) -> Result<Value, Vec<String>> {
    if status != 200 {
        return Err(vec![format!(
            "{api_call} answered HTTP {status}; expected 200"
        )]);
    }
    serde_json::from_slice(body).map_err(|_| vec!["the answer is not JSON".to_owned()])
}

/// A required, non-empty string field of an object; `prefix` names the object.
fn required_string(
    object: &Map<String, Value>,
    field: &str,
    prefix: &str,
) -> Result<String, String> {
    match object.get(field) {
        None => Err(format!("{prefix}{field} is missing")),
        Some(Value::String(s)) if s.is_empty() => Err(format!("{prefix}{field} must not be empty")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{prefix}{field} must be a string, got {}",
            kind(other)
        )),
    }
}

/// `list_tests`: 200 and a bare JSON array of `{partner_test_id, partner_test_name}`, both strings.
pub fn check_list_tests(status: u16, body: &[u8]) -> Verdict<Vec<ListedTest>> {
    let value = match json_answer(LIST_TESTS, status, body) {
        Ok(v) => v,
        Err(errors) => return Verdict::invalid(errors),
    };
    let Value::Array(items) = value else {
        return Verdict::invalid(vec![format!(
            "the answer must be a JSON array of tests, got {}",
            kind(&value)
        )]);
    };
    let mut errors = Vec::new();
    let mut tests = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            errors.push(format!("test {i} must be an object, got {}", kind(item)));
            continue;
        };
        let prefix = format!("test {i}: ");
        let id = required_string(object, "partner_test_id", &prefix);
        let name = required_string(object, "partner_test_name", &prefix);
        match (id, name) {
            (Ok(partner_test_id), Ok(partner_test_name)) => tests.push(ListedTest {
                partner_test_id,
                partner_test_name,
            }),
            (id, name) => errors.extend(id.err().into_iter().chain(name.err())),
        }
    }
    let mut warnings = Vec::new();
    for (i, test) in tests.iter().enumerate() {
        if tests[..i]
            .iter()
            .any(|t| t.partner_test_id == test.partner_test_id)
        {
            warnings.push(format!(
                "partner_test_id '{}' is listed twice; a job stage stores the id, so it must name one test",
                test.partner_test_id
            ));
        }
    }
    if errors.is_empty() {
        Verdict {
            value: Some(tests),
            errors,
            warnings,
        }
    } else {
        Verdict::invalid(errors)
    }
}

/// `send_test`: 200 and a JSON object whose `partner_interview_id` is a non-empty string.
pub fn check_send_test(status: u16, body: &[u8]) -> Verdict<String> {
    let value = match json_answer(SEND_TEST, status, body) {
        Ok(v) => v,
        Err(errors) => return Verdict::invalid(errors),
    };
    let Value::Object(object) = &value else {
        return Verdict::invalid(vec![format!(
            "the answer must be a JSON object with partner_interview_id, got {}",
            kind(&value)
        )]);
    };
    match required_string(object, "partner_interview_id", "") {
        Ok(id) => Verdict {
            value: Some(id),
            errors: Vec::new(),
            warnings: Vec::new(),
        },
        Err(e) => Verdict::invalid(vec![e]),
    }
}

/// Whether a report link is one Greenhouse would show: not loopback, private,
/// link-local or unspecified (Greenhouse shows nothing for those).
fn is_public_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d != "localhost" && !d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => is_public_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public_ip(IpAddr::V6(ip)),
        None => false,
    }
}

/// Not loopback, private, link-local or otherwise off the public internet:
/// the hub's own outbound rule, with nothing allow-listed.
fn is_public_ip(ip: IpAddr) -> bool {
    crate::outbound::OutboundPolicy::default().permits(ip)
}

/// `test_status`: 200 and a JSON object; `partner_status` a string; `partner_score`
/// a number when present; `metadata` a flat object of primitives; a `complete`
/// answer needs an absolute http(s) `partner_profile_url`. With `strict_urls`, a
/// loopback or private report link is a violation; otherwise a warning.
pub fn check_test_status(status: u16, body: &[u8], strict_urls: bool) -> Verdict<StatusAnswer> {
    let value = match json_answer(TEST_STATUS, status, body) {
        Ok(v) => v,
        Err(errors) => return Verdict::invalid(errors),
    };
    let Value::Object(object) = &value else {
        return Verdict::invalid(vec![format!(
            "the answer must be a JSON object, got {}",
            kind(&value)
        )]);
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let partner_status = match object.get("partner_status") {
        None => {
            errors.push("partner_status is missing".to_owned());
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(format!(
                "partner_status must be a string, got {}",
                kind(other)
            ));
            None
        }
    };
    let partner_score = match object.get("partner_score") {
        None => None,
        Some(Value::Number(n)) => Some(n.clone()),
        Some(other) => {
            errors.push(format!(
                "partner_score must be a number, got {}",
                kind(other)
            ));
            None
        }
    };
    match object.get("metadata") {
        None | Some(Value::Object(_)) => {}
        Some(other) => errors.push(format!("metadata must be an object, got {}", kind(other))),
    }
    // Keys in the partner's order; the checks above saw an object if any.
    let metadata = ordered_metadata(body);
    for (key, v) in &metadata {
        if matches!(v, Value::Object(_) | Value::Array(_)) {
            errors.push(format!(
                "metadata \"{key}\" must be a JavaScript primitive (string, number, boolean or null), got {}",
                kind(v)
            ));
        }
    }
    let complete = partner_status.as_deref() == Some("complete");
    let partner_profile_url = match object.get("partner_profile_url") {
        None | Some(Value::Null) if complete => {
            errors.push(MISSING_PROFILE_URL.to_owned());
            None
        }
        Some(Value::String(s)) if s.is_empty() && complete => {
            errors.push(MISSING_PROFILE_URL.to_owned());
            None
        }
        None => None,
        Some(Value::String(s)) => {
            match url::Url::parse(s) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    if !is_public_host(&url) {
                        let problem = format!(
                            "partner_profile_url \"{s}\" points to a loopback or private address, which Greenhouse does not show"
                        );
                        if strict_urls {
                            errors.push(problem);
                        } else {
                            warnings.push(problem);
                        }
                    }
                }
                _ => errors.push(format!(
                    "partner_profile_url \"{s}\" is not an absolute http(s) URL"
                )),
            }
            Some(s.clone())
        }
        Some(other) => {
            errors.push(format!(
                "partner_profile_url must be a string, got {}",
                kind(other)
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Verdict {
            value: None,
            errors,
            warnings,
        };
    }
    Verdict {
        value: partner_status.map(|partner_status| StatusAnswer {
            partner_status,
            partner_profile_url,
            partner_score,
            metadata,
        }),
        errors,
        warnings,
    }
}

/// The `metadata` object's entries in document order (serde_json's map sorts
/// keys; a recruiter reads the rows in the order the partner wrote them).
fn ordered_metadata(body: &[u8]) -> Vec<(String, Value)> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        metadata: Option<Ordered>,
    }
    serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.metadata)
        .map(|o| o.0)
        .unwrap_or_default()
}

/// A JSON object read as a list of entries; anything else reads as empty.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                Ok(Ordered(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Ordered(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered(Vec::new()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// What Greenhouse knows when it reports an invalid answer; `api_call` and
/// `errors` are always there, the rest only when known (left out otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    pub api_call: String,
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partner_test_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partner_test_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partner_interview_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub candidate_email: Option<String>,
}

/// A candidate as `send_test` carries it; `None` is sent as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendTestCandidate {
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub resume_url: Option<String>,
    pub phone_number: Option<String>,
    pub email: String,
    pub greenhouse_profile_url: String,
}

/// The `send_test` body in the documented order, every property present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendTestRequest {
    pub partner_test_id: String,
    pub candidate: SendTestCandidate,
    pub sent_by: Option<String>,
    pub url: String,
}

impl SendTestRequest {
    /// The body as JSON, with the July 2026 ids added under the configured
    /// dotted paths (e.g. `candidate.id`, `application.id`); `None` leaves one out.
    pub fn to_json(
        &self,
        candidate_id: (Option<&str>, u64),
        application_id: (Option<&str>, u64),
    ) -> Value {
        let mut body = serde_json::to_value(self).unwrap_or(Value::Null);
        for (path, id) in [candidate_id, application_id] {
            if let Some(path) = path {
                set_path(&mut body, path, Value::from(id));
            }
        }
        body
    }
}

/// Set `a.b.c` in a JSON object, making the objects on the way.
fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut at = target;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        at = map
            .entry(part.to_owned())
            .or_insert(Value::Object(Map::new()));
    }
}

/// Accepted id-field paths: a few dot-separated snake_case names.
pub fn validate_id_path(path: &str) -> Result<(), String> {
    let ok = path.len() <= 64
        && path.split('.').count() <= 3
        && path.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a field path like `candidate.id` or `application_id`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_keeps_the_partners_order() {
        let body = br#"{"partner_status":"complete","partner_profile_url":"https://r.example/1",
            "metadata":{"Result":"Clear","Criminal":"Clear","Alpha":1}}"#;
        let verdict = check_test_status(200, body, true);
        let keys: Vec<_> = verdict
            .value
            .unwrap()
            .metadata
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["Result", "Criminal", "Alpha"]);
    }

    #[test]
    fn ids_go_where_configured() {
        let request = SendTestRequest {
            partner_test_id: "t".into(),
            candidate: SendTestCandidate {
                first_name: "A".into(),
                last_name: "B".into(),
                preferred_name: None,
                resume_url: None,
                phone_number: None,
                email: "a@b.example".into(),
                greenhouse_profile_url: "https://g.example/people/1?application_id=2".into(),
            },
            sent_by: None,
            url: "https://g.example/t/1".into(),
        };
        let body = request.to_json((Some("candidate.id"), 1), (Some("application.id"), 2));
        assert_eq!(body["candidate"]["id"], 1);
        assert_eq!(body["application"], json!({"id": 2}));
        assert_eq!(body["candidate"]["preferred_name"], Value::Null);
        assert!(body["candidate"]
            .as_object()
            .unwrap()
            .contains_key("phone_number"));
        let body = request.to_json((Some("candidate_id"), 1), (None, 2));
        assert_eq!(body["candidate_id"], 1);
        assert!(body.get("application").is_none());
        assert!(validate_id_path("candidate.id").is_ok());
        assert!(validate_id_path("Candidate..id").is_err());
    }

    #[test]
    fn private_and_public_hosts() {
        for (url, public) in [
            ("https://checks.vendor.example/r/1", true),
            ("http://127.0.0.1:8082/r/1", false),
            ("http://localhost/r", false),
            ("http://10.1.2.3/r", false),
            ("http://[::1]/r", false),
            ("http://[fd00::1]/r", false),
            ("https://8.8.8.8/r", true),
        ] {
            assert_eq!(
                is_public_host(&url::Url::parse(url).unwrap()),
                public,
                "{url}"
            );
        }
    }
}
