//! `screenhub bench --drain N`: delivery throughput on its own. N starts are
//! written while the hub's delivery worker is off, so N webhooks wait in the
//! outbox; then the worker starts and the clock runs until the receiver has
//! them all. Starts and deliveries no longer share the machine, so this is
//! what the dispatcher alone can push to a fast local receiver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::peers::Tracker;
use crate::state::AppState;

/// Give up when the receiver has not had everything after this long.
const PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize)]
pub struct DrainReport {
    pub deliveries: u64,
    pub seconds: f64,
    pub deliveries_per_sec: f64,
    pub delivery_concurrency: usize,
}

/// Queue `count` webhooks with `concurrency` callers of `start` (each call one
/// new order), then run the worker on `state` until they have all arrived.
pub async fn run<F, Fut>(
    state: &AppState,
    tracker: &Arc<Tracker>,
    count: u64,
    concurrency: usize,
    start: F,
) -> anyhow::Result<DrainReport>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Arc::new(start);
    let next = Arc::new(AtomicU64::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (start, next) = (start.clone(), next.clone());
        callers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, anyhow::Error>(());
                }
                start(n).await?;
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.context("a start caller panicked")??;
    }
    let before = tracker.webhooks.load(Ordering::Relaxed);
    if before > 0 {
        bail!("{before} webhooks arrived with the worker off; the hub under test must not deliver yet");
    }
    eprintln!("[drain] {count} webhooks queued; starting the delivery worker");

    let shutdown = CancellationToken::new();
    let began = Instant::now();
    let worker = tokio::spawn(crate::dispatch::run(state.clone(), shutdown.clone()));
    let mut last_report = Instant::now();
    while tracker.webhooks.load(Ordering::Relaxed) < count {
        if began.elapsed() > PATIENCE {
            shutdown.cancel();
            bail!(
                "only {} of {count} webhooks arrived within {PATIENCE:?}",
                tracker.webhooks.load(Ordering::Relaxed)
            );
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "[drain {:5.1}s] {} of {count} delivered",
                began.elapsed().as_secs_f64(),
                tracker.webhooks.load(Ordering::Relaxed)
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seconds = began.elapsed().as_secs_f64();
    shutdown.cancel();
    let _ = worker.await;
    Ok(DrainReport {
        deliveries: count,
        seconds,
        deliveries_per_sec: count as f64 / seconds,
        delivery_concurrency: state.config.delivery_concurrency,
    })
}
