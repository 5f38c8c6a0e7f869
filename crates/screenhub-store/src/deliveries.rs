//! The outbox: deliveries claimed under a lease, attempted, and recorded.

use std::sync::LazyLock;

use screenhub_core::clock::Millis;
use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_core::event::EventType;
use screenhub_core::DeliveryId;

use crate::group_commit::{Done, Job};
use crate::{
    on_pool, Attempt, AttemptResult, BackendKind, ClaimedDelivery, Delivery, DeliveryFilter,
    OutboxMessage, Store, StoreError, StoreResult,
};

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    seq: i64,
    id: String,
    target: String,
    account_id: Option<String>,
    order_id: Option<String>,
    endpoint_id: Option<String>,
    event_type: String,
    payload_enc: Vec<u8>,
    state: String,
    attempts: i64,
    round_start: i64,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    completed_at: Option<i64>,
}

const COLUMNS: &str = "seq, id, target, account_id, order_id, endpoint_id, event_type, payload_enc, state, \
    attempts, round_start, next_attempt_at, lease_owner, lease_until, last_status, last_error, created_at, \
    updated_at, completed_at";

/// Due, unleased (or lease expired) deliveries; an order's delivery only when no
/// earlier one of the same order to the same receiver (the ATS, or one webhook
/// endpoint) is still pending: per-order FIFO at every receiver.
const DUE: &str = "d.state = 'pending' AND d.next_attempt_at <= $1 \
    AND (d.lease_until IS NULL OR d.lease_until < $1) \
    AND (d.order_id IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.order_id = d.order_id \
         AND e.target = d.target AND (d.target = 'ats' OR e.endpoint_id = d.endpoint_id) \
         AND e.state = 'pending' AND e.seq < d.seq))";

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    started_at: i64,
    duration_ms: i64,
    status_code: Option<i64>,
    error: Option<String>,
    response_excerpt: Option<String>,
}

impl From<AttemptRow> for Attempt {
    fn from(r: AttemptRow) -> Self {
        Attempt {
            attempt: r.attempt,
            started_at: r.started_at,
            duration_ms: r.duration_ms,
            status_code: r.status_code,
            error: r.error,
            response_excerpt: r.response_excerpt,
        }
    }
}

fn delivery_from_row(r: DeliveryRow) -> StoreResult<(Delivery, Vec<u8>)> {
    let delivery = Delivery {
        seq: r.seq,
        id: r.id.parse().map_err(StoreError::corrupt)?,
        target: DeliveryTarget::parse(&r.target).ok_or_else(|| StoreError::corrupt(&r.target))?,
        account_id: r
            .account_id
            .map(|a| a.parse())
            .transpose()
            .map_err(StoreError::corrupt)?,
        order_id: r
            .order_id
            .map(|o| o.parse())
            .transpose()
            .map_err(StoreError::corrupt)?,
        endpoint_id: r
            .endpoint_id
            .map(|e| e.parse())
            .transpose()
            .map_err(StoreError::corrupt)?,
        event_type: r.event_type,
        state: DeliveryState::parse(&r.state).ok_or_else(|| StoreError::corrupt(&r.state))?,
        attempts: r.attempts,
        round_start: r.round_start,
        next_attempt_at: r.next_attempt_at,
        lease_owner: r.lease_owner,
        lease_until: r.lease_until,
        last_status: r.last_status,
        last_error: r.last_error,
        created_at: r.created_at,
        updated_at: r.updated_at,
        completed_at: r.completed_at,
    };
    Ok((delivery, r.payload_enc))
}

/// The outcome of recording an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Done,
    /// Another worker took the lease over meanwhile; its result wins.
    LeaseLost,
}

/// An attempt to record, with everything it changes.
pub(crate) struct AttemptToWrite {
    pub(crate) delivery_id: String,
    pub(crate) owner: String,
    pub(crate) attempt: Attempt,
    pub(crate) state: DeliveryState,
    pub(crate) next_at: Millis,
    pub(crate) completed_at: Option<Millis>,
    pub(crate) now: Millis,
    /// The event for the order's timeline, when the delivery was given up.
    pub(crate) timeline: Option<(EventType, serde_json::Value)>,
    pub(crate) account: Option<String>,
    pub(crate) order: Option<String>,
    pub(crate) outbox: Vec<OutboxMessage>,
}

/// Record one attempt (`$job`) inside the batch transaction `$tx`; evaluates
/// to whether the lease was still ours.
macro_rules! write_attempt {
    ($tx:ident, $store:expr, $job:expr, $endpoints:ident) => {{
        let job: &$crate::deliveries::AttemptToWrite = $job;
        let attempt = &job.attempt;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_excerpt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&job.delivery_id)
        .bind(attempt.attempt)
        .bind(attempt.started_at)
        .bind(attempt.duration_ms)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(&attempt.response_excerpt)
        .execute(&mut *$tx)
        .await?;
        let updated = sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, lease_owner = NULL, \
             lease_until = NULL, last_status = $3, last_error = $4, updated_at = $5, completed_at = $6 \
             WHERE id = $7 AND lease_owner = $8 AND state = 'pending'",
        )
        .bind(job.state.as_str())
        .bind(job.next_at)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(job.now)
        .bind(job.completed_at)
        .bind(&job.delivery_id)
        .bind(&job.owner)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if updated == 0 {
            $crate::deliveries::Recorded::LeaseLost
        } else {
            if let Some((event, data)) = &job.timeline {
                $crate::events::insert_event!($tx, event, job.account.as_deref(), job.order.as_deref(), data, job.now);
            }
            $crate::orders::write_outbox!(
                $tx,
                $store,
                job.now,
                job.account.as_deref(),
                job.order.as_deref(),
                job.outbox.iter().cloned(),
                $endpoints
            );
            $crate::deliveries::Recorded::Done
        }
    }};
}
pub(crate) use write_attempt;

/// A request to lease due deliveries, written with the other hot writes.
pub(crate) struct Claim {
    pub(crate) owner: String,
    pub(crate) now: Millis,
    pub(crate) lease_ms: i64,
    pub(crate) limit: u32,
}

/// The statement that leases due deliveries, binding `now`, the owner, the
/// lease's end and the limit. Built once per backend: every claim runs it.
pub(crate) fn claim_sql(kind: BackendKind) -> &'static str {
    // One writer connection: the select and update cannot interleave with another claim.
    // Without statistics SQLite preferred `deliveries_state` and sorted every
    // pending delivery on each claim (2.9 ms per claim with 30,000 queued);
    // the due index yields them in order and stops at the limit.
    static SQLITE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE deliveries SET lease_owner = $2, lease_until = $3 WHERE seq IN \
             (SELECT d.seq FROM deliveries d INDEXED BY deliveries_due WHERE {DUE} \
             ORDER BY d.next_attempt_at, d.seq LIMIT $4) \
             RETURNING {COLUMNS}"
        )
    });
    // Several nodes: skip rows another node is claiming right now.
    static POSTGRES: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH due AS (SELECT d.seq FROM deliveries d WHERE {DUE} \
             ORDER BY d.next_attempt_at, d.seq LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries SET lease_owner = $2, lease_until = $3 FROM due \
             WHERE deliveries.seq = due.seq RETURNING {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("deliveries.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    match kind {
        BackendKind::Sqlite => &SQLITE,
        BackendKind::Postgres => &POSTGRES,
    }
}

impl Store {
    /// Lease up to `limit` due deliveries to `owner` until `now + lease_ms`.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let claim = Claim {
            owner: owner.to_owned(),
            now,
            lease_ms,
            limit,
        };
        let rows = match self.submit(Job::Claim(claim)).await? {
            (_, Done::Claim(rows)) => rows,
            _ => unreachable!("the writer answers a job with its own kind"),
        };
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let (delivery, sealed) = delivery_from_row(row)?;
            let payload =
                String::from_utf8(self.cipher.open(&sealed)?).map_err(StoreError::corrupt)?;
            claimed.push(ClaimedDelivery { delivery, payload });
        }
        // Oldest first, so one order's ATS updates go out in sequence.
        claimed.sort_by_key(|c| c.delivery.seq);
        Ok(claimed)
    }

    /// The next moment after `now` at which a pending delivery becomes claimable
    /// (its retry falls due or its lease expires). Deliveries due already but not
    /// claimable wait behind another of their order's, whose completion wakes the
    /// dispatcher anyway.
    pub async fn next_wakeup_after(&self, now: Millis) -> StoreResult<Option<Millis>> {
        let next: Option<i64> = on_pool!(self, read, |pool| {
            sqlx::query_scalar(
                "SELECT MIN(t) FROM (SELECT CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at \
                 THEN lease_until ELSE next_attempt_at END AS t FROM deliveries WHERE state = 'pending') due WHERE t > $1",
            )
            .bind(now)
            .fetch_one(pool)
            .await?
        });
        Ok(next)
    }

    /// The next retry due after `now`: the cheap half of
    /// [`Store::next_wakeup_after`] (one index probe), for a worker that
    /// has attempts in flight, whose ends wake it anyway. Leases that expire
    /// are found by the full look-ahead or the safety poll.
    pub async fn next_retry_after(&self, now: Millis) -> StoreResult<Option<Millis>> {
        let sql = match self.kind() {
            BackendKind::Sqlite => {
                "SELECT MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_due \
                 WHERE state = 'pending' AND next_attempt_at > $1"
            }
            BackendKind::Postgres => {
                "SELECT MIN(next_attempt_at) FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at > $1"
            }
        };
        let next: Option<i64> = on_pool!(self, read, |pool| {
            sqlx::query_scalar(sql).bind(now).fetch_one(pool).await?
        });
        Ok(next)
    }

    /// Record one attempt and its consequence, releasing the lease. A refused or
    /// exhausted delivery goes on its order's timeline; `outbox` may announce it.
    pub async fn record_attempt(
        &self,
        delivery: &Delivery,
        owner: &str,
        attempt: &Attempt,
        result: &AttemptResult,
        now: Millis,
        outbox: Vec<OutboxMessage>,
    ) -> StoreResult<Recorded> {
        let (state, next_at, completed_at) = match result {
            AttemptResult::Succeeded => (
                DeliveryState::Succeeded,
                delivery.next_attempt_at,
                Some(now),
            ),
            AttemptResult::RetryAt(at) => (DeliveryState::Pending, *at, None),
            AttemptResult::Failed => (DeliveryState::Failed, delivery.next_attempt_at, Some(now)),
            AttemptResult::Dead => (DeliveryState::Dead, delivery.next_attempt_at, Some(now)),
        };
        let timeline_event = match result {
            AttemptResult::Failed => Some(EventType::DeliveryFailed),
            AttemptResult::Dead => Some(EventType::DeliveryExhausted),
            _ => None,
        };
        let timeline = timeline_event.map(|event| {
            let data = serde_json::json!({
                "delivery_id": delivery.id,
                "target": delivery.target,
                "event_type": delivery.event_type,
                "attempts": delivery.attempts + 1,
                "status_code": attempt.status_code,
                "error": attempt.error,
            });
            (event, data)
        });
        let job = AttemptToWrite {
            delivery_id: delivery.id.as_str().to_owned(),
            owner: owner.to_owned(),
            attempt: attempt.clone(),
            state,
            next_at,
            completed_at,
            now,
            timeline,
            account: delivery.account_id.as_ref().map(|a| a.as_str().to_owned()),
            order: delivery.order_id.map(|o| o.to_string()),
            outbox,
        };
        match self.submit(Job::Attempt(job)).await? {
            (_, Done::Attempt(recorded)) => Ok(recorded),
            _ => unreachable!("the writer answers a job with its own kind"),
        }
    }

    /// Give up a lease without recording an attempt (graceful shutdown).
    pub async fn release_lease(&self, id: &DeliveryId, owner: &str) -> StoreResult<()> {
        on_pool!(self, write, |pool| {
            sqlx::query("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
                .bind(id.as_str())
                .bind(owner)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn get_delivery(
        &self,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, serde_json::Value, Vec<Attempt>)>> {
        let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE id = $1");
        let row: Option<DeliveryRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let (delivery, sealed) = delivery_from_row(row)?;
        let payload =
            serde_json::from_slice(&self.cipher.open(&sealed)?).map_err(StoreError::corrupt)?;
        let attempts = self.delivery_attempts(id).await?;
        Ok(Some((delivery, payload, attempts)))
    }

    pub async fn delivery_attempts(&self, id: &DeliveryId) -> StoreResult<Vec<Attempt>> {
        let rows: Vec<AttemptRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT attempt, started_at, duration_ms, status_code, error, response_excerpt \
                 FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn list_deliveries(&self, filter: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        let rows: Vec<DeliveryRow> = on_pool!(self, read, |pool| {
            let mut qb =
                sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM deliveries WHERE 1 = 1"));
            if let Some(o) = &filter.order_id {
                qb.push(" AND order_id = ").push_bind(o.to_string());
            }
            if let Some(t) = filter.target {
                qb.push(" AND target = ").push_bind(t.as_str());
            }
            if let Some(s) = filter.state {
                qb.push(" AND state = ").push_bind(s.as_str());
            }
            if let Some(a) = &filter.account_id {
                qb.push(" AND account_id = ").push_bind(a.as_str());
            }
            if let Some(b) = filter.before_seq {
                qb.push(" AND seq < ").push_bind(b);
            }
            qb.push(" ORDER BY ");
            if filter.troubled_first {
                qb.push("CASE WHEN state = 'dead' OR state = 'failed' OR (state = 'pending' AND attempts > 0) THEN 0 ELSE 1 END, ");
            }
            qb.push("seq DESC LIMIT ")
                .push_bind(i64::from(filter.limit));
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|r| delivery_from_row(r).map(|(d, _)| d))
            .collect()
    }

    /// Put a failed or dead delivery back in the queue with a fresh schedule.
    pub async fn retry_delivery(&self, id: &DeliveryId, now: Millis) -> StoreResult<Delivery> {
        let (delivery, _, _) = self.get_delivery(id).await?.ok_or(StoreError::NotFound)?;
        match delivery.state {
            DeliveryState::Pending => {
                return Err(StoreError::Conflict(
                    "this delivery is already queued; it will be attempted soon".into(),
                ))
            }
            DeliveryState::Succeeded => {
                return Err(StoreError::Conflict(
                    "this delivery already succeeded; there is nothing to retry".into(),
                ))
            }
            DeliveryState::Failed | DeliveryState::Dead => {}
        }
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            if delivery.target == DeliveryTarget::Ats {
                // Sending an older update after a newer one was accepted would move
                // the assessment backwards in the ATS.
                let newer: Option<i64> = sqlx::query_scalar(
                    "SELECT seq FROM deliveries WHERE order_id = $1 AND target = 'ats' AND seq > $2 AND state = 'succeeded' LIMIT 1",
                )
                .bind(delivery.order_id.map(|o| o.to_string()))
                .bind(delivery.seq)
                .fetch_optional(&mut *tx)
                .await?;
                if newer.is_some() {
                    return Err(StoreError::Conflict(
                        "a later update for this order has already been accepted by the ATS; resending this one would move the assessment backwards".into(),
                    ));
                }
            }
            sqlx::query(
                "UPDATE deliveries SET state = 'pending', round_start = attempts, next_attempt_at = $1, \
                 completed_at = NULL, updated_at = $1 WHERE id = $2 AND state IN ('failed', 'dead')",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let (delivery, _, _) = self.get_delivery(id).await?.ok_or(StoreError::NotFound)?;
        Ok(delivery)
    }

    /// Deliveries waiting, and the age of the oldest (for metrics and health).
    pub async fn queue_depth(&self, now: Millis) -> StoreResult<(i64, Option<i64>)> {
        let (count, oldest): (i64, Option<i64>) = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE state = 'pending'",
            )
            .fetch_one(pool)
            .await?
        });
        Ok((count, oldest.map(|o| now - o)))
    }
}
