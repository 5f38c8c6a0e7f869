//! Outbound deliveries and how an HTTP answer is judged.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryTarget {
    /// A signed webhook to one of the vendor's endpoints.
    Vendor,
    /// An update pushed to the employer's ATS.
    Ats,
}

impl DeliveryTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vendor => "vendor",
            Self::Ats => "ats",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vendor" => Some(Self::Vendor),
            "ats" => Some(Self::Ats),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    Succeeded,
    /// Refused for good by the receiver (a 4xx, or Ashby's `success:false`).
    Failed,
    /// Every attempt in the retry schedule failed.
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [Self::Pending, Self::Succeeded, Self::Failed, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What one attempt's answer means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again; `retry_after_ms` is the receiver's own `Retry-After`.
    Retry {
        retry_after_ms: Option<i64>,
    },
    /// Trying again would give the same answer.
    Permanent,
}

/// Judge an HTTP status: 2xx delivered; 408, 429 and 5xx retried; any other
/// answer (other 4xx, or a redirect, which is never followed) is permanent.
pub fn verdict_for_status(status: u16, retry_after_ms: Option<i64>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry { retry_after_ms },
        _ => Verdict::Permanent,
    }
}

/// Parse a `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some((secs.min(86_400) * 1000) as i64);
    }
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|at| (at.timestamp_millis() - now_ms).clamp(0, 86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(verdict_for_status(204, None), Verdict::Delivered);
        assert_eq!(
            verdict_for_status(429, Some(5)),
            Verdict::Retry {
                retry_after_ms: Some(5)
            }
        );
        assert_eq!(
            verdict_for_status(503, None),
            Verdict::Retry {
                retry_after_ms: None
            }
        );
        assert_eq!(
            verdict_for_status(408, None),
            Verdict::Retry {
                retry_after_ms: None
            }
        );
        assert_eq!(verdict_for_status(400, None), Verdict::Permanent);
        assert_eq!(verdict_for_status(301, None), Verdict::Permanent);
    }

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after("3", 0), Some(3000));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 0),
            Some(10_000)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
