//! The audit log: administrative actions with their actor and time.

use screenhub_core::clock::Millis;

use crate::{on_pool, Store, StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub seq: i64,
    /// Who: `api_key:<id>`, `dashboard:<id>`, `cli`, `connect:<account id>`.
    pub actor: String,
    /// What, e.g. `account.created`, `account.token_rotated`, `delivery.retried`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub created_at: Millis,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    actor: String,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    details: String,
    created_at: i64,
}

impl Store {
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<(&str, &str)>,
        details: &serde_json::Value,
        now: Millis,
    ) -> StoreResult<()> {
        let details = details.to_string();
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(actor)
            .bind(action)
            .bind(target.map(|t| t.0))
            .bind(target.map(|t| t.1))
            .bind(&details)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Entries newest first, before the cursor `before` (a `seq`).
    pub async fn list_audit(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT seq, actor, action, target_type, target_id, details, created_at FROM audit_log \
                 WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.seq,
                    actor: r.actor,
                    action: r.action,
                    target_type: r.target_type,
                    target_id: r.target_id,
                    details: serde_json::from_str(&r.details).map_err(StoreError::corrupt)?,
                    created_at: r.created_at,
                })
            })
            .collect()
    }
}
