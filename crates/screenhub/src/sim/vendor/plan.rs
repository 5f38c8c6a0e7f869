//! What the reference vendor decides to do with an order. Pure: no I/O, the
//! random generator is passed in, so every choice can be tested and replayed.

use std::collections::HashMap;

use rand::Rng;
use serde::Serialize;

/// What the vendor sells: synced to the hub as packages, shown in Ashby as
/// Assessment Types.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogItem {
    pub id: &'static str,
    pub kind: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub screenings: &'static [&'static str],
}

pub const CATALOG: &[CatalogItem] = &[
    CatalogItem {
        id: "standard-background",
        kind: "background_check",
        name: "Standard background check",
        description: "Identity, county criminal search and employment history",
        screenings: &[
            "Identity verification",
            "County criminal search",
            "Employment history",
        ],
    },
    CatalogItem {
        id: "driving-record",
        kind: "background_check",
        name: "Motor vehicle record",
        description: "Driving licence status and violations",
        screenings: &["Driving licence check"],
    },
    CatalogItem {
        id: "coding-assessment",
        kind: "assessment",
        name: "Coding assessment",
        description: "A 90-minute take-home exercise, scored out of 100",
        screenings: &[],
    },
];

pub fn catalog_item(package_id: &str) -> Option<&'static CatalogItem> {
    CATALOG.iter().find(|c| c.id == package_id)
}

/// How an order ends. Every path the hub and Ashby know is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Completed, outcome `pass`.
    Pass,
    /// Completed, outcome `fail`.
    Fail,
    /// Completed, outcome `review` (a background check's "consider").
    Review,
    /// Completed with a score and no verdict (outcome `none`).
    Scored,
    /// The check could not be done: status `failed`.
    Failed,
    /// The vendor cancels (the candidate withdrew consent).
    VendorCancel,
    /// The vendor starts and then waits: the candidate never finishes, so
    /// only a cancel from Ashby ends it.
    Hold,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Self::Pass,
        Self::Fail,
        Self::Review,
        Self::Scored,
        Self::Failed,
        Self::VendorCancel,
        Self::Hold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Review => "review",
            Self::Scored => "scored",
            Self::Failed => "failed",
            Self::VendorCancel => "cancel",
            Self::Hold => "hold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How the vendor picks a scenario when the candidate's email does not name one.
#[derive(Debug, Clone, Default)]
pub struct OutcomePolicy {
    /// Package id → scenario.
    pub per_package: HashMap<String, Scenario>,
}

impl OutcomePolicy {
    /// Like sandbox modes of real screening vendors, a `+tag` in the candidate's
    /// email forces a scenario (`ada+review@example.com`); then the package's
    /// setting; then chance: mostly clear, sometimes not.
    pub fn choose(&self, email: &str, package_id: &str, rng: &mut impl Rng) -> Scenario {
        if let Some(s) = email_tag(email).and_then(Scenario::parse) {
            return s;
        }
        if let Some(s) = self.per_package.get(package_id) {
            return *s;
        }
        let is_assessment = catalog_item(package_id).is_some_and(|c| c.kind == "assessment");
        match rng.gen_range(0..10) {
            _ if is_assessment => Scenario::Scored,
            0..=5 => Scenario::Pass,
            6 | 7 => Scenario::Review,
            _ => Scenario::Fail,
        }
    }
}

fn email_tag(email: &str) -> Option<&str> {
    let local = email.split('@').next()?;
    local.split_once('+').map(|(_, tag)| tag)
}

/// The result body for `PUT /v1/orders/{id}/result`, without `report_url`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultPlan {
    /// `pass`, `fail`, `review` or `none`.
    pub outcome: &'static str,
    pub summary: String,
    pub score: Option<Score>,
    pub screenings: Vec<Screening>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub value: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Screening {
    pub name: String,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The per-screening results behind a completed scenario: for `fail` and
/// `review`, one screening carries the finding; the others are clear.
pub fn result_for(scenario: Scenario, package_id: &str, rng: &mut impl Rng) -> Option<ResultPlan> {
    let outcome = match scenario {
        Scenario::Pass => "pass",
        Scenario::Fail => "fail",
        Scenario::Review => "review",
        Scenario::Scored => "none",
        Scenario::Failed | Scenario::VendorCancel | Scenario::Hold => return None,
    };
    let names = catalog_item(package_id).map_or(&[][..], |c| c.screenings);
    let flagged = (!names.is_empty()).then(|| rng.gen_range(0..names.len()));
    let screenings = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (outcome, detail) = match (scenario, Some(i) == flagged) {
                (Scenario::Fail, true) => (
                    "fail",
                    Some("Record found that does not meet the employer's criteria"),
                ),
                (Scenario::Review, true) => (
                    "review",
                    Some("Possible name match; needs a person to look"),
                ),
                _ => ("pass", None),
            };
            Screening {
                name: (*name).to_owned(),
                outcome,
                detail: detail.map(str::to_owned),
            }
        })
        .collect();
    let score = (scenario == Scenario::Scored || names.is_empty()).then(|| Score {
        value: f64::from(rng.gen_range(40..=100_u32)),
        max: 100.0,
    });
    let summary = match scenario {
        Scenario::Pass => "All screenings clear",
        Scenario::Fail => "A screening did not meet the criteria",
        Scenario::Review => "A screening needs review",
        _ => "Assessment scored",
    }
    .to_owned();
    Some(ResultPlan {
        outcome,
        summary,
        score,
        screenings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn an_email_tag_wins_over_the_package_setting() {
        let mut rng = StdRng::seed_from_u64(1);
        let policy = OutcomePolicy {
            per_package: HashMap::from([("driving-record".to_owned(), Scenario::Fail)]),
        };
        assert_eq!(
            policy.choose("ada+hold@example.com", "driving-record", &mut rng),
            Scenario::Hold
        );
        assert_eq!(
            policy.choose("ada@example.com", "driving-record", &mut rng),
            Scenario::Fail
        );
        assert_eq!(
            policy.choose("ada+unknown@example.com", "coding-assessment", &mut rng),
            Scenario::Scored
        );
    }

    #[test]
    fn a_failing_result_flags_exactly_one_screening() {
        let mut rng = StdRng::seed_from_u64(2);
        let plan = result_for(Scenario::Fail, "standard-background", &mut rng).unwrap();
        assert_eq!(plan.outcome, "fail");
        assert_eq!(plan.screenings.len(), 3);
        assert_eq!(
            plan.screenings
                .iter()
                .filter(|s| s.outcome == "fail")
                .count(),
            1
        );
        assert!(plan.score.is_none());
        let scored = result_for(Scenario::Scored, "coding-assessment", &mut rng).unwrap();
        assert_eq!(scored.outcome, "none");
        assert!(scored.score.as_ref().is_some_and(|s| s.value <= s.max));
        assert!(result_for(Scenario::Hold, "coding-assessment", &mut rng).is_none());
    }
}
