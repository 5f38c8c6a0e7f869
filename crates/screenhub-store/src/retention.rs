//! Forgetting: candidate data purged after a retention period, and an employer
//! account erased entirely on request.

use screenhub_core::clock::Millis;
use screenhub_core::AccountId;

use crate::{on_pool, Store, StoreError, StoreResult};

/// Orders purged per transaction, so a large backlog never holds the writer long.
const PURGE_BATCH: i64 = 500;

impl Store {
    /// Remove candidate data (the start request, the email index, and vendor
    /// webhook bodies) from orders that ended before `ended_before`, leaving the
    /// non-personal shell: ids, status, outcome, result, timeline. Returns how
    /// many orders were purged.
    pub async fn purge_pii(&self, ended_before: Millis, now: Millis) -> StoreResult<u64> {
        let purged_body = self.cipher.seal(br#"{"purged":true}"#);
        let mut total = 0;
        loop {
            let done = on_pool!(self, write, |pool| {
                let mut tx = pool.begin().await?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM orders WHERE terminal_at IS NOT NULL AND terminal_at < $1 \
                     AND pii_purged_at IS NULL ORDER BY terminal_at LIMIT $2",
                )
                .bind(ended_before)
                .bind(PURGE_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                for id in &ids {
                    sqlx::query("UPDATE orders SET pii_enc = NULL, intake_enc = NULL, email_hash = NULL, pii_purged_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    // Vendor webhooks carry the candidate; updates to the ATS do not.
                    sqlx::query(
                        "UPDATE deliveries SET payload_enc = $1 WHERE order_id = $2 AND target = 'vendor' AND state <> 'pending'",
                    )
                    .bind(&purged_body)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                ids.len() as u64
            });
            total += done;
            if done < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Delete an account and everything it owns: orders, their events,
    /// deliveries and attempts, and its tokens. Irreversible.
    pub async fn erase_account(&self, id: &AccountId) -> StoreResult<()> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            for sql in [
                "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE account_id = $1)",
                "DELETE FROM deliveries WHERE account_id = $1",
                "DELETE FROM events WHERE account_id = $1",
                "DELETE FROM orders WHERE account_id = $1",
                "DELETE FROM account_tokens WHERE account_id = $1",
                "DELETE FROM accounts WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        self.cache.invalidate();
        Ok(())
    }
}
