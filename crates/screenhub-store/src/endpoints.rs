//! Vendor webhook endpoints and their signing secrets (sealed at rest).

use screenhub_core::clock::Millis;
use screenhub_core::event::EventType;
use screenhub_core::secret;
use screenhub_core::EndpointId;

use crate::cache::EndpointKeys;
use crate::health::health_from_row;
use crate::{on_pool, EndpointSecrets, Store, StoreError, StoreResult, WebhookEndpoint};

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    events: Option<String>,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
    delivery_failures: i64,
    failing_since: Option<i64>,
    last_delivery_error: Option<String>,
    flagged_at: Option<i64>,
}

pub(crate) fn parse_events(events: Option<&str>) -> StoreResult<Option<Vec<EventType>>> {
    events
        .map(|e| serde_json::from_str::<Vec<EventType>>(e).map_err(StoreError::corrupt))
        .transpose()
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> StoreResult<Self> {
        Ok(WebhookEndpoint {
            id: r.id.parse().map_err(StoreError::corrupt)?,
            events: parse_events(r.events.as_deref())?,
            url: r.url,
            description: r.description,
            disabled: r.disabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            health: health_from_row((
                r.delivery_failures,
                r.failing_since,
                r.last_delivery_error,
                r.flagged_at,
            )),
        })
    }
}

/// url, sealed secret, sealed previous secret, until when the previous one is valid.
type SecretsRow = (String, Vec<u8>, Option<Vec<u8>>, Option<i64>);

const SELECT: &str = "SELECT id, url, description, events, disabled, created_at, updated_at, \
    delivery_failures, failing_since, last_delivery_error, flagged_at FROM webhook_endpoints";

impl Store {
    /// Register an endpoint; its new signing secret is returned once here.
    pub async fn create_endpoint(
        &self,
        url: &str,
        description: &str,
        events: Option<&[EventType]>,
        now: Millis,
    ) -> StoreResult<(WebhookEndpoint, String)> {
        let id = EndpointId::generate();
        let secret = secret::generate_webhook_secret();
        let sealed = self.cipher.seal_str(&secret);
        let events = events.map(|e| serde_json::to_string(e).expect("event types serialise"));
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, description, events, secret_enc, disabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6)",
            )
            .bind(id.as_str())
            .bind(url)
            .bind(description)
            .bind(events)
            .bind(&sealed)
            .bind(now)
            .execute(pool)
            .await?;
        });
        self.cache.invalidate();
        let endpoint = self.get_endpoint(&id).await?.ok_or(StoreError::NotFound)?;
        Ok((endpoint, secret))
    }

    pub async fn get_endpoint(&self, id: &EndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row: Option<EndpointRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    pub async fn list_endpoints(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        let sql = format!("{SELECT} ORDER BY id");
        let rows: Vec<EndpointRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn update_endpoint(
        &self,
        id: &EndpointId,
        url: Option<&str>,
        description: Option<&str>,
        events: Option<Option<&[EventType]>>,
        disabled: Option<bool>,
        now: Millis,
    ) -> StoreResult<WebhookEndpoint> {
        let current = self.get_endpoint(id).await?.ok_or(StoreError::NotFound)?;
        let url = url.unwrap_or(&current.url);
        let description = description.unwrap_or(&current.description);
        let events = match events {
            Some(e) => e.map(|e| serde_json::to_string(e).expect("event types serialise")),
            None => current
                .events
                .as_ref()
                .map(|e| serde_json::to_string(e).expect("event types serialise")),
        };
        let disabled = disabled.unwrap_or(current.disabled);
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, disabled = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(url)
            .bind(description)
            .bind(events)
            .bind(disabled)
            .bind(now)
            .bind(id.as_str())
            .execute(pool)
            .await?;
        });
        self.cache.invalidate();
        self.get_endpoint(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn delete_endpoint(&self, id: &EndpointId) -> StoreResult<()> {
        let deleted = on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        self.cache.invalidate();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// New signing secret; the previous one stays valid (webhooks carry both
    /// signatures) until `old_valid_until`, if given.
    pub async fn rotate_endpoint_secret(
        &self,
        id: &EndpointId,
        old_valid_until: Option<Millis>,
        now: Millis,
    ) -> StoreResult<String> {
        let secret = secret::generate_webhook_secret();
        let sealed = self.cipher.seal_str(&secret);
        let updated = on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE webhook_endpoints SET old_secret_enc = CASE WHEN $1 IS NULL THEN NULL ELSE secret_enc END, \
                 old_secret_until = $1, secret_enc = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(old_valid_until)
            .bind(&sealed)
            .bind(now)
            .bind(id.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.cache.invalidate();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(secret)
    }

    /// The secrets to sign with now.
    pub async fn endpoint_secrets(
        &self,
        id: &EndpointId,
        now: Millis,
    ) -> StoreResult<Option<(String, EndpointSecrets)>> {
        let keys = match self.cache.endpoints.get(id) {
            Some(hit) => hit,
            None => {
                let read_at = self.cache.generation();
                let row: Option<SecretsRow> = on_pool!(self, read, |pool| {
                    sqlx::query_as("SELECT url, secret_enc, old_secret_enc, old_secret_until FROM webhook_endpoints WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(pool)
                        .await?
                });
                let Some((url, current, old, old_until)) = row else {
                    return Ok(None);
                };
                let previous = match (old, old_until) {
                    (Some(old), Some(until)) => Some((self.cipher.open_string(&old)?, until)),
                    _ => None,
                };
                let keys = EndpointKeys {
                    url,
                    current: self.cipher.open_string(&current)?,
                    previous,
                };
                self.cache
                    .put(&self.cache.endpoints, read_at, id.clone(), keys.clone());
                keys
            }
        };
        Ok(Some((
            keys.url,
            EndpointSecrets {
                current: keys.current,
                previous: keys
                    .previous
                    .and_then(|(secret, until)| (until > now).then_some(secret)),
            },
        )))
    }
}
