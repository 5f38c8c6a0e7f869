//! Orders: created idempotently from the ATS's start, changed only through the
//! state machine, and always together with their events and outbox messages.

use std::sync::LazyLock;

use screenhub_core::account::Ats;
use screenhub_core::clock::Millis;
use screenhub_core::event::EventType;
use screenhub_core::order::{self, Actor, Change, OrderStatus, Outcome};
use screenhub_core::{AccountId, OrderId};

use crate::group_commit::{Done, Job};
use crate::{
    on_pool, BackendKind, CreatedOrder, NewOrder, Order, OrderFilter, OutboxMessage, Store,
    StoreError, StoreResult,
};

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    id: String,
    account_id: String,
    ats: String,
    package_id: String,
    package_name: String,
    status: String,
    outcome: Option<String>,
    candidate_ats_id: String,
    application_ats_id: String,
    application_status: String,
    job_ats_id: String,
    job_name: String,
    job_req_id: Option<String>,
    pii_enc: Option<Vec<u8>>,
    intake_enc: Option<Vec<u8>>,
    dedupe_key: Option<String>,
    progress_label: Option<String>,
    eta_minutes: Option<i64>,
    result: Option<String>,
    cancel_reason: Option<String>,
    cancelled_by: Option<String>,
    failure_reason: Option<String>,
    last_ats_timestamp: i64,
    created_at: i64,
    updated_at: i64,
    terminal_at: Option<i64>,
    pii_purged_at: Option<i64>,
}

pub(crate) const ORDER_SELECT: &str = "SELECT id, account_id, ats, package_id, package_name, status, outcome, \
    candidate_ats_id, application_ats_id, application_status, job_ats_id, job_name, job_req_id, pii_enc, \
    intake_enc, dedupe_key, \
    progress_label, eta_minutes, result, cancel_reason, cancelled_by, failure_reason, last_ats_timestamp, \
    created_at, updated_at, terminal_at, pii_purged_at FROM orders";

const LIVE: &str = "status IN ('pending', 'in_progress')";

/// Insert the messages of an outbox into `deliveries`, inside the transaction
/// `$tx` that makes the change they announce (never a dual write).
macro_rules! write_outbox {
    ($tx:ident, $store:expr, $now:expr, $account:expr, $order:expr, $messages:expr) => {{
        let mut endpoints: Option<Vec<(String, Option<String>)>> = None;
        write_outbox!($tx, $store, $now, $account, $order, $messages, endpoints)
    }};
    // `$endpoints` caches the endpoint list for the whole transaction (a batch
    // of orders reads it once).
    ($tx:ident, $store:expr, $now:expr, $account:expr, $order:expr, $messages:expr, $endpoints:ident) => {{
        for message in $messages {
            let except = match &message {
                OutboxMessage::VendorElsewhere { except, .. } => Some(except.as_str().to_owned()),
                _ => None,
            };
            let (target, endpoint_ids, event_type, payload): (&str, Vec<Option<String>>, String, Box<serde_json::value::RawValue>) =
                match message {
                    OutboxMessage::Ats { event_type, payload } => ("ats", vec![None], event_type, payload),
                    OutboxMessage::Vendor { event, payload } | OutboxMessage::VendorElsewhere { event, payload, .. } => {
                        if $endpoints.is_none() {
                            $endpoints = Some(
                                sqlx::query_as("SELECT id, events FROM webhook_endpoints WHERE disabled = FALSE ORDER BY id")
                                    .fetch_all(&mut *$tx)
                                    .await?,
                            );
                        }
                        let mut ids = Vec::new();
                        for (id, events) in $endpoints.iter().flatten() {
                            let wanted = parse_events(events.as_deref())?;
                            if wanted.as_ref().is_none_or(|w| w.contains(&event)) && except.as_deref() != Some(id.as_str()) {
                                ids.push(Some(id.clone()));
                            }
                        }
                        ("vendor", ids, event.as_str().to_owned(), payload)
                    }
                };
            let sealed = $store.cipher.seal(payload.get().as_bytes());
            for endpoint_id in endpoint_ids {
                sqlx::query(
                    "INSERT INTO deliveries (id, target, account_id, order_id, endpoint_id, event_type, payload_enc, \
                     state, attempts, round_start, next_attempt_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, 0, $8, $8, $8)",
                )
                .bind(DeliveryId::generate().as_str())
                .bind(target)
                .bind($account)
                .bind($order)
                .bind(endpoint_id)
                .bind(&event_type)
                .bind(&sealed)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}
pub(crate) use write_outbox;

pub(crate) fn event_for(change: &Change) -> (EventType, serde_json::Value) {
    use serde_json::json;
    match change {
        Change::Progress { label, eta_minutes } => (
            EventType::OrderInProgress,
            json!({ "status": "in_progress", "label": label, "eta_minutes": eta_minutes }),
        ),
        Change::Complete(result) => (
            EventType::OrderCompleted,
            json!({ "status": "completed", "outcome": result.outcome, "report_url": result.report_url }),
        ),
        Change::Cancel { reason, by } => (
            EventType::OrderCancelled,
            json!({ "status": "cancelled", "reason": reason, "by": by }),
        ),
        Change::Fail { reason } => (
            EventType::OrderFailed,
            json!({ "status": "failed", "reason": reason }),
        ),
    }
}

/// Apply a change to the in-memory order (the caller has checked the transition).
fn apply(order: &mut Order, change: Change, now: Millis) {
    order.status = change.target_status();
    match change {
        Change::Progress { label, eta_minutes } => {
            order.progress_label = label;
            order.eta_minutes = eta_minutes;
        }
        Change::Complete(result) => {
            order.outcome = Some(result.outcome);
            order.result = Some(result);
        }
        Change::Cancel { reason, by } => {
            order.cancel_reason = Some(reason);
            order.cancelled_by = Some(by);
        }
        Change::Fail { reason } => order.failure_reason = Some(reason),
    }
    if order.status.is_terminal() {
        order.terminal_at = Some(now);
    }
    order.last_ats_timestamp = order::next_ats_timestamp(order.last_ats_timestamp, now);
    order.updated_at = now;
}

/// Record that an account was active to the minute.
pub(crate) const ACCOUNT_ACTIVITY: &str =
    "UPDATE accounts SET last_activity_at = $1 WHERE id = $2 \
    AND (last_activity_at IS NULL OR last_activity_at < $1 - 60000)";
/// What every change to an order writes besides the order itself, inside the
/// batch transaction `$tx`: its event on the timeline, its outbox messages,
/// and the account's activity (collected in `$active`, written once per batch).
macro_rules! record_order_news {
    ($tx:ident, $store:expr, $event:expr, $data:expr, $account:expr, $order:expr, $messages:expr,
     $now:expr, $endpoints:ident, $active:ident) => {{
        $crate::events::insert_event!($tx, $event, Some($account), Some($order), $data, $now);
        $crate::orders::write_outbox!(
            $tx,
            $store,
            $now,
            Some($account),
            Some($order),
            $messages,
            $endpoints
        );
        $crate::orders::note_active(&mut $active, $account, $now);
    }};
}
pub(crate) use record_order_news;

/// Write one start (`$item`) inside the batch transaction `$tx`: insert it,
/// or find the live order its application already has (a twin earlier in the
/// same batch included). Evaluates to what it found; `$active` collects the
/// accounts to mark active.
macro_rules! write_order {
    ($tx:ident, $store:expr, $item:expr, $endpoints:ident, $active:ident) => {{
        let item: &$crate::orders::OrderToWrite = $item;
        let order = &item.order;
        let id = order.id.to_string();
        let now = order.created_at;
        let inserted = sqlx::query(
            "INSERT INTO orders (id, account_id, package_id, package_name, status, candidate_ats_id, \
             application_ats_id, application_status, job_ats_id, job_name, job_req_id, email_hash, pii_enc, \
             last_ats_timestamp, created_at, updated_at, ats, intake_enc, dedupe_key) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13, $14, $15, $16) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(order.account_id.as_str())
        .bind(&order.package_id)
        .bind(&order.package_name)
        .bind(&order.candidate_ats_id)
        .bind(&order.application_ats_id)
        .bind(&order.application_status)
        .bind(&order.job_ats_id)
        .bind(&order.job_name)
        .bind(&order.job_req_id)
        .bind(&item.email_hash)
        .bind(&item.pii)
        .bind(now)
        .bind(order.ats.as_str())
        .bind(&item.intake)
        .bind(&order.dedupe_key)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing: Option<$crate::orders::OrderRow> = match &order.dedupe_key {
                Some(key) => sqlx::query_as($crate::orders::find_by_dedupe_key_sql())
                    .bind(order.account_id.as_str())
                    .bind(key)
                    .fetch_optional(&mut *$tx)
                    .await?,
                None => sqlx::query_as($crate::orders::find_live_sql())
                    .bind(order.account_id.as_str())
                    .bind(&order.application_ats_id)
                    .bind(&order.package_id)
                    .fetch_optional(&mut *$tx)
                    .await?,
            };
            Some(existing)
        } else {
            let data = serde_json::json!({ "status": "pending", "package_id": order.package_id });
            $crate::orders::record_order_news!(
                $tx, $store, screenhub_core::event::EventType::OrderCreated, &data,
                order.account_id.as_str(), id.as_str(), item.messages.iter().cloned(),
                now, $endpoints, $active
            );
            None
        }
    }};
}
pub(crate) use write_order;

/// The live order of an application and package (a start's twin).
pub(crate) fn find_live_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("{ORDER_SELECT} WHERE account_id = $1 AND application_ats_id = $2 AND package_id = $3 AND {LIVE}")
    });
    &SQL
}

/// The order an account already has under an ATS's own key (any status).
pub(crate) fn find_by_dedupe_key_sql() -> &'static str {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("{ORDER_SELECT} WHERE account_id = $1 AND dedupe_key = $2"));
    &SQL
}

/// A change to an order, with what it should announce.
pub(crate) struct ChangeToWrite {
    pub(crate) key: String,
    pub(crate) account: Option<AccountId>,
    pub(crate) change: Change,
    pub(crate) now: Millis,
    /// Builds the outbox from the changed order (called again if the batch is
    /// retried job by job, hence `Fn`).
    #[allow(clippy::type_complexity)]
    pub(crate) outbox: Box<dyn Fn(&Order) -> Vec<OutboxMessage> + Send + Sync>,
}

/// Apply one change (`$job`) inside the batch transaction `$tx`. Evaluates to
/// the changed order, or why it could not change (which writes nothing and
/// leaves the rest of the batch alone); database errors fail the batch.
macro_rules! change_order {
    ($tx:ident, $store:expr, $job:expr, $endpoints:ident, $active:ident) => {{
        let job: &$crate::orders::ChangeToWrite = $job;
        let now = job.now;
        let row: Option<$crate::orders::OrderRow> = sqlx::query_as($crate::orders::change_select_sql($store.kind()))
            .bind(&job.key)
            .fetch_optional(&mut *$tx)
            .await?;
        match $crate::orders::changed(&$store, row, job) {
            Err(refused) => Err(refused),
            Ok((order, before)) => {
                sqlx::query(
                    "UPDATE orders SET status = $1, outcome = $2, progress_label = $3, eta_minutes = $4, result = $5, \
                     cancel_reason = $6, cancelled_by = $7, failure_reason = $8, last_ats_timestamp = $9, \
                     updated_at = $10, terminal_at = $11 WHERE id = $12 AND status = $13",
                )
                .bind(order.status.as_str())
                .bind(order.outcome.map(screenhub_core::order::Outcome::as_str))
                .bind(&order.progress_label)
                .bind(order.eta_minutes)
                .bind(order.result.as_ref().map(|r| serde_json::to_string(r).expect("results serialise")))
                .bind(&order.cancel_reason)
                .bind(order.cancelled_by.map(screenhub_core::order::Actor::as_str))
                .bind(&order.failure_reason)
                .bind(order.last_ats_timestamp)
                .bind(now)
                .bind(order.terminal_at)
                .bind(&job.key)
                .bind(before.as_str())
                .execute(&mut *$tx)
                .await?;
                let (event_type, data) = $crate::orders::event_for(&job.change);
                $crate::orders::record_order_news!(
                    $tx, $store, event_type, &data,
                    order.account_id.as_str(), job.key.as_str(), (job.outbox)(&order),
                    now, $endpoints, $active
                );
                Ok(order)
            }
        }
    }};
}
pub(crate) use change_order;

/// The order read for a change; locked on PostgreSQL so concurrent changes
/// to one order queue instead of racing.
/// Built once per backend: it is read for every change on the hot path.
pub(crate) fn change_select_sql(kind: BackendKind) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| format!("{ORDER_SELECT} WHERE id = $1"));
    static POSTGRES: LazyLock<String> =
        LazyLock::new(|| format!("{ORDER_SELECT} WHERE id = $1 FOR UPDATE"));
    match kind {
        BackendKind::Sqlite => &SQLITE,
        BackendKind::Postgres => &POSTGRES,
    }
}

/// The order after `job`'s change, and its status before; or why it cannot change.
pub(crate) fn changed(
    store: &Store,
    row: Option<OrderRow>,
    job: &ChangeToWrite,
) -> StoreResult<(Order, OrderStatus)> {
    let mut order = store.order_from_row(row.ok_or(StoreError::NotFound)?)?;
    if job.account.as_ref().is_some_and(|a| *a != order.account_id) {
        return Err(StoreError::NotFound);
    }
    let before = order.status;
    order::transition(before, &job.change)?;
    apply(&mut order, job.change.clone(), job.now);
    Ok((order, before))
}

/// Remember that `account` was active at `now` (written once per batch).
pub(crate) fn note_active(active: &mut Vec<(String, i64)>, account: &str, now: Millis) {
    match active.iter_mut().find(|(a, _)| a == account) {
        Some((_, at)) => *at = (*at).max(now),
        None => active.push((account.to_owned(), now)),
    }
}

/// A start, ready to be written (PII sealed, messages built).
pub(crate) struct OrderToWrite {
    pub(crate) order: Order,
    pub(crate) pii: Vec<u8>,
    pub(crate) intake: Vec<u8>,
    pub(crate) email_hash: Vec<u8>,
    pub(crate) messages: Vec<OutboxMessage>,
}

/// What writing one start found: `None` when it was created, else the live
/// order its application already had (if any).
pub(crate) type Found = Option<Option<OrderRow>>;

impl Store {
    pub(crate) fn order_from_row(&self, r: OrderRow) -> StoreResult<Order> {
        let ats_payload = match &r.pii_enc {
            Some(sealed) => Some(
                serde_json::from_slice(&self.cipher.open(sealed)?).map_err(StoreError::corrupt)?,
            ),
            None => None,
        };
        let intake = match &r.intake_enc {
            Some(sealed) => Some(
                serde_json::from_slice(&self.cipher.open(sealed)?).map_err(StoreError::corrupt)?,
            ),
            None => None,
        };
        Ok(Order {
            id: r.id.parse().map_err(StoreError::corrupt)?,
            account_id: r.account_id.parse().map_err(StoreError::corrupt)?,
            ats: Ats::parse(&r.ats).ok_or_else(|| StoreError::corrupt(format!("ats {}", r.ats)))?,
            intake,
            dedupe_key: r.dedupe_key,
            status: OrderStatus::parse(&r.status).ok_or_else(|| StoreError::corrupt(&r.status))?,
            outcome: r
                .outcome
                .as_deref()
                .map(|o| Outcome::parse(o).ok_or_else(|| StoreError::corrupt(o)))
                .transpose()?,
            result: r
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(StoreError::corrupt)?,
            cancelled_by: r.cancelled_by.as_deref().and_then(Actor::parse),
            ats_payload,
            package_id: r.package_id,
            package_name: r.package_name,
            candidate_ats_id: r.candidate_ats_id,
            application_ats_id: r.application_ats_id,
            application_status: r.application_status,
            job_ats_id: r.job_ats_id,
            job_name: r.job_name,
            job_req_id: r.job_req_id,
            progress_label: r.progress_label,
            eta_minutes: r.eta_minutes,
            cancel_reason: r.cancel_reason,
            failure_reason: r.failure_reason,
            last_ats_timestamp: r.last_ats_timestamp,
            created_at: r.created_at,
            updated_at: r.updated_at,
            terminal_at: r.terminal_at,
            pii_purged_at: r.pii_purged_at,
        })
    }

    /// Create the order for an ATS start, or find the live order the same
    /// application already has for this package (the ATS retried). A new order
    /// is written with its `order.created` event and the outbox messages
    /// `outbox` builds for it, in one transaction.
    ///
    /// Concurrent calls are group-committed: one writer task writes every start
    /// waiting at that moment in one transaction, and each caller is answered
    /// only once that transaction is committed.
    pub async fn create_order<F>(&self, new: NewOrder, outbox: F) -> StoreResult<CreatedOrder>
    where
        F: FnOnce(&Order) -> Vec<OutboxMessage>,
    {
        let intake = self
            .cipher
            .seal(&serde_json::to_vec(&new.intake).expect("an intake always serialises"));
        let order = Order {
            id: new.id,
            account_id: new.account_id,
            ats: new.ats,
            intake: Some(new.intake),
            dedupe_key: new.dedupe_key,
            package_id: new.package_id,
            package_name: new.package_name,
            status: OrderStatus::Pending,
            outcome: None,
            candidate_ats_id: new.candidate_ats_id,
            application_ats_id: new.application_ats_id,
            application_status: new.application_status,
            job_ats_id: new.job_ats_id,
            job_name: new.job_name,
            job_req_id: new.job_req_id,
            ats_payload: Some(new.ats_payload),
            progress_label: None,
            eta_minutes: None,
            result: None,
            cancel_reason: None,
            cancelled_by: None,
            failure_reason: None,
            last_ats_timestamp: new.created_at,
            created_at: new.created_at,
            updated_at: new.created_at,
            terminal_at: None,
            pii_purged_at: None,
        };
        // Building the messages is pure, so it happens here, off the writer.
        let messages = outbox(&order);
        let pii = order
            .ats_payload
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let item = OrderToWrite {
            pii: self.cipher.seal(pii.as_bytes()),
            intake,
            email_hash: self.cipher.index_hash(&new.candidate_email),
            order,
            messages,
        };
        match self.submit(Job::Order(item)).await? {
            (Job::Order(item), Done::Order(found)) => self.answer(item, found),
            _ => unreachable!("the writer answers a job with its own kind"),
        }
    }

    /// The answer to one start, from what writing it found.
    fn answer(&self, item: OrderToWrite, found: Found) -> StoreResult<CreatedOrder> {
        match found {
            None => Ok(CreatedOrder {
                order: item.order,
                created: true,
            }),
            Some(Some(row)) => Ok(CreatedOrder {
                order: self.order_from_row(row)?,
                created: false,
            }),
            Some(None) => Err(StoreError::Conflict(
                "the order could not be created; try again".into(),
            )),
        }
    }

    /// Apply `change` to an order (scoped to `account` when given), with its
    /// event and outbox, in one transaction. Terminal orders refuse every change.
    pub async fn apply_change<F>(
        &self,
        id: &OrderId,
        account: Option<&AccountId>,
        change: Change,
        now: Millis,
        outbox: F,
    ) -> StoreResult<Order>
    where
        F: Fn(&Order) -> Vec<OutboxMessage> + Send + Sync + 'static,
    {
        let job = ChangeToWrite {
            key: id.to_string(),
            account: account.cloned(),
            change,
            now,
            outbox: Box::new(outbox),
        };
        match self.submit(Job::Change(job)).await? {
            (_, Done::Change(outcome)) => outcome,
            _ => unreachable!("the writer answers a job with its own kind"),
        }
    }

    /// An order by id, optionally only if it belongs to `account`.
    pub async fn get_order(
        &self,
        id: &OrderId,
        account: Option<&AccountId>,
    ) -> StoreResult<Option<Order>> {
        let sql = format!("{ORDER_SELECT} WHERE id = $1");
        let row: Option<OrderRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?);
        let order = row.map(|r| self.order_from_row(r)).transpose()?;
        Ok(order.filter(|o| account.is_none_or(|a| *a == o.account_id)))
    }

    /// Orders matching `filter`, newest first; at most `filter.limit`.
    pub async fn list_orders(&self, filter: &OrderFilter) -> StoreResult<Vec<Order>> {
        let email_hash = filter
            .candidate_email
            .as_deref()
            .map(|e| self.cipher.index_hash(e));
        let rows: Vec<OrderRow> = on_pool!(self, read, |pool| {
            let mut qb = sqlx::QueryBuilder::new(ORDER_SELECT);
            qb.push(" WHERE 1 = 1");
            if let Some(a) = &filter.account_id {
                qb.push(" AND account_id = ").push_bind(a.as_str());
            }
            if let Some(s) = filter.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(p) = &filter.package_id {
                qb.push(" AND package_id = ").push_bind(p.as_str());
            }
            if let Some(t) = filter.created_after {
                qb.push(" AND created_at > ").push_bind(t);
            }
            if let Some(t) = filter.updated_after {
                qb.push(" AND updated_at > ").push_bind(t);
            }
            if let Some(h) = &email_hash {
                qb.push(" AND email_hash = ").push_bind(h.clone());
            }
            if let Some(b) = &filter.before {
                qb.push(" AND id < ").push_bind(b.to_string());
            }
            qb.push(" ORDER BY id DESC LIMIT ")
                .push_bind(i64::from(filter.limit));
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(|r| self.order_from_row(r)).collect()
    }

    /// Orders written before connectors normalized intake (migration 0007)
    /// that still hold their request: at most `limit`, with the request.
    pub async fn orders_without_intake(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(OrderId, Ats, serde_json::Value)>> {
        let rows: Vec<(String, String, Vec<u8>)> = on_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT id, ats, pii_enc FROM orders WHERE intake_enc IS NULL AND pii_enc IS NOT NULL \
                 ORDER BY id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(id, ats, sealed)| {
                let payload = serde_json::from_slice(&self.cipher.open(&sealed)?)
                    .map_err(StoreError::corrupt)?;
                Ok((
                    id.parse().map_err(StoreError::corrupt)?,
                    Ats::parse(&ats).ok_or_else(|| StoreError::corrupt(format!("ats {ats}")))?,
                    payload,
                ))
            })
            .collect()
    }

    /// Store the normalized intake of an order written before 0007 (only
    /// while its request has not been purged meanwhile).
    pub async fn set_order_intake(
        &self,
        id: &OrderId,
        intake: &screenhub_core::intake::Intake,
    ) -> StoreResult<()> {
        let sealed = self
            .cipher
            .seal(&serde_json::to_vec(intake).expect("an intake always serialises"));
        on_pool!(self, write, |pool| {
            sqlx::query("UPDATE orders SET intake_enc = $1 WHERE id = $2 AND pii_enc IS NOT NULL")
                .bind(&sealed)
                .bind(id.to_string())
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
