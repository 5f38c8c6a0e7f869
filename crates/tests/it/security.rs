//! Security properties: tenant isolation, secrets and PII never at rest in
//! clear, failed-authentication rate limiting, the audit log.

use reqwest::StatusCode;
use screenhub_tests::{start_body, TestHub, World};
use serde_json::{json, Value};

#[tokio::test]
async fn one_accounts_token_never_reaches_another_accounts_data() {
    let w = World::new().await;
    // A second employer, B, on the same hub and the same Ashby.
    let (b_id, b_token) = w.another_account("Beta").await;
    let (b_id, b_token) = (b_id.as_str(), b_token.as_str());
    // A package only B may order.
    w.hub
        .post(
            "/v1/packages",
            json!({"id": "b-only", "kind": "assessment", "name": "B only", "account_ids": [b_id]}),
        )
        .await;
    let (_, b_only) = w.hub.get("/v1/packages/b-only").await;
    let b_only_type = b_only["ats_type_id"].as_str().unwrap();

    let (_, b_list) = w.hub.ats(b_token, "assessment.list", json!({})).await;
    assert!(b_list["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["assessment_type_id"] == b_only_type));
    let (_, a_list) = w.hub.ats(&w.token, "assessment.list", json!({})).await;
    assert!(
        !a_list["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["assessment_type_id"] == b_only_type),
        "A must not see B's package"
    );

    // B starts checks; A uses every id B has, in every call A can make.
    let (_, b_start) = w
        .hub
        .ats(
            b_token,
            "assessment.start",
            start_body(b_only_type, "app-b", "b@example.com"),
        )
        .await;
    let b_order = b_start["results"]["assessment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, b_start2) = w
        .hub
        .ats(
            b_token,
            "assessment.start",
            start_body(&w.type_id, "app-shared", "b2@example.com"),
        )
        .await;
    let b_order2 = b_start2["results"]["assessment_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body) = w
        .hub
        .ats(
            &w.token,
            "assessment.start",
            start_body(b_only_type, "app-b", "a@example.com"),
        )
        .await;
    assert_eq!(status, 422, "A cannot start B's package: {body}");
    for id in [&b_order, &b_order2] {
        let (status, body) = w
            .hub
            .ats(&w.token, "assessment.cancel", json!({"assessment_id": id}))
            .await;
        assert_eq!(status, 200);
        let (_, unknown) = w
            .hub
            .ats(
                &w.token,
                "assessment.cancel",
                json!({"assessment_id": "0191e1f2-0000-7000-8000-000000000000"}),
            )
            .await;
        // Only the request id differs.
        assert_eq!(
            (&body["errorInfo"]["code"], &body["errorInfo"]["message"]),
            (
                &unknown["errorInfo"]["code"],
                &unknown["errorInfo"]["message"]
            ),
            "B's order looks exactly like an id that does not exist"
        );
        assert_eq!(body["success"], false);
        let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
        assert_eq!(order["status"], "pending", "B's order is untouched");
    }
    // The same application at A is A's own order, never B's.
    let (_, a_start) = w
        .hub
        .ats(
            &w.token,
            "assessment.start",
            start_body(&w.type_id, "app-shared", "a2@example.com"),
        )
        .await;
    assert_ne!(
        a_start["results"]["assessment_id"].as_str().unwrap(),
        b_order2
    );
    let (_, a_orders) = w
        .hub
        .get(&format!("/v1/orders?account_id={}", w.account_id))
        .await;
    assert!(a_orders["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["account_id"] == w.account_id.as_str()));
    // A disabled A does not affect B.
    w.hub
        .patch(
            &format!("/v1/accounts/{}", w.account_id),
            json!({"disabled": true}),
        )
        .await;
    let (status, _) = w.hub.ats(b_token, "assessment.list", json!({})).await;
    assert_eq!(status, 200);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_or_candidate_data_is_stored_in_clear() {
    let w = World::new().await;
    let (_, endpoint) = w
        .hub
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "http://127.0.0.1:9/other"}),
        )
        .await;
    let webhook_secret = endpoint["secret"].as_str().unwrap().to_owned();
    let email = "zoë.secret-candidate@exämple.com";
    let id = w.start(email).await;
    let mut body = start_body(&w.type_id, "app-scan", "second.candidate@example.com");
    body["candidate"]["first_name"] = json!("Wilhelmina");
    body["candidate"]["last_name"] = json!("Featherstonehaugh");
    w.hub.ats(&w.token, "assessment.start", body).await;
    w.hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "pass", "report_url": "https://v.example/r/1"}),
        )
        .await;
    // An idempotent create keeps its answer (with a token shown once) for replays.
    let res = w
        .hub
        .http
        .post(format!("{}/v1/accounts", w.hub.url()))
        .bearer_auth(&w.hub.api_key)
        .header("idempotency-key", "scan-1")
        .json(&json!({"name": "Idem", "ats": "ashby"}))
        .send()
        .await
        .unwrap();
    let idem: Value = res.json().await.unwrap();
    w.hub
        .eventually("deliveries done", 10, || async {
            let (_, d) = w.hub.get("/v1/deliveries?state=pending").await;
            d["data"].as_array().is_some_and(|d| {
                d.iter().all(|d| {
                    d["target"] == "vendor" && d["endpoint_id"] != endpoint["id"]
                        || d["state"] != "pending"
                })
            })
        })
        .await;

    let secrets = [
        w.token.clone(),
        w.ashby_key.clone(),
        webhook_secret,
        w.hub.api_key.clone(),
        idem["external_trigger_token"].as_str().unwrap().to_owned(),
        email.to_owned(),
        "second.candidate@example.com".to_owned(),
        "Wilhelmina".to_owned(),
        "Featherstonehaugh".to_owned(),
        "Zoë".to_owned(),
    ];
    let mut scanned = 0;
    for (name, bytes) in stored_bytes(&w.hub.config).await {
        scanned += bytes.len();
        for secret in &secrets {
            assert!(
                !contains(&bytes, secret),
                "{name} holds `{secret}` in clear"
            );
            let b64_free = secret.trim_start_matches("whsec_");
            assert!(
                !contains(&bytes, b64_free),
                "{name} holds part of a secret in clear"
            );
        }
    }
    assert!(
        scanned > 10_000,
        "the stored data was found and read ({scanned} bytes)"
    );
}

/// Everything the database keeps, as it lies at rest: on SQLite the database
/// files (WAL included); on PostgreSQL every row of every table, as text.
async fn stored_bytes(config: &screenhub::Config) -> Vec<(String, Vec<u8>)> {
    if screenhub_tests::on_postgres() {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&config.database_url)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut rows = Vec::new();
        for table in tables {
            let text: Option<String> = sqlx::query_scalar(&format!(
                "SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t"
            ))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            rows.push((table, text.unwrap_or_default().into_bytes()));
        }
        return rows;
    }
    std::fs::read_dir(&config.data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("screenhub.db"))
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

async fn guess(w: &World, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = w
        .hub
        .http
        .get(format!("{}/v1/accounts", w.hub.url()))
        .bearer_auth("shk_guess");
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn repeated_failed_authentication_slows_guesses_but_never_valid_credentials() {
    let w = World::new().await;
    for _ in 0..20 {
        assert_eq!(guess(&w, None).await.status(), 401);
    }
    let res = guess(&w, None).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "guesses slowed"
    );
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_failed_attempts");
    // From the same address, the right vendor key and the right External
    // Trigger Token still get through.
    let (status, body) = w.hub.get("/v1/accounts").await;
    assert_eq!(status, 200, "the right key is never locked out: {body}");
    let (status, body) = w.hub.ats(&w.token, "assessment.list", json!({})).await;
    assert_eq!(status, 200, "Ashby is never locked out: {body}");
    // A wrong token on the partner API shares the brake and answers in Ashby's envelope.
    let (status, body) = w.hub.ats("ett_guess", "assessment.list", json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], false);
}

#[tokio::test]
async fn authorization_schemes_are_case_insensitive() {
    let w = World::new().await;
    for scheme in ["Bearer", "bearer", "BEARER", "BeArEr"] {
        let res = w
            .hub
            .http
            .get(format!("{}/v1/accounts", w.hub.url()))
            .header("authorization", format!("{scheme} {}", w.hub.api_key))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", w.token));
    for scheme in ["Basic", "BASIC", "basic"] {
        let res = w
            .hub
            .http
            .post(format!("{}/assessment.list", w.hub.partner_base_url()))
            .header("authorization", format!("{scheme} {basic}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_trusted_proxies() {
    // Without trusted proxies the header is ignored: a guesser cannot dodge
    // the brake by making up addresses.
    let w = World::new().await;
    for i in 0..20 {
        let res = guess(&w, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(guess(&w, Some("203.0.113.99")).await.status(), 429);

    // Behind a trusted load balancer every caller shares its address; the
    // brake goes by the forwarded client address instead.
    let w = World::with_hub(
        TestHub::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await,
    )
    .await;
    for _ in 0..20 {
        let res = guess(&w, Some("198.51.100.7, 203.0.113.5")).await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        guess(&w, Some("198.51.100.7, 203.0.113.5")).await.status(),
        429,
        "the nearest untrusted address is the client"
    );
    assert_eq!(
        guess(&w, Some("203.0.113.6")).await.status(),
        401,
        "another client behind the same proxy is not held back"
    );
}

#[tokio::test]
async fn admin_actions_are_audited() {
    let w = World::new().await;
    w.hub
        .post(
            &format!("/v1/accounts/{}/rotate-token", w.account_id),
            json!({}),
        )
        .await;
    w.hub
        .patch(
            &format!("/v1/accounts/{}", w.account_id),
            json!({"disabled": true}),
        )
        .await;
    let (status, log) = w.hub.get("/v1/audit-log?limit=100").await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<_> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "account.created",
        "account.ats_credentials_set",
        "account.token_rotated",
        "account.updated",
    ] {
        assert!(
            actions.contains(&expected.to_owned()),
            "{actions:?} lacks {expected}"
        );
    }
    let entry = &log["data"][0];
    assert!(
        entry["actor"].as_str().unwrap().starts_with("api_key:key_"),
        "{entry}"
    );
    assert_eq!(entry["target_id"], w.account_id.as_str());
    assert!(entry["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn connect_links_and_connecting_through_them_are_audited_and_braked() {
    let w = World::with_hub(TestHub::spawn_with(|c| c.auth_failure_limit = 3).await).await;
    let (status, link) = w
        .hub
        .post("/v1/connect-sessions", json!({"account_id": w.account_id}))
        .await;
    assert_eq!(status, 201, "{link}");
    let link = link["url"].as_str().unwrap().to_owned();
    let try_key = |client: reqwest::Client, key: String| {
        let link = link.clone();
        async move {
            client
                .post(&link)
                .form(&[("api_key", key)])
                .send()
                .await
                .unwrap()
        }
    };
    // Keys Ashby refuses count against the brake; past it, no live call is made.
    for _ in 0..3 {
        let res = try_key(w.hub.http.clone(), "not-an-ashby-key".into()).await;
        assert_eq!(res.status(), 422);
    }
    let res = try_key(w.hub.http.clone(), w.ashby.key()).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Too many"));

    // From another address, the link still works, and the connection is audited.
    let res = try_key(screenhub_tests::client_from("127.0.0.2"), w.ashby.key()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (_, log) = w.hub.get("/v1/audit-log?limit=100").await;
    let entries = log["data"].as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["action"] == "connect_session.created")
        .expect("the link's creation is audited");
    assert!(created["actor"].as_str().unwrap().starts_with("api_key:"));
    assert_eq!(created["target_id"], w.account_id.as_str());
    let connected = entries
        .iter()
        .find(|e| e["action"] == "account.connected")
        .expect("connecting through the link is audited");
    assert!(
        connected["actor"]
            .as_str()
            .unwrap()
            .starts_with("connect_session:"),
        "{connected}"
    );
    assert!(
        !log.to_string().contains(link.rsplit('/').next().unwrap()),
        "the link itself is a secret"
    );
}

#[tokio::test]
async fn purged_orders_keep_their_shell_and_erased_accounts_vanish() {
    let w = World::new().await;
    let id = w.start("purge-me@example.com").await;
    w.hub
        .put(
            &format!("/v1/orders/{id}/result"),
            json!({"outcome": "fail", "report_url": "https://v.example/r/9"}),
        )
        .await;
    w.hub
        .wait_for("/v1/deliveries?state=pending", 10, |d| {
            d["data"].as_array().is_some_and(Vec::is_empty)
        })
        .await;
    let later = w.hub.hub.state.now() + 1;
    assert_eq!(w.hub.store().purge_pii(later, later).await.unwrap(), 1);
    let (_, order) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert!(
        order["candidate"].is_null()
            && order["ats_request"].is_null()
            && order["additional_fields"].is_null(),
        "{order}"
    );
    assert_eq!(
        (order["status"].as_str(), order["outcome"].as_str()),
        (Some("completed"), Some("fail"))
    );
    assert_eq!(
        order["events"].as_array().unwrap().len(),
        2,
        "the timeline stays"
    );
    let (_, found) = w
        .hub
        .get("/v1/orders?candidate_email=purge-me@example.com")
        .await;
    assert!(found["data"].as_array().unwrap().is_empty());
    let webhook = order["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["target"] == "vendor")
        .unwrap();
    let (_, detail) = w
        .hub
        .get(&format!(
            "/v1/deliveries/{}",
            webhook["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail["payload"], json!({"purged": true}));

    w.hub
        .store()
        .erase_account(&w.account_id.parse().unwrap())
        .await
        .unwrap();
    let (status, _) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(status, 404);
    let (status, _) = w.hub.get(&format!("/v1/accounts/{}", w.account_id)).await;
    assert_eq!(status, 404);
    let (status, _) = w.hub.ats(&w.token, "assessment.list", json!({})).await;
    assert_eq!(status, 401, "the erased account's token is gone");
}

#[tokio::test]
async fn the_master_key_rotates_and_an_interrupted_rotation_is_finished_at_start() {
    use screenhub::app::{next_key_path, open_store, rotate_master_key};
    use screenhub_store::{Cipher, MasterKey, NewAccount};
    let dir = tempfile::tempdir().unwrap();
    let mut config = screenhub_tests::test_config(dir.path());
    config.database_url = String::new(); // SQLite in the data directory, key file beside it
    let store = open_store(&config).await.unwrap();
    let (account, token) = store
        .create_account(
            NewAccount {
                name: "A".into(),
                ats_api_base_url: "https://x.test".into(),
                ..Default::default()
            },
            0,
        )
        .await
        .unwrap();
    store
        .set_ats_credentials(&account.id, "ashby-key", None, 0)
        .await
        .unwrap();
    let key_file = dir.path().join("master.key");
    let original = std::fs::read_to_string(&key_file).unwrap();

    // Crash after the database moved to the new key, before the key file was replaced.
    let next = MasterKey::generate();
    std::fs::write(next_key_path(&config), next.to_base64()).unwrap();
    store.reencrypt(&Cipher::new(&next), 1).await.unwrap();
    store.close().await;
    let store = open_store(&config).await.unwrap();
    assert_eq!(
        store.reveal_account_token(&account.id).await.unwrap(),
        token
    );
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        next.to_base64()
    );
    assert!(!next_key_path(&config).exists());
    store.close().await;

    // Crash before the database moved: the next key is discarded.
    std::fs::write(next_key_path(&config), MasterKey::generate().to_base64()).unwrap();
    let store = open_store(&config).await.unwrap();
    assert_eq!(
        store
            .ats_credentials(&account.id)
            .await
            .unwrap()
            .unwrap()
            .api_key,
        "ashby-key"
    );
    assert!(!next_key_path(&config).exists());
    store.close().await;

    // A whole rotation.
    assert!(rotate_master_key(&config).await.unwrap() >= 2);
    let rotated = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(rotated, next.to_base64());
    assert_ne!(rotated, original);
    let store = open_store(&config).await.unwrap();
    assert_eq!(
        store.reveal_account_token(&account.id).await.unwrap(),
        token
    );
    // The wrong key is refused with a clear error, not garbage.
    store.close().await;
    std::fs::write(&key_file, MasterKey::generate().to_base64()).unwrap();
    let err = open_store(&config).await.err().unwrap().to_string();
    assert!(err.contains("does not open this database"), "{err}");
}

#[tokio::test]
async fn dashboard_sign_in_guessing_is_slowed_down_too_but_the_right_key_signs_in() {
    let hub = screenhub_tests::TestHub::spawn().await;
    let url = format!("{}/dashboard/sign-in", hub.url());
    for _ in 0..20 {
        let res = hub
            .http
            .post(&url)
            .form(&[("api_key", "shk_guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = hub
        .http
        .post(&url)
        .form(&[("api_key", "shk_guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));
    // The right key still signs in.
    hub.dashboard_session().await;
}

/// The hub's logs, at debug level and as JSON, through a whole flow: no token,
/// key, webhook secret, session, candidate email or name appears in them.
/// The capture is process-wide (every thread, sqlx's included), so tests
/// running alongside add their lines too; a secret of theirs would be a leak
/// just the same.
#[tokio::test]
async fn no_secret_or_candidate_data_is_logged() {
    let logs = screenhub_tests::captured_logs();
    logs.capture(true);
    let w = World::new().await;
    let (_, endpoint) = w.hub.get("/v1/webhook-endpoints").await;
    let endpoint_id = endpoint["data"][0]["id"].as_str().unwrap().to_owned();
    let mut secrets = vec![w.token.clone(), w.ashby_key.clone(), w.hub.api_key.clone()];

    // The employer connects through a one-time link with a new Ashby key.
    let (_, link) = w
        .hub
        .post("/v1/connect-sessions", json!({"account_id": w.account_id}))
        .await;
    let link = link["url"].as_str().unwrap().to_owned();
    secrets.push(link.rsplit('/').next().unwrap().to_owned());
    let second_key = w.ashby.key();
    secrets.push(second_key.clone());
    let page = w.hub.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let res = w
        .hub
        .http
        .post(&link)
        .form(&[("api_key", second_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // An operator signs in to the dashboard.
    let (http, session) = w.hub.dashboard_session().await;
    secrets.push(session.split_once('=').unwrap().1.to_owned());
    let res = http
        .get(format!("{}/dashboard/orders", w.hub.url()))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Secrets rotate: the webhook secret, then the External Trigger Token.
    let (_, rotated) = w
        .hub
        .post(
            &format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            json!({"grace_period_seconds": 600}),
        )
        .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    w.receiver.set_secret(&new_secret);
    let (_, rotated) = w
        .hub
        .post(
            &format!("/v1/accounts/{}/rotate-token", w.account_id),
            json!({"grace_period_seconds": 600}),
        )
        .await;
    let new_token = rotated["external_trigger_token"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(new_token.clone());

    // Candidates: one started through the simulated Ashby, one by hand with a name.
    let email = "zoë.logged-candidate@exämple.com";
    secrets.push(email.to_owned());
    let first = w.start(email).await;
    let mut body = start_body(&w.type_id, "app-logs", "second.logged@example.com");
    body["candidate"]["first_name"] = json!("Wilhelmina");
    body["candidate"]["last_name"] = json!("Featherstonehaugh");
    let (status, started) = w.hub.ats(&new_token, "assessment.start", body).await;
    assert_eq!(status, 200, "{started}");
    let second = started["results"]["assessment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.extend(
        [
            "second.logged@example.com",
            "Wilhelmina",
            "Featherstonehaugh",
        ]
        .map(String::from),
    );

    // Progress and results; the vendor's endpoint fails twice on the way.
    w.receiver.fail_next(2);
    w.hub
        .post(
            &format!("/v1/orders/{first}/status"),
            json!({"status": "in_progress", "label": "Candidate invited"}),
        )
        .await;
    let (status, _) = w
        .hub
        .put(
            &format!("/v1/orders/{first}/result"),
            json!({"outcome": "pass", "report_url": "https://v.example/r/1", "summary": "Clear"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = w
        .hub
        .post(
            &format!("/v1/orders/{second}/cancel"),
            json!({"reason": "Candidate withdrew"}),
        )
        .await;
    assert_eq!(status, 200);
    w.sim_eventually(&first, "the result in Ashby", |a| a.result.is_some())
        .await;
    w.hub
        .eventually(
            "the vendor's webhooks delivered after failing",
            20,
            || async { w.receiver.of_type("order.cancelled").len() == 1 },
        )
        .await;
    assert!(w.receiver.attempts() > w.receiver.received().len());
    secrets.push(new_secret);
    // Searching by email puts it in a query string.
    let (status, found) = w
        .hub
        .get("/v1/orders?candidate_email=second.logged@example.com")
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let res = http
        .get(format!(
            "{}/dashboard/orders?email=second.logged%40example.com",
            w.hub.url()
        ))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    logs.capture(false);
    let text = logs.take();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    // The capture worked: debug lines from the hub, the flow's events.
    assert!(lines.iter().any(|l| l["level"] == "DEBUG"));
    for needle in [
        "order created",
        "ATS API key verified",
        "external trigger token rotated",
    ] {
        assert!(text.contains(needle), "the logs should say `{needle}`");
    }
    for secret in &secrets {
        let bare = secret.trim_start_matches("whsec_");
        assert!(
            !text.contains(secret.as_str()) && !text.contains(bare),
            "the logs hold `{secret}`:\n{}",
            text.lines()
                .filter(|l| l.contains(bare))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let mut targets = std::collections::BTreeMap::<&str, usize>::new();
    for l in &lines {
        *targets
            .entry(l["target"].as_str().unwrap_or("?"))
            .or_default() += 1;
    }
    println!("log lines by target: {targets:?}");
    println!(
        "log scan: {} debug-level JSON lines ({} bytes), {} secrets and personal data checked, none found",
        lines.len(),
        text.len(),
        secrets.len()
    );
}
