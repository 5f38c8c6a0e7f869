//! Helpers for tests that need a database of their own.

/// Create a new, empty PostgreSQL database next to the one `base_url` names and
/// return its URL, so tests can run in parallel without sharing state.
pub async fn fresh_postgres_database(base_url: &str) -> Result<String, sqlx::Error> {
    use sqlx::Connection;
    let name = format!(
        "screenhub_test_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
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
    Ok(format!("{prefix}/{name}"))
}

/// Run a SQL script (e.g. a `pg_dump` of an older version's database) on the
/// PostgreSQL database `url` names.
pub async fn run_postgres_script(url: &str, script: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(script).execute(&mut conn).await?;
    conn.close().await
}
