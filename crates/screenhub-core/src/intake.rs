//! What every connector makes of an inbound order: one normalized shape, built
//! once at intake, so the rest of the hub (and every vendor) reads the same
//! fields whichever ATS the order came from.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The candidate, as every ATS's connector normalizes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    /// The ATS's candidate id (`null` when the ATS did not say).
    pub ats_id: Option<String>,
    /// The ATS's application id (`null` when the ATS did not say).
    pub ats_application_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// The name the candidate goes by, when the ATS knows one.
    pub preferred_name: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    /// The candidate's page in the ATS (for the employer's staff).
    pub profile_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HiringTeamMember {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
}

/// The job the check is for, when the ATS sends one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub ats_id: String,
    pub name: String,
    pub req_id: Option<String>,
    pub url: Option<String>,
    pub hiring_team: Vec<HiringTeamMember>,
}

/// The personal part of an order, sealed at rest and purged after retention.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Intake {
    pub candidate: Candidate,
    /// `None`: the ATS sends no job (Greenhouse).
    pub job: Option<Job>,
    /// The application's status in the ATS, when it says (Ashby: `Active`, …).
    pub application_status: Option<String>,
    /// Custom-field values the ATS sent (field id → value).
    pub additional_fields: Option<Value>,
    /// What only this ATS sends that a vendor may still want, as a flat-ish
    /// object named by the connector (`ats_details` in the vendor API).
    pub ats_details: Value,
}
