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
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
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
        let server = roles.api.then(|| {
            let app = crate::api::router(state.clone());
            let token = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
