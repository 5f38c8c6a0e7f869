//! Screenhub's store: one interface over SQLite (embedded default) and
//! PostgreSQL (several nodes). The SQL is written once in the dialect both
//! accept (`$1` placeholders, BIGINT millisecond times, `ON CONFLICT`,
//! `RETURNING`); [`on_pool!`] instantiates each query for both drivers, and the
//! few places that truly differ (claiming with `SKIP LOCKED`) say so.

mod crypto;
mod error;
mod models;

mod accounts;
mod audit;
mod cache;
pub use accounts::{AtsConnection, AtsCredentials};
pub use audit::AuditEntry;
mod deliveries;
pub use deliveries::Recorded;
mod endpoints;
mod events;
mod group_commit;
mod health;
pub use health::{FailingPolicy, HealthFlip, Receiver, ReceiverHealth};
mod idempotency;
mod keys;
mod notify;
pub use notify::{Heard, WorkListener, WORK_CHANNEL};
mod orders;
mod packages;
mod rekey;
mod retention;
mod settings;
pub mod testing;
mod ui;
pub use settings::CUSTOM_FIELDS;
pub use ui::{
    ConnectLinkState, ConnectSession, DashboardSession, StatusCounts, CONNECT_TOKEN_PREFIX,
    DASHBOARD_SESSION_PREFIX,
};

pub use crypto::{Cipher, MasterKey};
pub use error::{StoreError, StoreResult};
pub use models::*;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Candidate data and secrets live in the SQLite file: create it readable by
/// its owner only (mode 0600, like the key file), and tighten an existing
/// one. SQLite gives its WAL and shared-memory files the database's mode.
fn keep_private(path: &std::path::Path) -> StoreResult<()> {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let private = |e: std::io::Error| {
            StoreError::Config(format!("making {} private: {e}", path.display()))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A directory that is missing, say: let SQLite report it.
            Err(_) => return Ok(()),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            if std::path::Path::new(&file).exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(private)?;
            }
        }
    }
    Ok(())
}

/// Run `$body` with `$pool` bound to the backend's pool. The body is compiled
/// once per driver, so the same query text serves SQLite and PostgreSQL.
/// `write` is SQLite's single writer connection (writes never contend for the
/// database lock); `read` serves reads. On PostgreSQL both are the same pool.
macro_rules! on_pool {
    ($store:expr, $which:ident, |$pool:ident| $body:expr) => {
        match &*$store.backend {
            $crate::Backend::Sqlite(b) => {
                let $pool = &b.$which;
                $body
            }
            $crate::Backend::Postgres(b) => {
                let $pool = &b.$which;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

pub(crate) struct Pools<P> {
    pub(crate) write: P,
    pub(crate) read: P,
}

pub(crate) enum Backend {
    Sqlite(Pools<SqlitePool>),
    Postgres(Pools<PgPool>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// The database and the cipher that protects secrets and PII in it.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: std::sync::Arc<Backend>,
    pub(crate) cipher: Cipher,
    /// Where hot writes queue for group commit; `None` inside the writer
    /// itself, which writes directly.
    pub(crate) writer: Option<group_commit::Queue>,
    /// Hot lookups, shared by every clone of this store.
    pub(crate) cache: std::sync::Arc<cache::ReadCache>,
}

/// One connection before the pool: a wrong address, role or password fails
/// at once with its own cause, where the pool would retry until its acquire
/// timeout and then report only that it timed out.
async fn probe_postgres(opts: &PgConnectOptions) -> StoreResult<()> {
    use sqlx::{ConnectOptions, Connection};
    let where_ = format!("{}:{}", opts.get_host(), opts.get_port());
    let connection = tokio::time::timeout(Duration::from_secs(5), opts.connect())
        .await
        .map_err(|_| {
            StoreError::Config(format!("PostgreSQL at {where_} did not answer within 5 s"))
        })?
        .map_err(|e| StoreError::Config(format!("connecting to PostgreSQL at {where_}: {e}")))?;
    connection.close().await?;
    Ok(())
}

impl Store {
    /// Open the database named by `url` (`sqlite://path` or `postgres://…`),
    /// creating a SQLite file if needed. Does not migrate.
    pub async fn connect(url: &str, cipher: Cipher) -> StoreResult<Self> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            probe_postgres(&opts).await?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Backend::Postgres(Pools {
                write: pool.clone(),
                read: pool,
            })
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?;
            keep_private(opts.get_filename())?;
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before it is acknowledged.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .connect_with(opts.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts.read_only(false))
                .await?;
            Backend::Sqlite(Pools { write, read })
        } else {
            return Err(StoreError::Config(format!(
                "database URL must start with sqlite:// or postgres://, got `{}`",
                url.split(':').next().unwrap_or_default()
            )));
        };
        let direct = Self {
            backend: std::sync::Arc::new(backend),
            cipher,
            writer: None,
            cache: Default::default(),
        };
        Ok(Self {
            writer: Some(group_commit::spawn_writer(direct.clone())),
            ..direct
        })
    }

    pub fn kind(&self) -> BackendKind {
        match &*self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The same database seen through another cipher (after `reencrypt`).
    /// Needs a Tokio runtime: it starts its own group-commit writer, so that
    /// everything written through it is sealed with `cipher`.
    pub fn with_cipher(&self, cipher: Cipher) -> Self {
        let direct = Self {
            backend: self.backend.clone(),
            cipher,
            writer: None,
            cache: self.cache.clone(),
        };
        Self {
            writer: Some(group_commit::spawn_writer(direct.clone())),
            ..direct
        }
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// Apply pending migrations. On PostgreSQL sqlx takes an advisory lock, so
    /// several nodes starting at once apply them exactly once.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &*self.backend {
            Backend::Sqlite(p) => SQLITE_MIGRATIONS.run(&p.write).await?,
            Backend::Postgres(p) => POSTGRES_MIGRATIONS.run(&p.write).await?,
        }
        Ok(())
    }

    /// Is the database reachable? (for `/readyz`)
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, read, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(p) => {
                p.read.close().await;
                p.write.close().await;
            }
            Backend::Postgres(p) => p.write.close().await,
        }
    }
}
