//! Teamtailor's calls to the partner: the activation check, the `/config`
//! form, the order `webhook` (once, never retried) and result-card button
//! clicks. Each is recorded with its verdict.

use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Map, Value};

use super::faults::{take, LostReply};
use super::jose::{issue_provider_key, signature_header};
use super::rules::{self, ConfigForm};
use super::state::{
    push_bounded, ActionHeaders, CallRecord, Card, PartnerSettings, Stack, Trigger, WebhookOutcome,
    WebhookRecord,
};
use super::{now_ms, TeamtailorSim};

/// Answers read from the partner are capped at this size.
const MAX_REPLY_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no partner is set up: PUT /_sim/partner first")]
    PartnerNotConfigured,
    #[error("no company {0}")]
    UnknownCompany(String),
    #[error("no candidate {0}")]
    UnknownCandidate(u64),
    #[error("no partner result {0}")]
    UnknownCard(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
}

impl TeamtailorSim {
    fn partner_or_err(&self) -> Result<PartnerSettings, SimError> {
        self.state()
            .partner
            .clone()
            .ok_or(SimError::PartnerNotConfigured)
    }

    /// Save the company's activation form: issue the provider key (JWT or JWE
    /// as the partner settings say) and call the validation endpoint with it.
    /// Answers whether the activation took and the messages the admin reads.
    pub async fn activate(
        &self,
        company_id: &str,
        form_values: Map<String, Value>,
    ) -> Result<(bool, Vec<String>), SimError> {
        let mut partner = self.partner_or_err()?;
        let (uuid, old_key) = self
            .state()
            .company(company_id)
            .map(|c| (c.uuid.clone(), c.provider_key.clone()))
            .ok_or_else(|| SimError::UnknownCompany(company_id.to_owned()))?;
        if partner.dynamic_activation {
            // The settings page asks the partner for the form each time it opens.
            let url = format!(
                "{}?company_id={uuid}",
                join(&partner.base_url, "activation")
            );
            let mut request = self
                .http()
                .get(&url)
                .timeout(Duration::from_millis(partner.webhook_timeout_ms));
            if let Some(key) = &old_key {
                request = request.bearer_auth(key);
            }
            let (status, body) = read(request.send().await).await;
            let checked = match status {
                Some(200) => serde_json::from_str::<Value>(&body)
                    .map_err(|e| vec![e.to_string()])
                    .and_then(|v| rules::check_config(body.as_bytes()).map(|_| v)),
                Some(s) => Err(vec![format!("the activation form answered {s}")]),
                None => Err(vec![format!("the activation form did not answer: {body}")]),
            };
            self.record_call(CallRecord {
                kind: "activation".into(),
                url,
                status,
                body,
                verdict: match &checked {
                    Ok(_) => "form".into(),
                    Err(p) => format!("invalid: {}", p.join("; ")),
                },
                warnings: Vec::new(),
                at_ms: now_ms(),
            });
            partner.activation_config = checked.map_err(|p| SimError::Invalid(p.join("; ")))?;
        }
        check_activation_values(&partner.activation_config, &form_values)?;
        let key = issue_provider_key(
            partner.key_form,
            &form_values,
            &partner.api_key,
            &partner.webhook_secret,
        )
        .map_err(SimError::Invalid)?;
        let (ok, messages) = match rules::validate_endpoint(&partner.activation_config) {
            None => (true, vec!["Activated (no validation endpoint)".to_owned()]),
            Some(endpoint) => {
                let url = join(&partner.base_url, &endpoint);
                let (status, body) = self.get_with_key(&url, &key, &partner).await;
                let mut warnings = Vec::new();
                let (ok, messages) = match status {
                    Some(200) => (true, vec!["Activated".to_owned()]),
                    Some(s) if s >= 400 => match rules::activation_errors(body.as_bytes()) {
                        Some(errors) => (false, errors),
                        None => {
                            warnings.push(format!(
                                "a refusal should be {{\"errors\": [\"…\"]}}; got {}",
                                clip(&body)
                            ));
                            (false, vec![format!("The partner answered {s}")])
                        }
                    },
                    Some(s) => {
                        warnings.push(format!(
                            "the activation check answers 200 or ≥ 400, not {s}"
                        ));
                        (false, vec![format!("The partner answered {s}")])
                    }
                    None => (false, vec![format!("The partner did not answer: {body}")]),
                };
                self.record_call(CallRecord {
                    kind: endpoint,
                    url,
                    status,
                    body,
                    verdict: if ok { "activated" } else { "refused" }.into(),
                    warnings,
                    at_ms: now_ms(),
                });
                (ok, messages)
            }
        };
        let mut state = self.state();
        if let Some(c) = state.companies.iter_mut().find(|c| c.id == company_id) {
            c.form_values = form_values;
            c.provider_key = Some(key);
            c.activated = ok;
            c.activation_messages.clone_from(&messages);
        }
        Ok((ok, messages))
    }

    /// Add a trigger on a stage: fetch the `/config` form (unless a static
    /// `webhook-config` is saved), check it, and fill it with `values`.
    pub async fn add_trigger(
        &self,
        company_id: &str,
        stage_id: u64,
        values: Map<String, Value>,
    ) -> Result<Trigger, SimError> {
        let partner = self.partner_or_err()?;
        let (key, job_id, user_id) = {
            let state = self.state();
            let company = state
                .company(company_id)
                .ok_or_else(|| SimError::UnknownCompany(company_id.to_owned()))?;
            if !company.stages.iter().any(|s| s.id == stage_id) {
                return Err(SimError::Invalid(format!(
                    "the job has no stage {stage_id}"
                )));
            }
            let key = company
                .provider_key
                .clone()
                .filter(|_| company.activated)
                .ok_or_else(|| {
                    SimError::Conflict("the company has not activated the partner".into())
                })?;
            (key, company.job_id, company.recruiter.0)
        };
        let form = match &partner.webhook_config {
            Some(config) => rules::check_config(config.to_string().as_bytes())
                .map_err(|p| SimError::Invalid(p.join("; ")))?,
            None => {
                let query = format!("job_id={job_id}&stage_id={stage_id}&user_id={user_id}");
                let form = self.fetch_config(&partner, &key, &query).await?;
                // A filled field marked `refetch` makes Teamtailor ask for the
                // form again; the values picked so far go along in the query
                // (our reading: Teamtailor does not say how they travel).
                let picked: Vec<(String, String)> = form
                    .fields
                    .iter()
                    .filter(|f| f.refetch)
                    .filter_map(|f| {
                        let id = f.id.clone()?;
                        let value = values.get(&id)?.as_str()?.to_owned();
                        Some((id, value))
                    })
                    .collect();
                if picked.is_empty() {
                    form
                } else {
                    let extra = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&picked)
                        .finish();
                    self.fetch_config(&partner, &key, &format!("{query}&{extra}"))
                        .await?
                }
            }
        };
        let errors = form.errors();
        if !errors.is_empty() {
            return Err(SimError::Conflict(errors.join("; ")));
        }
        let webhook_data = rules::webhook_data(&form, &values).map_err(SimError::Invalid)?;
        let mut state = self.state();
        let id = state.next_id();
        let trigger = Trigger {
            id,
            stage_id,
            webhook_data,
            criteria: form.criteria.clone(),
        };
        let company = state
            .companies
            .iter_mut()
            .find(|c| c.id == company_id)
            .ok_or_else(|| SimError::UnknownCompany(company_id.to_owned()))?;
        company.triggers.retain(|t| t.stage_id != stage_id);
        company.triggers.push(trigger.clone());
        state.config_forms.push((company_id.to_owned(), form));
        Ok(trigger)
    }

    /// Move a candidate into a stage; a trigger there sends the order.
    pub async fn move_candidate(
        &self,
        candidate_id: u64,
        stage_id: u64,
    ) -> Result<Option<Card>, SimError> {
        let trigger = {
            let mut state = self.state();
            let company_id = state
                .candidates
                .iter()
                .find(|c| c.id == candidate_id)
                .map(|c| c.company_id.clone())
                .ok_or(SimError::UnknownCandidate(candidate_id))?;
            let company = state
                .company(&company_id)
                .ok_or(SimError::UnknownCompany(company_id))?;
            if !company.stages.iter().any(|s| s.id == stage_id) {
                return Err(SimError::Invalid(format!(
                    "the job has no stage {stage_id}"
                )));
            }
            let trigger = company
                .triggers
                .iter()
                .find(|t| t.stage_id == stage_id)
                .cloned();
            if let Some(c) = state.candidates.iter_mut().find(|c| c.id == candidate_id) {
                c.stage_id = stage_id;
            }
            trigger
        };
        match trigger {
            Some(t) => self.send_order(candidate_id, &t).await.map(Some),
            None => Ok(None),
        }
    }

    /// Create the partner result (`sending`) and post the webhook, once.
    async fn send_order(&self, candidate_id: u64, trigger: &Trigger) -> Result<Card, SimError> {
        let partner = self.partner_or_err()?;
        let public_url = self.public_url();
        let (card, key, t, signature, wrong_key, faults) = {
            let mut state = self.state();
            let candidate = state
                .candidates
                .iter()
                .find(|c| c.id == candidate_id)
                .cloned()
                .ok_or(SimError::UnknownCandidate(candidate_id))?;
            let company = state
                .company(&candidate.company_id)
                .cloned()
                .ok_or_else(|| SimError::UnknownCompany(candidate.company_id.clone()))?;
            let key = company
                .provider_key
                .clone()
                .filter(|_| company.activated)
                .ok_or_else(|| {
                    SimError::Conflict("the company has not activated the partner".into())
                })?;
            let card_id = uuid::Uuid::from_u128(state.rng.gen()).to_string();
            let event_id = uuid::Uuid::from_u128(state.rng.gen()).to_string();
            let update_url = format!(
                "{}{}/{card_id}",
                stack_base(&public_url, company.stack),
                super::PARTNER_RESULTS_PATH
            );
            let stage = company
                .stages
                .iter()
                .find(|s| s.id == trigger.stage_id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let (rid, remail, rname) = company.recruiter.clone();
            let event = json!({
                "partner-event": {
                    "id": event_id,
                    "webhook-data": trigger.webhook_data,
                    "partner-result": {"id": card_id, "status": "sending", "update-url": update_url},
                    "candidate": {
                        "id": candidate.id, "uuid": candidate.uuid,
                        "first-name": candidate.first_name, "last-name": candidate.last_name,
                        "email": candidate.email, "phone": null,
                        "job": {"id": company.job_id, "title": company.job_title,
                                "stage-id": trigger.stage_id, "stage": stage,
                                "trigger-id": trigger.id,
                                "triggered-by": {"id": rid, "email": remail, "name": rname}}
                    }
                },
                "company": {"uuid": company.uuid, "name": company.name, "url": null, "logotype": null}
            });
            let now = now_ms();
            let card = Card {
                id: card_id,
                company_id: company.id.clone(),
                candidate_id,
                job_id: company.job_id,
                stage_id: trigger.stage_id,
                trigger_id: trigger.id,
                update_url,
                event,
                status: "sending".into(),
                summary: None,
                url: None,
                score: None,
                grade: None,
                duration_secs: None,
                details: Map::new(),
                attachments: Vec::new(),
                actions: Vec::new(),
                criteria: Vec::new(),
                criteria_ids: trigger.criteria.iter().map(|(id, _)| id.clone()).collect(),
                error: None,
                lost: false,
                created_ms: now,
                updated_ms: now,
            };
            state.cards.push(card.clone());
            let faults = &mut state.faults;
            let stale = take(&mut faults.stale_signatures);
            let t = now / 1000 - if stale { 600 } else { 0 };
            let bad = take(&mut faults.bad_signatures);
            let unsigned = take(&mut faults.unsigned_webhooks);
            let secret = if bad {
                format!("not-{}", partner.webhook_secret)
            } else {
                partner.webhook_secret.clone()
            };
            let signature = (!unsigned).then(|| signature_header(&secret, t, &event_id));
            let wrong_key = take(&mut faults.wrong_provider_keys);
            let lose = take(&mut faults.lose_webhook_replies).then_some(faults.lost_reply);
            (
                card,
                key,
                t,
                signature,
                wrong_key,
                (lose, faults.webhook_delay_ms),
            )
        };
        let _ = t;
        let key = if wrong_key {
            self.wrong_key(&partner)?
        } else {
            key
        };
        let url = join(&partner.base_url, "webhook");
        let body = card.event.to_string();
        let mut request = self
            .http()
            .post(&url)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .timeout(Duration::from_millis(partner.webhook_timeout_ms))
            .body(body);
        if let Some(s) = &signature {
            request = request.header("Teamtailor-Signature", s);
        }
        let started = Instant::now();
        let (status, reply) = read(request.send().await).await;
        let (lose, delay_ms) = faults;
        let mut lost_reason = None;
        match lose {
            Some(LostReply::Drop) => lost_reason = Some("the reply was dropped (fault)".to_owned()),
            Some(LostReply::Delay) => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                if started.elapsed() > Duration::from_millis(partner.webhook_timeout_ms) {
                    lost_reason = Some(format!(
                        "the reply came after the {} ms timeout (delayed by fault)",
                        partner.webhook_timeout_ms
                    ));
                }
            }
            None => {}
        }
        let mut warnings = Vec::new();
        let outcome = match (lost_reason, status) {
            (Some(reason), _) => WebhookOutcome::Lost { reason },
            (None, None) => WebhookOutcome::Lost {
                reason: format!("no answer: {reply}"),
            },
            (None, Some(s)) if (200..300).contains(&s) => WebhookOutcome::Accepted,
            (None, Some(s)) if s >= 400 => {
                if serde_json::from_str::<Value>(&reply)
                    .is_ok_and(|v| v.is_object() || v.is_array())
                {
                    warnings.push("a refusal should be a plain string, not JSON".into());
                }
                WebhookOutcome::Refused {
                    text: if reply.trim().is_empty() {
                        format!("The partner answered {s}")
                    } else {
                        clip(&reply)
                    },
                }
            }
            (None, Some(s)) => WebhookOutcome::Lost {
                reason: format!("answered {s}, not 2xx"),
            },
        };
        let reply_update = match outcome {
            WebhookOutcome::Accepted => self.reply_attributes(&reply, &card, &mut warnings),
            _ => None,
        };
        let mut state = self.state();
        let now = now_ms();
        if let Some(c) = state.card_mut(&card.id) {
            match &outcome {
                WebhookOutcome::Accepted => {
                    if let Some(u) = &reply_update {
                        c.apply(u, now);
                    }
                }
                WebhookOutcome::Refused { text } => c.error = Some(text.clone()),
                WebhookOutcome::Lost { reason } => {
                    c.lost = true;
                    c.error = Some(format!("Not delivered: {reason}"));
                }
            }
        }
        let card = state
            .cards
            .iter()
            .find(|c| c.id == card.id)
            .cloned()
            .unwrap_or(card);
        push_bounded(
            &mut state.webhooks,
            WebhookRecord {
                event_id: card.event["partner-event"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                partner_result_id: card.id.clone(),
                url,
                authorization: Some(format!("Bearer {key}")),
                signature,
                body: card.event.clone(),
                reply_status: status,
                reply_body: reply,
                outcome,
                warnings,
                at_ms: now,
            },
        );
        Ok(card)
    }

    /// The reply's `partner_result_attributes`, applied only when all valid.
    fn reply_attributes(
        &self,
        reply: &str,
        card: &Card,
        warnings: &mut Vec<String>,
    ) -> Option<rules::CardUpdate> {
        let doc: Value = serde_json::from_str(reply).ok()?;
        let attributes = doc.get("partner_result_attributes")?;
        let Some(map) = attributes.as_object() else {
            warnings.push("partner_result_attributes must be an object; ignored".into());
            return None;
        };
        match rules::check_attributes(map, &card.criteria_ids, true) {
            Ok(u) => Some(u),
            Err(violations) => {
                for v in violations {
                    warnings.push(format!(
                        "partner_result_attributes ignored: {} ({})",
                        v.detail, v.pointer
                    ));
                }
                None
            }
        }
    }

    fn wrong_key(&self, partner: &PartnerSettings) -> Result<String, SimError> {
        let mut claims = Map::new();
        claims.insert(
            "externalTriggerToken".into(),
            Value::String("not-a-token".into()),
        );
        issue_provider_key(
            partner.key_form,
            &claims,
            &format!("wrong-{}", partner.api_key),
            &format!("wrong-{}", partner.webhook_secret),
        )
        .map_err(SimError::Invalid)
    }

    /// Click a result-card button: POST the original event to
    /// `{base-url}/{endpoint}` with the configured headers; answers the record.
    pub async fn click(&self, card_id: &str, endpoint: &str) -> Result<CallRecord, SimError> {
        let partner = self.partner_or_err()?;
        let (card, key, wrong_key) = {
            let mut state = self.state();
            let card = state
                .cards
                .iter()
                .find(|c| c.id == card_id)
                .cloned()
                .ok_or_else(|| SimError::UnknownCard(card_id.to_owned()))?;
            if !card.actions.iter().any(|(_, e)| e == endpoint) {
                return Err(SimError::Conflict(format!(
                    "the card has no button for `{endpoint}`"
                )));
            }
            let key = state
                .company(&card.company_id)
                .and_then(|c| c.provider_key.clone())
                .unwrap_or_default();
            let wrong = take(&mut state.faults.wrong_provider_keys);
            (card, key, wrong)
        };
        let key = if wrong_key {
            self.wrong_key(&partner)?
        } else {
            key
        };
        let url = join(&partner.base_url, endpoint);
        let event_id = card.event["partner-event"]["id"]
            .as_str()
            .unwrap_or_default();
        let mut request = self
            .http()
            .post(&url)
            .header("content-type", "application/json")
            .timeout(Duration::from_millis(partner.webhook_timeout_ms))
            .body(card.event.to_string());
        if matches!(
            partner.action_headers,
            ActionHeaders::Both | ActionHeaders::ProviderKey
        ) {
            request = request.bearer_auth(&key);
        }
        if matches!(
            partner.action_headers,
            ActionHeaders::Both | ActionHeaders::Signature
        ) {
            request = request.header(
                "Teamtailor-Signature",
                signature_header(&partner.webhook_secret, now_ms() / 1000, event_id),
            );
        }
        let (status, body) = read(request.send().await).await;
        let record = CallRecord {
            kind: endpoint.to_owned(),
            url,
            status,
            verdict: match status {
                Some(s) if (200..300).contains(&s) => "accepted".into(),
                Some(s) => format!("answered {s}"),
                None => "no answer".into(),
            },
            body,
            warnings: Vec::new(),
            at_ms: now_ms(),
        };
        self.record_call(record.clone());
        Ok(record)
    }

    /// `GET config?<query>` with the provider key, checked and recorded.
    async fn fetch_config(
        &self,
        partner: &PartnerSettings,
        key: &str,
        query: &str,
    ) -> Result<ConfigForm, SimError> {
        let url = format!("{}?{query}", join(&partner.base_url, "config"));
        let (status, body) = self.get_with_key(&url, key, partner).await;
        let checked = match status {
            Some(200) => rules::check_config(body.as_bytes()),
            Some(s) => Err(vec![format!("the form answered {s}: {}", clip(&body))]),
            None => Err(vec![format!("the form did not answer: {body}")]),
        };
        self.record_call(CallRecord {
            kind: "config".into(),
            url,
            status,
            body,
            verdict: match &checked {
                Ok(f) if f.errors().is_empty() => "form".into(),
                Ok(f) => format!("error field: {}", f.errors().join("; ")),
                Err(p) => format!("invalid: {}", p.join("; ")),
            },
            warnings: Vec::new(),
            at_ms: now_ms(),
        });
        checked.map_err(|p| SimError::Invalid(p.join("; ")))
    }

    /// A GET the way Teamtailor makes it: the provider key as Bearer.
    async fn get_with_key(
        &self,
        url: &str,
        key: &str,
        partner: &PartnerSettings,
    ) -> (Option<u16>, String) {
        let sent = self
            .http()
            .get(url)
            .bearer_auth(key)
            .timeout(Duration::from_millis(partner.webhook_timeout_ms))
            .send()
            .await;
        read(sent).await
    }

    fn record_call(&self, record: CallRecord) {
        push_bounded(&mut self.state().calls, record);
    }
}

/// The activation form's required fields must be filled before it is saved.
fn check_activation_values(config: &Value, values: &Map<String, Value>) -> Result<(), SimError> {
    let fields = config
        .pointer("/config/fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in &fields {
        let (Some(id), true) = (
            f.get("id").and_then(Value::as_str),
            f.get("required").and_then(Value::as_bool).unwrap_or(false),
        ) else {
            continue;
        };
        if values
            .get(id)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(SimError::Invalid(format!(
                "the activation field `{id}` is required"
            )));
        }
    }
    Ok(())
}

/// Where a stack's Partner API lives on the sim: the EU stack at the sim's
/// own URL, NA and AP under a prefix, so a connector must follow the
/// `update-url` it was given.
pub fn stack_base(public_url: &str, stack: Stack) -> String {
    let public_url = public_url.trim_end_matches('/');
    match stack {
        Stack::Eu => public_url.to_owned(),
        Stack::Na => format!("{public_url}/na"),
        Stack::Ap => format!("{public_url}/au"),
    }
}

fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn clip(s: &str) -> String {
    s.chars().take(500).collect()
}

/// Status and body (capped), or `None` and why there was no answer.
async fn read(sent: reqwest::Result<reqwest::Response>) -> (Option<u16>, String) {
    match sent {
        Err(e) if e.is_timeout() => (None, "timed out".into()),
        Err(e) => (None, format!("{e}")),
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(b) => (
                    Some(status),
                    String::from_utf8_lossy(&b[..b.len().min(MAX_REPLY_BYTES)]).into_owned(),
                ),
                Err(e) if e.is_timeout() => (None, "timed out reading the answer".into()),
                Err(e) => (Some(status), format!("(unreadable body: {e})")),
            }
        }
    }
}

impl ConfigForm {
    /// The select a recruiter picks the check from, for the pages.
    pub fn first_select(&self) -> Option<&rules::FormField> {
        self.fields.iter().find(|f| f.kind == "select")
    }
}
