//! `Idempotency-Key` records: a retried POST gets the first answer again.

use screenhub_core::clock::Millis;
use screenhub_core::ApiKeyId;

use crate::{on_pool, IdempotencyBegin, Store, StoreResult};

/// A request still marked in progress after this long is assumed lost (its
/// process died) and may be run again.
const STALE_AFTER_MS: i64 = 60_000;

impl Store {
    pub async fn idempotency_begin(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        request_hash: &[u8],
        now: Millis,
    ) -> StoreResult<IdempotencyBegin> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (api_key_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(api_key.as_str())
            .bind(key)
            .bind(request_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                tx.commit().await?;
                return Ok(IdempotencyBegin::New);
            }
            let (hash, status, body, created_at): (Vec<u8>, Option<i64>, Option<Vec<u8>>, i64) = sqlx::query_as(
                "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys \
                 WHERE api_key_id = $1 AND key = $2",
            )
            .bind(api_key.as_str())
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let outcome = if hash != request_hash {
                IdempotencyBegin::Mismatch
            } else if let (Some(status), Some(body)) = (status, body) {
                // Answers can carry secrets shown once (a new token), so they are sealed.
                IdempotencyBegin::Replay {
                    status: status as u16,
                    body: self.cipher.open(&body)?,
                }
            } else if now - created_at > STALE_AFTER_MS {
                sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE api_key_id = $2 AND key = $3")
                    .bind(now)
                    .bind(api_key.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                IdempotencyBegin::New
            } else {
                IdempotencyBegin::InProgress
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    pub async fn idempotency_complete(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        let sealed = self.cipher.seal(body);
        on_pool!(self, write, |pool| {
            sqlx::query("UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE api_key_id = $3 AND key = $4")
                .bind(i64::from(status))
                .bind(&sealed)
                .bind(api_key.as_str())
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forget an in-progress key whose request failed before answering, so a retry can run.
    pub async fn idempotency_abandon(&self, api_key: &ApiKeyId, key: &str) -> StoreResult<()> {
        on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status_code IS NULL")
                .bind(api_key.as_str())
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
