//! The bare baseline, the yardstick of issue 15: the smallest axum + sqlx
//! service that does the durable work of an `assessment.start` and nothing
//! more. Per request it
//! - looks the presented token up by its SHA-256 hash (in memory, loaded from
//!   its table at start, as the hub's warm token cache does),
//! - parses and validates Ashby's start body exactly as the hub does
//!   ([`screenhub_ashby::parse_start_request_keeping_body`]) and checks the
//!   assessment type,
//! - inserts an order row and an outbox row in one transaction, group-committed
//!   like the hub's writer (a batch is whatever waited while the previous
//!   commit ran: no added wait, so well within a 1 ms window),
//! - and answers only after that commit (SQLite `synchronous=FULL`, or PostgreSQL).
//!
//! What it leaves out is Screenhub's extra work: the event row, sealed PII, the
//! full webhook body, idempotency, the inline `update_request`, middleware.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// How the baseline commits.
#[derive(Debug, Clone, Copy)]
pub enum Commit {
    /// One transaction (and fsync) per request.
    PerRequest,
    /// One writer batching concurrent requests into one transaction.
    Group,
}

/// The baseline's own database: SQLite with the hub's pragmas, or PostgreSQL.
#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to either backend's pool (compiled for both).
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS bare_tokens (token_hash BYTEA PRIMARY KEY, account_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bare_orders (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, \
     type_id TEXT NOT NULL, candidate_ats_id TEXT NOT NULL, candidate_email TEXT NOT NULL, \
     application_ats_id TEXT NOT NULL, job_ats_id TEXT NOT NULL, job_name TEXT NOT NULL, \
     payload TEXT NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bare_outbox (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, \
     body TEXT NOT NULL, created_at BIGINT NOT NULL)",
];

/// Where the baseline keeps its rows: a SQLite file in `dir`, or the
/// PostgreSQL database at `postgres_url` (tables prefixed `bare_`).
async fn open(dir: &std::path::Path, postgres_url: Option<&str>) -> anyhow::Result<Db> {
    let db = match postgres_url {
        Some(url) => Db::Postgres(
            PgPoolOptions::new()
                .max_connections(16)
                .connect_with(url.parse()?)
                .await?,
        ),
        None => {
            let url = format!("sqlite://{}", dir.join("baseline.db").display());
            let opts = SqliteConnectOptions::from_str(&url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await?,
            )
        }
    };
    for ddl in SCHEMA {
        on_db!(&db, |pool| {
            sqlx::query(ddl).execute(pool).await?;
        });
    }
    Ok(db)
}

/// What a start needs to be accepted: the caller's token and the assessment
/// type it may start.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub token: String,
    pub type_id: uuid::Uuid,
}

/// One validated start, ready to write.
struct Row {
    id: String,
    account_id: String,
    type_id: String,
    candidate_ats_id: String,
    candidate_email: String,
    application_ats_id: String,
    job_ats_id: String,
    job_name: String,
    payload: String,
    outbox_id: String,
    outbox_body: String,
    created_at: i64,
}

type Job = (Row, oneshot::Sender<bool>);

#[derive(Clone)]
struct Bare {
    /// Token hash → account id.
    tokens: Arc<HashMap<[u8; 32], String>>,
    type_id: uuid::Uuid,
    write: Write,
}

#[derive(Clone)]
enum Write {
    PerRequest(Db),
    Group(mpsc::Sender<Job>),
}

/// The baseline's router, serving `POST /ats/ashby/assessment.start` (and
/// `GET /readyz`) with its rows in `dir` or at `postgres_url`.
pub async fn router(
    dir: &std::path::Path,
    postgres_url: Option<&str>,
    commit: Commit,
    credentials: &Credentials,
) -> anyhow::Result<Router> {
    let db = open(dir, postgres_url).await?;
    let hash = screenhub_core::secret::hash_token(&credentials.token);
    let account = format!("acct_{}", ulid::Ulid::new());
    on_db!(&db, |pool| {
        sqlx::query(
            "INSERT INTO bare_tokens (token_hash, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(hash.to_vec())
        .bind(&account)
        .execute(pool)
        .await?;
    });
    let rows: Vec<(Vec<u8>, String)> = on_db!(&db, |pool| {
        sqlx::query_as("SELECT token_hash, account_id FROM bare_tokens")
            .fetch_all(pool)
            .await?
    });
    let tokens = rows
        .into_iter()
        .filter_map(|(hash, account)| Some((<[u8; 32]>::try_from(hash).ok()?, account)))
        .collect();
    let write = match commit {
        Commit::PerRequest => Write::PerRequest(db),
        Commit::Group => {
            let (tx, rx) = mpsc::channel::<Job>(4096);
            tokio::spawn(group_writer(db, rx));
            Write::Group(tx)
        }
    };
    let bare = Bare {
        tokens: Arc::new(tokens),
        type_id: credentials.type_id,
        write,
    };
    Ok(Router::new()
        .route("/ats/ashby/assessment.start", post(start))
        .route("/readyz", get(|| async { "ready" }))
        .with_state(bare))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

async fn start(State(bare): State<Bare>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(account_id) = crate::connectors::presented_token(&headers)
        .and_then(|t| bare.tokens.get(&screenhub_core::secret::hash_token(&t)))
    else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid token");
    };
    let (request, _) = match screenhub_ashby::parse_start_request_keeping_body(&body) {
        Ok(parsed) => parsed,
        Err(r) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &r.message),
    };
    if request.assessment_type_id.trim().parse() != Ok(bare.type_id) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "unknown assessment type");
    }
    let id = ulid::Ulid::new().to_string();
    let assessment_id = id.clone();
    let outbox_body = json!({
        "type": "order.created",
        "data": {"order": {
            "id": id,
            "candidate": {"ats_id": request.candidate.ashby_id, "email": request.candidate.email},
            "application_ats_id": request.application.ashby_id,
            "job": {"ats_id": request.job.ashby_id, "name": request.job.name},
        }},
    })
    .to_string();
    let row = Row {
        outbox_id: ulid::Ulid::new().to_string(),
        account_id: account_id.clone(),
        type_id: bare.type_id.to_string(),
        candidate_ats_id: request.candidate.ashby_id,
        candidate_email: request.candidate.email,
        application_ats_id: request.application.ashby_id,
        job_ats_id: request.job.ashby_id,
        job_name: request.job.name,
        // The body was just validated as JSON: kept as it came.
        payload: String::from_utf8_lossy(&body).into_owned(),
        outbox_body,
        created_at: chrono::Utc::now().timestamp_millis(),
        id,
    };
    let ok = match &bare.write {
        Write::PerRequest(db) => write(db, std::slice::from_ref(&row)).await.is_ok(),
        Write::Group(writer) => {
            let (done, answer) = oneshot::channel();
            if writer.send((row, done)).await.is_err() {
                return refuse(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
            }
            answer.await.unwrap_or(false)
        }
    };
    if !ok {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "not written");
    }
    Json(json!({"success": true, "results": {"assessment_id": assessment_id}})).into_response()
}

/// Insert `rows` (orders, then their outbox rows) in one transaction.
async fn write(db: &Db, rows: &[Row]) -> Result<(), sqlx::Error> {
    on_db!(db, |pool| {
        let mut orders = sqlx::QueryBuilder::new(
            "INSERT INTO bare_orders (id, account_id, type_id, candidate_ats_id, candidate_email, \
             application_ats_id, job_ats_id, job_name, payload, created_at) ",
        );
        orders.push_values(rows, |mut b, r| {
            b.push_bind(&r.id)
                .push_bind(&r.account_id)
                .push_bind(&r.type_id)
                .push_bind(&r.candidate_ats_id)
                .push_bind(&r.candidate_email)
                .push_bind(&r.application_ats_id)
                .push_bind(&r.job_ats_id)
                .push_bind(&r.job_name)
                .push_bind(&r.payload)
                .push_bind(r.created_at);
        });
        let mut outbox =
            sqlx::QueryBuilder::new("INSERT INTO bare_outbox (id, order_id, body, created_at) ");
        outbox.push_values(rows, |mut b, r| {
            b.push_bind(&r.outbox_id)
                .push_bind(&r.id)
                .push_bind(&r.outbox_body)
                .push_bind(r.created_at);
        });
        let mut tx = pool.begin().await?;
        orders.build().execute(&mut *tx).await?;
        outbox.build().execute(&mut *tx).await?;
        tx.commit().await
    })
}

/// Take whatever is queued (up to a batch), write it in one transaction, and
/// answer each request only after the commit.
async fn group_writer(db: Db, mut rx: mpsc::Receiver<Job>) {
    // The hub's writer takes up to 512 jobs; 10 columns × 512 rows stays under
    // SQLite's 32,766 bound parameters.
    const MAX_BATCH: usize = 512;
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, replies): (Vec<Row>, Vec<_>) = batch.drain(..).unzip();
        let ok = write(&db, &rows).await.is_ok();
        for done in replies {
            let _ = done.send(ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn start(token: &str, body: Vec<u8>) -> Request<Body> {
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{token}:"),
        );
        Request::post("/ats/ashby/assessment.start")
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    /// The yardstick does the hub's checks and writes both rows durably.
    #[tokio::test]
    async fn the_bare_baseline_checks_a_start_and_writes_its_order_and_outbox_rows() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = Credentials {
            token: "bare_token".into(),
            type_id: uuid::Uuid::new_v4(),
        };
        let app = router(dir.path(), None, Commit::Group, &credentials)
            .await
            .unwrap();
        let good = super::super::start_body("t", &credentials.type_id.to_string(), 1);
        let answer = app
            .clone()
            .oneshot(start("bare_token", good.clone()))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let wrong_token = app
            .clone()
            .oneshot(start("another", good.clone()))
            .await
            .unwrap();
        assert_eq!(wrong_token.status(), StatusCode::UNAUTHORIZED);
        let no_email = String::from_utf8(good)
            .unwrap()
            .replace("@candidates.example", "");
        let refused = app
            .clone()
            .oneshot(start("bare_token", no_email.into_bytes()))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let other_type = super::super::start_body("t", &uuid::Uuid::new_v4().to_string(), 2);
        let refused = app.oneshot(start("bare_token", other_type)).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let db = open(dir.path(), None).await.unwrap();
        let Db::Sqlite(pool) = db else { unreachable!() };
        for table in ["bare_orders", "bare_outbox"] {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(n, 1, "{table}");
        }
    }
}
