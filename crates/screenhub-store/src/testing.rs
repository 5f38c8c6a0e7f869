//! Helpers for tests that need a database of their own, and for tests that
//! need something the machine may not have (PostgreSQL, a browser).

use std::time::Duration;

use sqlx::Connection;

/// Where tests find PostgreSQL (`postgres://user@host:port/db`). Not a
/// `screenhub` setting: the binary ignores every `SCREENHUB_TEST_*` variable.
pub const POSTGRES_VAR: &str = "SCREENHUB_TEST_DATABASE_URL";

const PREFIX: &str = "screenhub_test_";

/// Test databases older than this are left over from a run that was killed
/// (a test that ends, even by panicking, drops its own); no test runs this long.
const LEFTOVER_AFTER: Duration = Duration::from_secs(3 * 3600);

/// The PostgreSQL base URL for tests that need PostgreSQL. Such tests are
/// `#[ignore]`d by default and run on purpose (`scripts/test` runs them when
/// the variable is set), so a missing variable fails the test, naming it,
/// rather than letting it pass without having run.
pub fn postgres_base_url() -> String {
    std::env::var(POSTGRES_VAR).unwrap_or_else(|_| {
        panic!(
            "this test needs PostgreSQL: set {POSTGRES_VAR}, e.g. \
             postgres://postgres@127.0.0.1:5432/postgres"
        )
    })
}

/// A new, empty PostgreSQL database next to the one the base URL names, so
/// tests can run in parallel without sharing state. Dropped (with any
/// connections still open to it) when this value is dropped.
pub struct TestDatabase {
    url: String,
    base_url: String,
    name: String,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code (or inside a runtime that may be
        // shutting down): a thread with its own small runtime does the I/O.
        let (base, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(sqlx::Error::Io)
                .and_then(|rt| rt.block_on(drop_database(&base, &name)))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

async fn drop_database(base_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

/// Create a fresh database (see [`TestDatabase`]). The first call in a
/// process also drops test databases left over from killed runs.
pub async fn fresh_postgres_database(base_url: &str) -> Result<TestDatabase, sqlx::Error> {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT.get_or_try_init(|| sweep_leftovers(base_url)).await?;
    let id = ulid::Ulid::new();
    let name = format!("{PREFIX}{}", id.to_string().to_lowercase());
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (prefix, _) = base_url.rsplit_once('/').unwrap_or((base_url, ""));
    let prefix = if prefix.ends_with('/') || !prefix.contains("://") || prefix.ends_with(':') {
        base_url.trim_end_matches('/')
    } else {
        prefix
    };
    Ok(TestDatabase {
        url: format!("{prefix}/{name}"),
        base_url: base_url.to_owned(),
        name,
    })
}

/// Drop `screenhub_test_*` databases whose name (a ULID) says they were made
/// more than [`LEFTOVER_AFTER`] ago. Younger ones may belong to a suite
/// running right now on the same server.
async fn sweep_leftovers(base_url: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'screenhub\\_test\\_%'",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    let cutoff = std::time::SystemTime::now() - LEFTOVER_AFTER;
    for name in names {
        let made = name
            .strip_prefix(PREFIX)
            .and_then(|id| ulid::Ulid::from_string(&id.to_uppercase()).ok())
            .map(|id| id.datetime());
        if made.is_some_and(|made| made < cutoff) {
            drop_database(base_url, &name).await?;
        }
    }
    Ok(())
}

/// Run a SQL script (e.g. a `pg_dump` of an older version's database) on the
/// PostgreSQL database `url` names.
pub async fn run_postgres_script(url: &str, script: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(script).execute(&mut conn).await?;
    conn.close().await
}
