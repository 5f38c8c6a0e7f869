//! Waking workers on other nodes. On PostgreSQL a node that queued deliveries
//! sends a notification on `screenhub_work` after its transaction commits, and
//! every worker node listens. The notification is its own statement, not part
//! of the transaction that wrote the work: PostgreSQL serialises the commits of
//! transactions that notify, and a bare NOTIFY commits without waiting for a
//! disk flush. SQLite serves one process, which wakes its dispatcher in memory.

use sqlx::postgres::PgListener;

use crate::{Backend, Store, StoreResult};

/// The channel new work is announced on.
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

impl Store {
    /// Tell every listening node that work was queued (after it committed).
    /// Does nothing on SQLite.
    pub async fn announce_work(&self) -> StoreResult<()> {
        if let Backend::Postgres(p) = &*self.backend {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(WORK_CHANNEL)
                .execute(&p.write)
                .await?;
        }
        Ok(())
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
