//! From an order change to the `assessment.update` the hub sends Ashby. Pure
//! functions: the caller picks the timestamp (strictly increasing per order).
//!
//! Identifiers never depend on anything but the field they name, so a later update
//! overwrites the same field in Ashby instead of adding a second one.

use std::collections::HashSet;

use screenhub_core::order::{OrderResult, Outcome, Score};

use crate::public::{AssessmentUpdate, DataValue};

/// Identifiers and labels of the fields the hub sends.
pub mod ids {
    pub const STATUS: &str = "status";
    pub const RESULT: &str = "result";
    pub const REPORT: &str = "report";
    pub const CANCELLED_REASON: &str = "cancelled_reason";
    pub const SCORE: &str = "score";
    pub const SCORE_MAX: &str = "score_max";
    pub const SUMMARY: &str = "summary";
    /// Prefix of one field per screening in a result.
    pub const SCREENING_PREFIX: &str = "screening_";
}

/// How the cancellation reason of a failed check begins: Ashby has no
/// "failed" state, and this is how Ashby's users (and the demo) tell one.
pub const FAILED_REASON: &str = "Could not be completed";

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UpdateKind<'a> {
    /// The hub accepted the start; Ashby records the start time.
    Started,
    Progress {
        label: Option<&'a str>,
        eta_minutes: Option<i64>,
    },
    Completed(&'a OrderResult),
    Cancelled {
        reason: &'a str,
    },
    /// The vendor could not complete the check; Ashby has no "failed" state, so
    /// this is sent as a cancellation that says why.
    Failed {
        reason: &'a str,
    },
}

/// The `assessment.update` body for one order change.
pub fn assessment_update(
    assessment_id: uuid::Uuid,
    timestamp_ms: i64,
    kind: UpdateKind<'_>,
) -> AssessmentUpdate {
    let mut update = AssessmentUpdate::new(assessment_id.hyphenated().to_string(), timestamp_ms);
    match kind {
        UpdateKind::Started => update.assessment_status = Some(status("Started")),
        UpdateKind::Progress { label, eta_minutes } => {
            let label = label
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .unwrap_or("In progress");
            // The ETA goes in the status text, not in a metadata field: Ashby
            // keeps a metadata field until it is overwritten and has no way to
            // remove one, so a finished check would go on showing time
            // remaining. The status is replaced by every later update.
            let text = match eta_minutes {
                Some(eta) => format!("{label} ({})", time_left(eta)),
                None => label.to_owned(),
            };
            update.assessment_status = Some(status(&text));
        }
        UpdateKind::Completed(result) => {
            update.assessment_status = Some(status("Completed"));
            update.assessment_result = Some(result_value(result));
            update.assessment_profile_url = Some(DataValue::url(
                ids::REPORT,
                "Full Report",
                &result.report_url,
            ));
            let metadata = result_metadata(result);
            update.metadata = (!metadata.is_empty()).then_some(metadata);
        }
        UpdateKind::Cancelled { reason } => {
            let reason = reason.trim();
            let text = if reason.is_empty() {
                "Cancelled"
            } else {
                reason
            };
            update.cancelled_reason = Some(cancelled(text));
        }
        UpdateKind::Failed { reason } => {
            let reason = reason.trim();
            let text = if reason.is_empty() {
                FAILED_REASON.to_owned()
            } else {
                format!("{FAILED_REASON}: {reason}")
            };
            update.cancelled_reason = Some(cancelled(text));
        }
    }
    update
}

/// `about 5 minutes left`, `about 3 hours left`, `about 2 days left`.
pub fn time_left(minutes: i64) -> String {
    let (n, unit) = match minutes.max(0) {
        0 => return "finishing".to_owned(),
        m if m < 120 => (m, "minute"),
        m if m < 48 * 60 => ((m + 30) / 60, "hour"),
        m => ((m + 12 * 60) / (24 * 60), "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("about {n} {unit}{plural} left")
}

fn status(text: &str) -> DataValue {
    DataValue::string(ids::STATUS, "Status", text)
}

fn cancelled(text: impl Into<String>) -> DataValue {
    DataValue::string(ids::CANCELLED_REASON, "Cancelled", text)
}

fn result_value(result: &OrderResult) -> DataValue {
    match result.outcome {
        Outcome::Pass => DataValue::boolean_success(ids::RESULT, "Result", true),
        Outcome::Fail => DataValue::boolean_success(ids::RESULT, "Result", false),
        Outcome::Review => DataValue::string(ids::RESULT, "Result", "Needs review"),
        Outcome::None => {
            let text = result
                .score
                .as_ref()
                .map_or_else(|| "Completed".to_owned(), score_text);
            DataValue::string(ids::RESULT, "Result", text)
        }
    }
}

/// `87 / 100`, or `87` without a maximum.
pub fn score_text(score: &Score) -> String {
    match score.max {
        Some(max) => format!("{} / {}", number_text(score.value), number_text(max)),
        None => number_text(score.value),
    }
}

/// `87` rather than `87.0`; `87.5` stays as it is.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn result_metadata(result: &OrderResult) -> Vec<DataValue> {
    let mut metadata = Vec::new();
    if let Some(score) = &result.score {
        metadata.push(DataValue::numeric_score(ids::SCORE, "Score", score.value));
        if let Some(max) = score.max {
            metadata.push(DataValue::numeric_score(
                ids::SCORE_MAX,
                "Maximum score",
                max,
            ));
        }
    }
    if let Some(summary) = result
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        metadata.push(DataValue::string(ids::SUMMARY, "Summary", summary));
    }
    let mut used = HashSet::new();
    for screening in &result.screenings {
        let identifier = unique(
            &mut used,
            format!("{}{}", ids::SCREENING_PREFIX, slug(&screening.name)),
        );
        let value = match screening.outcome {
            Outcome::Pass => DataValue::boolean_success(&identifier, &screening.name, true),
            Outcome::Fail => DataValue::boolean_success(&identifier, &screening.name, false),
            Outcome::Review => DataValue::string(&identifier, &screening.name, "Needs review"),
            Outcome::None => DataValue::string(&identifier, &screening.name, "No verdict"),
        };
        let detail = screening
            .detail
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        metadata.push(value.with_description(detail.map(str::to_owned)));
    }
    metadata
}

/// `base`, or `base_2`, `base_3`… — the first not yet used.
fn unique(used: &mut HashSet<String>, base: String) -> String {
    let mut candidate = base.clone();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

/// A stable ASCII key for a screening name: lowercase letters and digits joined
/// by `_`, with common Latin accents folded ("Vérification d'identité" →
/// `verification_d_identite`). A name with no Latin letters at all (e.g. "犯罪歴")
/// gets a short hash of itself, which is just as stable.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut pending_sep = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = fold(c);
        if folded.is_empty() {
            pending_sep = !out.is_empty();
            continue;
        }
        if pending_sep {
            out.push('_');
            pending_sep = false;
        }
        out.push_str(folded);
    }
    // Keep identifiers short; cut on a char boundary (everything here is ASCII).
    out.truncate(48);
    let out = out.trim_end_matches('_').to_owned();
    if out.is_empty() {
        format!("x{:08x}", fnv1a(name) as u32)
    } else {
        out
    }
}

/// A lowercase character as ASCII letters or digits, or "" for a separator.
fn fold(c: char) -> &'static str {
    const ASCII: [&str; 36] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ];
    match c {
        'a'..='z' => ASCII[c as usize - 'a' as usize],
        '0'..='9' => ASCII[26 + c as usize - '0' as usize],
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => "",
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::DataValueType;
    use crate::validate::validate_update;
    use screenhub_core::order::ScreeningResult;
    use serde_json::{json, Value};

    const TS: i64 = 1_700_000_000_000;

    fn id() -> uuid::Uuid {
        uuid::Uuid::parse_str("0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e").unwrap()
    }

    fn result(outcome: Outcome) -> OrderResult {
        OrderResult {
            outcome,
            report_url: "https://vendor.example/reports/42".into(),
            summary: None,
            score: None,
            screenings: vec![],
            completed_at: TS,
        }
    }

    /// Every update built here must pass the strict validator, and round-trip.
    fn build(kind: UpdateKind<'_>) -> AssessmentUpdate {
        let update = assessment_update(id(), TS, kind);
        let checked = validate_update(&update.to_json())
            .unwrap_or_else(|e| panic!("{kind:?} is invalid: {e}"));
        assert_eq!(checked, update);
        update
    }

    fn meta(update: &AssessmentUpdate) -> Vec<(String, DataValueType, Value)> {
        update
            .metadata
            .iter()
            .flatten()
            .map(|m| (m.identifier.clone(), m.r#type, m.value.clone()))
            .collect()
    }

    #[test]
    fn started() {
        let u = build(UpdateKind::Started);
        assert_eq!(u.assessment_id, "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e");
        assert_eq!(u.timestamp, TS);
        assert_eq!(
            u.assessment_status,
            Some(DataValue::string("status", "Status", "Started"))
        );
        assert!(
            u.assessment_result.is_none() && u.metadata.is_none() && u.cancelled_reason.is_none()
        );
        assert_eq!(
            u.to_json(),
            json!({"assessment_id": "0190f5c2-7a1e-7b3c-9d4e-5f6a7b8c9d0e", "timestamp": TS,
                   "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Started"}})
        );
    }

    #[test]
    fn progress_with_and_without_label_and_eta() {
        let u = build(UpdateKind::Progress {
            label: None,
            eta_minutes: None,
        });
        assert_eq!(u.assessment_status.unwrap().value, json!("In progress"));
        assert!(u.metadata.is_none());

        let u = build(UpdateKind::Progress {
            label: Some("  "),
            eta_minutes: None,
        });
        assert_eq!(u.assessment_status.unwrap().value, json!("In progress"));

        let u = build(UpdateKind::Progress {
            label: Some("Candidate invited"),
            eta_minutes: Some(90),
        });
        assert_eq!(
            u.assessment_status.as_ref().unwrap().value,
            json!("Candidate invited (about 90 minutes left)")
        );
        assert!(u.metadata.is_none(), "no field that outlives the progress");
        let status_with = |eta| {
            build(UpdateKind::Progress {
                label: None,
                eta_minutes: Some(eta),
            })
            .assessment_status
            .unwrap()
            .value
        };
        assert_eq!(status_with(-5), json!("In progress (finishing)"));
        assert_eq!(status_with(1), json!("In progress (about 1 minute left)"));
        assert_eq!(status_with(150), json!("In progress (about 3 hours left)"));
        assert_eq!(
            status_with(3 * 24 * 60),
            json!("In progress (about 3 days left)")
        );
    }

    #[test]
    fn completed_pass_and_fail_are_boolean_success() {
        for (outcome, success) in [(Outcome::Pass, true), (Outcome::Fail, false)] {
            let r = result(outcome);
            let u = build(UpdateKind::Completed(&r));
            assert_eq!(
                u.assessment_status.as_ref().unwrap().value,
                json!("Completed")
            );
            assert_eq!(
                u.assessment_result,
                Some(DataValue::boolean_success("result", "Result", success))
            );
            assert_eq!(
                u.assessment_profile_url,
                Some(DataValue::url(
                    "report",
                    "Full Report",
                    "https://vendor.example/reports/42"
                ))
            );
            assert!(u.metadata.is_none());
        }
    }

    #[test]
    fn completed_review_and_none() {
        let r = result(Outcome::Review);
        let u = build(UpdateKind::Completed(&r));
        assert_eq!(
            u.assessment_result,
            Some(DataValue::string("result", "Result", "Needs review"))
        );

        let r = result(Outcome::None);
        let u = build(UpdateKind::Completed(&r));
        assert_eq!(
            u.assessment_result,
            Some(DataValue::string("result", "Result", "Completed"))
        );

        let mut r = result(Outcome::None);
        r.score = Some(Score {
            value: 87.0,
            max: Some(100.0),
        });
        let u = build(UpdateKind::Completed(&r));
        assert_eq!(
            u.assessment_result.as_ref().unwrap().value,
            json!("87 / 100")
        );
        assert_eq!(
            meta(&u),
            vec![
                ("score".into(), DataValueType::NumericScore, json!(87)),
                ("score_max".into(), DataValueType::NumericScore, json!(100)),
            ]
        );
        assert_eq!(u.metadata.unwrap()[1].label, "Maximum score");

        r.score = Some(Score {
            value: 7.5,
            max: None,
        });
        let u = build(UpdateKind::Completed(&r));
        assert_eq!(u.assessment_result.as_ref().unwrap().value, json!("7.5"));
        assert_eq!(
            meta(&u),
            vec![("score".into(), DataValueType::NumericScore, json!(7.5))]
        );
    }

    #[test]
    fn completed_with_summary_and_screenings() {
        let mut r = result(Outcome::Review);
        r.summary = Some("One record to look at.".into());
        r.screenings = vec![
            ScreeningResult {
                name: "Identity".into(),
                outcome: Outcome::Pass,
                detail: Some("Matched passport".into()),
            },
            ScreeningResult {
                name: "Criminal record (county)".into(),
                outcome: Outcome::Fail,
                detail: None,
            },
            ScreeningResult {
                name: "Vérification d'identité".into(),
                outcome: Outcome::Review,
                detail: Some(" ".into()),
            },
            ScreeningResult {
                name: "Credit".into(),
                outcome: Outcome::None,
                detail: None,
            },
            ScreeningResult {
                name: "identity".into(),
                outcome: Outcome::Pass,
                detail: None,
            },
            ScreeningResult {
                name: "Identity!".into(),
                outcome: Outcome::Pass,
                detail: None,
            },
            ScreeningResult {
                name: "犯罪歴".into(),
                outcome: Outcome::Pass,
                detail: None,
            },
        ];
        let u = build(UpdateKind::Completed(&r));
        let m = meta(&u);
        assert_eq!(
            m[0],
            (
                "summary".into(),
                DataValueType::String,
                json!("One record to look at.")
            )
        );
        assert_eq!(
            m[1],
            (
                "screening_identity".into(),
                DataValueType::BooleanSuccess,
                json!(true)
            )
        );
        assert_eq!(
            m[2],
            (
                "screening_criminal_record_county".into(),
                DataValueType::BooleanSuccess,
                json!(false)
            )
        );
        assert_eq!(
            m[3],
            (
                "screening_verification_d_identite".into(),
                DataValueType::String,
                json!("Needs review")
            )
        );
        assert_eq!(
            m[4],
            (
                "screening_credit".into(),
                DataValueType::String,
                json!("No verdict")
            )
        );
        assert_eq!(m[5].0, "screening_identity_2");
        assert_eq!(m[6].0, "screening_identity_3");
        assert!(m[7].0.starts_with("screening_x") && m[7].0.len() == "screening_x".len() + 8);

        let metadata = u.metadata.unwrap();
        assert_eq!(metadata[1].label, "Identity");
        assert_eq!(metadata[1].description.as_deref(), Some("Matched passport"));
        assert_eq!(metadata[3].label, "Vérification d'identité");
        assert_eq!(metadata[3].description, None);
    }

    #[test]
    fn identifiers_are_stable_across_updates() {
        let mut r = result(Outcome::Pass);
        r.screenings = vec![ScreeningResult {
            name: "Employment history".into(),
            outcome: Outcome::Pass,
            detail: None,
        }];
        let a = build(UpdateKind::Completed(&r));
        let b = assessment_update(id(), TS + 1, UpdateKind::Completed(&r));
        assert_eq!(meta(&a), meta(&b));
        assert_eq!(slug("犯罪歴"), slug("犯罪歴"));
        assert_ne!(slug("犯罪歴"), slug("学歴"));
    }

    #[test]
    fn suffixes_never_clash_with_natural_names() {
        let mut r = result(Outcome::Pass);
        r.screenings = ["A 2", "A", "A"]
            .into_iter()
            .map(|n| ScreeningResult {
                name: n.into(),
                outcome: Outcome::Pass,
                detail: None,
            })
            .collect();
        let u = build(UpdateKind::Completed(&r));
        let ids: Vec<_> = meta(&u).into_iter().map(|m| m.0).collect();
        assert_eq!(ids, ["screening_a_2", "screening_a", "screening_a_3"]);
    }

    #[test]
    fn cancelled_and_failed() {
        let u = build(UpdateKind::Cancelled {
            reason: "Candidate withdrew",
        });
        assert_eq!(
            u.cancelled_reason,
            Some(DataValue::string(
                "cancelled_reason",
                "Cancelled",
                "Candidate withdrew"
            ))
        );
        assert!(
            u.assessment_status.is_none() && u.assessment_result.is_none() && u.metadata.is_none()
        );

        let u = build(UpdateKind::Cancelled { reason: "" });
        assert_eq!(u.cancelled_reason.unwrap().value, json!("Cancelled"));

        let u = build(UpdateKind::Failed {
            reason: "the candidate's ID could not be verified",
        });
        assert_eq!(
            u.cancelled_reason,
            Some(DataValue::string(
                "cancelled_reason",
                "Cancelled",
                "Could not be completed: the candidate's ID could not be verified"
            ))
        );
        assert!(u.assessment_status.is_none());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("  Motor Vehicle Record  "), "motor_vehicle_record");
        assert_eq!(slug("Straße & Œuvre"), "strasse_oeuvre");
        assert_eq!(slug("ÉDUCATION"), "education");
        assert!(slug(&"long name ".repeat(20)).len() <= 48);
        assert!(!slug(&"ab ".repeat(30)).ends_with('_'));
    }
}
