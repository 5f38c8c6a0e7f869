//! Wire types of the partner API: the calls Ashby makes on the hub
//! (`assessment.list`, `assessment.start`, `assessment.cancel`, custom fields).
//!
//! Incoming requests are read leniently — unknown fields are accepted anywhere,
//! since Ashby may add some and the hub keeps the raw body anyway — but what the
//! hub needs is checked, and every refusal is a sentence a recruiter can act on:
//! Ashby shows the message of a 422 to the recruiter who pressed *Start*.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::public::{AssessmentUpdate, SuccessEnvelope};

/// JSON nested deeper than this is refused before it is parsed.
pub const MAX_JSON_DEPTH: usize = 32;

/// One entry of Ashby's *Assessment Type* dropdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentType {
    pub assessment_type_id: uuid::Uuid,
    pub name: String,
    pub description: String,
}

/// `{"success": true, "results": [AssessmentType…]}`
pub type ListResponse = SuccessEnvelope<Vec<AssessmentType>>;

/// The body of `assessment.start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    pub assessment_type_id: String,
    pub candidate: Candidate,
    pub application: Application,
    pub job: Job,
    /// Present only when custom-field sync is on; its shape is not documented,
    /// so any object is kept as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_fields: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub ashby_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub ashby_profile_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub ashby_id: String,
    pub status: ApplicationStatus,
}

/// Ashby documents four application statuses. A status it adds later is kept as
/// `Other` rather than refused: failing a recruiter's start over it would help no one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ApplicationStatus {
    Hired,
    Archived,
    Active,
    Lead,
    Other(String),
}

impl ApplicationStatus {
    pub const KNOWN: [ApplicationStatus; 4] =
        [Self::Hired, Self::Archived, Self::Active, Self::Lead];

    pub fn as_str(&self) -> &str {
        match self {
            Self::Hired => "Hired",
            Self::Archived => "Archived",
            Self::Active => "Active",
            Self::Lead => "Lead",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for ApplicationStatus {
    fn from(s: String) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or(Self::Other(s))
    }
}

impl From<ApplicationStatus> for String {
    fn from(s: ApplicationStatus) -> String {
        match s {
            ApplicationStatus::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub ashby_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_id: Option<String>,
    pub ashby_job_url: String,
    /// camelCase here, as in Ashby's schema.
    #[serde(
        rename = "hiringTeam",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hiring_team: Option<Vec<HiringTeamMember>>,
}

/// Only `userId` is needed to tell members apart; a member with a missing name or
/// email should not stop a check from starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiringTeamMember {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "firstName", default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The results of `assessment.start` (and of `assessment.cancel`, which has the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartResults {
    pub assessment_id: String,
    /// Applied by Ashby as if it were an `assessment.update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_request: Option<AssessmentUpdate>,
}

/// `{"success": true, "results": {"assessment_id", "update_request"?}}`
pub type StartResponse = SuccessEnvelope<StartResults>;
/// `assessment.cancel` answers with the same shape as `assessment.start`.
pub type CancelResponse = SuccessEnvelope<StartResults>;

/// The answer to `assessment.start` or `assessment.cancel`.
pub fn start_response(
    assessment_id: uuid::Uuid,
    update_request: Option<AssessmentUpdate>,
) -> StartResponse {
    SuccessEnvelope::new(StartResults {
        assessment_id: assessment_id.hyphenated().to_string(),
        update_request,
    })
}

/// The body of a 409 or 422 answer to `assessment.start`; Ashby shows `message`
/// to the recruiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerErrorBody {
    pub message: String,
}

/// The body of `assessment.cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub assessment_id: String,
}

/// The 15 custom-field types Ashby knows, spelled as Ashby spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CustomFieldType {
    String,
    Date,
    DateRange,
    Number,
    ValueSelect,
    MultiValueSelect,
    Boolean,
    LongText,
    Email,
    Phone,
    Score,
    SocialLink,
    Url,
    Currency,
    Location,
}

impl CustomFieldType {
    pub const ALL: [CustomFieldType; 15] = [
        Self::String,
        Self::Date,
        Self::DateRange,
        Self::Number,
        Self::ValueSelect,
        Self::MultiValueSelect,
        Self::Boolean,
        Self::LongText,
        Self::Email,
        Self::Phone,
        Self::Score,
        Self::SocialLink,
        Self::Url,
        Self::Currency,
        Self::Location,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Date => "Date",
            Self::DateRange => "DateRange",
            Self::Number => "Number",
            Self::ValueSelect => "ValueSelect",
            Self::MultiValueSelect => "MultiValueSelect",
            Self::Boolean => "Boolean",
            Self::LongText => "LongText",
            Self::Email => "Email",
            Self::Phone => "Phone",
            Self::Score => "Score",
            Self::SocialLink => "SocialLink",
            Self::Url => "Url",
            Self::Currency => "Currency",
            Self::Location => "Location",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossibleValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    pub r#type: CustomFieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possible_values: Option<Vec<PossibleValue>>,
    #[serde(
        rename = "isRequired",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_required: Option<bool>,
}

impl CustomField {
    /// Why Ashby would refuse this field's options, if it would: a `ValueSelect`
    /// or `MultiValueSelect` needs a non-empty `possible_values`, each option with
    /// a non-empty `key` and `value`. Other types need none.
    pub fn options_problem(&self) -> Option<String> {
        if !matches!(
            self.r#type,
            CustomFieldType::ValueSelect | CustomFieldType::MultiValueSelect
        ) {
            return None;
        }
        let kind = self.r#type.as_str();
        let options = match self.possible_values.as_deref() {
            None | Some([]) => {
                return Some(format!(
                    "a {kind} field needs possible_values: at least one option, each with a non-empty key and value"
                ))
            }
            Some(options) => options,
        };
        options.iter().enumerate().find_map(|(i, option)| {
            let empty = if option.key.trim().is_empty() {
                "key"
            } else if option.value.trim().is_empty() {
                "value"
            } else {
                return None;
            };
            Some(format!(
                "possible_values[{i}].{empty} is empty; every option of a {kind} field needs a non-empty key and value"
            ))
        })
    }
}

/// `{"success": true, "fields": […]}` — `fields`, not `results`, for this one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldsResponse {
    pub success: bool,
    pub fields: Vec<CustomField>,
}

impl CustomFieldsResponse {
    pub fn new(fields: Vec<CustomField>) -> Self {
        Self {
            success: true,
            fields,
        }
    }
}

/// Why a request from Ashby was refused, written for the recruiter who will read
/// it inside Ashby.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StartRejection {
    pub message: String,
}

impl StartRejection {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    fn no_valid_email() -> Self {
        Self::new(
            "This candidate has no valid email address in Ashby, so the check can't be sent. \
             Add an email address to the candidate's profile and start the assessment again.",
        )
    }

    fn incomplete(field: &str) -> Self {
        Self::new(format!(
            "Ashby sent an incomplete request: {field} is missing. {TRY_AGAIN}"
        ))
    }

    fn invalid(field: &str, problem: &str) -> Self {
        Self::new(format!(
            "Ashby sent an invalid request: {field} {problem}. {TRY_AGAIN}"
        ))
    }

    /// Data the recruiter can correct in Ashby (a name too long, a stray
    /// control character).
    fn unusable(field: &str, problem: &str) -> Self {
        Self::new(format!(
            "Ashby sent data this check can't use: {field} {problem}. \
             Correct it in Ashby and start the assessment again."
        ))
    }

    fn unreadable(why: &str) -> Self {
        Self::new(format!(
            "Ashby sent a request that couldn't be read ({why}). {TRY_AGAIN}"
        ))
    }
}

const TRY_AGAIN: &str = "Try again; if it keeps happening, contact the vendor's support.";

/// Read an `assessment.start` body, or say — for the recruiter — why it can't be used.
pub fn parse_start_request(body: &[u8]) -> Result<StartRequest, StartRejection> {
    parse_start_request_keeping_body(body).map(|(request, _)| request)
}

/// [`parse_start_request`], also handing back the whole body as JSON (the hub
/// keeps Ashby's request as it came), so it is parsed once, not twice.
pub fn parse_start_request_keeping_body(
    body: &[u8],
) -> Result<(StartRequest, Value), StartRejection> {
    let (mut request, whole): (StartRequest, Value) =
        parse_json_keeping_body(body, |field| field == "candidate.email")?;

    let email = request.candidate.email.trim();
    if !is_valid_email(email) {
        return Err(StartRejection::no_valid_email());
    }
    request.candidate.email = email.to_owned();

    for (field, value) in [
        ("assessment_type_id", &request.assessment_type_id),
        ("candidate.ashby_id", &request.candidate.ashby_id),
        ("application.ashby_id", &request.application.ashby_id),
        ("job.ashby_id", &request.job.ashby_id),
    ] {
        if value.trim().is_empty() {
            return Err(StartRejection::invalid(field, "is empty"));
        }
    }
    // These links end up in the vendor's dashboard, so only web addresses are kept.
    for (field, value) in [
        (
            "candidate.ashby_profile_url",
            &request.candidate.ashby_profile_url,
        ),
        ("job.ashby_job_url", &request.job.ashby_job_url),
    ] {
        if screenhub_core::order::validate_http_url(value).is_err() {
            return Err(StartRejection::invalid(field, "is not a valid web address"));
        }
    }
    check_text(&request)?;
    Ok((request, whole))
}

/// Every string Ashby sends within the limits every connector applies
/// (`screenhub_core::input`).
fn check_text(request: &StartRequest) -> Result<(), StartRejection> {
    use screenhub_core::input::{problem, Text, MAX_ITEMS};
    let candidate = &request.candidate;
    let job = &request.job;
    let mut fields: Vec<(String, Text, &str)> = vec![
        (
            "assessment_type_id".into(),
            Text::Id,
            &request.assessment_type_id,
        ),
        ("candidate.ashby_id".into(), Text::Id, &candidate.ashby_id),
        (
            "candidate.first_name".into(),
            Text::Name,
            &candidate.first_name,
        ),
        (
            "candidate.last_name".into(),
            Text::Name,
            &candidate.last_name,
        ),
        ("candidate.email".into(), Text::Email, &candidate.email),
        (
            "candidate.ashby_profile_url".into(),
            Text::Url,
            &candidate.ashby_profile_url,
        ),
        (
            "application.ashby_id".into(),
            Text::Id,
            &request.application.ashby_id,
        ),
        (
            "application.status".into(),
            Text::Name,
            request.application.status.as_str(),
        ),
        ("job.ashby_id".into(), Text::Id, &job.ashby_id),
        ("job.name".into(), Text::Name, &job.name),
        (
            "job.req_id".into(),
            Text::Id,
            job.req_id.as_deref().unwrap_or_default(),
        ),
        ("job.ashby_job_url".into(), Text::Url, &job.ashby_job_url),
    ];
    let team = job.hiring_team.as_deref().unwrap_or_default();
    if team.len() > MAX_ITEMS {
        return Err(StartRejection::unusable(
            "job.hiringTeam",
            &format!("has more than {MAX_ITEMS} members"),
        ));
    }
    for (i, member) in team.iter().enumerate() {
        let at = |name: &str| format!("job.hiringTeam[{i}].{name}");
        fields.push((at("userId"), Text::Id, &member.user_id));
        for (name, kind, value) in [
            ("firstName", Text::Name, &member.first_name),
            ("lastName", Text::Name, &member.last_name),
            ("email", Text::Email, &member.email),
            ("role", Text::Name, &member.role),
        ] {
            fields.push((at(name), kind, value.as_deref().unwrap_or_default()));
        }
    }
    let custom = request.additional_fields.as_ref();
    if custom.is_some_and(|c| c.len() > MAX_ITEMS) {
        return Err(StartRejection::unusable(
            "additional_fields",
            &format!("has more than {MAX_ITEMS} fields"),
        ));
    }
    for (key, value) in custom.into_iter().flatten() {
        fields.push((format!("additional_fields key `{key:.40}`"), Text::Id, key));
        if let Value::String(text) = value {
            fields.push((format!("additional_fields.{key:.40}"), Text::Free, text));
        }
    }
    for (field, kind, value) in fields {
        if let Some(problem) = problem(kind, value) {
            return Err(StartRejection::unusable(&field, &problem));
        }
    }
    Ok(())
}

/// Read an `assessment.cancel` body.
pub fn parse_cancel_request(body: &[u8]) -> Result<CancelRequest, StartRejection> {
    let request: CancelRequest = parse_json(body, |_| false)?;
    if request.assessment_id.trim().is_empty() {
        return Err(StartRejection::invalid("assessment_id", "is empty"));
    }
    if let Some(problem) =
        screenhub_core::input::problem(screenhub_core::input::Text::Id, &request.assessment_id)
    {
        return Err(StartRejection::invalid("assessment_id", &problem));
    }
    Ok(request)
}

/// Deserialize with the path of the first problem, turned into a sentence.
/// `is_email` picks the field whose absence gets the "no valid email" message.
fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    is_email: impl Fn(&str) -> bool,
) -> Result<T, StartRejection> {
    parse_json_keeping_body(body, is_email).map(|(value, _)| value)
}

/// [`parse_json`], also returning the whole body as a JSON value.
fn parse_json_keeping_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    is_email: impl Fn(&str) -> bool,
) -> Result<(T, Value), StartRejection> {
    if exceeds_depth(body, MAX_JSON_DEPTH) {
        return Err(StartRejection::unreadable(&format!(
            "its data is nested more than {MAX_JSON_DEPTH} levels deep"
        )));
    }
    // serde skips the fields it does not read without checking their bytes
    // (UTF-8) or escapes (lone surrogates), and the hub keeps the whole body,
    // so all of it must be JSON. (Found by fuzzing.)
    let Ok(whole) = serde_json::from_slice::<Value>(body) else {
        return Err(StartRejection::unreadable("it isn't valid JSON"));
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // A schema error in a body that is not JSON at all (e.g. `{"a":1} junk`)
        // is reported as what it is: not JSON.
        if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
            StartRejection::unreadable("it isn't valid JSON")
        } else {
            rejection_for(&e, &is_email)
        }
    })?;
    // Trailing bytes after the object mean the body was not one JSON document.
    de.end()
        .map_err(|_| StartRejection::unreadable("it isn't valid JSON"))?;
    Ok((value, whole))
}

fn rejection_for(
    err: &serde_path_to_error::Error<serde_json::Error>,
    is_email: &impl Fn(&str) -> bool,
) -> StartRejection {
    use serde_json::error::Category;
    let inner = err.inner();
    if !matches!(inner.classify(), Category::Data) {
        return StartRejection::unreadable("it isn't valid JSON");
    }
    let path = err.path().to_string();
    let path = (path != ".").then_some(path);
    // serde_json's message, without its " at line 1 column 42" suffix.
    let full = inner.to_string();
    let message = full.split(" at line ").next().unwrap_or(&full);

    if let Some(name) = between(message, "duplicate field `", "`") {
        return StartRejection::invalid(&join(path.as_deref(), name), "appears twice");
    }
    let (field, missing) = if let Some(name) = between(message, "missing field `", "`") {
        (join(path.as_deref(), name), true)
    } else {
        let Some(field) = path else {
            return StartRejection::unreadable("it isn't a JSON object");
        };
        (field, message.starts_with("invalid type: null"))
    };
    if is_email(&field) {
        return StartRejection::no_valid_email();
    }
    if missing {
        return StartRejection::incomplete(&field);
    }
    match message.split_once(", expected ") {
        Some((_, expected)) => {
            StartRejection::invalid(&field, &format!("should be {}", describe(expected)))
        }
        None => StartRejection::invalid(&field, "has a value that can't be used"),
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = s.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

fn join(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) => format!("{p}.{name}"),
        None => name.to_owned(),
    }
}

/// serde's "expected …" in plain words.
fn describe(expected: &str) -> &str {
    match expected {
        "a string" => "text",
        "a map" => "an object",
        "a sequence" => "a list",
        "a boolean" => "true or false",
        e if e.starts_with("struct ") => "an object",
        e => e,
    }
}

/// Does `body` nest arrays/objects deeper than `limit`? A byte scan that never
/// recurses, so no input can exhaust the stack. Malformed JSON is left to the parser.
pub fn exceeds_depth(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A reasonable syntactic check of an email address. Internationalised addresses
/// (non-ASCII local parts, IDN domains) are accepted; quoted local parts and IP
/// literals, which no real candidate uses, are not.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    valid_local_part(local) && valid_domain(domain)
}

fn valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.chars().any(|c| {
            matches!(
                c,
                '@' | '(' | ')' | '<' | '>' | '[' | ']' | '\\' | ',' | ';' | ':' | '"'
            )
        })
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    // IDNA processing catches what the label rules above let through (e.g. invalid
    // Unicode in a domain) and tells a domain from an IP address.
    labels_ok && matches!(url::Host::parse(domain), Ok(url::Host::Domain(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_request() -> Value {
        json!({
            "assessment_type_id": "6b2c8a3e-0f1d-5a4b-9c8d-7e6f5a4b3c2d",
            "candidate": {
                "ashby_id": "c-1",
                "first_name": "Zoë",
                "last_name": "Ñúñez",
                "email": "zoë.nunez@exämple.com",
                "ashby_profile_url": "https://app.ashbyhq.com/candidates/c-1"
            },
            "application": {"ashby_id": "a-1", "status": "Active"},
            "job": {
                "ashby_id": "j-1",
                "name": "Senior Backend Engineer",
                "req_id": "REQ-42",
                "ashby_job_url": "https://app.ashbyhq.com/jobs/j-1",
                "hiringTeam": [{"userId": "u-1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "role": "Hiring Manager"}]
            },
            "additional_fields": {"cf-1": "opt-2", "cf-2": {"nested": [1, 2]}}
        })
    }

    fn parse(v: &Value) -> Result<StartRequest, StartRejection> {
        parse_start_request(v.to_string().as_bytes())
    }

    fn without(mut v: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        v
    }

    fn with(mut v: Value, pointer: &str, value: Value) -> Value {
        *v.pointer_mut(pointer).unwrap() = value;
        v
    }

    #[test]
    fn parses_a_full_request() {
        let r = parse(&full_request()).unwrap();
        assert_eq!(r.candidate.first_name, "Zoë");
        assert_eq!(r.candidate.email, "zoë.nunez@exämple.com");
        assert_eq!(r.application.status, ApplicationStatus::Active);
        assert_eq!(r.job.req_id.as_deref(), Some("REQ-42"));
        let team = r.job.hiring_team.as_ref().unwrap();
        assert_eq!(team[0].user_id, "u-1");
        assert_eq!(team[0].role.as_deref(), Some("Hiring Manager"));
        assert_eq!(
            r.additional_fields.as_ref().unwrap()["cf-2"],
            json!({"nested": [1, 2]})
        );
        // What we read serialises back to Ashby's spelling.
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["job"]["hiringTeam"][0]["firstName"], "Ada");
    }

    #[test]
    fn optional_parts_may_be_absent_or_null() {
        let v = without(
            without(without(full_request(), "/job/hiringTeam"), "/job/req_id"),
            "/additional_fields",
        );
        let r = parse(&v).unwrap();
        assert!(
            r.job.hiring_team.is_none() && r.job.req_id.is_none() && r.additional_fields.is_none()
        );
        assert!(parse(&with(full_request(), "/job/req_id", Value::Null)).is_ok());
        // A hiring-team member without a name or email does not block a start.
        let sparse = with(
            full_request(),
            "/job/hiringTeam",
            json!([{"userId": "u-2", "email": null}]),
        );
        assert!(parse(&sparse).is_ok());
    }

    #[test]
    fn unknown_fields_are_accepted_everywhere() {
        let mut v = full_request();
        v["brand_new"] = json!(true);
        v["candidate"]["phone"] = json!("+1 555");
        v["job"]["hiringTeam"][0]["avatar"] = json!("x");
        v["application"]["stage"] = json!({"id": 1});
        assert!(parse(&v).is_ok());
        // And an application status Ashby adds later.
        let r = parse(&with(
            full_request(),
            "/application/status",
            json!("Interviewing"),
        ))
        .unwrap();
        assert_eq!(
            r.application.status,
            ApplicationStatus::Other("Interviewing".into())
        );
    }

    #[test]
    fn every_known_status_parses() {
        for s in ["Hired", "Archived", "Active", "Lead"] {
            let r = parse(&with(full_request(), "/application/status", json!(s))).unwrap();
            assert_eq!(r.application.status.as_str(), s);
            assert!(!matches!(r.application.status, ApplicationStatus::Other(_)));
        }
    }

    #[test]
    fn missing_email_gets_the_recruiter_message() {
        let expected = "This candidate has no valid email address in Ashby, so the check can't be sent. \
                        Add an email address to the candidate's profile and start the assessment again.";
        for v in [
            without(full_request(), "/candidate/email"),
            with(full_request(), "/candidate/email", Value::Null),
            with(full_request(), "/candidate/email", json!("")),
            with(full_request(), "/candidate/email", json!("not-an-email")),
            with(full_request(), "/candidate/email", json!(42)),
        ] {
            assert_eq!(parse(&v).unwrap_err().message, expected);
        }
    }

    #[test]
    fn missing_required_fields_are_named() {
        for (pointer, field) in [
            ("/job/name", "job.name"),
            ("/candidate/first_name", "candidate.first_name"),
            ("/application/status", "application.status"),
            ("/assessment_type_id", "assessment_type_id"),
            ("/job", "job"),
            ("/job/ashby_job_url", "job.ashby_job_url"),
        ] {
            let err = parse(&without(full_request(), pointer)).unwrap_err();
            assert_eq!(
                err.message,
                format!("Ashby sent an incomplete request: {field} is missing. Try again; if it keeps happening, contact the vendor's support.")
            );
        }
        let err = parse(&with(
            full_request(),
            "/job/hiringTeam",
            json!([{"firstName": "A"}]),
        ))
        .unwrap_err();
        assert!(
            err.message.contains("job.hiringTeam[0].userId is missing"),
            "{}",
            err.message
        );
        let err = parse(&with(full_request(), "/candidate", Value::Null)).unwrap_err();
        assert!(
            err.message.contains("candidate is missing"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let err = parse(&with(full_request(), "/job/name", json!(7))).unwrap_err();
        assert!(
            err.message.contains("job.name should be text"),
            "{}",
            err.message
        );
        let err = parse(&with(
            full_request(),
            "/job/hiringTeam",
            json!({"userId": "x"}),
        ))
        .unwrap_err();
        assert!(
            err.message.contains("job.hiringTeam should be a list"),
            "{}",
            err.message
        );
        let err = parse(&with(full_request(), "/additional_fields", json!([1]))).unwrap_err();
        assert!(
            err.message
                .contains("additional_fields should be an object"),
            "{}",
            err.message
        );
        let err = parse_start_request(b"[]").unwrap_err();
        assert!(
            err.message.contains("isn't a JSON object"),
            "{}",
            err.message
        );
    }

    #[test]
    fn empty_ids_and_bad_links_are_refused() {
        let err = parse(&with(full_request(), "/application/ashby_id", json!(" "))).unwrap_err();
        assert!(
            err.message.contains("application.ashby_id is empty"),
            "{}",
            err.message
        );
        let err = parse(&with(
            full_request(),
            "/candidate/ashby_profile_url",
            json!("javascript:alert(1)"),
        ))
        .unwrap_err();
        assert!(err
            .message
            .contains("candidate.ashby_profile_url is not a valid web address"));
    }

    #[test]
    fn malformed_json_is_a_plain_sentence() {
        for body in [&b"{"[..], b"not json", b"", b"{\"a\":1} trailing"] {
            let err = parse_start_request(body).unwrap_err();
            assert!(err
                .message
                .starts_with("Ashby sent a request that couldn't be read (it isn't valid JSON)"));
        }
        let err = parse_start_request(br#"{"assessment_type_id":"a","assessment_type_id":"b"}"#)
            .unwrap_err();
        assert!(
            err.message.contains("assessment_type_id appears twice"),
            "{}",
            err.message
        );
    }

    /// Found by fuzzing (fuzz/regressions/partner_request): bytes that are not
    /// UTF-8, or a lone surrogate escape, in a field the hub does not read
    /// passed, and the order then kept no copy of Ashby's request.
    #[test]
    fn unread_fields_must_be_valid_json_too() {
        let mut body = serde_json::to_vec(&full_request()).unwrap();
        body.pop(); // the closing brace
        body.extend_from_slice(b", \"unknown\": \"ro\xe2e\"}");
        let err = parse_start_request(&body).unwrap_err();
        assert!(err.message.contains("isn't valid JSON"), "{}", err.message);
        let mut body = serde_json::to_vec(&full_request()).unwrap();
        body.pop();
        body.extend_from_slice(br#", "unknown": "\uda0f"}"#);
        let err = parse_start_request(&body).unwrap_err();
        assert!(err.message.contains("isn't valid JSON"), "{}", err.message);
        let err = parse_cancel_request(b"{\"assessment_id\": \"a\", \"x\": \"\xff\"}").unwrap_err();
        assert!(err.message.contains("isn't valid JSON"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused_without_crashing() {
        let nest = |levels: usize| {
            let inner = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
            let mut v = full_request();
            v["additional_fields"] = json!({});
            v.to_string().replace(
                "\"additional_fields\":{}",
                &format!("\"additional_fields\":{{\"x\":{inner}}}"),
            )
        };
        // The root object and additional_fields are two levels.
        assert!(parse_start_request(nest(30).as_bytes()).is_ok());
        let err = parse_start_request(nest(31).as_bytes()).unwrap_err();
        assert!(
            err.message.contains("nested more than 32 levels"),
            "{}",
            err.message
        );
        let huge = "[".repeat(1_000_000);
        assert!(parse_start_request(huge.as_bytes())
            .unwrap_err()
            .message
            .contains("nested"));
        // Brackets inside strings do not count.
        assert!(!exceeds_depth(
            format!("{{\"a\":\"{}\\\"\"}}", "[".repeat(100)).as_bytes(),
            2
        ));
    }

    #[test]
    fn email_syntax() {
        for ok in [
            "a@b.co",
            "first.last+tag@example.com",
            "zoë.nunez@exämple.com",
            "用户@例子.广告",
            "o'connor@sub.example.ie",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a@b..com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@1.2.3.4",
            "a@[1.2.3.4]",
            "a\"b@c.com",
            "a@b_c.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(65))));
        // Surrounding whitespace is forgiven and trimmed.
        let r = parse(&with(full_request(), "/candidate/email", json!(" a@b.co "))).unwrap();
        assert_eq!(r.candidate.email, "a@b.co");
    }

    #[test]
    fn cancel_requests() {
        assert_eq!(
            parse_cancel_request(br#"{"assessment_id":"x","extra":1}"#)
                .unwrap()
                .assessment_id,
            "x"
        );
        assert!(parse_cancel_request(b"{}")
            .unwrap_err()
            .message
            .contains("assessment_id is missing"));
        assert!(parse_cancel_request(br#"{"assessment_id":""}"#)
            .unwrap_err()
            .message
            .contains("is empty"));
    }

    #[test]
    fn select_fields_need_options_with_keys_and_values() {
        let field = |r#type, possible_values: Option<Vec<(&str, &str)>>| CustomField {
            id: "cf".into(),
            name: "Field".into(),
            r#type,
            possible_values: possible_values.map(|vs| {
                vs.into_iter()
                    .map(|(key, value)| PossibleValue {
                        key: key.into(),
                        value: value.into(),
                    })
                    .collect()
            }),
            is_required: None,
        };
        for t in [
            CustomFieldType::ValueSelect,
            CustomFieldType::MultiValueSelect,
        ] {
            assert_eq!(
                field(t, Some(vec![("fr", "France")])).options_problem(),
                None
            );
            for bad in [None, Some(vec![])] {
                let problem = field(t, bad).options_problem().unwrap();
                assert!(
                    problem.starts_with(&format!("a {} field needs possible_values", t.as_str())),
                    "{problem}"
                );
            }
            let problem = field(t, Some(vec![("fr", "France"), (" ", "Spain")])).options_problem();
            assert!(problem
                .unwrap()
                .starts_with("possible_values[1].key is empty"));
            let problem = field(t, Some(vec![("fr", "")])).options_problem();
            assert!(problem
                .unwrap()
                .starts_with("possible_values[0].value is empty"));
        }
        assert_eq!(field(CustomFieldType::String, None).options_problem(), None);
    }

    #[test]
    fn responses_serialise_as_ashby_expects() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            serde_json::to_value(start_response(id, None)).unwrap(),
            json!({"success": true, "results": {"assessment_id": "00000000-0000-0000-0000-000000000000"}})
        );
        let list: ListResponse = SuccessEnvelope::new(vec![AssessmentType {
            assessment_type_id: id,
            name: "Basic".into(),
            description: "Identity and criminal".into(),
        }]);
        assert_eq!(
            serde_json::to_value(&list).unwrap()["results"][0]["assessment_type_id"],
            json!(id.to_string())
        );
        let fields = CustomFieldsResponse::new(vec![CustomField {
            id: "cf-1".into(),
            name: "Country".into(),
            r#type: CustomFieldType::ValueSelect,
            possible_values: Some(vec![PossibleValue {
                key: "fr".into(),
                value: "France".into(),
            }]),
            is_required: Some(true),
        }]);
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            json!({"success": true, "fields": [{"id": "cf-1", "name": "Country", "type": "ValueSelect",
                   "possible_values": [{"key": "fr", "value": "France"}], "isRequired": true}]})
        );
        for t in CustomFieldType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(CustomFieldType::parse(t.as_str()), Some(t));
        }
    }
}
