//! The conformance outcome of the notes' checklist (point 12): a partner
//! passes when every take-home test ends with a frozen `complete` whose report
//! URL opens, no `response_error` was needed, no PATCH used a wrong
//! credential, and no tenancy probe saw another organisation's interview.

use serde::Serialize;

use super::state::PatchCredential;
use super::GreenhouseSim;

#[derive(Debug, Clone, Serialize)]
pub struct Conformance {
    pub passed: bool,
    pub interviews: usize,
    pub complete: usize,
    /// Take-home tests with no frozen `complete` (still open, failed to send, or stopped).
    pub not_complete: Vec<u64>,
    pub response_errors: usize,
    pub wrong_credential_patches: usize,
    /// Report links that did not answer 2xx, with what they answered.
    pub broken_report_urls: Vec<String>,
    /// Probes that got something other than 404 for a foreign id.
    pub tenancy_leaks: usize,
    pub warnings: Vec<String>,
}

impl GreenhouseSim {
    pub async fn conformance(&self) -> Conformance {
        let interviews = self.interviews();
        let (response_errors, wrong_credential_patches, tenancy_leaks) = {
            let state = self.state();
            (
                state.response_errors.len(),
                state
                    .patches
                    .iter()
                    .filter(|p| p.credential != PatchCredential::Partner)
                    .count(),
                state
                    .calls
                    .iter()
                    .filter(|c| c.probe && !c.errors.is_empty())
                    .count(),
            )
        };
        let mut broken_report_urls = Vec::new();
        let mut complete = 0;
        let mut not_complete = Vec::new();
        let mut warnings = Vec::new();
        for i in &interviews {
            warnings.extend(
                i.warnings
                    .iter()
                    .map(|w| format!("take-home test {}: {w}", i.take_home_test_id)),
            );
            let Some(url) = i
                .frozen
                .as_ref()
                .and_then(|f| f.partner_profile_url.clone())
            else {
                not_complete.push(i.take_home_test_id);
                continue;
            };
            complete += 1;
            match self.http().get(&url).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    broken_report_urls.push(format!("{url} answered HTTP {}", r.status().as_u16()))
                }
                Err(e) => broken_report_urls.push(format!(
                    "{url}: {}",
                    crate::outbound::describe_transport_error(&e)
                )),
            }
        }
        Conformance {
            passed: !interviews.is_empty()
                && not_complete.is_empty()
                && response_errors == 0
                && wrong_credential_patches == 0
                && broken_report_urls.is_empty()
                && tenancy_leaks == 0,
            interviews: interviews.len(),
            complete,
            not_complete,
            response_errors,
            wrong_credential_patches,
            broken_report_urls,
            tenancy_leaks,
            warnings,
        }
    }
}
