//! What the web UI needs from the database: one-time connect links, vendor
//! dashboard sessions, and cheap counts for the dashboard's overview.

use screenhub_core::clock::Millis;
use screenhub_core::ids::ConnectSessionId;
use screenhub_core::secret;
use screenhub_core::{AccountId, ApiKeyId};

use crate::{on_pool, Store, StoreError, StoreResult};

/// Prefix of a connect link's secret (the last path segment of its URL).
pub const CONNECT_TOKEN_PREFIX: &str = "shc_";
/// Prefix of a dashboard session cookie's value.
pub const DASHBOARD_SESSION_PREFIX: &str = "shs_";

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectSession {
    pub id: ConnectSessionId,
    pub account_id: AccountId,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

/// Why a connect link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectLinkState {
    Usable,
    Expired,
    Used,
}

impl ConnectSession {
    pub fn state(&self, now: Millis) -> ConnectLinkState {
        if self.used_at.is_some() {
            ConnectLinkState::Used
        } else if now >= self.expires_at {
            ConnectLinkState::Expired
        } else {
            ConnectLinkState::Usable
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DashboardSession {
    pub api_key_id: ApiKeyId,
    pub api_key_name: String,
    pub csrf_token: String,
    pub expires_at: Millis,
}

/// Counts for the dashboard's overview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusCounts {
    /// (status, count) of the orders created on the days asked for.
    pub by_status: Vec<(String, i64)>,
}

impl StatusCounts {
    pub fn get(&self, status: &str) -> i64 {
        self.by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    }
    pub fn total(&self) -> i64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
}

#[derive(sqlx::FromRow)]
struct ConnectRow {
    id: String,
    account_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    token_hash: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_hash: Vec<u8>,
    api_key_id: String,
    name: String,
    csrf_token: String,
    expires_at: i64,
}

impl Store {
    /// A new one-time connect link for an account; the secret is returned
    /// here and never again.
    pub async fn create_connect_session(
        &self,
        account: &AccountId,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<(ConnectSession, String)> {
        let session = ConnectSession {
            id: ConnectSessionId::generate(),
            account_id: account.clone(),
            created_at: now,
            expires_at,
            used_at: None,
        };
        let token = secret::generate_token(CONNECT_TOKEN_PREFIX);
        let hash = secret::hash_token(&token).to_vec();
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO connect_sessions (id, token_hash, account_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(session.id.as_str())
            .bind(&hash)
            .bind(account.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok((session, token))
    }

    /// The connect session a link's secret belongs to, used or not.
    pub async fn find_connect_session(&self, token: &str) -> StoreResult<Option<ConnectSession>> {
        let hash = secret::hash_token(token);
        let row: Option<ConnectRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT id, account_id, created_at, expires_at, used_at, token_hash \
                 FROM connect_sessions WHERE token_hash = $1",
            )
            .bind(hash.to_vec())
            .fetch_optional(pool)
            .await?
        });
        match row {
            Some(r) if secret::hashes_equal(&r.token_hash, &hash) => Ok(Some(ConnectSession {
                id: r.id.parse().map_err(StoreError::corrupt)?,
                account_id: r.account_id.parse().map_err(StoreError::corrupt)?,
                created_at: r.created_at,
                expires_at: r.expires_at,
                used_at: r.used_at,
            })),
            _ => Ok(None),
        }
    }

    /// The connection is complete: the link stops working. false when it was
    /// already used (a concurrent completion won).
    pub async fn use_connect_session(
        &self,
        id: &ConnectSessionId,
        now: Millis,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE connect_sessions SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Sign a vendor operator in; returns the cookie value (shown once) and
    /// the session's CSRF token.
    pub async fn create_dashboard_session(
        &self,
        api_key: &ApiKeyId,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<(String, String)> {
        let token = secret::generate_token(DASHBOARD_SESSION_PREFIX);
        let csrf = secret::generate_token("");
        let hash = secret::hash_token(&token).to_vec();
        on_pool!(self, write, |pool| {
            // Expired sessions go as new ones arrive: no sweeper needed.
            sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO dashboard_sessions (session_hash, api_key_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&hash)
            .bind(api_key.as_str())
            .bind(&csrf)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok((token, csrf))
    }

    /// The live session a cookie names (its API key not revoked, not expired).
    pub async fn find_dashboard_session(
        &self,
        token: &str,
        now: Millis,
    ) -> StoreResult<Option<DashboardSession>> {
        let hash = secret::hash_token(token);
        let row: Option<SessionRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT s.session_hash, s.api_key_id, k.name, s.csrf_token, s.expires_at \
                 FROM dashboard_sessions s JOIN api_keys k ON k.id = s.api_key_id \
                 WHERE s.session_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
            )
            .bind(hash.to_vec())
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        match row {
            Some(r) if secret::hashes_equal(&r.session_hash, &hash) => Ok(Some(DashboardSession {
                api_key_id: r.api_key_id.parse().map_err(StoreError::corrupt)?,
                api_key_name: r.name,
                csrf_token: r.csrf_token,
                expires_at: r.expires_at,
            })),
            _ => Ok(None),
        }
    }

    /// Sign out: the cookie's session stops working at once.
    pub async fn delete_dashboard_session(&self, token: &str) -> StoreResult<()> {
        let hash = secret::hash_token(token).to_vec();
        on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM dashboard_sessions WHERE session_hash = $1")
                .bind(&hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Orders created on the UTC day of `since` or later, by their current
    /// status (from the trigger-kept `order_day_counts`, not the orders).
    pub async fn order_counts_since_day(&self, since: Millis) -> StoreResult<StatusCounts> {
        let rows: Vec<(String, i64)> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT status, CAST(SUM(n) AS BIGINT) FROM order_day_counts WHERE day >= $1 \
                 GROUP BY status HAVING SUM(n) <> 0 ORDER BY status",
            )
            .bind(since.div_euclid(DAY_MS))
            .fetch_all(pool)
            .await?
        });
        Ok(StatusCounts { by_status: rows })
    }

    /// Orders created per UTC day from the day of `since` on: (day start,
    /// count), oldest first, days without orders left out.
    pub async fn orders_per_day(&self, since: Millis) -> StoreResult<Vec<(Millis, i64)>> {
        let rows: Vec<(i64, i64)> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT day, CAST(SUM(n) AS BIGINT) FROM order_day_counts WHERE day >= $1 \
                 GROUP BY day HAVING SUM(n) <> 0 ORDER BY day",
            )
            .bind(since.div_euclid(DAY_MS))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(d, n)| (d * DAY_MS, n)).collect())
    }

    /// (created_at, completed_at) of deliveries that succeeded since `since`,
    /// at most `limit` of the latest (for the latency chart).
    pub async fn delivery_latencies(
        &self,
        since: Millis,
        limit: u32,
    ) -> StoreResult<Vec<(Millis, Millis)>> {
        let rows: Vec<(i64, i64)> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT created_at, completed_at FROM deliveries \
                 WHERE state = 'succeeded' AND completed_at >= $1 ORDER BY completed_at DESC LIMIT $2",
            )
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Deliveries that need a person: dead or failed, or pending after a failed attempt.
    pub async fn count_troubled_deliveries(&self) -> StoreResult<i64> {
        let n: i64 = on_pool!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM deliveries WHERE state IN ('dead', 'failed') \
                 OR (state = 'pending' AND attempts > round_start)",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    /// Enabled accounts whose connection is in error.
    pub async fn count_accounts_in_error(&self) -> StoreResult<i64> {
        let n: i64 = on_pool!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM accounts WHERE status = 'error' AND disabled_at IS NULL",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }
}

impl Store {
    /// Write many orders (each with its `order.created` event) in one
    /// transaction, without outbox messages: for benchmarks and demo data,
    /// never for orders an ATS sent.
    pub async fn bulk_insert_orders(&self, orders: &[crate::NewOrder]) -> StoreResult<()> {
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            for o in orders {
                let id = o.id.to_string();
                sqlx::query(
                    "INSERT INTO orders (id, account_id, package_id, package_name, status, candidate_ats_id, \
                     application_ats_id, application_status, job_ats_id, job_name, job_req_id, email_hash, pii_enc, \
                     last_ats_timestamp, created_at, updated_at, ats, intake_enc, dedupe_key) \
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13, $14, $15, $16)",
                )
                .bind(&id)
                .bind(o.account_id.as_str())
                .bind(&o.package_id)
                .bind(&o.package_name)
                .bind(&o.candidate_ats_id)
                .bind(&o.application_ats_id)
                .bind(&o.application_status)
                .bind(&o.job_ats_id)
                .bind(&o.job_name)
                .bind(&o.job_req_id)
                .bind(self.cipher.index_hash(&o.candidate_email))
                .bind(self.cipher.seal(o.ats_payload.to_string().as_bytes()))
                .bind(o.created_at)
                .bind(o.ats.as_str())
                .bind(self.cipher.seal(
                    &serde_json::to_vec(&o.intake).expect("an intake always serialises"),
                ))
                .bind(&o.dedupe_key)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO events (type, account_id, order_id, data, created_at) \
                     VALUES ('order.created', $1, $2, $3, $4)",
                )
                .bind(o.account_id.as_str())
                .bind(&id)
                .bind(r#"{"status":"pending"}"#)
                .bind(o.created_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            // Fresh statistics, as PostgreSQL's autovacuum would gather soon
            // after a bulk load: without them its planner guesses a few rows
            // and reads every order of an account to sort them.
            sqlx::query("ANALYZE orders").execute(pool).await?;
        });
        Ok(())
    }
}
