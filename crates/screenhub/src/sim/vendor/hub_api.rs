//! The few calls a vendor makes to Screenhub's vendor API. Each is one HTTP
//! request with `Authorization: Bearer <vendor API key>`; errors come back as
//! `{"error": {"code", "message"}}`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::plan::{ResultPlan, CATALOG};

const ENDPOINT_DESCRIPTION: &str = "Screenhub reference vendor";

#[derive(Debug, thiserror::Error)]
pub enum HubApiError {
    /// 409: the order already ended (e.g. Ashby cancelled it meanwhile). Not a
    /// bug on either side; the vendor stops working on it.
    #[error("the order already ended: {0}")]
    AlreadyEnded(String),
    #[error("the hub answered HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("could not reach the hub: {0}")]
    Unreachable(#[from] reqwest::Error),
}

#[derive(Clone)]
pub struct HubApi {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl HubApi {
    pub fn new(base_url: &str, api_key: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, HubApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_owned();
        Err(if status == StatusCode::CONFLICT {
            HubApiError::AlreadyEnded(message)
        } else {
            HubApiError::Refused {
                status: status.as_u16(),
                message,
            }
        })
    }

    /// Publish the catalog; Ashby shows these as Assessment Types.
    pub async fn sync_packages(&self) -> Result<(), HubApiError> {
        let packages: Vec<Value> = CATALOG
            .iter()
            .map(|c| {
                json!({"id": c.id, "kind": c.kind, "name": c.name,
                       "description": c.description, "screenings": c.screenings})
            })
            .collect();
        self.call(reqwest::Method::PUT, "/v1/packages", Value::Array(packages))
            .await
            .map(drop)
    }

    /// Register where webhooks go, replacing the endpoint an earlier run of this
    /// vendor registered; returns the signing secret (shown only once).
    pub async fn register_webhook_endpoint(&self, url: &str) -> Result<String, HubApiError> {
        let existing = self
            .call(reqwest::Method::GET, "/v1/webhook-endpoints", Value::Null)
            .await?;
        for endpoint in existing["data"].as_array().into_iter().flatten() {
            if endpoint["description"] == ENDPOINT_DESCRIPTION {
                let id = endpoint["id"].as_str().unwrap_or_default();
                self.call(
                    reqwest::Method::DELETE,
                    &format!("/v1/webhook-endpoints/{id}"),
                    Value::Null,
                )
                .await?;
            }
        }
        let endpoint = self
            .call(
                reqwest::Method::POST,
                "/v1/webhook-endpoints",
                json!({"url": url, "events": ["order.created", "order.cancelled"],
                       "description": ENDPOINT_DESCRIPTION}),
            )
            .await?;
        endpoint["secret"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HubApiError::Refused {
                status: 201,
                message: "the answer has no `secret`".into(),
            })
    }

    pub async fn in_progress(
        &self,
        order_id: &str,
        label: &str,
        eta_minutes: i64,
    ) -> Result<(), HubApiError> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/orders/{order_id}/status"),
            json!({"status": "in_progress", "label": label, "eta_minutes": eta_minutes}),
        )
        .await
        .map(drop)
    }

    pub async fn failed(&self, order_id: &str, reason: &str) -> Result<(), HubApiError> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/orders/{order_id}/status"),
            json!({"status": "failed", "reason": reason}),
        )
        .await
        .map(drop)
    }

    pub async fn cancel(&self, order_id: &str, reason: &str) -> Result<(), HubApiError> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/orders/{order_id}/cancel"),
            json!({"reason": reason}),
        )
        .await
        .map(drop)
    }

    pub async fn result(
        &self,
        order_id: &str,
        result: &ResultPlan,
        report_url: &str,
    ) -> Result<(), HubApiError> {
        let mut body = serde_json::to_value(result).unwrap_or_default();
        body["report_url"] = json!(report_url);
        if body["score"].is_null() {
            body.as_object_mut().map(|o| o.remove("score"));
        }
        self.call(
            reqwest::Method::PUT,
            &format!("/v1/orders/{order_id}/result"),
            body,
        )
        .await
        .map(drop)
    }
}
