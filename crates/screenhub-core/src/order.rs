//! The order lifecycle. Status (where the check is) and outcome (the verdict) are
//! separate; terminal states never change, and a late or duplicate transition is
//! refused rather than silently applied.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    InProgress,
    Completed,
    Cancelled,
    Failed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Cancelled,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Failed)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of a completed order (and of each screening in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Needs a person to look (a background check's "consider").
    Review,
    /// No verdict, e.g. a score-only assessment.
    None,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Review => "review",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pass, Self::Fail, Self::Review, Self::None]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Score {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningResult {
    pub name: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the vendor reports when a check is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderResult {
    pub outcome: Outcome,
    /// The vendor's full report; Ashby shows it as the "Full Report" link.
    pub report_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenings: Vec<ScreeningResult>,
    /// Milliseconds since the epoch.
    pub completed_at: Millis,
}

/// Who asked for a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The employer's ATS (Ashby called `assessment.cancel`).
    Ats,
    /// The vendor (through the vendor API or dashboard).
    Vendor,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ats => "ats",
            Self::Vendor => "vendor",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ats" => Some(Self::Ats),
            "vendor" => Some(Self::Vendor),
            _ => None,
        }
    }
}

/// A change a vendor or the ATS asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The check is under way; may be repeated with a new label (progress updates).
    Progress {
        label: Option<String>,
        eta_minutes: Option<i64>,
    },
    Complete(OrderResult),
    Cancel {
        reason: String,
        by: Actor,
    },
    Fail {
        reason: String,
    },
}

impl Change {
    pub fn target_status(&self) -> OrderStatus {
        match self {
            Self::Progress { .. } => OrderStatus::InProgress,
            Self::Complete(_) => OrderStatus::Completed,
            Self::Cancel { .. } => OrderStatus::Cancelled,
            Self::Fail { .. } => OrderStatus::Failed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("this order is already {0}; a {0} order never changes")]
    Terminal(OrderStatus),
}

/// The status an order moves to, or why it may not. Every non-terminal status may
/// move to any later one; `in_progress` may repeat (a progress update).
pub fn transition(current: OrderStatus, change: &Change) -> Result<OrderStatus, TransitionError> {
    if current.is_terminal() {
        return Err(TransitionError::Terminal(current));
    }
    Ok(change.target_status())
}

/// The timestamp for the next update sent to the ATS: never earlier than now,
/// and strictly after the last one, so the ATS never sees an order move backwards.
pub fn next_ats_timestamp(last_sent: Millis, now: Millis) -> Millis {
    now.max(last_sent + 1)
}

/// Problems with a vendor's result or progress report, worded for the vendor's engineer.
pub fn validate_result(result: &OrderResult) -> Result<(), String> {
    validate_http_url(&result.report_url).map_err(|e| format!("report_url {e}"))?;
    if let Some(score) = &result.score {
        if !score.value.is_finite() {
            return Err("score.value must be a finite number".into());
        }
        if let Some(max) = score.max {
            if !max.is_finite() || max <= 0.0 {
                return Err("score.max must be a positive number".into());
            }
            if score.value > max {
                return Err(format!(
                    "score.value ({}) is above score.max ({max})",
                    score.value
                ));
            }
        }
    }
    for (i, s) in result.screenings.iter().enumerate() {
        if s.name.trim().is_empty() {
            return Err(format!("screenings[{i}].name must not be empty"));
        }
    }
    if let Some(summary) = &result.summary {
        if summary.len() > 4000 {
            return Err("summary is longer than 4000 characters".into());
        }
    }
    if result.screenings.len() > 100 {
        return Err("a result may carry at most 100 screenings".into());
    }
    Ok(())
}

/// An absolute http(s) URL, or a reason it is not one.
pub fn validate_http_url(raw: &str) -> Result<url::Url, String> {
    if raw.trim().is_empty() {
        return Err("is required".into());
    }
    if raw.len() > 2048 {
        return Err("is longer than 2048 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("must use http or https, not `{}`", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: Outcome, url: &str) -> OrderResult {
        OrderResult {
            outcome,
            report_url: url.into(),
            summary: None,
            score: None,
            screenings: vec![],
            completed_at: 0,
        }
    }

    #[test]
    fn terminal_states_never_change() {
        for terminal in [
            OrderStatus::Completed,
            OrderStatus::Cancelled,
            OrderStatus::Failed,
        ] {
            for change in [
                Change::Progress {
                    label: None,
                    eta_minutes: None,
                },
                Change::Complete(result(Outcome::Pass, "https://x.test/r")),
                Change::Cancel {
                    reason: "x".into(),
                    by: Actor::Ats,
                },
                Change::Fail { reason: "x".into() },
            ] {
                assert_eq!(
                    transition(terminal, &change),
                    Err(TransitionError::Terminal(terminal))
                );
            }
        }
    }

    #[test]
    fn progress_may_repeat_and_result_may_skip_progress() {
        let p = Change::Progress {
            label: Some("Invited".into()),
            eta_minutes: Some(60),
        };
        assert_eq!(
            transition(OrderStatus::Pending, &p),
            Ok(OrderStatus::InProgress)
        );
        assert_eq!(
            transition(OrderStatus::InProgress, &p),
            Ok(OrderStatus::InProgress)
        );
        let c = Change::Complete(result(Outcome::Fail, "https://x.test/r"));
        assert_eq!(
            transition(OrderStatus::Pending, &c),
            Ok(OrderStatus::Completed)
        );
    }

    #[test]
    fn ats_timestamps_strictly_increase() {
        assert_eq!(next_ats_timestamp(1000, 900), 1001);
        assert_eq!(next_ats_timestamp(1000, 5000), 5000);
        assert_eq!(next_ats_timestamp(1000, 1000), 1001);
    }

    #[test]
    fn results_need_an_http_report_url() {
        assert!(validate_result(&result(Outcome::Pass, "https://vendor.test/r/1")).is_ok());
        assert!(validate_result(&result(Outcome::Pass, ""))
            .unwrap_err()
            .contains("required"));
        assert!(
            validate_result(&result(Outcome::Pass, "javascript:alert(1)"))
                .unwrap_err()
                .contains("http or https")
        );
        assert!(validate_result(&result(Outcome::Pass, "not a url")).is_err());
        let mut r = result(Outcome::None, "https://v.test/r");
        r.score = Some(Score {
            value: 120.0,
            max: Some(100.0),
        });
        assert!(validate_result(&r).unwrap_err().contains("above"));
    }
}
