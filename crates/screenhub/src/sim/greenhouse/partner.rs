//! The sim playing Greenhouse towards the partner: `list_tests`, `send_test`,
//! `test_status` sent the way Greenhouse sends them, every answer checked
//! (`wire`), and a `response_error` posted for each invalid one.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::faults::LostReply;
use super::state::{
    push_bounded, CallRecord, CandidateStatus, Interview, Org, PartnerSettings, PostedError,
    StopReason, HOUR_MS, MAX_INTERVIEWS, READ_WINDOW_MS,
};
use super::wire::{self, ListedTest, ResponseError, SendTestCandidate, SendTestRequest};
use super::{GreenhouseSim, TAKE_HOME_TESTS_PATH};

const SIM_USER_AGENT: &str = "Greenhouse-Assessments (screenhub sim)";
/// Answers are kept in the record up to this size.
const MAX_RECORDED_BODY: usize = 16 * 1024;
/// An answer larger than this is not read to the end.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error(
        "no partner is set; set one with PUT /_sim/partner {{\"base_url\", \"patch_username\", \"patch_password\"}}"
    )]
    PartnerNotConfigured,
    #[error("no organisation {0}")]
    UnknownOrg(String),
    #[error("no candidate {0}")]
    UnknownCandidate(u64),
    #[error("no take-home test {0}")]
    UnknownInterview(u64),
    #[error("the job of {0} has no partner stage yet; add one with PUT /_sim/orgs/{0}/stage {{\"partner_test_id\": …}}")]
    NoStage(String),
    #[error("take-home test {0} has no partner_interview_id: its send_test did not succeed")]
    NotSent(u64),
    #[error("take-home test {0} is frozen: its complete result was read; ask with {{\"force\": true}} to re-read")]
    Frozen(u64),
    #[error("take-home test {0} was sent more than 8 weeks ago: Greenhouse reads it no more")]
    Expired(u64),
    #[error("{0}")]
    InvalidRequest(String),
}

/// What the recruiter chose when clicking *Send Test*; the stage's test by default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendOptions {
    /// Another test than the stage's (e.g. one the partner never listed).
    pub partner_test_id: Option<String>,
    /// The sender's email; the organisation's recruiter when absent, `null` when empty.
    pub sent_by: Option<String>,
}

/// A `list_tests` call and the tests it offered.
#[derive(Debug, Clone, Serialize)]
pub struct ListOutcome {
    pub call: CallRecord,
    pub tests: Vec<ListedTest>,
}

/// One HTTP exchange with the partner.
struct Exchange {
    status: Option<u16>,
    bytes: Vec<u8>,
    duration_ms: u64,
    transport: Option<String>,
}

impl GreenhouseSim {
    fn partner_and_org(&self, org_id: &str) -> Result<(PartnerSettings, Org), SimError> {
        let state = self.state();
        let partner = state
            .partner
            .clone()
            .ok_or(SimError::PartnerNotConfigured)?;
        let org = state
            .org(org_id)
            .cloned()
            .ok_or_else(|| SimError::UnknownOrg(org_id.to_owned()))?;
        Ok((partner, org))
    }

    async fn exchange(
        &self,
        org: &Org,
        method: Method,
        url: &str,
        query: Option<(&str, &str)>,
        body: Option<&Value>,
    ) -> Exchange {
        let started = Instant::now();
        let mut request = self
            .http()
            .request(method, url)
            .header(
                AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(format!("{}:", org.key))),
            )
            .header(USER_AGENT, SIM_USER_AGENT);
        if let Some(query) = query {
            request = request.query(&[query]);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let outcome = match request.send().await {
            Ok(response) => read_capped(response).await,
            Err(e) => Err(crate::outbound::describe_transport_error(&e)),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok((status, bytes)) => Exchange {
                status: Some(status),
                bytes,
                duration_ms,
                transport: None,
            },
            Err(e) => Exchange {
                status: None,
                bytes: Vec::new(),
                duration_ms,
                transport: Some(format!("no answer: {e}")),
            },
        }
    }

    /// A record of an exchange, before its verdict.
    fn record(
        &self,
        org: &Org,
        api_call: &str,
        method: &str,
        url: String,
        request: Option<Value>,
        exchange: &Exchange,
    ) -> CallRecord {
        let body = match serde_json::from_slice::<Value>(&exchange.bytes) {
            Ok(v) if exchange.bytes.len() <= MAX_RECORDED_BODY => v,
            _ => {
                let text = String::from_utf8_lossy(&exchange.bytes);
                Value::String(text.chars().take(MAX_RECORDED_BODY).collect())
            }
        };
        CallRecord {
            at_ms: self.now_ms(),
            org_id: org.id.clone(),
            api_call: api_call.to_owned(),
            method: method.to_owned(),
            url,
            request,
            status: exchange.status,
            body,
            duration_ms: exchange.duration_ms,
            errors: Vec::new(),
            warnings: Vec::new(),
            transport: exchange.transport.clone(),
            take_home_test_id: None,
            probe: false,
        }
    }

    /// Tell the partner what was wrong with its answer, and remember that we did.
    async fn post_response_error(
        &self,
        partner: &PartnerSettings,
        org: &Org,
        report: ResponseError,
    ) {
        let body = serde_json::to_value(&report).unwrap_or(Value::Null);
        let url = endpoint(partner, wire::RESPONSE_ERROR);
        let exchange = self
            .exchange(org, Method::POST, &url, None, Some(&body))
            .await;
        let problem = match exchange.status {
            Some(200) => None,
            Some(status) => Some(format!(
                "response_error answered HTTP {status}; expected 200"
            )),
            None => exchange.transport.clone(),
        };
        let posted = PostedError {
            at_ms: self.now_ms(),
            org_id: org.id.clone(),
            body,
            status: exchange.status,
            problem,
        };
        push_bounded(&mut self.state().response_errors, posted);
    }

    /// What Greenhouse does when a stage is edited: ask which tests the organisation has.
    pub async fn list_tests(&self, org_id: &str) -> Result<ListOutcome, SimError> {
        let (partner, org) = self.partner_and_org(org_id)?;
        let url = endpoint(&partner, wire::LIST_TESTS);
        let exchange = self.exchange(&org, Method::GET, &url, None, None).await;
        let mut call = self.record(&org, wire::LIST_TESTS, "GET", url, None, &exchange);
        let mut tests = Vec::new();
        if let Some(status) = exchange.status {
            let verdict = wire::check_list_tests(status, &exchange.bytes);
            call.errors = verdict.errors;
            call.warnings = verdict.warnings;
            tests = verdict.value.unwrap_or_default();
        }
        {
            let mut state = self.state();
            if call.errors.is_empty() && call.status.is_some() {
                if let Some(o) = state.org_mut(org_id) {
                    o.tests = tests.clone();
                }
            }
            push_bounded(&mut state.calls, call.clone());
        }
        if !call.errors.is_empty() {
            let report = ResponseError {
                api_call: wire::LIST_TESTS.into(),
                errors: call.errors.clone(),
                ..ResponseError::default()
            };
            self.post_response_error(&partner, &org, report).await;
        }
        Ok(ListOutcome { call, tests })
    }

    /// Add the partner stage to the org's job with a test from `list_tests`.
    pub async fn set_stage(&self, org_id: &str, partner_test_id: &str) -> Result<Org, SimError> {
        let listed = self.list_tests(org_id).await?;
        let Some(test) = listed
            .tests
            .iter()
            .find(|t| t.partner_test_id == partner_test_id)
        else {
            let offered: Vec<_> = listed
                .tests
                .iter()
                .map(|t| t.partner_test_id.as_str())
                .collect();
            let why = match listed
                .call
                .errors
                .first()
                .or(listed.call.transport.as_ref())
            {
                Some(problem) => format!("list_tests failed: {problem}"),
                None => format!("list_tests offers: {}", offered.join(", ")),
            };
            return Err(SimError::InvalidRequest(format!(
                "partner_test_id `{partner_test_id}` is not a test of this organisation ({why})"
            )));
        };
        let mut state = self.state();
        let org = state
            .org_mut(org_id)
            .ok_or_else(|| SimError::UnknownOrg(org_id.to_owned()))?;
        org.stage = Some(super::state::PartnerStage {
            partner_test_id: test.partner_test_id.clone(),
            partner_test_name: test.partner_test_name.clone(),
        });
        Ok(org.clone())
    }

    /// Build the take-home test for one click and remember it.
    fn new_interview(
        &self,
        candidate_id: u64,
        options: SendOptions,
    ) -> Result<(PartnerSettings, Org, u64), SimError> {
        let public_url = self.public_url();
        let mut state = self.state();
        let state = &mut *state;
        let partner = state
            .partner
            .clone()
            .ok_or(SimError::PartnerNotConfigured)?;
        let candidate = state
            .candidate(candidate_id)
            .cloned()
            .ok_or(SimError::UnknownCandidate(candidate_id))?;
        if candidate.status != CandidateStatus::Active {
            return Err(SimError::InvalidRequest(format!(
                "candidate {candidate_id} is no longer active; Greenhouse sends tests to active candidates only"
            )));
        }
        let org = state
            .org(&candidate.org_id)
            .cloned()
            .ok_or_else(|| SimError::UnknownOrg(candidate.org_id.clone()))?;
        let stage = org
            .stage
            .clone()
            .ok_or_else(|| SimError::NoStage(org.id.clone()))?;
        let partner_test_id = options
            .partner_test_id
            .unwrap_or_else(|| stage.partner_test_id.clone());
        let partner_test_name = org
            .tests
            .iter()
            .find(|t| t.partner_test_id == partner_test_id)
            .map(|t| t.partner_test_name.clone())
            .unwrap_or_else(|| partner_test_id.clone());
        if state.interviews.len() >= MAX_INTERVIEWS {
            return Err(SimError::InvalidRequest(format!(
                "this sandbox holds {MAX_INTERVIEWS} take-home tests already; restart it"
            )));
        }
        let id = state.next_take_home_test_id;
        state.next_take_home_test_id += 1;
        let signature: u64 = state.rng.gen();
        let now = state.now_ms();
        let request = SendTestRequest {
            partner_test_id: partner_test_id.clone(),
            candidate: SendTestCandidate {
                first_name: candidate.first_name.clone(),
                last_name: candidate.last_name.clone(),
                preferred_name: candidate.preferred_name.clone(),
                resume_url: candidate
                    .has_resume
                    .then(|| format!("{public_url}/resumes/{id}?signature={signature:016x}")),
                phone_number: candidate.phone_number.clone(),
                email: candidate.email.clone(),
                greenhouse_profile_url: format!(
                    "{public_url}/people/{}?application_id={}",
                    candidate.id, candidate.application_id
                ),
            },
            sent_by: match options.sent_by {
                Some(s) if s.is_empty() => None,
                Some(s) => Some(s),
                None => Some(org.recruiter_email.clone()),
            },
            url: format!("{public_url}{TAKE_HOME_TESTS_PATH}/{id}"),
        };
        let mut body = request.to_json(
            (partner.candidate_id_field.as_deref(), candidate.id),
            (
                partner.application_id_field.as_deref(),
                candidate.application_id,
            ),
        );
        if partner.add_unknown_fields {
            wire::add_unknown_fields(&mut body);
        }
        state.interviews.push(Interview {
            take_home_test_id: id,
            url: request.url.clone(),
            org_id: org.id.clone(),
            candidate_id,
            partner_test_id,
            partner_test_name,
            candidate_email: candidate.email.clone(),
            request: body,
            sent_at_ms: now,
            sends: 0,
            partner_interview_id: None,
            send_error: None,
            status: None,
            frozen: None,
            completed_at_ms: None,
            reads: 0,
            last_read_ms: None,
            next_poll_ms: now + HOUR_MS,
            stopped: None,
            warnings: Vec::new(),
        });
        Ok((partner, org, id))
    }

    /// Record a `send_test` whose reply a fault lost, and the id it carried.
    fn record_lost_send(
        &self,
        org: &Org,
        interview: &Interview,
        url: &str,
        exchange: &Exchange,
        why: String,
        lost_ids: &mut Vec<String>,
    ) {
        let mut call = self.record(
            org,
            wire::SEND_TEST,
            "POST",
            url.to_owned(),
            Some(interview.request.clone()),
            exchange,
        );
        call.take_home_test_id = Some(interview.take_home_test_id);
        call.transport = Some(match &exchange.transport {
            Some(t) => format!("{why} ({t})"),
            None => why,
        });
        if let Some(pid) = exchange
            .status
            .and_then(|s| wire::check_send_test(s, &exchange.bytes).value)
        {
            lost_ids.push(pid);
        }
        let mut state = self.state();
        if let Some(i) = state.interview_mut(interview.take_home_test_id) {
            i.sends += 1;
        }
        push_bounded(&mut state.calls, call);
    }

    /// What Greenhouse does when a recruiter clicks *Send Test* for a candidate:
    /// a fresh take-home test and its `send_test`. When a fault loses the
    /// reply, the same body goes again: after a dropped reply, once it is
    /// known lost; after a delayed one, when Greenhouse's timeout fires, while
    /// the first may still be in flight (so the partner's dedupe on `url` is
    /// tested under a race too).
    pub async fn send_test(
        &self,
        candidate_id: u64,
        options: SendOptions,
    ) -> Result<Interview, SimError> {
        let (partner, org, id) = self.new_interview(candidate_id, options)?;
        let interview = self.interview(id).ok_or(SimError::UnknownInterview(id))?;
        self.send(partner, org, interview).await
    }

    /// The recruiter clicks *Send Test* again for the same take-home test
    /// (after "Could not reach the partner", or just twice): the same body,
    /// the same `url`, so the partner must answer the same
    /// `partner_interview_id`.
    pub async fn resend_test(&self, take_home_test_id: u64) -> Result<Interview, SimError> {
        let interview = self
            .interview(take_home_test_id)
            .ok_or(SimError::UnknownInterview(take_home_test_id))?;
        let (partner, org) = self.partner_and_org(&interview.org_id)?;
        self.send(partner, org, interview).await
    }

    /// One `send_test` for a take-home test, with the faults' lost replies.
    async fn send(
        &self,
        partner: PartnerSettings,
        org: Org,
        interview: Interview,
    ) -> Result<Interview, SimError> {
        let id = interview.take_home_test_id;
        let url = endpoint(&partner, wire::SEND_TEST);
        let mut lost_ids: Vec<String> = Vec::new();
        let mut late = Vec::new();
        let exchange = loop {
            let lost = self.state().faults.take_lost_reply();
            match lost {
                None => {
                    break self
                        .exchange(&org, Method::POST, &url, None, Some(&interview.request))
                        .await
                }
                Some(LostReply::Drop) => {
                    let exchange = self
                        .exchange(&org, Method::POST, &url, None, Some(&interview.request))
                        .await;
                    let why = "reply dropped (simulated); the recruiter clicks Send Test again";
                    self.record_lost_send(
                        &org,
                        &interview,
                        &url,
                        &exchange,
                        why.into(),
                        &mut lost_ids,
                    );
                }
                Some(LostReply::Delay) => {
                    let ms = self.faults().send_test_delay_ms;
                    let (sim, org, url, body) = (
                        self.clone(),
                        org.clone(),
                        url.clone(),
                        interview.request.clone(),
                    );
                    late.push((
                        ms,
                        tokio::spawn(async move {
                            sim.exchange(&org, Method::POST, &url, None, Some(&body))
                                .await
                        }),
                    ));
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            }
        };
        for (ms, first) in late {
            if let Ok(first) = first.await {
                let why = format!(
                    "no reply within {ms} ms, Greenhouse's timeout (simulated); the recruiter clicked Send Test again"
                );
                self.record_lost_send(&org, &interview, &url, &first, why, &mut lost_ids);
            }
        }
        let mut call = self.record(
            &org,
            wire::SEND_TEST,
            "POST",
            url.clone(),
            Some(interview.request.clone()),
            &exchange,
        );
        call.take_home_test_id = Some(id);
        let verdict = exchange
            .status
            .map(|status| wire::check_send_test(status, &exchange.bytes));
        if let Some(v) = &verdict {
            call.errors = v.errors.clone();
        }
        let errors = call.errors.clone();
        {
            let mut state = self.state();
            let pid = verdict.and_then(|v| v.value);
            let taken = pid.as_ref().and_then(|pid| {
                state
                    .interviews
                    .iter()
                    .find(|other| {
                        other.take_home_test_id != id
                            && other.partner_interview_id.as_ref() == Some(pid)
                    })
                    .map(|other| other.take_home_test_id)
            });
            if let Some(i) = state.interview_mut(id) {
                i.sends += 1;
                match pid {
                    Some(pid) => {
                        let earlier_answer = i.partner_interview_id.iter().cloned();
                        for earlier in lost_ids
                            .iter()
                            .cloned()
                            .chain(earlier_answer)
                            .filter(|e| *e != pid)
                        {
                            i.warnings.push(format!(
                                "send_test sent again with the same url answered partner_interview_id {pid}, not {earlier}: the partner does not dedupe on url"
                            ));
                        }
                        if let Some(other) = taken {
                            i.warnings.push(format!(
                                "partner_interview_id {pid} was already given to take-home test {other}: each Send Test click must get its own"
                            ));
                        }
                        i.partner_interview_id = Some(pid);
                        i.send_error = None;
                    }
                    None => {
                        i.send_error = Some(match &exchange.transport {
                            Some(t) => format!("Could not reach the partner ({t})"),
                            None => refusal_text(&call),
                        });
                    }
                }
            }
            push_bounded(&mut state.calls, call);
        }
        if !errors.is_empty() {
            let report = ResponseError {
                api_call: wire::SEND_TEST.into(),
                errors,
                partner_test_id: Some(interview.partner_test_id.clone()),
                partner_test_name: Some(interview.partner_test_name.clone()),
                candidate_email: Some(interview.candidate_email.clone()),
                partner_interview_id: None,
            };
            self.post_response_error(&partner, &org, report).await;
        }
        self.interview(id).ok_or(SimError::UnknownInterview(id))
    }

    /// Bulk *Send Test*: one take-home test per candidate, one after another.
    pub async fn send_tests(&self, candidate_ids: &[u64]) -> Vec<Result<Interview, SimError>> {
        let mut sent = Vec::with_capacity(candidate_ids.len());
        for id in candidate_ids {
            sent.push(self.send_test(*id, SendOptions::default()).await);
        }
        sent
    }

    /// Read `test_status` for a take-home test, as after a PATCH or on the hour.
    /// The first valid `complete` freezes the result; a `force`d re-read of a
    /// frozen one only compares.
    pub async fn read_status(
        &self,
        take_home_test_id: u64,
        force: bool,
    ) -> Result<CallRecord, SimError> {
        let interview = self
            .interview(take_home_test_id)
            .ok_or(SimError::UnknownInterview(take_home_test_id))?;
        let pid = interview
            .partner_interview_id
            .clone()
            .ok_or(SimError::NotSent(take_home_test_id))?;
        if interview.frozen.is_some() && !force {
            return Err(SimError::Frozen(take_home_test_id));
        }
        if !force && self.now_ms() > interview.sent_at_ms + READ_WINDOW_MS {
            if let Some(i) = self.state().interview_mut(take_home_test_id) {
                i.stopped.get_or_insert(StopReason::Expired);
            }
            return Err(SimError::Expired(take_home_test_id));
        }
        let (partner, org) = self.partner_and_org(&interview.org_id)?;
        let (exchange, mut call) = self.ask_test_status(&partner, &org, &pid).await;
        call.take_home_test_id = Some(take_home_test_id);
        let verdict = exchange.status.map(|status| {
            wire::check_test_status(status, &exchange.bytes, partner.strict_report_urls)
        });
        if let Some(v) = &verdict {
            call.errors = v.errors.clone();
            call.warnings = v.warnings.clone();
        }
        {
            let mut state = self.state();
            let now = state.now_ms();
            if let Some(i) = state.interview_mut(take_home_test_id) {
                i.reads += 1;
                i.last_read_ms = Some(now);
                for w in &call.warnings {
                    if !i.warnings.contains(w) {
                        i.warnings.push(w.clone());
                    }
                }
                let answer = verdict.and_then(|v| v.value);
                match (&i.frozen, answer) {
                    (Some(frozen), Some(answer)) if *frozen != answer => i.warnings.push(format!(
                        "the answer changed after complete was read (now partner_status '{}'); a complete result must never change",
                        answer.partner_status
                    )),
                    (Some(_), _) | (None, None) => {}
                    // Hired or rejected candidates show no change (Greenhouse's rule).
                    (None, Some(_)) if matches!(i.stopped, Some(StopReason::Hired | StopReason::Rejected)) => {}
                    (None, Some(answer)) => {
                        if answer.is_complete() {
                            i.frozen = Some(answer.clone());
                            i.completed_at_ms = Some(now);
                            i.stopped = Some(StopReason::Complete);
                        }
                        i.status = Some(answer);
                    }
                }
            }
            push_bounded(&mut state.calls, call.clone());
        }
        if !call.errors.is_empty() {
            let report = ResponseError {
                api_call: wire::TEST_STATUS.into(),
                errors: call.errors.clone(),
                partner_test_id: Some(interview.partner_test_id.clone()),
                partner_test_name: Some(interview.partner_test_name.clone()),
                partner_interview_id: Some(pid),
                candidate_email: Some(interview.candidate_email.clone()),
            };
            self.post_response_error(&partner, &org, report).await;
        }
        Ok(call)
    }

    /// `GET test_status?partner_interview_id=…` with the org's key, recorded
    /// but not yet judged.
    async fn ask_test_status(
        &self,
        partner: &PartnerSettings,
        org: &Org,
        partner_interview_id: &str,
    ) -> (Exchange, CallRecord) {
        let url = endpoint(partner, wire::TEST_STATUS);
        let exchange = self
            .exchange(
                org,
                Method::GET,
                &url,
                Some(("partner_interview_id", partner_interview_id)),
                None,
            )
            .await;
        let call = self.record(
            org,
            wire::TEST_STATUS,
            "GET",
            format!("{url}?partner_interview_id={partner_interview_id}"),
            None,
            &exchange,
        );
        (exchange, call)
    }

    /// Read open interviews: only those due on the hourly schedule, or all.
    pub async fn poll(&self, due_only: bool) -> Vec<CallRecord> {
        let ids = {
            let mut state = self.state();
            if due_only {
                state.take_due_polls()
            } else {
                let now = state.now_ms();
                state
                    .interviews
                    .iter_mut()
                    .filter(|i| i.is_open())
                    .filter_map(|i| {
                        if now > i.sent_at_ms + READ_WINDOW_MS {
                            i.stopped = Some(StopReason::Expired);
                            None
                        } else {
                            Some(i.take_home_test_id)
                        }
                    })
                    .collect()
            }
        };
        let mut calls = Vec::new();
        for id in ids {
            if let Ok(call) = self.read_status(id, false).await {
                calls.push(call);
            }
        }
        calls
    }

    /// Ask `test_status` with one organisation's key for any id: another
    /// organisation's (or an unknown) id must get 404.
    pub async fn probe_test_status(
        &self,
        org_id: &str,
        partner_interview_id: &str,
    ) -> Result<CallRecord, SimError> {
        let (partner, org) = self.partner_and_org(org_id)?;
        let owned = self.state().interviews.iter().any(|i| {
            i.org_id == org_id && i.partner_interview_id.as_deref() == Some(partner_interview_id)
        });
        let (exchange, mut call) = self
            .ask_test_status(&partner, &org, partner_interview_id)
            .await;
        call.probe = true;
        if !owned && exchange.status.is_some_and(|s| s != 404) {
            call.errors.push(format!(
                "test_status answered HTTP {} for partner_interview_id {partner_interview_id}, which {} never sent; expected 404",
                exchange.status.unwrap_or_default(),
                org.id
            ));
        }
        push_bounded(&mut self.state().calls, call.clone());
        Ok(call)
    }
}

/// The status and body of an answer, refusing to read more than [`MAX_ANSWER_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<(u16, Vec<u8>), String> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_ANSWER_BYTES => {
                return Err(format!(
                    "the answer is larger than {MAX_ANSWER_BYTES} bytes; Greenhouse stopped reading"
                ))
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok((status, body)),
            Err(e) => return Err(crate::outbound::describe_transport_error(&e)),
        }
    }
}

fn endpoint(partner: &PartnerSettings, api_call: &str) -> String {
    format!("{}/{api_call}", partner.base_url.trim_end_matches('/'))
}

/// What the recruiter is told when `send_test` fails: the partner's own
/// message when it gave one in a 4xx.
fn refusal_text(call: &CallRecord) -> String {
    let message = call
        .body
        .pointer("/error/message")
        .or_else(|| call.body.get("message"))
        .and_then(Value::as_str);
    match (call.status, message) {
        (Some(status), Some(m)) => format!("The partner refused the test (HTTP {status}): {m}"),
        (Some(status), None) if status != 200 => {
            format!("The partner refused the test (HTTP {status})")
        }
        _ => format!(
            "The partner's answer was invalid: {}",
            call.errors.join("; ")
        ),
    }
}
