//! Waking workers on other nodes. On PostgreSQL a trigger sends a notification
//! on `screenhub_work` whenever deliveries are queued (see migration 0002);
//! each worker node listens. SQLite serves one process, which wakes its
//! dispatcher in memory.

use sqlx::postgres::PgListener;

use crate::{Backend, Store, StoreResult};

/// The channel the deliveries trigger notifies.
pub const WORK_CHANNEL: &str = "screenhub_work";

/// A connection listening for new work queued by any node.
pub struct WorkListener {
    listener: PgListener,
}

/// What the listener heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Some node queued work.
    Work,
    /// The connection dropped and was re-established: notifications sent
    /// meanwhile are lost, so look for work anyway.
    Reconnected,
}

impl Store {
    /// Listen for work queued by other nodes; `None` on SQLite, where there are
    /// no other nodes.
    pub async fn listen_for_work(&self) -> StoreResult<Option<WorkListener>> {
        match &*self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(p) => {
                let mut listener = PgListener::connect_with(&p.write).await?;
                listener.listen(WORK_CHANNEL).await?;
                Ok(Some(WorkListener { listener }))
            }
        }
    }
}

impl WorkListener {
    /// Wait for the next notification. After a lost connection this
    /// reconnects (sqlx does so on the next call) and says so.
    pub async fn next(&mut self) -> StoreResult<Heard> {
        match self.listener.try_recv().await? {
            Some(_) => Ok(Heard::Work),
            None => Ok(Heard::Reconnected),
        }
    }
}
