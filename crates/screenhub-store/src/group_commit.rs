//! Group commit. One writer task takes every hot write waiting at that moment
//! (orders created from ATS starts, changes to orders, delivery attempts
//! recorded by workers, and the workers' claims) and commits them in one
//! transaction, so one fsync serves many callers.
//! Each caller is answered only after that commit: nothing is acknowledged
//! before it is durable.

use tokio::sync::{mpsc, oneshot};

use crate::deliveries::{claim_sql, write_attempt, AttemptToWrite, Claim, DeliveryRow, Recorded};
use crate::endpoints::parse_events;
use crate::orders::{change_order, write_order, ChangeToWrite, Found, OrderToWrite};
use crate::{on_pool, OutboxMessage, Store, StoreError, StoreResult};
use screenhub_core::DeliveryId;

/// The most writes committed together; bounds a batch's latency.
const MAX_BATCH: usize = 512;
/// Callers waiting beyond this wait to queue (back-pressure, bounded memory).
pub(crate) const QUEUE: usize = 4 * 1024;

// Each moves once through a channel; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    Order(OrderToWrite),
    Attempt(AttemptToWrite),
    Change(ChangeToWrite),
    Claim(Claim),
}

#[allow(clippy::large_enum_variant)]
pub(crate) enum Done {
    Order(Found),
    Attempt(Recorded),
    /// The changed order, or why it could not change.
    Change(StoreResult<crate::Order>),
    Claim(Vec<DeliveryRow>),
}

/// A job and where to send it back with its outcome.
pub(crate) struct Pending {
    job: Job,
    reply: oneshot::Sender<StoreResult<(Job, Done)>>,
}

pub(crate) type Queue = mpsc::Sender<Pending>;

/// Start the writer for `store` (which must have no queue itself: it writes
/// directly). It stops when the last sender of the returned queue is dropped.
pub(crate) fn spawn_writer(store: Store) -> Queue {
    let (queue, pending) = mpsc::channel(QUEUE);
    tokio::spawn(run(store, pending));
    queue
}

async fn run(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (jobs, replies): (Vec<_>, Vec<_>) = batch.drain(..).map(|p| (p.job, p.reply)).unzip();
        match store.write_batch(&jobs).await {
            Ok(done) => {
                for ((job, reply), done) in jobs.into_iter().zip(replies).zip(done) {
                    let _ = reply.send(Ok((job, done)));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let _ = replies.into_iter().next().expect("one reply").send(Err(e));
            }
            Err(e) => {
                // One bad job must not fail the others: write each alone.
                tracing::warn!(error = %e, size = jobs.len(), "a group commit failed; writing each job alone");
                for (job, reply) in jobs.into_iter().zip(replies) {
                    let outcome = store
                        .write_batch(std::slice::from_ref(&job))
                        .await
                        .map(|mut done| (job, done.pop().expect("one outcome per job")));
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}

impl Store {
    /// Write `job` with whatever else is waiting; returns the job with its outcome.
    pub(crate) async fn submit(&self, job: Job) -> StoreResult<(Job, Done)> {
        let Some(queue) = &self.writer else {
            let mut done = self.write_batch(std::slice::from_ref(&job)).await?;
            return Ok((job, done.pop().expect("one outcome per job")));
        };
        let (reply, answer) = oneshot::channel();
        queue
            .send(Pending { job, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        // No answer: the writer stopped (the runtime is shutting down); the
        // transaction was not committed, or its caller would have been told.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Write `jobs` in one transaction; one outcome per job, in order.
    async fn write_batch(&self, jobs: &[Job]) -> StoreResult<Vec<Done>> {
        let mut done = Vec::with_capacity(jobs.len());
        // Accounts that started orders, and when (one update each per batch).
        let mut active: Vec<(String, i64)> = Vec::new();
        // Claims run last, so they can lease deliveries the same batch queued.
        let claim_sql = claim_sql(self.kind());
        on_pool!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let mut endpoints: Option<Vec<(String, Option<String>)>> = None;
            for job in jobs {
                done.push(match job {
                    Job::Order(item) => {
                        Done::Order(write_order!(tx, self, item, endpoints, active))
                    }
                    Job::Attempt(item) => Done::Attempt(write_attempt!(tx, self, item, endpoints)),
                    Job::Change(item) => {
                        Done::Change(change_order!(tx, self, item, endpoints, active))
                    }
                    Job::Claim(_) => Done::Claim(Vec::new()),
                });
            }
            for (job, done) in jobs.iter().zip(done.iter_mut()) {
                if let (Job::Claim(claim), Done::Claim(rows)) = (job, done) {
                    *rows = sqlx::query_as(claim_sql)
                        .bind(claim.now)
                        .bind(&claim.owner)
                        .bind(claim.now + claim.lease_ms)
                        .bind(i64::from(claim.limit))
                        .fetch_all(&mut *tx)
                        .await?;
                }
            }
            for (account, at) in &active {
                sqlx::query(crate::orders::ACCOUNT_ACTIVITY)
                    .bind(at)
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(done)
    }
}
