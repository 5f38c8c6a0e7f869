//! The bare baseline: the smallest axum + sqlx + SQLite service that does one
//! durable insert per request, with the same pragmas as the hub. Run in the
//! same process and on the same disk as Screenhub, it shows what this machine
//! allows today, which makes noisy absolute numbers comparable.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

/// How the baseline commits.
#[derive(Debug, Clone, Copy)]
pub enum Commit {
    /// One transaction (and fsync) per request.
    PerRequest,
    /// One writer batching concurrent requests into one multi-row insert.
    Group,
}

async fn open(dir: &std::path::Path) -> anyhow::Result<SqlitePool> {
    let url = format!("sqlite://{}", dir.join("baseline.db").display());
    let opts = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, body BLOB NOT NULL, created_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await?;
    Ok(pool)
}

type Job = (Vec<u8>, oneshot::Sender<bool>);

/// The baseline's router, serving `POST /insert`.
pub async fn router(dir: &std::path::Path, commit: Commit) -> anyhow::Result<Router> {
    let pool = open(dir).await?;
    Ok(match commit {
        Commit::PerRequest => Router::new()
            .route("/insert", post(insert_one))
            .with_state(pool),
        Commit::Group => {
            let (tx, rx) = mpsc::channel::<Job>(4096);
            tokio::spawn(group_writer(pool, rx));
            Router::new()
                .route("/insert", post(insert_grouped))
                .with_state(tx)
        }
    })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn insert_one(State(pool): State<SqlitePool>, body: Bytes) -> StatusCode {
    let result = sqlx::query("INSERT INTO items (id, body, created_at) VALUES ($1, $2, $3)")
        .bind(ulid::Ulid::new().to_string())
        .bind(body.as_ref())
        .bind(now_ms())
        .execute(&pool)
        .await;
    match result {
        Ok(_) => StatusCode::CREATED,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn insert_grouped(State(writer): State<mpsc::Sender<Job>>, body: Bytes) -> StatusCode {
    let (done, answer) = oneshot::channel();
    if writer.send((body.to_vec(), done)).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match answer.await {
        Ok(true) => StatusCode::CREATED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Take whatever is queued (up to a batch), insert it in one transaction, and
/// answer each request only after the commit.
async fn group_writer(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    const MAX_BATCH: usize = 256;
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let now = now_ms();
        let mut qb = sqlx::QueryBuilder::new("INSERT INTO items (id, body, created_at) ");
        qb.push_values(batch.iter(), |mut row, (body, _)| {
            row.push_bind(ulid::Ulid::new().to_string())
                .push_bind(body.clone())
                .push_bind(now);
        });
        let ok = async {
            let mut tx = pool.begin().await?;
            qb.build().execute(&mut *tx).await?;
            tx.commit().await
        }
        .await
        .is_ok();
        for (_, done) in batch.drain(..) {
            let _ = done.send(ok);
        }
    }
}
