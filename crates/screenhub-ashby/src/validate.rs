//! Strict validation of an `assessment.update` body, as Ashby documents it. The
//! simulator answers with these messages, so each one names the field path and
//! says what was expected.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::public::{AssessmentUpdate, DataValueType};

/// Timestamps below this (3 March 1973 in milliseconds) are taken for seconds:
/// `1700000000` is a date in 2023 in seconds, but 20 January 1970 in milliseconds.
pub const MIN_TIMESTAMP_MS: i64 = 100_000_000_000;
/// 31 December 9999, the last moment a date type can hold.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

const TOP_LEVEL: [&str; 7] = [
    "assessment_id",
    "timestamp",
    "assessment_status",
    "assessment_result",
    "assessment_profile_url",
    "cancelled_reason",
    "metadata",
];
const DATA_VALUE_FIELDS: [&str; 5] = ["identifier", "label", "type", "value", "description"];

/// Check an `assessment.update` body and read it.
pub fn validate_update(body: &Value) -> Result<AssessmentUpdate, String> {
    let Value::Object(map) = body else {
        return Err(format!(
            "the request body must be a JSON object, not {}",
            kind(body)
        ));
    };
    if let Some(unknown) = map.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}`; allowed fields are {}",
            TOP_LEVEL.join(", ")
        ));
    }

    match map.get("assessment_id") {
        None => return Err("assessment_id is required".into()),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err("assessment_id must not be empty".into())
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(format!(
                "assessment_id must be a string, not {}",
                kind(other)
            ))
        }
    }
    validate_timestamp(map.get("timestamp"))?;

    for field in [
        "assessment_status",
        "assessment_result",
        "assessment_profile_url",
        "cancelled_reason",
    ] {
        if let Some(value) = map.get(field) {
            validate_data_value(field, value)?;
        }
    }
    if let Some(url) = map.get("assessment_profile_url") {
        if url.get("type").and_then(Value::as_str) != Some(DataValueType::Url.as_str()) {
            return Err("assessment_profile_url.type must be `url`".into());
        }
    }
    if !map.contains_key("assessment_status") && !map.contains_key("cancelled_reason") {
        return Err("assessment_status is required unless cancelled_reason is sent".into());
    }
    if map.contains_key("assessment_result") && !map.contains_key("assessment_profile_url") {
        return Err(
            "assessment_profile_url is required when assessment_result is sent (a result marks the assessment complete)"
                .into(),
        );
    }
    if let Some(metadata) = map.get("metadata") {
        validate_metadata(metadata)?;
    }

    serde_json::from_value(body.clone()).map_err(|e| format!("the update could not be read: {e}"))
}

fn validate_timestamp(value: Option<&Value>) -> Result<(), String> {
    let hint = "milliseconds since the Unix epoch, e.g. 1700000000000";
    let n = match value {
        None => return Err(format!("timestamp is required ({hint})")),
        Some(Value::Number(n)) => n,
        Some(other) => {
            return Err(format!(
                "timestamp must be an integer ({hint}), not {}",
                kind(other)
            ))
        }
    };
    let Some(ms) = n.as_i64() else {
        return Err(if n.is_u64() {
            format!("timestamp {n} is too large ({hint})")
        } else {
            format!(
                "timestamp must be an integer number of milliseconds, not a decimal number ({n})"
            )
        });
    };
    if ms < 0 {
        return Err(format!("timestamp must not be negative (got {ms})"));
    }
    if ms < MIN_TIMESTAMP_MS {
        return Err(format!(
            "timestamp {ms} looks like seconds; it must be in milliseconds since the Unix epoch (e.g. {})",
            ms.saturating_mul(1000)
        ));
    }
    if ms > MAX_TIMESTAMP_MS {
        return Err(format!("timestamp {ms} is after the year 9999; it must be in milliseconds since the Unix epoch"));
    }
    Ok(())
}

fn validate_metadata(metadata: &Value) -> Result<(), String> {
    let Value::Array(items) = metadata else {
        return Err(format!(
            "metadata must be an array of data values, not {}",
            kind(metadata)
        ));
    };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("metadata[{i}]");
        validate_data_value(&path, item)?;
        // validate_data_value has checked that the identifier is a string.
        let identifier = item
            .get("identifier")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(first) = seen.insert(identifier, i) {
            return Err(format!(
                "{path}.identifier `{identifier}` is already used by metadata[{first}]; identifiers must be unique within an update"
            ));
        }
    }
    Ok(())
}

fn validate_data_value(path: &str, value: &Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "{path} must be a data value object, not {}",
            kind(value)
        ));
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !DATA_VALUE_FIELDS.contains(&k.as_str()))
    {
        return Err(format!(
            "{path} has an unknown field `{unknown}`; a data value has identifier, label, type, value and an optional description"
        ));
    }
    non_empty_string(map, path, "identifier")?;
    non_empty_string(map, path, "label")?;

    let type_name = match map.get("type") {
        None => return Err(format!("{path}.type is required")),
        Some(Value::String(s)) => s,
        Some(other) => return Err(format!("{path}.type must be a string, not {}", kind(other))),
    };
    let Some(r#type) = DataValueType::parse(type_name) else {
        let allowed: Vec<_> = DataValueType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(format!(
            "{path}.type must be one of {}, not `{type_name}`",
            allowed.join(", ")
        ));
    };

    let Some(v) = map.get("value") else {
        return Err(format!("{path}.value is required"));
    };
    match r#type {
        DataValueType::NumericScore | DataValueType::NumericDurationMinutes if !v.is_number() => {
            return Err(format!(
                "{path}.value must be a number for type `{type_name}`, not {}",
                kind(v)
            ));
        }
        DataValueType::String if !v.is_string() => {
            return Err(format!(
                "{path}.value must be a string for type `string`, not {}",
                kind(v)
            ));
        }
        DataValueType::BooleanSuccess if !v.is_boolean() => {
            return Err(format!(
                "{path}.value must be true or false for type `boolean_success`, not {}",
                kind(v)
            ));
        }
        DataValueType::Url => {
            let Value::String(url) = v else {
                return Err(format!(
                    "{path}.value must be a URL string for type `url`, not {}",
                    kind(v)
                ));
            };
            screenhub_core::order::validate_http_url(url)
                .map_err(|e| format!("{path}.value must be an absolute http(s) URL: it {e}"))?;
        }
        _ => {}
    }

    match map.get("description") {
        None | Some(Value::String(_)) => Ok(()),
        Some(other) => Err(format!(
            "{path}.description must be a string when present, not {}",
            kind(other)
        )),
    }
}

fn non_empty_string(map: &Map<String, Value>, path: &str, field: &str) -> Result<(), String> {
    match map.get(field) {
        None => Err(format!("{path}.{field} is required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(format!("{path}.{field} must not be empty"))
        }
        Some(Value::String(_)) => Ok(()),
        Some(other) => Err(format!(
            "{path}.{field} must be a string, not {}",
            kind(other)
        )),
    }
}

/// "a string", "null", … for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dv(t: &str, value: Value) -> Value {
        json!({"identifier": "x", "label": "X", "type": t, "value": value})
    }

    fn ok_update() -> Value {
        json!({
            "assessment_id": "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e",
            "timestamp": 1_700_000_000_000_i64,
            "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Completed"},
            "assessment_result": {"identifier": "result", "label": "Result", "type": "boolean_success", "value": true},
            "assessment_profile_url": {"identifier": "report", "label": "Full Report", "type": "url", "value": "https://vendor.example/r/1"},
            "metadata": [
                {"identifier": "score", "label": "Score", "type": "numeric_score", "value": 87.5},
                {"identifier": "eta", "label": "ETA", "type": "numeric_duration_minutes", "value": 30},
                {"identifier": "s", "label": "S", "type": "string", "value": "v", "description": "d"}
            ]
        })
    }

    fn err(body: Value) -> String {
        validate_update(&body).unwrap_err()
    }

    fn with(mut v: Value, pointer: &str, value: Value) -> Value {
        *v.pointer_mut(pointer).unwrap() = value;
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn accepts_a_complete_update() {
        let u = validate_update(&ok_update()).unwrap();
        assert_eq!(u.metadata.unwrap().len(), 3);
        let cancel = json!({"assessment_id": "a", "timestamp": 1_700_000_000_000_i64,
                            "cancelled_reason": {"identifier": "c", "label": "Cancelled", "type": "string", "value": "x"}});
        assert!(validate_update(&cancel).is_ok());
    }

    #[test]
    fn body_shape() {
        assert_eq!(
            err(json!([])),
            "the request body must be a JSON object, not an array"
        );
        let mut v = ok_update();
        v["extra"] = json!(1);
        assert!(err(v).starts_with("unknown field `extra`"));
    }

    #[test]
    fn assessment_id() {
        assert_eq!(
            err(without(ok_update(), "assessment_id")),
            "assessment_id is required"
        );
        assert_eq!(
            err(with(ok_update(), "/assessment_id", json!(5))),
            "assessment_id must be a string, not a number"
        );
        assert_eq!(
            err(with(ok_update(), "/assessment_id", json!(""))),
            "assessment_id must not be empty"
        );
    }

    #[test]
    fn timestamps_must_be_integer_milliseconds() {
        assert!(err(without(ok_update(), "timestamp")).starts_with("timestamp is required"));
        assert!(
            err(with(ok_update(), "/timestamp", json!("1700000000000"))).contains("not a string")
        );
        assert!(err(with(ok_update(), "/timestamp", json!(null))).contains("not null"));
        assert_eq!(
            err(with(ok_update(), "/timestamp", json!(1_700_000_000_000.5))),
            "timestamp must be an integer number of milliseconds, not a decimal number (1700000000000.5)"
        );
        assert!(
            err(with(ok_update(), "/timestamp", json!(1.7e12))).contains("not a decimal number")
        );
        assert_eq!(
            err(with(ok_update(), "/timestamp", json!(-1))),
            "timestamp must not be negative (got -1)"
        );
        assert_eq!(
            err(with(ok_update(), "/timestamp", json!(1_700_000_000))),
            "timestamp 1700000000 looks like seconds; it must be in milliseconds since the Unix epoch (e.g. 1700000000000)"
        );
        assert!(err(with(ok_update(), "/timestamp", json!(u64::MAX))).contains("too large"));
        assert!(
            err(with(ok_update(), "/timestamp", json!(MAX_TIMESTAMP_MS + 1))).contains("year 9999")
        );
        assert!(validate_update(&with(ok_update(), "/timestamp", json!(MIN_TIMESTAMP_MS))).is_ok());
    }

    #[test]
    fn data_value_fields() {
        assert_eq!(
            err(with(ok_update(), "/assessment_status", json!("Started"))),
            "assessment_status must be a data value object, not a string"
        );
        assert_eq!(
            err(with(ok_update(), "/assessment_result", json!(null))),
            "assessment_result must be a data value object, not null"
        );
        let mut v = ok_update();
        v["assessment_status"]["extra"] = json!(1);
        assert!(err(v).starts_with("assessment_status has an unknown field `extra`"));
        let mut v = ok_update();
        v["assessment_status"]
            .as_object_mut()
            .unwrap()
            .remove("identifier");
        assert_eq!(err(v), "assessment_status.identifier is required");
        assert_eq!(
            err(with(ok_update(), "/assessment_status/label", json!(3))),
            "assessment_status.label must be a string, not a number"
        );
        assert_eq!(
            err(with(ok_update(), "/assessment_status/label", json!(""))),
            "assessment_status.label must not be empty"
        );
        let mut v = ok_update();
        v["assessment_status"]
            .as_object_mut()
            .unwrap()
            .remove("type");
        assert_eq!(err(v), "assessment_status.type is required");
        let mut v = ok_update();
        v["assessment_status"]
            .as_object_mut()
            .unwrap()
            .remove("value");
        assert_eq!(err(v), "assessment_status.value is required");
        assert_eq!(
            err(with(ok_update(), "/assessment_status/type", json!("number"))),
            "assessment_status.type must be one of numeric_score, numeric_duration_minutes, url, string, boolean_success, not `number`"
        );
        assert_eq!(
            err(with(ok_update(), "/metadata/2/description", json!(null))),
            "metadata[2].description must be a string when present, not null"
        );
    }

    #[test]
    fn values_must_match_their_type() {
        let cases = [
            (
                "numeric_score",
                json!("87"),
                "must be a number for type `numeric_score`, not a string",
            ),
            (
                "numeric_duration_minutes",
                json!(true),
                "must be a number for type `numeric_duration_minutes`, not a boolean",
            ),
            (
                "string",
                json!(1),
                "must be a string for type `string`, not a number",
            ),
            (
                "boolean_success",
                json!("true"),
                "must be true or false for type `boolean_success`, not a string",
            ),
            (
                "url",
                json!(1),
                "must be a URL string for type `url`, not a number",
            ),
            ("url", json!("/relative"), "must be an absolute http(s) URL"),
            (
                "url",
                json!("ftp://x.example/r"),
                "must be an absolute http(s) URL: it must use http or https",
            ),
        ];
        for (t, value, message) in cases {
            let e = err(with(ok_update(), "/metadata/0", dv(t, value.clone())));
            assert!(
                e.starts_with(&format!("metadata[0].value {message}")),
                "{t} {value}: {e}"
            );
        }
        for (t, value) in [
            ("numeric_score", json!(-3.5)),
            ("numeric_duration_minutes", json!(0)),
            ("string", json!("")),
            ("boolean_success", json!(false)),
            ("url", json!("http://vendor.example/x?y=1")),
        ] {
            assert!(
                validate_update(&with(ok_update(), "/metadata/0", dv(t, value))).is_ok(),
                "{t}"
            );
        }
    }

    #[test]
    fn status_is_required_unless_cancelled() {
        assert_eq!(
            err(without(ok_update(), "assessment_status")),
            "assessment_status is required unless cancelled_reason is sent"
        );
    }

    #[test]
    fn a_result_needs_a_profile_url_of_type_url() {
        assert!(err(without(ok_update(), "assessment_profile_url"))
            .starts_with("assessment_profile_url is required when assessment_result is sent"));
        assert_eq!(
            err(with(
                ok_update(),
                "/assessment_profile_url",
                dv("string", json!("https://x.example"))
            )),
            "assessment_profile_url.type must be `url`"
        );
    }

    #[test]
    fn metadata_rules() {
        assert_eq!(
            err(with(ok_update(), "/metadata", json!({}))),
            "metadata must be an array of data values, not an object"
        );
        assert_eq!(
            err(with(ok_update(), "/metadata/2/identifier", json!("score"))),
            "metadata[2].identifier `score` is already used by metadata[0]; identifiers must be unique within an update"
        );
        assert_eq!(
            err(with(ok_update(), "/metadata/1", json!(1))),
            "metadata[1] must be a data value object, not a number"
        );
        assert!(validate_update(&with(ok_update(), "/metadata", json!([]))).is_ok());
    }
}
