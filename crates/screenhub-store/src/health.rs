//! The failure streak of each receiver of deliveries (a vendor webhook
//! endpoint, an account's ATS): counted per attempt, flagged once it is long
//! enough, cleared by the next success. A flip either way is an event and a
//! vendor webhook, written in the same transaction.

use screenhub_core::clock::Millis;
use screenhub_core::event::EventType;
use screenhub_core::{AccountId, EndpointId};
use serde_json::{json, Value};

use crate::endpoints::parse_events;
use crate::events::insert_event;
use crate::orders::write_outbox;
use crate::{on_pool, OutboxMessage, Store, StoreResult};
use screenhub_core::DeliveryId;

/// Record a flip on the event log and queue its webhook, inside `$tx`.
macro_rules! announce {
    ($tx:ident, $store:expr, $receiver:expr, $event:expr, $data:expr, $webhook:expr, $now:expr) => {{
        insert_event!($tx, $event, $receiver.account(), None::<&str>, &$data, $now);
        let payload = $webhook($event, $data.clone());
        let message = match $receiver {
            // An endpoint that is failing would only fail to take the news too.
            Receiver::Endpoint(id) if $event == EventType::EndpointFailing => {
                OutboxMessage::VendorElsewhere {
                    event: $event,
                    payload,
                    except: id.clone(),
                }
            }
            _ => OutboxMessage::Vendor {
                event: $event,
                payload,
            },
        };
        write_outbox!(
            $tx,
            $store,
            $now,
            $receiver.account(),
            None::<&str>,
            [message]
        );
    }};
}

/// Who received a delivery.
#[derive(Debug, Clone, Copy)]
pub enum Receiver<'a> {
    Endpoint(&'a EndpointId),
    /// The ATS of this account (Ashby's API, with the account's key).
    Ats(&'a AccountId),
}

impl Receiver<'_> {
    fn table(self) -> &'static str {
        match self {
            Self::Endpoint(_) => "webhook_endpoints",
            Self::Ats(_) => "accounts",
        }
    }

    fn key(&self) -> &str {
        match self {
            Self::Endpoint(id) => id.as_str(),
            Self::Ats(id) => id.as_str(),
        }
    }

    fn events(self) -> (EventType, EventType) {
        match self {
            Self::Endpoint(_) => (EventType::EndpointFailing, EventType::EndpointRecovered),
            Self::Ats(_) => (EventType::AccountAtsFailing, EventType::AccountAtsRecovered),
        }
    }

    fn account(&self) -> Option<&str> {
        match self {
            Self::Endpoint(_) => None,
            Self::Ats(id) => Some(id.as_str()),
        }
    }

    fn describe(&self) -> Value {
        match self {
            Self::Endpoint(id) => json!({ "endpoint_id": id }),
            Self::Ats(id) => json!({ "account_id": id }),
        }
    }
}

/// When a failure streak makes a receiver `failing`: at least this many failed
/// attempts in a row, the first at least this long ago (a short blip, such as
/// a deploy, does not flag anything).
#[derive(Debug, Clone, Copy)]
pub struct FailingPolicy {
    pub after_attempts: u32,
    pub after_ms: i64,
}

/// A receiver's current failure streak.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiverHealth {
    /// Failed attempts in a row since the last success.
    pub consecutive_failures: i64,
    /// When the streak began.
    pub failing_since: Option<Millis>,
    pub last_error: Option<String>,
    /// When the streak made the receiver `failing`; `None` while healthy.
    pub flagged_at: Option<Millis>,
}

impl ReceiverHealth {
    pub fn is_failing(&self) -> bool {
        self.flagged_at.is_some()
    }
}

/// The health columns, as selected next to a receiver's other columns.
pub(crate) const HEALTH_COLUMNS: &str =
    "delivery_failures, failing_since, last_delivery_error, flagged_at";

pub(crate) type HealthRow = (i64, Option<i64>, Option<String>, Option<i64>);

pub(crate) fn health_from_row(
    (consecutive_failures, failing_since, last_error, flagged_at): HealthRow,
) -> ReceiverHealth {
    ReceiverHealth {
        consecutive_failures,
        failing_since,
        last_error,
        flagged_at,
    }
}

/// How a receiver's health changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFlip {
    Failing,
    Recovered,
}

impl Store {
    /// Count a failed attempt; flags the receiver when the streak is long
    /// enough. `webhook` wraps an event's data into a vendor webhook body.
    pub async fn note_receiver_failure(
        &self,
        receiver: Receiver<'_>,
        error: &str,
        policy: FailingPolicy,
        now: Millis,
        webhook: impl Fn(EventType, Value) -> Box<serde_json::value::RawValue>,
    ) -> StoreResult<Option<HealthFlip>> {
        let table = receiver.table();
        let count = format!(
            "UPDATE {table} SET delivery_failures = delivery_failures + 1, \
             failing_since = COALESCE(failing_since, $1), last_delivery_error = $2 WHERE id = $3"
        );
        let flag = format!(
            "UPDATE {table} SET flagged_at = $1 WHERE id = $2 AND flagged_at IS NULL \
             AND delivery_failures >= $3 AND failing_since <= $4 RETURNING {HEALTH_COLUMNS}"
        );
        let flagged = on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(&count)
                .bind(now)
                .bind(error)
                .bind(receiver.key())
                .execute(&mut *tx)
                .await?;
            let flagged: Option<HealthRow> = sqlx::query_as(&flag)
                .bind(now)
                .bind(receiver.key())
                .bind(i64::from(policy.after_attempts.max(1)))
                .bind(now - policy.after_ms)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = &flagged {
                let (event, _) = receiver.events();
                let data = flip_data(receiver, &health_from_row(row.clone()), now);
                announce!(tx, self, receiver, event, data, webhook, now);
            }
            tx.commit().await?;
            flagged
        });
        Ok(flagged.map(|_| HealthFlip::Failing))
    }

    /// Count a successful attempt: the streak ends, and a flagged receiver
    /// recovers. Costs one read when the receiver was healthy already.
    pub async fn note_receiver_success(
        &self,
        receiver: Receiver<'_>,
        now: Millis,
        webhook: impl Fn(EventType, Value) -> Box<serde_json::value::RawValue>,
    ) -> StoreResult<Option<HealthFlip>> {
        if self
            .receiver_health(receiver)
            .await?
            .is_none_or(|h| h == ReceiverHealth::default())
        {
            return Ok(None);
        }
        let table = receiver.table();
        let recover = format!(
            "UPDATE {table} SET flagged_at = NULL WHERE id = $1 AND flagged_at IS NOT NULL \
             RETURNING {HEALTH_COLUMNS}"
        );
        let reset = format!(
            "UPDATE {table} SET delivery_failures = 0, failing_since = NULL, last_delivery_error = NULL \
             WHERE id = $1"
        );
        let recovered = on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let recovered: Option<HealthRow> = sqlx::query_as(&recover)
                .bind(receiver.key())
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(&reset)
                .bind(receiver.key())
                .execute(&mut *tx)
                .await?;
            if let Some(row) = &recovered {
                let (_, event) = receiver.events();
                let data = flip_data(receiver, &health_from_row(row.clone()), now);
                announce!(tx, self, receiver, event, data, webhook, now);
            }
            tx.commit().await?;
            recovered
        });
        Ok(recovered.map(|_| HealthFlip::Recovered))
    }

    /// A receiver's failure streak; `None` when it does not exist.
    pub async fn receiver_health(
        &self,
        receiver: Receiver<'_>,
    ) -> StoreResult<Option<ReceiverHealth>> {
        let sql = format!(
            "SELECT {HEALTH_COLUMNS} FROM {} WHERE id = $1",
            receiver.table()
        );
        let row: Option<HealthRow> = on_pool!(self, read, |pool| sqlx::query_as(&sql)
            .bind(receiver.key())
            .fetch_optional(pool)
            .await?);
        Ok(row.map(health_from_row))
    }
}

/// What a flip event says: the receiver and its streak.
fn flip_data(receiver: Receiver<'_>, health: &ReceiverHealth, now: Millis) -> Value {
    let mut data = receiver.describe();
    data["consecutive_failures"] = json!(health.consecutive_failures);
    data["failing_since"] = json!(health.failing_since.map(screenhub_core::clock::rfc3339));
    data["last_error"] = json!(health.last_error);
    data["at"] = json!(screenhub_core::clock::rfc3339(now));
    data
}
