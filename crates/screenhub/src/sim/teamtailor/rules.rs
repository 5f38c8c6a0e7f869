//! Teamtailor's rules, written from the notes (`shared/teamtailor/PARTNER_API.md`,
//! "What our simulator must enforce", points 2, 6, 7 and 8), free of I/O: the
//! `PUT <update-url>` body, the webhook reply's `partner_result_attributes`,
//! and the `/config` form. Nothing here is shared with the hub.

use serde::Serialize;
use serde_json::{Map, Value};

pub const API_VERSION: &str = "20180828";
pub const JSON_API: &str = "application/vnd.api+json";

pub const STATUSES: [&str; 5] = ["sending", "sent", "pending", "completed", "failed"];
pub const GRADES: [&str; 4] = ["top_fit", "might_be_fit", "might_not_be_fit", "unknown"];
pub const FIELD_TYPES: [&str; 23] = [
    "checkbox",
    "color",
    "date",
    "datetime",
    "datetime-local",
    "email",
    "file",
    "infobox",
    "error",
    "hidden",
    "month",
    "number",
    "password",
    "radio",
    "range",
    "reset",
    "search",
    "select",
    "multiselect",
    "tel",
    "text",
    "url",
    "week",
];
const ATTRIBUTES: [&str; 11] = [
    "status",
    "summary",
    "url",
    "assessment",
    "details",
    "attachments",
    "actions",
    "assessment-criteria",
    "job-id",
    "candidate-id",
    "sort-key",
];
const MAX_DETAILS_DEPTH: usize = 2;

/// One broken rule, as a JSON:API error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Violation {
    pub status: u16,
    pub pointer: String,
    pub detail: String,
}

impl Violation {
    fn new(status: u16, pointer: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            pointer: pointer.to_owned(),
            detail: detail.into(),
        }
    }

    fn attr(name: &str, detail: impl Into<String>) -> Self {
        Self::new(422, &format!("/data/attributes/{name}"), detail)
    }
}

/// The card's values a valid update sets (absent = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CardUpdate {
    pub status: Option<String>,
    pub summary: Option<String>,
    pub url: Option<String>,
    pub score: Option<f64>,
    /// `Some(None)`: the grade was set to `null`.
    pub grade: Option<Option<String>>,
    pub duration_secs: Option<u64>,
    pub details: Option<Map<String, Value>>,
    pub attachments: Option<Vec<(String, String)>>,
    pub actions: Option<Vec<(String, String)>>,
    pub criteria: Option<Vec<(String, Option<f64>)>>,
}

/// Check a `PUT /partner-results/{id}` body. The status to answer is the
/// first violation's (400 unreadable, 409 wrong type or id, 422 attributes).
pub fn check_update(
    body: &[u8],
    path_id: &str,
    criteria_ids: &[String],
) -> Result<CardUpdate, Vec<Violation>> {
    let doc = parse_document(body)?;
    let attributes = document_attributes(&doc, "partner-results", path_id)?;
    check_attributes(attributes, criteria_ids, false)
}

fn parse_document(body: &[u8]) -> Result<Value, Vec<Violation>> {
    serde_json::from_slice(body).map_err(|e| {
        vec![Violation::new(
            400,
            "",
            format!("the body is not valid JSON: {e}"),
        )]
    })
}

/// The attributes of a JSON:API write: `data` an object, `data.type` the
/// resource's, `data.id` the id in the URL, `data.attributes` an object.
fn document_attributes<'a>(
    doc: &'a Value,
    kind: &str,
    path_id: &str,
) -> Result<&'a Map<String, Value>, Vec<Violation>> {
    let Some(data) = doc.get("data").and_then(Value::as_object) else {
        return Err(vec![Violation::new(
            400,
            "/data",
            "a JSON:API document needs a `data` object",
        )]);
    };
    if data.get("type").and_then(Value::as_str) != Some(kind) {
        return Err(vec![Violation::new(
            409,
            "/data/type",
            format!("`data.type` must be \"{kind}\""),
        )]);
    }
    if data.get("id").and_then(Value::as_str) != Some(path_id) {
        return Err(vec![Violation::new(
            409,
            "/data/id",
            format!("`data.id` must be the id in the URL ({path_id})"),
        )]);
    }
    data.get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            vec![Violation::new(
                400,
                "/data/attributes",
                "`data.attributes` must be an object",
            )]
        })
}

/// Check the attributes of an update (`reply = true`: the webhook reply's
/// `partner_result_attributes`, of whose `assessment` only `score` counts).
pub fn check_attributes(
    attributes: &Map<String, Value>,
    criteria_ids: &[String],
    reply: bool,
) -> Result<CardUpdate, Vec<Violation>> {
    let mut errors = Vec::new();
    let mut update = CardUpdate::default();
    for (name, value) in attributes {
        if !ATTRIBUTES.contains(&name.as_str()) {
            errors.push(Violation::new(
                400,
                &format!("/data/attributes/{name}"),
                format!("`{name}` is not a partner-result attribute"),
            ));
            continue;
        }
        match name.as_str() {
            "status" => match value.as_str() {
                Some(s) if STATUSES.contains(&s) => update.status = Some(s.to_owned()),
                _ => errors.push(Violation::attr(
                    name,
                    format!("status must be one of {}", STATUSES.join(", ")),
                )),
            },
            "summary" => match value.as_str() {
                Some(s) => update.summary = Some(s.to_owned()),
                None => errors.push(Violation::attr(name, "summary must be a string")),
            },
            "url" => match value.as_str().filter(|u| is_http_url(u)) {
                Some(u) => update.url = Some(u.to_owned()),
                None => errors.push(Violation::attr(name, "url must be a valid http(s) URL")),
            },
            "assessment" => check_assessment(value, reply, &mut update, &mut errors),
            "details" => match value {
                Value::Object(map) if depth(value) <= MAX_DETAILS_DEPTH => {
                    update.details = Some(map.clone());
                }
                Value::Object(_) => errors.push(Violation::attr(
                    name,
                    format!("details may nest at most {MAX_DETAILS_DEPTH} levels deep"),
                )),
                _ => errors.push(Violation::attr(name, "details must be an object")),
            },
            "attachments" => match pairs(value, "url", "description") {
                Some(list) if list.iter().all(|(u, _)| is_http_url(u)) => {
                    update.attachments = Some(list);
                }
                Some(_) => errors.push(Violation::attr(
                    name,
                    "every attachment url must be a valid http(s) URL",
                )),
                None => errors.push(Violation::attr(
                    name,
                    "attachments must be objects with exactly `url` and `description` (strings)",
                )),
            },
            "actions" => match pairs(value, "buttonText", "endpoint") {
                Some(list) if list.iter().all(|(t, e)| !t.is_empty() && is_relative(e)) => {
                    update.actions = Some(list);
                }
                _ => errors.push(Violation::attr(
                    name,
                    "actions must be objects with exactly a non-empty `buttonText` and an `endpoint` relative to the partner base URL",
                )),
            },
            "assessment-criteria" => match check_criteria(value, criteria_ids) {
                Ok(list) => update.criteria = Some(list),
                Err(detail) => errors.push(Violation::attr(name, detail)),
            },
            "job-id" if !value.is_u64() => {
                errors.push(Violation::attr(name, "job-id must be an integer"));
            }
            "candidate-id" => errors.push(Violation::attr(
                name,
                "candidate-id is immutable and must not be sent in an update",
            )),
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(update)
    } else {
        Err(errors)
    }
}

fn check_assessment(
    value: &Value,
    reply: bool,
    update: &mut CardUpdate,
    errors: &mut Vec<Violation>,
) {
    let Some(map) = value.as_object() else {
        errors.push(Violation::attr(
            "assessment",
            "assessment must be an object",
        ));
        return;
    };
    for (key, v) in map {
        let pointer = format!("assessment/{key}");
        match key.as_str() {
            "score" => match v.as_f64().filter(|s| (0.0..=100.0).contains(s)) {
                Some(s) => update.score = Some(s),
                None => errors.push(Violation::attr(
                    &pointer,
                    "score must be a number from 0 to 100",
                )),
            },
            // A webhook reply may carry only the score of the assessment.
            _ if reply => {}
            "grade" => match v {
                Value::Null => update.grade = Some(None),
                Value::String(g) if GRADES.contains(&g.as_str()) => {
                    update.grade = Some(Some(g.clone()));
                }
                _ => errors.push(Violation::attr(
                    &pointer,
                    format!("grade must be one of {} or null", GRADES.join(", ")),
                )),
            },
            "duration" => match duration_secs(v) {
                Some(secs) => update.duration_secs = Some(secs),
                None => errors.push(Violation::attr(
                    &pointer,
                    "duration must be whole seconds or HH:MM:SS",
                )),
            },
            _ => errors.push(Violation::attr(
                &pointer,
                "assessment takes score, grade and duration",
            )),
        }
    }
}

fn check_criteria(value: &Value, known: &[String]) -> Result<Vec<(String, Option<f64>)>, String> {
    let list = value
        .as_array()
        .ok_or("assessment-criteria must be an array")?;
    list.iter()
        .map(|item| {
            let map = item
                .as_object()
                .filter(|m| m.keys().all(|k| k == "id" || k == "score"))
                .ok_or("each criterion is {id, score?}")?;
            let id = match map.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err("each criterion needs an id".to_owned()),
            };
            if !known.contains(&id) {
                return Err(format!(
                    "criterion `{id}` is not one of the ids the /config form declared"
                ));
            }
            let score = match map.get("score") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_f64()
                        .filter(|s| (0.0..=100.0).contains(s))
                        .ok_or("a criterion score must be a number from 0 to 100")?,
                ),
            };
            Ok((id, score))
        })
        .collect()
}

/// Nesting depth: a scalar is 0, an object or array one more than its deepest value.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn duration_secs(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let parts: Vec<&str> = value.as_str()?.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let two_digits = |p: &str| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !(two_digits(h) && m.len() == 2 && two_digits(m) && s.len() == 2 && two_digits(s)) {
        return None;
    }
    let (h, m, s): (u64, u64, u64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    (m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// A list of objects with exactly the two string keys `a` and `b`.
fn pairs(value: &Value, a: &str, b: &str) -> Option<Vec<(String, String)>> {
    value
        .as_array()?
        .iter()
        .map(|item| {
            let map = item.as_object().filter(|m| m.len() == 2)?;
            Some((
                map.get(a)?.as_str()?.to_owned(),
                map.get(b)?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

pub fn is_http_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// An action endpoint is a path below the partner's base URL.
fn is_relative(endpoint: &str) -> bool {
    !endpoint.is_empty()
        && !endpoint.starts_with('/')
        && !endpoint.contains("://")
        && !endpoint.contains("..")
}

/// A select option of the `/config` form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormField {
    pub id: Option<String>,
    pub kind: String,
    pub label: String,
    pub required: bool,
    /// `(id, label)` for select, multiselect and radio.
    pub options: Vec<(String, String)>,
    /// The text of an `infobox` or `error` field.
    pub notice: String,
    pub refetch: bool,
}

/// The `/config` answer, read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConfigForm {
    pub fields: Vec<FormField>,
    pub criteria: Vec<(String, String)>,
}

impl ConfigForm {
    /// The messages of `error` fields: the partner refusing the set-up.
    pub fn errors(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.kind == "error")
            .map(|f| f.notice.clone())
            .collect()
    }
}

fn id_label(v: &Value) -> Option<(String, String)> {
    let id = match v.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((id, v.get("label")?.as_str()?.to_owned()))
}

/// Check a `/config` answer: `{"config": {"fields": [...]}}`, known types,
/// ids on inputs, options or optgroups on selects.
pub fn check_config(body: &[u8]) -> Result<ConfigForm, Vec<String>> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| vec![format!("the answer is not JSON: {e}")])?;
    let Some(fields) = doc.pointer("/config/fields").and_then(Value::as_array) else {
        return Err(vec![
            "the answer must be {\"config\": {\"fields\": [...]}}".into()
        ]);
    };
    let mut problems = Vec::new();
    let mut form = ConfigForm::default();
    for (i, f) in fields.iter().enumerate() {
        let kind = f.get("type").and_then(Value::as_str).unwrap_or_default();
        if !FIELD_TYPES.contains(&kind) {
            problems.push(format!("fields[{i}]: unknown type `{kind}`"));
            continue;
        }
        let notice_field = matches!(kind, "infobox" | "error");
        let id = f.get("id").and_then(Value::as_str).map(str::to_owned);
        if id.as_deref().is_none_or(str::is_empty) && !notice_field {
            problems.push(format!("fields[{i}]: a `{kind}` field needs an id"));
            continue;
        }
        let mut options = Vec::new();
        if matches!(kind, "select" | "multiselect") {
            let direct = f.get("options").and_then(Value::as_array);
            let grouped = f.get("optgroups").and_then(Value::as_array);
            if direct.is_none() && grouped.is_none() {
                problems.push(format!("fields[{i}]: a {kind} needs options or optgroups"));
                continue;
            }
            let groups = grouped
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("options").and_then(Value::as_array));
            for o in direct.into_iter().chain(groups).flatten() {
                match id_label(o) {
                    Some(pair) => options.push(pair),
                    None => {
                        problems.push(format!("fields[{i}]: every option needs an id and a label"))
                    }
                }
            }
        }
        let notice = match kind {
            "error" => f.get("message").or_else(|| f.get("content")),
            "infobox" => f.get("content"),
            _ => None,
        }
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
        form.fields.push(FormField {
            id,
            kind: kind.to_owned(),
            label: f
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            required: f.get("required").and_then(Value::as_bool).unwrap_or(false),
            options,
            notice,
            refetch: f.get("refetch").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    if let Some(criteria) = doc.pointer("/config/assessment-criteria") {
        match criteria
            .as_array()
            .map(|c| c.iter().map(id_label).collect::<Option<Vec<_>>>())
        {
            Some(Some(list)) => form.criteria = list,
            _ => problems.push("assessment-criteria must be [{id, label}]".into()),
        }
    }
    if problems.is_empty() {
        Ok(form)
    } else {
        Err(problems)
    }
}

/// `webhook-data` from the values a recruiter picked: only the form's input
/// fields, required ones present, select values among the options, and `_`
/// in ids turned into `-`.
pub fn webhook_data(
    form: &ConfigForm,
    values: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut data = Map::new();
    for field in &form.fields {
        let Some(id) = &field.id else { continue };
        let value = values.get(id).and_then(Value::as_str).unwrap_or_default();
        if value.is_empty() {
            if field.required {
                return Err(format!("`{}` is required", field_name(field)));
            }
            continue;
        }
        if !field.options.is_empty() && !field.options.iter().any(|(o, _)| o == value) {
            return Err(format!(
                "`{value}` is not an option of `{}`",
                field_name(field)
            ));
        }
        data.insert(id.replace('_', "-"), Value::String(value.to_owned()));
    }
    if let Some(unknown) = values.keys().find(|k| {
        !form
            .fields
            .iter()
            .any(|f| f.id.as_deref() == Some(k.as_str()))
    }) {
        return Err(format!("the form has no field `{unknown}`"));
    }
    Ok(data)
}

fn field_name(field: &FormField) -> &str {
    if field.label.is_empty() {
        field.id.as_deref().unwrap_or_default()
    } else {
        &field.label
    }
}

/// Where the activation config names its validation endpoint: next to
/// `config` or inside it (Teamtailor's examples show both).
pub fn validate_endpoint(activation_config: &Value) -> Option<String> {
    activation_config
        .get("validateEndpoint")
        .or_else(|| activation_config.pointer("/config/validateEndpoint"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The strings of an `{"errors": [...]}` answer to the activation check.
pub fn activation_errors(body: &[u8]) -> Option<Vec<String>> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    doc.get("errors")?
        .as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// What a valid `PUT /partners/{id}` changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartnerUpdate {
    pub base_url: Option<String>,
    pub activation_config: Option<Value>,
    /// `Some(None)`: the static form was removed.
    pub webhook_config: Option<Option<Value>>,
    pub dynamic_activation: Option<bool>,
}

/// Check a `PUT /partners/{id}` body: the partner's own record, `name`
/// immutable.
pub fn check_partner_update(
    body: &[u8],
    path_id: &str,
    current_name: &str,
) -> Result<PartnerUpdate, Vec<Violation>> {
    let doc = parse_document(body)?;
    let attributes = document_attributes(&doc, "partners", path_id)?;
    let mut update = PartnerUpdate::default();
    let mut errors = Vec::new();
    for (name, value) in attributes {
        match (name.as_str(), value) {
            ("name", Value::String(n)) if n == current_name => {}
            ("name", _) => errors.push(Violation::attr(name, "name is immutable")),
            ("base-url", Value::String(u)) if is_http_url(u) => update.base_url = Some(u.clone()),
            ("base-url", _) => errors.push(Violation::attr(
                name,
                "base-url must be a valid http(s) URL",
            )),
            ("webhook-activation-config", Value::Object(_)) => {
                update.activation_config = Some(value.clone());
            }
            ("webhook-config", Value::Null) => update.webhook_config = Some(None),
            ("webhook-config", Value::Object(_)) => {
                match check_config(value.to_string().as_bytes()) {
                    Ok(_) => update.webhook_config = Some(Some(value.clone())),
                    Err(p) => errors.push(Violation::attr(name, p.join("; "))),
                }
            }
            ("dynamic-activation-config", Value::Bool(b)) => update.dynamic_activation = Some(*b),
            ("webhook-activation-config" | "webhook-config" | "dynamic-activation-config", _) => {
                errors.push(Violation::attr(name, format!("{name} has the wrong type")));
            }
            _ => errors.push(Violation::new(
                400,
                &format!("/data/attributes/{name}"),
                format!("`{name}` is not a partner attribute"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(update)
    } else {
        Err(errors)
    }
}
