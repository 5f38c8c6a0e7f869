//! The append-only event log: every order's timeline and the `/v1/events` feed.

use screenhub_core::event::EventType;
use screenhub_core::{AccountId, OrderId};

use crate::endpoints::parse_events;
use crate::orders::write_outbox;
use crate::{on_pool, Backend, Event, OutboxMessage, Store, StoreError, StoreResult};
use screenhub_core::DeliveryId;

/// PostgreSQL's SQLSTATE for a lock wait that reached `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Append an event inside a transaction (`$tx`), next to the change it records.
macro_rules! insert_event {
    ($tx:ident, $type:expr, $account:expr, $order:expr, $data:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO events (type, account_id, order_id, data, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($type.as_str())
        .bind($account)
        .bind($order)
        .bind(serde_json::to_string($data).expect("JSON values always serialise"))
        .bind($now)
        .execute(&mut *$tx)
        .await?
    };
}
pub(crate) use insert_event;

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    #[sqlx(rename = "type")]
    event_type: String,
    account_id: Option<String>,
    order_id: Option<String>,
    data: String,
    created_at: i64,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;
    fn try_from(r: EventRow) -> StoreResult<Self> {
        Ok(Event {
            seq: r.seq,
            event_type: EventType::parse(&r.event_type)
                .ok_or_else(|| StoreError::corrupt(format!("event type {}", r.event_type)))?,
            account_id: r
                .account_id
                .map(|a| a.parse::<AccountId>())
                .transpose()
                .map_err(StoreError::corrupt)?,
            order_id: r
                .order_id
                .map(|o| o.parse::<OrderId>())
                .transpose()
                .map_err(StoreError::corrupt)?,
            data: serde_json::from_str(&r.data).map_err(StoreError::corrupt)?,
            created_at: r.created_at,
        })
    }
}

const SELECT: &str = "SELECT seq, type, account_id, order_id, data, created_at FROM events";

impl Store {
    /// Events after `after`, in order (the feed an integrator polls). Never
    /// skips an event: an event numbered below one returned is already
    /// committed (or rolled back), so a cursor can safely move past it.
    pub async fn list_events(&self, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let sql = format!("{SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<EventRow> = match &*self.backend {
            // One writer connection: events commit in the order they are numbered.
            Backend::Sqlite(p) => {
                sqlx::query_as(&sql)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&p.read)
                    .await?
            }
            // Wait until every transaction that has drawn an event number ends
            // (they hold the lock shared; see migration 0002), then read.
            Backend::Postgres(p) => {
                let mut tx = p.read.begin().await?;
                sqlx::query("SET LOCAL lock_timeout = '5s'")
                    .execute(&mut *tx)
                    .await?;
                match sqlx::query("SELECT pg_advisory_xact_lock(7302, 1)")
                    .execute(&mut *tx)
                    .await
                {
                    Ok(_) => {}
                    // Writers held on for long: nothing is safe to return yet;
                    // the caller polls again.
                    Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) =>
                    {
                        return Ok(Vec::new())
                    }
                    Err(e) => return Err(e.into()),
                }
                let rows = sqlx::query_as(&sql)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// One order's timeline, oldest first.
    pub async fn order_events(&self, order: &OrderId) -> StoreResult<Vec<Event>> {
        let sql = format!("{SELECT} WHERE order_id = $1 ORDER BY seq");
        let rows: Vec<EventRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(order.to_string())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// One account's own events (not its orders'), newest first.
    pub async fn account_events(&self, account: &AccountId, limit: u32) -> StoreResult<Vec<Event>> {
        let sql = format!(
            "{SELECT} WHERE account_id = $1 AND order_id IS NULL ORDER BY seq DESC LIMIT $2"
        );
        let rows: Vec<EventRow> = on_pool!(self, read, |pool| {
            sqlx::query_as(&sql)
                .bind(account.as_str())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

impl Store {
    /// Append an event that no order change carries (news from or about the
    /// ATS), with its vendor webhook, in one transaction.
    pub async fn record_event(
        &self,
        event: EventType,
        account: Option<&AccountId>,
        order: Option<&OrderId>,
        data: &serde_json::Value,
        webhook: Option<crate::OutboxMessage>,
        now: screenhub_core::clock::Millis,
    ) -> StoreResult<()> {
        let account = account.map(|a| a.as_str().to_owned());
        let order = order.map(|o| o.to_string());
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            insert_event!(tx, event, account.as_deref(), order.as_deref(), data, now);
            write_outbox!(
                tx,
                self,
                now,
                account.as_deref(),
                order.as_deref(),
                webhook.into_iter()
            );
            tx.commit().await?;
        });
        Ok(())
    }
}
