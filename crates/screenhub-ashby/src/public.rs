//! Wire types of Ashby's public API, the half the hub calls with the employer's
//! Ashby API key: `assessment.update`, `apiKey.info`, and the envelope every
//! Ashby answer is wrapped in.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The permission `assessment.update` needs; *Candidates → Write* in Ashby's admin.
pub const CANDIDATES_WRITE: &str = "candidatesWrite";
/// The permission `candidate.info`, `application.info` and `file.info` need;
/// *Candidates → Read* in Ashby's admin.
pub const CANDIDATES_READ: &str = "candidatesRead";
/// The permission `apiKey.info` needs; *API Keys → Read* in Ashby's admin.
pub const API_KEYS_READ: &str = "apiKeysRead";
/// The permission `job.info` needs; *Jobs → Read* in Ashby's admin.
pub const JOBS_READ: &str = "jobsRead";

/// A permission as Ashby's admin screen names it (what an admin ticks), for
/// messages; the API name for any other.
pub fn permission_in_ashby_words(permission: &str) -> &str {
    match permission {
        API_KEYS_READ => "API Keys → Read",
        CANDIDATES_READ => "Candidates → Read",
        CANDIDATES_WRITE => "Candidates → Write",
        JOBS_READ => "Jobs → Read",
        other => other,
    }
}

/// Error codes Ashby (and the simulator) put in `errorInfo.code`.
pub mod codes {
    /// The key is valid but lacks the permission the endpoint needs (HTTP 403).
    pub const MISSING_ENDPOINT_PERMISSION: &str = "missing_endpoint_permission";
    /// No API key was sent (HTTP 401).
    pub const MISSING_API_KEY: &str = "missing_api_key";
    /// The API key is unknown or deactivated (HTTP 403).
    pub const INVALID_API_KEY: &str = "invalid_api_key";
    /// The request body does not match the endpoint's schema.
    pub const INVALID_INPUT: &str = "invalid_input";
    pub const ASSESSMENT_NOT_FOUND: &str = "assessment_not_found";
    pub const CANDIDATE_NOT_FOUND: &str = "candidate_not_found";
    pub const APPLICATION_NOT_FOUND: &str = "application_not_found";
    pub const JOB_NOT_FOUND: &str = "job_not_found";
    pub const FILE_NOT_FOUND: &str = "file_not_found";
    pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// The `type` of a data value; Ashby accepts exactly these five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataValueType {
    NumericScore,
    NumericDurationMinutes,
    Url,
    String,
    BooleanSuccess,
}

impl DataValueType {
    pub const ALL: [DataValueType; 5] = [
        Self::NumericScore,
        Self::NumericDurationMinutes,
        Self::Url,
        Self::String,
        Self::BooleanSuccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NumericScore => "numeric_score",
            Self::NumericDurationMinutes => "numeric_duration_minutes",
            Self::Url => "url",
            Self::String => "string",
            Self::BooleanSuccess => "boolean_success",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for DataValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field Ashby shows on an assessment. `identifier` is the partner's key for
/// the field: a later update with the same identifier overwrites it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataValue {
    pub identifier: String,
    pub label: String,
    pub r#type: DataValueType,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl DataValue {
    pub fn new(identifier: &str, label: &str, r#type: DataValueType, value: Value) -> Self {
        Self {
            identifier: identifier.to_owned(),
            label: label.to_owned(),
            r#type,
            value,
            description: None,
        }
    }

    pub fn string(identifier: &str, label: &str, value: impl Into<String>) -> Self {
        Self::new(
            identifier,
            label,
            DataValueType::String,
            Value::String(value.into()),
        )
    }

    pub fn boolean_success(identifier: &str, label: &str, success: bool) -> Self {
        Self::new(
            identifier,
            label,
            DataValueType::BooleanSuccess,
            Value::Bool(success),
        )
    }

    pub fn url(identifier: &str, label: &str, url: impl Into<String>) -> Self {
        Self::new(
            identifier,
            label,
            DataValueType::Url,
            Value::String(url.into()),
        )
    }

    pub fn numeric_score(identifier: &str, label: &str, value: f64) -> Self {
        Self::new(
            identifier,
            label,
            DataValueType::NumericScore,
            number(value),
        )
    }

    pub fn with_description(mut self, description: Option<String>) -> Self {
        self.description = description;
        self
    }
}

/// A JSON number, written as an integer when it is one (`87`, not `87.0`).
/// A non-finite value has no JSON form; it becomes `null`, which validation refuses.
fn number(value: f64) -> Value {
    const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT_INT {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

/// The body of `assessment.update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentUpdate {
    pub assessment_id: String,
    /// When the update occurred, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_status: Option<DataValue>,
    /// Sending a result marks the assessment complete in Ashby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_result: Option<DataValue>,
    /// The "Full Report" link; required whenever `assessment_result` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_profile_url: Option<DataValue>,
    /// Sending a reason marks the assessment cancelled in Ashby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_reason: Option<DataValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<DataValue>>,
}

impl AssessmentUpdate {
    /// An update that carries nothing yet; fill in the fields that apply.
    pub fn new(assessment_id: impl Into<String>, timestamp: i64) -> Self {
        Self {
            assessment_id: assessment_id.into(),
            timestamp,
            assessment_status: None,
            assessment_result: None,
            assessment_profile_url: None,
            cancelled_reason: None,
            metadata: None,
        }
    }

    pub fn to_json(&self) -> Value {
        // A struct of strings, numbers and JSON values always serialises.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// `{"success": true, "results": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessEnvelope<T> {
    pub success: bool,
    pub results: T,
}

impl<T> SuccessEnvelope<T> {
    pub fn new(results: T) -> Self {
        Self {
            success: true,
            results,
        }
    }
}

/// What went wrong, in Ashby's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl std::fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

/// `{"success": false, "errorInfo": {…}, "errors": ["<code>"]}`. Ashby still sends
/// the deprecated `errors` list, so we do too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub success: bool,
    #[serde(rename = "errorInfo")]
    pub error_info: ErrorInfo,
    #[serde(default)]
    pub errors: Vec<String>,
}

impl ErrorEnvelope {
    pub fn new(code: &str, message: impl Into<String>, request_id: Option<String>) -> Self {
        Self {
            success: false,
            error_info: ErrorInfo {
                code: code.to_owned(),
                message: message.into(),
                request_id,
            },
            errors: vec![code.to_owned()],
        }
    }
}

/// A new request id in Ashby's form (a ULID).
pub fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// An Ashby answer, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope<T> {
    Success {
        results: T,
        /// Minor problems Ashby reports on a request that went through.
        warnings: Vec<String>,
    },
    Failure(ErrorInfo),
}

/// Read an Ashby answer. `Err` says why the body is not an Ashby envelope at all.
/// A `success:false` body without `errorInfo` (older answers carry only `errors`)
/// is still a failure, with the first error as its code.
pub fn parse_envelope<T: DeserializeOwned>(body: &[u8]) -> Result<Envelope<T>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let Value::Object(mut map) = value else {
        return Err("the body is not a JSON object".into());
    };
    match map.get("success") {
        Some(Value::Bool(true)) => {
            let results = map.remove("results").unwrap_or(Value::Null);
            let results = serde_json::from_value(results)
                .map_err(|e| format!("unexpected `results` ({e})"))?;
            let warnings = string_list(map.get("warnings"));
            Ok(Envelope::Success { results, warnings })
        }
        Some(Value::Bool(false)) => Ok(Envelope::Failure(failure_info(&map))),
        Some(_) => Err("`success` is not a boolean".into()),
        None => Err("the body has no `success` field".into()),
    }
}

fn failure_info(map: &Map<String, Value>) -> ErrorInfo {
    if let Some(info) = map
        .get("errorInfo")
        .and_then(|v| ErrorInfo::deserialize(v).ok())
    {
        return info;
    }
    let errors = string_list(map.get("errors"));
    ErrorInfo {
        code: errors.first().cloned().unwrap_or_else(|| "unknown".into()),
        message: if errors.is_empty() {
            "Ashby reported a failure without saying why".into()
        } else {
            errors.join("; ")
        },
        request_id: None,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The results of `apiKey.info`. Ashby documents `title`, `createdAt` and an
/// optional `scopes`; none of them lists the key's permissions, so nothing here
/// pretends to. Anything else Ashby sends is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "createdAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_skips_absent_fields() {
        let mut u = AssessmentUpdate::new("a", 1_700_000_000_000);
        u.assessment_status = Some(DataValue::string("status", "Status", "Started"));
        assert_eq!(
            u.to_json(),
            json!({
                "assessment_id": "a",
                "timestamp": 1_700_000_000_000_i64,
                "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Started"}
            })
        );
    }

    #[test]
    fn numbers_are_integers_when_whole() {
        assert_eq!(DataValue::numeric_score("s", "S", 87.0).value, json!(87));
        assert_eq!(DataValue::numeric_score("s", "S", 87.5).value, json!(87.5));
        assert_eq!(
            DataValue::numeric_score("s", "S", f64::NAN).value,
            Value::Null
        );
    }

    #[test]
    fn data_value_types_round_trip() {
        for t in DataValueType::ALL {
            assert_eq!(DataValueType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(DataValueType::parse("number"), None);
    }

    #[test]
    fn envelopes() {
        let ok = serde_json::to_vec(&SuccessEnvelope::new(json!({"x": 1}))).unwrap();
        assert_eq!(
            parse_envelope::<Value>(&ok).unwrap(),
            Envelope::Success {
                results: json!({"x": 1}),
                warnings: vec![]
            }
        );

        let err = ErrorEnvelope::new("invalid_input", "timestamp is required", Some("01J".into()));
        let body = serde_json::to_value(&err).unwrap();
        assert_eq!(
            body,
            json!({"success": false, "errorInfo": {"code": "invalid_input", "message": "timestamp is required", "requestId": "01J"}, "errors": ["invalid_input"]})
        );
        let Envelope::Failure(info) = parse_envelope::<Value>(body.to_string().as_bytes()).unwrap()
        else {
            panic!("expected a failure");
        };
        assert_eq!(info.code, "invalid_input");

        let legacy = br#"{"success": false, "errors": ["application_not_found"]}"#;
        let Envelope::Failure(info) = parse_envelope::<Value>(legacy).unwrap() else {
            panic!("expected a failure");
        };
        assert_eq!(info.code, "application_not_found");

        assert!(parse_envelope::<Value>(b"<html>")
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_envelope::<Value>(b"{}")
            .unwrap_err()
            .contains("no `success`"));
        let warned = br#"{"success": true, "results": null, "warnings": ["w"]}"#;
        assert_eq!(
            parse_envelope::<Value>(warned).unwrap(),
            Envelope::Success {
                results: Value::Null,
                warnings: vec!["w".into()]
            }
        );
    }

    #[test]
    fn api_key_info_keeps_unknown_fields() {
        let info: ApiKeyInfo = serde_json::from_value(json!({
            "title": "Screenhub", "createdAt": "2024-01-01T00:00:00.000Z", "scopes": ["x"], "other": 1
        }))
        .unwrap();
        assert_eq!(info.title.as_deref(), Some("Screenhub"));
        assert_eq!(info.extra["other"], json!(1));
        assert_eq!(info.extra["scopes"], json!(["x"]));
        let bare: ApiKeyInfo = serde_json::from_value(json!({})).unwrap();
        assert_eq!(bare.title, None);
    }

    #[test]
    fn permissions_in_ashby_words() {
        assert_eq!(permission_in_ashby_words(API_KEYS_READ), "API Keys → Read");
        assert_eq!(
            permission_in_ashby_words(CANDIDATES_WRITE),
            "Candidates → Write"
        );
        assert_eq!(
            permission_in_ashby_words(CANDIDATES_READ),
            "Candidates → Read"
        );
        assert_eq!(permission_in_ashby_words("jobsRead"), "Jobs → Read");
        assert_eq!(permission_in_ashby_words("offersRead"), "offersRead");
    }
}
