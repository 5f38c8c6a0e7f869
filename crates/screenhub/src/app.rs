//! Start and stop a hub: open the store, serve HTTP, run the delivery worker.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use screenhub_core::clock::{Clock, SystemClock};
use screenhub_store::{Cipher, MasterKey, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::state::AppState;

/// Which parts of the hub this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            api: true,
            worker: true,
        }
    }
}

/// The master key: from the configuration, or from `<data_dir>/master.key`,
/// which is created with mode 0600 on first run.
pub fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if !config.master_key.is_empty() {
        return MasterKey::from_base64(&config.master_key)
            .map_err(|e| anyhow::anyhow!("master_key: {e}"));
    }
    let path = config.data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return MasterKey::from_base64(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let key = MasterKey::generate();
    write_private(&path, &key.to_base64())?;
    tracing::info!(path = %path.display(), "created a new master key; back it up, as the data cannot be read without it");
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Where `keys rotate-master` writes the next key before re-encrypting.
pub fn next_key_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("master.key.next")
}

/// Open (and migrate) the configured database, and make sure the master key
/// opens it. Finishes a key rotation that was interrupted after the database
/// had moved to the new key but before the key file was replaced.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
    }
    let cipher = Cipher::new(&load_master_key(config)?);
    let store = Store::connect(&url, cipher)
        .await
        .with_context(|| format!("opening the database {}", redact(&url)))?;
    store.migrate().await.context("migrating the database")?;
    let now = SystemClock.now_ms();
    let next_path = next_key_path(config);
    let store: anyhow::Result<Store> = match store.check_master_key(now).await {
        Ok(()) => {
            if next_path.exists() {
                // A rotation that never committed: the old key is still the one.
                std::fs::remove_file(&next_path)?;
            }
            Ok(store)
        }
        Err(screenhub_store::StoreError::Decrypt) if next_path.exists() => {
            let text = std::fs::read_to_string(&next_path)?;
            let next = MasterKey::from_base64(&text).map_err(anyhow::Error::msg)?;
            let store = store.with_cipher(Cipher::new(&next));
            store
                .check_master_key(now)
                .await
                .context("neither the master key nor the rotated one opens the database")?;
            std::fs::rename(&next_path, config.data_dir.join("master.key"))?;
            tracing::warn!("finished an interrupted master key rotation");
            Ok(store)
        }
        Err(screenhub_store::StoreError::Decrypt) => anyhow::bail!(
            "the master key does not open this database: check master_key / {}",
            config.data_dir.join("master.key").display()
        ),
        Err(e) => Err(e.into()),
    };
    let store = store?;
    let normalized = crate::connectors::backfill_intake(&store)
        .await
        .context("normalizing orders written before connectors (migration 0007)")?;
    if normalized > 0 {
        tracing::info!(
            orders = normalized,
            "normalized the candidate of orders from an older version"
        );
    }
    Ok(store)
}

/// The SQLite database file, when the configuration uses the data directory's.
fn sqlite_file(config: &Config) -> Option<std::path::PathBuf> {
    let url = config.database_url();
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    Some(std::path::PathBuf::from(path))
}

/// Open a database that must already exist: for commands that read or change
/// what `serve` keeps, where a mistyped `--data-dir` (or running from another
/// directory) must not quietly create an empty database.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Store> {
    require_database(config)?;
    open_store(config).await
}

/// Refuse a SQLite data directory that holds no database.
pub fn require_database(config: &Config) -> anyhow::Result<()> {
    if let Some(file) = sqlite_file(config) {
        anyhow::ensure!(
            file.exists(),
            "there is no Screenhub database in {}: pass the data directory `screenhub serve` uses \
             (--data-dir or SCREENHUB_DATA_DIR), or its --database-url",
            absolute(file.parent().unwrap_or(&config.data_dir)).display()
        );
    }
    Ok(())
}

/// Open (and create when new) the database, saying so when it is new, so that
/// a database made in an unexpected directory does not go unnoticed.
pub async fn open_or_create_store(config: &Config) -> anyhow::Result<Store> {
    if let Some(file) = sqlite_file(config).filter(|f| !f.exists()) {
        eprintln!(
            "note: created a new database in {} (use --data-dir for another one)",
            absolute(file.parent().unwrap_or(&config.data_dir)).display()
        );
    }
    open_store(config).await
}

/// The `screenhub keys create` command that writes a key into this hub's own
/// database: its data directory (as an absolute path) or its database URL.
pub fn keys_create_command(config: &Config) -> String {
    let place = match sqlite_file(config) {
        Some(file) => format!(
            "--data-dir {}",
            absolute(file.parent().unwrap_or(&config.data_dir)).display()
        ),
        // Not the URL itself: the sign-in page is public.
        None => "--database-url <the hub's database URL>".to_owned(),
    };
    format!("screenhub keys create --name \"my name\" {place}")
}

/// A path as people can find it again, whatever directory they stand in.
pub fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// An exclusive claim on a SQLite data directory, held while the hub runs,
/// so that a second `serve` on the same files is refused instead of sharing
/// them. Released by the operating system when the process ends, however it
/// ends.
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Claim the data directory for this process (no-op on PostgreSQL, where
/// several nodes share a database by design). The lock file names the holder,
/// so the refusal can name it too.
pub fn lock_data_dir(config: &Config) -> anyhow::Result<Option<DataDirLock>> {
    if sqlite_file(config).is_none() {
        return Ok(None);
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let path = config.data_dir.join("screenhub.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if !try_lock_exclusive(&file)? {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::bail!(
            "the data directory {} is in use by another screenhub process ({}); \
             stop it first, or pass another --data-dir",
            absolute(&config.data_dir).display(),
            holder.trim()
        );
    }
    use std::io::Write;
    let command: Vec<String> = std::env::args().collect();
    file.set_len(0)?;
    write!(
        file,
        "pid {}, `{}`, since {}",
        std::process::id(),
        command.join(" "),
        screenhub_core::clock::rfc3339(SystemClock.now_ms())
    )?;
    file.sync_all()?;
    Ok(Some(DataDirLock { _file: file }))
}

#[cfg(unix)]
fn try_lock_exclusive(file: &std::fs::File) -> anyhow::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => {
            Err(anyhow::Error::new(std::io::Error::from(e)).context("locking the data directory"))
        }
    }
}

#[cfg(not(unix))]
fn try_lock_exclusive(_file: &std::fs::File) -> anyhow::Result<bool> {
    Ok(true)
}

/// Re-encrypt every secret and all candidate data under a new master key, then
/// make it the key file. Crash-safe: the new key is on disk before the database
/// moves, and `open_store` finishes the job if the process dies in between.
pub async fn rotate_master_key(config: &Config) -> anyhow::Result<u64> {
    anyhow::ensure!(
        config.master_key.is_empty(),
        "rotate-master manages the key file {}, but the master key is set in the configuration; \
         remove master_key from the configuration to use the key file",
        config.data_dir.join("master.key").display()
    );
    let store = open_store(config).await?;
    let next = MasterKey::generate();
    let next_path = next_key_path(config);
    write_private(&next_path, &next.to_base64())?;
    let resealed = store
        .reencrypt(&Cipher::new(&next), SystemClock.now_ms())
        .await?;
    let key_path = config.data_dir.join("master.key");
    // Keep the previous key for restoring backups taken before the rotation.
    let previous = config.data_dir.join("master.key.previous");
    let _ = std::fs::remove_file(&previous);
    std::fs::copy(&key_path, &previous)?;
    std::fs::rename(&next_path, &key_path)?;
    store.close().await;
    Ok(resealed)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A running hub.
pub struct Hub {
    pub state: AppState,
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    worker: Option<JoinHandle<()>>,
    announcer: JoinHandle<()>,
}

impl Hub {
    /// Serve on `listener` with the given store and clock.
    pub async fn start_with(
        config: Config,
        listener: TcpListener,
        store: Store,
        clock: Arc<dyn Clock>,
        roles: Roles,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let public_url = config.public_url(addr);
        let state = AppState::new(store, config, public_url, clock)?;
        let shutdown = CancellationToken::new();
        let limits = crate::edge::EdgeLimits::from_config(&state.config);
        let metrics_listener = match state.config.metrics_listen.as_str() {
            "" => None,
            address => {
                // Checked when the configuration was loaded.
                let addr = crate::config::parse_listen(address).map_err(anyhow::Error::msg)?;
                Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("metrics_listen: listening on {address}"))?,
                )
            }
        };
        let metrics_addr = match &metrics_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let metrics = metrics_listener.map(|listener| {
            let app = crate::api::metrics_router(state.clone());
            tokio::spawn(crate::edge::serve(
                listener,
                app,
                limits.clone(),
                shutdown.clone(),
            ))
        });
        let server = roles.api.then(|| {
            let app = crate::api::router(state.clone());
            let token = shutdown.clone();
            let limits = limits.clone();
            tokio::spawn(async move {
                crate::edge::serve(listener, app, limits, token).await?;
                if let Some(metrics) = metrics {
                    metrics.await??;
                }
                anyhow::Ok(())
            })
        });
        let worker = roles
            .worker
            .then(|| tokio::spawn(crate::dispatch::run(state.clone(), shutdown.clone())));
        let announcer = tokio::spawn(crate::dispatch::announce_work(
            state.clone(),
            shutdown.clone(),
        ));
        Ok(Self {
            state,
            addr,
            metrics_addr,
            shutdown,
            server,
            worker,
            announcer,
        })
    }

    /// Open the configured database and serve on `listener`.
    pub async fn start(
        config: Config,
        listener: TcpListener,
        roles: Roles,
    ) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
        Self::start_with(config, listener, store, Arc::new(SystemClock), roles).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Wait until the hub stops (after `shutdown_token().cancel()`).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        if let Some(server) = self.server.take() {
            server.await??;
        }
        if let Some(worker) = self.worker.take() {
            worker.await?;
        }
        self.announcer.abort();
        self.state.store.close().await;
        Ok(())
    }

    /// Stop at once, abandoning whatever is in flight (leases included), as a
    /// crash would; for tests of recovery.
    pub async fn abort(mut self) {
        for task in [
            self.server.take().map(|t| t.abort_handle()),
            self.worker.take().map(|t| t.abort_handle()),
            Some(self.announcer.abort_handle()),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
        }
        self.state.store.close().await;
    }

    /// Stop accepting, finish requests and attempts in flight, close the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Logs to stderr, as text or JSON; the level comes from RUST_LOG.
pub fn init_tracing(format: crate::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // Colours only for a person at a terminal, not in a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}

/// Use the system clock (for callers that do not inject one).
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
