//! Ashby's wire types (in `screenhub-ashby`) to and from the hub's canonical
//! shapes: an `assessment.start` into an intake, an order into the
//! `assessment.update` that tells Ashby where it stands.

use screenhub_ashby::mapping::UpdateKind;
use screenhub_ashby::partner::AssessmentType;
use screenhub_ashby::{assessment_update, AssessmentUpdate, StartRequest};
use screenhub_core::intake::{Candidate, HiringTeamMember, Intake, Job};
use screenhub_core::order::OrderStatus;
use screenhub_store::{Order, Package};
use serde_json::{json, Value};

/// What the hub keeps of an `assessment.start`, normalized.
pub fn intake(request: &StartRequest) -> Intake {
    let c = &request.candidate;
    let j = &request.job;
    Intake {
        candidate: Candidate {
            ats_id: Some(c.ashby_id.clone()),
            ats_application_id: Some(request.application.ashby_id.clone()),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            preferred_name: None,
            email: c.email.trim().to_owned(),
            phone: None,
            profile_url: Some(c.ashby_profile_url.clone()),
        },
        job: Some(Job {
            ats_id: j.ashby_id.clone(),
            name: j.name.clone(),
            req_id: j.req_id.clone(),
            url: Some(j.ashby_job_url.clone()),
            hiring_team: j
                .hiring_team
                .iter()
                .flatten()
                .map(|m| HiringTeamMember {
                    user_id: m.user_id.clone(),
                    first_name: m.first_name.clone(),
                    last_name: m.last_name.clone(),
                    email: m.email.clone(),
                    role: m.role.clone(),
                })
                .collect(),
        }),
        application_status: Some(request.application.status.as_str().to_owned()),
        additional_fields: request.additional_fields.clone().map(Value::Object),
        ats_details: json!({}),
    }
}

/// The intake of a start kept before intakes were built (migration 0007):
/// the same conversion, from the stored request. A request that no longer
/// parses (it was accepted by an older, laxer hub) keeps what can be read.
pub fn intake_from_stored(request: &Value) -> Option<Intake> {
    if let Ok(parsed) = serde_json::from_value::<StartRequest>(request.clone()) {
        return Some(intake(&parsed));
    }
    let s = |path: &[&str]| {
        path.iter()
            .try_fold(request, |v, k| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(Intake {
        candidate: Candidate {
            ats_id: s(&["candidate", "ashby_id"]),
            ats_application_id: s(&["application", "ashby_id"]),
            first_name: s(&["candidate", "first_name"]).unwrap_or_default(),
            last_name: s(&["candidate", "last_name"]).unwrap_or_default(),
            preferred_name: None,
            email: s(&["candidate", "email"])
                .unwrap_or_default()
                .trim()
                .to_owned(),
            phone: None,
            profile_url: s(&["candidate", "ashby_profile_url"]),
        },
        job: None,
        application_status: s(&["application", "status"]),
        additional_fields: request.get("additional_fields").cloned(),
        ats_details: json!({}),
    })
}

/// A package as Ashby lists it: an Assessment Type with a stable UUID.
pub fn assessment_type(p: &Package) -> AssessmentType {
    AssessmentType {
        assessment_type_id: p.ats_type_id,
        name: p.name.clone(),
        description: p.description.clone(),
    }
}

/// The `assessment.update` that tells the ATS where an order stands now.
pub fn ats_update_for(order: &Order) -> Option<AssessmentUpdate> {
    let kind = match order.status {
        OrderStatus::Pending => UpdateKind::Started,
        OrderStatus::InProgress => UpdateKind::Progress {
            label: order.progress_label.as_deref(),
            eta_minutes: order.eta_minutes,
        },
        OrderStatus::Completed => UpdateKind::Completed(order.result.as_ref()?),
        OrderStatus::Cancelled => UpdateKind::Cancelled {
            reason: order.cancel_reason.as_deref().unwrap_or("Cancelled"),
        },
        OrderStatus::Failed => UpdateKind::Failed {
            reason: order.failure_reason.as_deref().unwrap_or("Unknown reason"),
        },
    };
    Some(assessment_update(
        order.id.0,
        order.last_ats_timestamp,
        kind,
    ))
}
