//! Periodic chores of a worker node: purging candidate data past its retention.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(3600);
const DAY_MS: i64 = 86_400_000;

/// Purge candidate data of orders that ended more than `pii_retention_days`
/// ago. Returns how many orders were purged.
pub async fn purge_expired_pii(state: &AppState) -> anyhow::Result<u64> {
    let days = state.config.pii_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.now();
    let purged = state
        .store
        .purge_pii(now - days as i64 * DAY_MS, now)
        .await?;
    if purged > 0 {
        tracing::info!(
            purged,
            retention_days = days,
            "purged candidate data of ended orders"
        );
    }
    Ok(purged)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        if let Err(e) = purge_expired_pii(&state).await {
            tracing::error!(error = %e, "purging candidate data failed; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
