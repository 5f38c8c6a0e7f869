//! A database written by the version before connectors (schema 0006, see
//! `fixtures/main-0006/README.md`) opens with today's code: accounts, orders,
//! deliveries and tokens survive the upgrade and still work.

use std::path::Path;

use screenhub::app::{open_store, system_clock};
use screenhub::{Config, Hub, Roles};
use serde_json::{json, Value};

const VENDOR_KEY: &str = "shk_szFTA9jdcVYBF6z1ozs7VcOU9erjmIhLVuh-Qx6kIz4";
const PENDING_TOKEN: &str = "sht_jUjJ0Kycr8Wkx6ndUSWgb3r2hTwLt_JEUNIJsIatf64";

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/main-0006")
        .join(name)
}

/// A hub on the old database, opened as `screenhub serve` opens it
/// (migrations, then the intake of old orders normalized).
async fn open(dir: &Path, database_url: String) -> Hub {
    std::fs::copy(fixture("master.key"), dir.join("master.key")).unwrap();
    let mut config: Config = screenhub_tests::test_config(dir);
    config.database_url = database_url;
    let store = open_store(&config).await.expect("the old database opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Hub::start_with(config, listener, store, system_clock(), Roles::default())
        .await
        .unwrap()
}

async fn call(hub: &Hub, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", hub.url()))
        .bearer_auth(VENDOR_KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn list_with_token(hub: &Hub, token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/ats/ashby/assessment.list", hub.url()))
        .basic_auth(token, Some(""))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn everything_survives(hub: &Hub) {
    use reqwest::Method;
    // The vendor API key still signs in.
    let (status, accounts) = call(hub, Method::GET, "/v1/accounts", None).await;
    assert_eq!(status, 200, "{accounts}");
    let accounts = accounts["data"].as_array().unwrap().clone();
    assert_eq!(accounts.len(), 2, "{accounts:#?}");
    let active = accounts
        .iter()
        .find(|a| a["status"] == "active")
        .expect("the connected account");
    assert_eq!(active["ats"], "ashby");
    assert_eq!(
        active["ats_credentials_verified"], true,
        "the Ashby key moved with the column: {active}"
    );
    assert_eq!(
        active["ats_partner_base_url"],
        format!("{}/ats/ashby", hub.url())
    );
    let pending = accounts.iter().find(|a| a["status"] == "pending").unwrap();
    assert_eq!(pending["name"], "Pending Fixture Co");

    // Orders: every one has the normalized candidate, built from the kept request.
    let (_, orders) = call(hub, Method::GET, "/v1/orders", None).await;
    let orders = orders["data"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 4, "{orders:#?}");
    for o in &orders {
        assert_eq!(o["ats"], "ashby");
        assert_eq!(o["status"], "completed");
        assert!(o["result"]["report_url"].is_string(), "{o}");
        let c = &o["candidate"];
        assert!(
            c["first_name"].as_str().is_some_and(|n| !n.is_empty()),
            "{o}"
        );
        assert!(c["email"].as_str().is_some_and(|e| e.contains('@')), "{o}");
        assert!(
            c["ats_id"].is_string() && c["ats_application_id"].is_string(),
            "{o}"
        );
        assert!(o["job"]["name"].is_string(), "{o}");
        assert!(o["application"]["status"].is_string(), "{o}");
    }
    // The candidate email index still finds them.
    let email = orders[0]["candidate"]["email"].as_str().unwrap();
    let (_, found) = call(
        hub,
        Method::GET,
        &format!("/v1/orders?candidate_email={}", email.replace('+', "%2B")),
        None,
    )
    .await;
    assert!(!found["data"].as_array().unwrap().is_empty(), "{found}");

    // Deliveries and their attempts.
    let (_, deliveries) = call(hub, Method::GET, "/v1/deliveries?limit=100", None).await;
    let deliveries = deliveries["data"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 12, "{deliveries:#?}");
    assert!(deliveries.iter().all(|d| d["state"] == "succeeded"));
    let id = deliveries[0]["id"].as_str().unwrap();
    let (status, detail) = call(hub, Method::GET, &format!("/v1/deliveries/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(
        !detail["attempts"].as_array().unwrap().is_empty(),
        "{detail}"
    );
    assert!(
        detail["payload"].is_object(),
        "the sealed payload still opens: {detail}"
    );

    // Tokens: both accounts' External Trigger Tokens still authenticate.
    let (status, _) = list_with_token(hub, PENDING_TOKEN).await;
    assert_eq!(status, 200);
    let active_id = active["id"].as_str().unwrap().parse().unwrap();
    let token = hub
        .state
        .store
        .reveal_account_token(&active_id)
        .await
        .unwrap();
    let (status, list) = list_with_token(hub, &token).await;
    assert_eq!(status, 200, "{list}");
    let type_id = list["results"][0]["assessment_type_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = hub
        .state
        .store
        .ats_credentials(&active_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!key.api_key.is_empty(), "the Ashby key opens");

    // And the old account takes a new order.
    let res = reqwest::Client::new()
        .post(format!("{}/ats/ashby/assessment.start", hub.url()))
        .basic_auth(&token, Some(""))
        .json(&json!({
            "assessment_type_id": type_id,
            "candidate": {"ashby_id": "c-new", "first_name": "Nia", "last_name": "Okafor",
                "email": "nia@example.com", "ashby_profile_url": "https://app.ashbyhq.com/c/1"},
            "application": {"ashby_id": "a-new", "status": "Active"},
            "job": {"ashby_id": "j-1", "name": "Nurse", "ashby_job_url": "https://app.ashbyhq.com/j/1"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, orders) = call(hub, Method::GET, "/v1/orders", None).await;
    assert_eq!(orders["data"].as_array().unwrap().len(), 5);
    assert_eq!(orders["data"][0]["candidate"]["first_name"], "Nia");
}

/// On the backend this run tests (SQLite, or PostgreSQL in `scripts/test`'s
/// PostgreSQL stage): the fixture written by the old binary, opened by this one.
#[tokio::test]
async fn a_database_from_before_connectors_upgrades_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _db) = if screenhub_tests::on_postgres() {
        let db = screenhub_store::testing::fresh_postgres_database(
            &screenhub_store::testing::postgres_base_url(),
        )
        .await
        .unwrap();
        let dump = std::fs::read_to_string(fixture("postgres.sql")).unwrap();
        screenhub_store::testing::run_postgres_script(db.url(), &dump)
            .await
            .expect("the old dump loads");
        (db.url().to_owned(), Some(db))
    } else {
        std::fs::copy(fixture("screenhub.db"), dir.path().join("screenhub.db")).unwrap();
        let url = format!("sqlite://{}", dir.path().join("screenhub.db").display());
        (url, None)
    };
    let hub = open(dir.path(), url).await;
    everything_survives(&hub).await;
    hub.stop().await.unwrap();
}
