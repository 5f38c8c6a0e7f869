//! The `screenhub` binary as a person first meets it: errors that name what
//! they typed, one data directory per hub, commands that do not create
//! databases by accident, logs without colour codes in a file.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn screenhub(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_screenhub"));
    command.current_dir(dir).args(args);
    common::without_callers_settings(&mut command);
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    screenhub(dir, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn commands_that_read_refuse_a_directory_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["keys", "list", "--data-dir", "typo"][..],
        &["accounts", "list", "--data-dir", "typo"],
        &["keys", "revoke", "key_x", "--data-dir", "typo"],
        &["keys", "rotate-master", "--data-dir", "typo"],
    ] {
        let out = run(dir.path(), args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("there is no Screenhub database in")
                && err.contains("typo")
                && err.contains("--data-dir"),
            "{args:?}: {err}"
        );
        assert!(!dir.path().join("typo").exists(), "{args:?} made nothing");
    }
}

#[test]
fn keys_are_listed_as_json_and_a_new_database_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(dir.path(), &["keys", "create", "--name", "ci", "--json"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stderr(&created).contains("created a new database in"),
        "{}",
        stderr(&created)
    );
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let listed = run(dir.path(), &["keys", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let keys: Vec<serde_json::Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], created["id"]);
    assert_eq!(keys[0]["name"], "ci");
    assert!(keys[0]["revoked_at"].is_null());
    assert!(
        !keys[0]
            .to_string()
            .contains(created["api_key"].as_str().unwrap()),
        "never the secret"
    );
}

#[test]
fn settings_errors_name_the_flag_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["serve", "--listen", "localhost"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("--listen: `localhost` is not HOST:PORT"),
        "{err}"
    );
    assert!(!err.contains(".rs:"), "no source locations: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let out = screenhub(dir.path(), &["migrate"])
        .env("SCREENHUB_LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("SCREENHUB_LISTN is not a setting"));

    // The test suite's switches are not the binary's business.
    let out = screenhub(dir.path(), &["migrate"])
        .env("SCREENHUB_TEST_SKIP_BROWSER", "1")
        .env("SCREENHUB_TEST_CRASH_KILLS", "3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_wrong_postgresql_address_fails_at_once_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(
        dir.path(),
        &[
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(6), "{err}");
    assert!(
        err.contains("connecting to PostgreSQL at 127.0.0.1:1"),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("refused"),
        "the real cause: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_eq!(err.matches("refused").count(), 1, "said once: {err}");
}

#[test]
fn a_second_serve_on_one_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = screenhub(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is serving; its logs go to a pipe, so no colour codes.
    let mut logs = BufReader::new(first.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("screenhub is ready") {
        let mut line = String::new();
        assert!(logs.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    assert!(!seen.contains('\u{1b}'), "no colour codes: {seen:?}");

    let second = run(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    let err = stderr(&second);
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    assert!(
        err.contains("is in use by another screenhub process")
            && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
}

#[test]
fn a_connect_link_made_from_the_cli_goes_into_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(
        dir.path(),
        &["accounts", "create", "--name", "Acme", "--json"],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let account: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let account = account["id"].as_str().unwrap();
    let linked = run(dir.path(), &["accounts", "connect-link", account]);
    assert!(linked.status.success(), "{}", stderr(&linked));
    let url = String::from_utf8(linked.stdout).unwrap();

    let db = format!(
        "sqlite://{}",
        dir.path().join("screenhub-data/screenhub.db").display()
    );
    let rows: Vec<(String, Option<String>, String)> = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
            sqlx::query_as(
                "SELECT actor, target_id, details FROM audit_log WHERE action = 'connect_session.created'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        });
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (actor, target, details) = &rows[0];
    assert_eq!(actor, "cli");
    assert_eq!(target.as_deref(), Some(account));
    assert!(details.contains("expires_at"), "{details}");
    let token = url.trim().rsplit('/').next().unwrap();
    assert!(!details.contains(token), "the link is a secret: {details}");
}
