//! One store conformance suite, instantiated for SQLite and PostgreSQL.
//! The PostgreSQL tests are ignored unless asked for (`-- --ignored`, which
//! `scripts/test` passes when SCREENHUB_TEST_DATABASE_URL is set); each gets a
//! database of its own, dropped when it ends.

use screenhub_core::delivery::{DeliveryState, DeliveryTarget};
use screenhub_core::event::EventType;
use screenhub_core::order::{Actor, Change, OrderResult, OrderStatus, Outcome, TransitionError};
use screenhub_core::package::PackageKind;
use screenhub_core::OrderId;
use screenhub_store::*;
use serde_json::json;

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url, Cipher::new(&MasterKey::generate()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// A store on a database of its own, dropped when the guard is.
async fn postgres_store() -> (Store, testing::TestDatabase) {
    let db = testing::fresh_postgres_database(&testing::postgres_base_url())
        .await
        .unwrap();
    let store = Store::connect(db.url(), Cipher::new(&MasterKey::generate()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, db)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { let (s, _dir) = super::sqlite_store().await; super::$name(s).await; })*
        }
        mod postgres {
            $(#[tokio::test] #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
              async fn $name() { let (s, _db) = super::postgres_store().await; super::$name(s).await; })*
        }
    };
}

conformance!(
    api_keys,
    accounts_and_tokens,
    packages,
    orders_are_idempotent_and_follow_the_state_machine,
    concurrent_starts_share_commits_and_stay_idempotent,
    order_listing_filters_and_cursor,
    outbox_claim_fifo_and_retry,
    webhooks_keep_their_order_per_endpoint,
    failing_receivers_are_flagged_and_recover,
    leases_expire_and_are_taken_over,
    idempotency_keys,
    settings,
    migrations_are_idempotent,
    candidate_data_is_purged_and_accounts_erased,
    everything_sealed_moves_to_a_new_master_key,
    connect_links_and_dashboard_sessions,
    cached_lookups_follow_every_write,
    daily_order_counts_follow_every_write,
);

const T0: i64 = 1_700_000_000_000;

/// A claimed delivery's body, parsed.
fn json_of(payload: &str) -> serde_json::Value {
    serde_json::from_str(payload).expect("bodies are JSON")
}

async fn api_keys(s: Store) {
    let (key, token) = s.create_api_key("ci", T0).await.unwrap();
    assert!(token.starts_with("shk_"));
    assert_eq!(s.find_api_key(&token).await.unwrap().unwrap().id, key.id);
    assert!(s.find_api_key("shk_wrong").await.unwrap().is_none());
    s.revoke_api_key(&key.id, T0 + 1).await.unwrap();
    assert!(s.find_api_key(&token).await.unwrap().is_none());
    assert!(matches!(
        s.revoke_api_key(&key.id, T0).await,
        Err(StoreError::NotFound)
    ));
}

async fn new_account(s: &Store) -> (Account, String) {
    s.create_account(
        NewAccount {
            name: "Acme".into(),
            ats_api_base_url: "http://127.0.0.1:1".into(),
            ..Default::default()
        },
        T0,
    )
    .await
    .unwrap()
}

async fn accounts_and_tokens(s: Store) {
    let (account, token) = new_account(&s).await;
    assert_eq!(
        account.status(),
        screenhub_core::account::AccountStatus::Pending
    );
    assert_eq!(
        s.find_account_by_token(&token, T0)
            .await
            .unwrap()
            .unwrap()
            .id,
        account.id
    );
    assert_eq!(s.reveal_account_token(&account.id).await.unwrap(), token);

    // Rotation with a grace period: both work until it ends.
    let (_, new_token) = s
        .rotate_account_token(&account.id, Some(T0 + 1000), T0)
        .await
        .unwrap();
    assert!(s
        .find_account_by_token(&token, T0 + 999)
        .await
        .unwrap()
        .is_some());
    assert!(s
        .find_account_by_token(&token, T0 + 1000)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_account_by_token(&new_token, T0 + 5000)
        .await
        .unwrap()
        .is_some());
    // Rotation without grace: the old one stops at once.
    let (_, third) = s
        .rotate_account_token(&account.id, None, T0 + 1)
        .await
        .unwrap();
    assert!(s
        .find_account_by_token(&new_token, T0 + 2)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.reveal_account_token(&account.id).await.unwrap(), third);

    let a = s
        .set_ats_credentials(&account.id, "ashby-key", Some("Screenhub"), T0)
        .await
        .unwrap();
    assert_eq!(a.status(), screenhub_core::account::AccountStatus::Active);
    assert_eq!(
        s.ats_credentials(&account.id)
            .await
            .unwrap()
            .unwrap()
            .api_key,
        "ashby-key"
    );
    let a = s
        .update_account(
            &account.id,
            AccountPatch {
                disabled: Some(true),
                ..Default::default()
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(a.status(), screenhub_core::account::AccountStatus::Disabled);
    let a = s
        .update_account(
            &account.id,
            AccountPatch {
                disabled: Some(false),
                name: Some("Acme 2".into()),
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(a.status(), screenhub_core::account::AccountStatus::Active);
    assert_eq!(a.name, "Acme 2");
    s.set_account_error(&account.id, "Ashby rejected the API key", T0)
        .await
        .unwrap();
    let a = s.get_account(&account.id).await.unwrap().unwrap();
    assert_eq!(
        a.status_reason.as_deref(),
        Some("Ashby rejected the API key")
    );
    assert_eq!(s.list_accounts(None, 10).await.unwrap().len(), 1);
    let types: Vec<_> = s
        .account_events(&account.id, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(
        types.contains(&EventType::AccountConnected) && types.contains(&EventType::AccountError)
    );
}

fn package(id: &str) -> PackageInput {
    PackageInput {
        id: id.into(),
        kind: PackageKind::BackgroundCheck,
        name: format!("Package {id}"),
        description: "d".into(),
        screenings: vec!["Criminal".into()],
        account_ids: None,
        active: true,
    }
}

async fn packages(s: Store) {
    let p = s.create_package(&package("basic"), T0).await.unwrap();
    assert_eq!(p.ats_type_id, screenhub_core::package::ats_type_id("basic"));
    assert!(matches!(
        s.create_package(&package("basic"), T0).await,
        Err(StoreError::Conflict(_))
    ));
    let mut changed = package("basic");
    changed.name = "Basic".into();
    assert_eq!(s.update_package(&changed, T0).await.unwrap().name, "Basic");
    assert_eq!(
        s.find_package_by_type_id(&p.ats_type_id)
            .await
            .unwrap()
            .unwrap()
            .id,
        "basic"
    );
    let all = s
        .replace_packages(&[package("pro"), package("basic")], T0)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["pro", "basic"]
    );
    let all = s.replace_packages(&[package("pro")], T0).await.unwrap();
    assert_eq!(all.len(), 1);
    s.delete_package("pro").await.unwrap();
    assert!(matches!(
        s.delete_package("pro").await,
        Err(StoreError::NotFound)
    ));
}

fn new_order(account: &Account, application: &str, at: i64) -> NewOrder {
    NewOrder {
        id: OrderId::generate(),
        account_id: account.id.clone(),
        package_id: "basic".into(),
        package_name: "Basic".into(),
        candidate_ats_id: "cand-1".into(),
        candidate_email: format!("{application}@example.com"),
        application_ats_id: application.into(),
        application_status: "Active".into(),
        job_ats_id: "job-1".into(),
        job_name: "Engineer".into(),
        job_req_id: None,
        ats_payload: json!({"candidate": {"email": format!("{application}@example.com")}}),
        ats: screenhub_core::account::Ats::Ashby,
        intake: Default::default(),
        dedupe_key: None,
        created_at: at,
    }
}

fn ats_update(order: &Order) -> Vec<OutboxMessage> {
    vec![OutboxMessage::ats(
        "assessment.update",
        &json!({"assessment_id": order.id, "timestamp": order.last_ats_timestamp, "status": order.status}),
    )]
}

fn result() -> OrderResult {
    OrderResult {
        outcome: Outcome::Pass,
        report_url: "https://vendor.test/r".into(),
        summary: None,
        score: None,
        screenings: vec![],
        completed_at: T0,
    }
}

/// Starts arriving together are group-committed; twins in one batch still
/// make one order, every answer is readable at once, and a start that cannot
/// be written fails alone.
async fn concurrent_starts_share_commits_and_stay_idempotent(s: Store) {
    let (account, _) = new_account(&s).await;
    s.create_endpoint("http://127.0.0.1:9/hook", "", None, T0)
        .await
        .unwrap();
    let mut ghost = account.clone();
    ghost.id = screenhub_core::AccountId::generate();
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..310 {
        let (s, account) = (s.clone(), account.clone());
        // Ten more starts name an account that does not exist.
        let ghostly = i >= 300;
        let app = if ghostly {
            format!("ghost-{i}")
        } else {
            format!("app-{}", i % 150)
        };
        let ghost = ghost.clone();
        starts.spawn(async move {
            let who = if ghostly { &ghost } else { &account };
            let answer = s
                .create_order(new_order(who, &app, T0 + i), |o: &Order| {
                    vec![OutboxMessage::vendor(
                        EventType::OrderCreated,
                        &json!({"id": o.id}),
                    )]
                })
                .await;
            (app, ghostly, answer)
        });
    }
    let mut by_app: std::collections::HashMap<String, Vec<CreatedOrder>> = Default::default();
    while let Some(joined) = starts.join_next().await {
        let (app, ghostly, answer) = joined.unwrap();
        if ghostly {
            assert!(answer.is_err(), "a start for a missing account must fail");
            continue;
        }
        let created = answer.unwrap();
        assert!(s
            .get_order(&created.order.id, None)
            .await
            .unwrap()
            .is_some());
        by_app.entry(app).or_default().push(created);
    }
    assert_eq!(by_app.len(), 150);
    for (app, answers) in &by_app {
        assert_eq!(answers.iter().filter(|a| a.created).count(), 1, "{app}");
        assert!(
            answers.iter().all(|a| a.order.id == answers[0].order.id),
            "{app}"
        );
    }
    let deliveries = s
        .list_deliveries(&DeliveryFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 150, "one webhook per order created");
}

async fn orders_are_idempotent_and_follow_the_state_machine(s: Store) {
    let (account, _) = new_account(&s).await;
    let (other, _) = new_account(&s).await;
    s.create_endpoint("http://127.0.0.1:9/hook", "", None, T0)
        .await
        .unwrap();
    let vendor = |o: &Order| {
        vec![OutboxMessage::vendor(
            EventType::OrderCreated,
            &json!({"id": o.id}),
        )]
    };
    let first = s
        .create_order(new_order(&account, "app-1", T0), vendor)
        .await
        .unwrap();
    assert!(first.created);
    let again = s
        .create_order(new_order(&account, "app-1", T0 + 5), vendor)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.order.id, first.order.id);
    // The same application at another account is another order.
    assert!(
        s.create_order(new_order(&other, "app-1", T0), vendor)
            .await
            .unwrap()
            .created
    );

    let id = first.order.id;
    assert!(matches!(
        s.apply_change(
            &id,
            Some(&other.id),
            Change::Fail { reason: "x".into() },
            T0,
            ats_update
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let o = s
        .apply_change(
            &id,
            Some(&account.id),
            Change::Progress {
                label: Some("Invited".into()),
                eta_minutes: Some(30),
            },
            T0,
            ats_update,
        )
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::InProgress);
    assert_eq!(
        o.last_ats_timestamp,
        T0 + 1,
        "timestamps strictly increase even with a stale clock"
    );
    let o = s
        .apply_change(&id, None, Change::Complete(result()), T0 + 100, ats_update)
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.outcome),
        (OrderStatus::Completed, Some(Outcome::Pass))
    );
    let err = s
        .apply_change(
            &id,
            None,
            Change::Cancel {
                reason: "late".into(),
                by: Actor::Ats,
            },
            T0 + 200,
            ats_update,
        )
        .await;
    assert!(matches!(
        err,
        Err(StoreError::Transition(TransitionError::Terminal(
            OrderStatus::Completed
        )))
    ));

    // A terminal order frees the application for a new order.
    assert!(
        s.create_order(new_order(&account, "app-1", T0 + 300), vendor)
            .await
            .unwrap()
            .created
    );

    let stored = s.get_order(&id, Some(&account.id)).await.unwrap().unwrap();
    assert_eq!(stored.result.unwrap().report_url, "https://vendor.test/r");
    assert_eq!(
        stored.ats_payload.unwrap()["candidate"]["email"],
        "app-1@example.com"
    );
    assert!(s.get_order(&id, Some(&other.id)).await.unwrap().is_none());
    let timeline: Vec<_> = s
        .order_events(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        timeline,
        [
            EventType::OrderCreated,
            EventType::OrderInProgress,
            EventType::OrderCompleted
        ]
    );
    let deliveries = s
        .list_deliveries(&DeliveryFilter {
            order_id: Some(id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        deliveries
            .iter()
            .filter(|d| d.target == DeliveryTarget::Vendor)
            .count(),
        1
    );
    assert_eq!(
        deliveries
            .iter()
            .filter(|d| d.target == DeliveryTarget::Ats)
            .count(),
        2
    );
    let feed = s.list_events(0, 100).await.unwrap();
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
}

async fn order_listing_filters_and_cursor(s: Store) {
    let (account, _) = new_account(&s).await;
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(
            s.create_order(new_order(&account, &format!("app-{i}"), T0 + i), |_| vec![])
                .await
                .unwrap()
                .order
                .id,
        );
    }
    s.apply_change(
        &ids[1],
        None,
        Change::Fail {
            reason: "no show".into(),
        },
        T0 + 50,
        |_| vec![],
    )
    .await
    .unwrap();
    let page = s
        .list_orders(&OrderFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let next = s
        .list_orders(&OrderFilter {
            limit: 2,
            before: Some(ids[3]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|o| o.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let failed = s
        .list_orders(&OrderFilter {
            limit: 10,
            status: Some(OrderStatus::Failed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let by_email = s
        .list_orders(&OrderFilter {
            limit: 10,
            candidate_email: Some("APP-2@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_email.iter().map(|o| o.id).collect::<Vec<_>>(), [ids[2]]);
    let updated = s
        .list_orders(&OrderFilter {
            limit: 10,
            updated_after: Some(T0 + 10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.len(), 1);
}

async fn outbox_claim_fifo_and_retry(s: Store) {
    let (account, _) = new_account(&s).await;
    let order = s
        .create_order(new_order(&account, "app", T0), ats_update)
        .await
        .unwrap()
        .order;
    s.apply_change(
        &order.id,
        None,
        Change::Progress {
            label: None,
            eta_minutes: None,
        },
        T0,
        ats_update,
    )
    .await
    .unwrap();
    assert_eq!(s.next_wakeup_after(T0 - 1).await.unwrap(), Some(T0));
    assert_eq!(s.next_wakeup_after(T0).await.unwrap(), None);

    // Only the first of the order's two ATS updates may go out.
    let claimed = s.claim_due("w1", T0, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let first = &claimed[0].delivery;
    assert_eq!(json_of(&claimed[0].payload)["status"], "pending");
    assert!(s.claim_due("w2", T0, 30_000, 10).await.unwrap().is_empty());

    let attempt = Attempt {
        attempt: 1,
        started_at: T0,
        duration_ms: 3,
        status_code: Some(500),
        error: Some("boom".into()),
        response_excerpt: None,
    };
    assert_eq!(
        s.record_attempt(
            first,
            "w1",
            &attempt,
            &AttemptResult::RetryAt(T0 + 100),
            T0,
            vec![]
        )
        .await
        .unwrap(),
        Recorded::Done
    );
    // Still first in line while it waits to be retried.
    assert!(s
        .claim_due("w1", T0 + 50, 30_000, 10)
        .await
        .unwrap()
        .is_empty());
    let claimed = s.claim_due("w1", T0 + 100, 30_000, 10).await.unwrap();
    assert_eq!(claimed[0].delivery.id, first.id);
    s.record_attempt(
        &claimed[0].delivery,
        "w1",
        &attempt,
        &AttemptResult::Dead,
        T0 + 100,
        vec![],
    )
    .await
    .unwrap();
    // Given up: the next update may go.
    let claimed = s.claim_due("w1", T0 + 100, 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(json_of(&claimed[0].payload)["status"], "in_progress");
    let ok = Attempt {
        status_code: Some(200),
        error: None,
        ..attempt.clone()
    };
    s.record_attempt(
        &claimed[0].delivery,
        "w1",
        &ok,
        &AttemptResult::Succeeded,
        T0 + 100,
        vec![],
    )
    .await
    .unwrap();

    let (dead, _, attempts) = s.get_delivery(&first.id).await.unwrap().unwrap();
    assert_eq!(dead.state, DeliveryState::Dead);
    assert_eq!(attempts.len(), 2);
    let timeline: Vec<_> = s
        .order_events(&order.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(timeline.contains(&EventType::DeliveryExhausted));
    // Resending the dead older update after a newer one was accepted would move Ashby backwards.
    assert!(matches!(
        s.retry_delivery(&first.id, T0 + 200).await,
        Err(StoreError::Conflict(_))
    ));
    let troubled = s
        .list_deliveries(&DeliveryFilter {
            troubled_first: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(troubled[0].id, first.id);
}

/// Two endpoints: an order's second webhook waits for its first at the same
/// endpoint only; the other endpoint's copy goes meanwhile.
async fn webhooks_keep_their_order_per_endpoint(s: Store) {
    let (account, _) = new_account(&s).await;
    let (a, _) = s
        .create_endpoint("http://127.0.0.1:9/a", "", None, T0)
        .await
        .unwrap();
    let (b, _) = s
        .create_endpoint("http://127.0.0.1:9/b", "", None, T0)
        .await
        .unwrap();
    let vendor = |event| {
        move |_: &Order| {
            vec![OutboxMessage::vendor(
                event,
                &json!({"type": event.as_str()}),
            )]
        }
    };
    let order = s
        .create_order(
            new_order(&account, "app", T0),
            vendor(EventType::OrderCreated),
        )
        .await
        .unwrap()
        .order;
    s.apply_change(
        &order.id,
        None,
        Change::Cancel {
            reason: "Withdrawn".into(),
            by: Actor::Ats,
        },
        T0,
        vendor(EventType::OrderCancelled),
    )
    .await
    .unwrap();
    let claimed = s.claim_due("w1", T0, 30_000, 10).await.unwrap();
    let firsts: Vec<_> = claimed
        .iter()
        .map(|c| json_of(&c.payload)["type"].clone())
        .collect();
    assert_eq!(firsts, ["order.created", "order.created"]);
    let ok = Attempt {
        attempt: 1,
        started_at: T0,
        duration_ms: 1,
        status_code: Some(204),
        error: None,
        response_excerpt: None,
    };
    let at_a = claimed
        .iter()
        .find(|c| c.delivery.endpoint_id.as_ref() == Some(&a.id))
        .unwrap();
    s.record_attempt(
        &at_a.delivery,
        "w1",
        &ok,
        &AttemptResult::Succeeded,
        T0,
        vec![],
    )
    .await
    .unwrap();
    let next = s.claim_due("w1", T0, 30_000, 10).await.unwrap();
    assert_eq!(next.len(), 1, "only endpoint a's next webhook is free");
    assert_eq!(next[0].delivery.endpoint_id.as_ref(), Some(&a.id));
    assert_eq!(json_of(&next[0].payload)["type"], "order.cancelled");
    let _ = b;
}

/// Migration 0006: a receiver's failure streak flags it (once, with an event
/// and a webhook) and the next success clears it (once, likewise).
async fn failing_receivers_are_flagged_and_recover(s: Store) {
    let (account, _) = new_account(&s).await;
    let (endpoint, _) = s
        .create_endpoint("http://127.0.0.1:9/hook", "", None, T0)
        .await
        .unwrap();
    let (ops, _) = s
        .create_endpoint("http://127.0.0.1:9/ops", "", None, T0)
        .await
        .unwrap();
    let policy = FailingPolicy {
        after_attempts: 3,
        after_ms: 1_000,
    };
    let webhook = |event: EventType, data: serde_json::Value| {
        serde_json::value::to_raw_value(&json!({"type": event.as_str(), "data": data})).unwrap()
    };
    for receiver in [Receiver::Endpoint(&endpoint.id), Receiver::Ats(&account.id)] {
        // Healthy and successful: nothing to write.
        assert_eq!(
            s.note_receiver_success(receiver, T0, webhook)
                .await
                .unwrap(),
            None
        );
        for (i, at) in [T0, T0 + 10, T0 + 20, T0 + 999].into_iter().enumerate() {
            let flip = s
                .note_receiver_failure(receiver, &format!("HTTP 50{i}"), policy, at, webhook)
                .await
                .unwrap();
            assert_eq!(flip, None, "not yet a second of failures");
        }
        let flip = s
            .note_receiver_failure(receiver, "timed out", policy, T0 + 1_000, webhook)
            .await
            .unwrap();
        assert_eq!(flip, Some(HealthFlip::Failing));
        let flip = s
            .note_receiver_failure(receiver, "timed out again", policy, T0 + 2_000, webhook)
            .await
            .unwrap();
        assert_eq!(flip, None, "flagged once per streak");
        let health = s.receiver_health(receiver).await.unwrap().unwrap();
        assert_eq!(
            health,
            ReceiverHealth {
                consecutive_failures: 6,
                failing_since: Some(T0),
                last_error: Some("timed out again".into()),
                flagged_at: Some(T0 + 1_000),
            }
        );
        assert_eq!(
            s.note_receiver_success(receiver, T0 + 3_000, webhook)
                .await
                .unwrap(),
            Some(HealthFlip::Recovered)
        );
        assert_eq!(
            s.receiver_health(receiver).await.unwrap().unwrap(),
            ReceiverHealth::default()
        );
        assert_eq!(
            s.note_receiver_success(receiver, T0 + 4_000, webhook)
                .await
                .unwrap(),
            None
        );
    }
    // The API's models carry it.
    s.note_receiver_failure(Receiver::Ats(&account.id), "HTTP 503", policy, T0, webhook)
        .await
        .unwrap();
    let a = s.get_account(&account.id).await.unwrap().unwrap();
    assert_eq!(a.ats_health.consecutive_failures, 1);
    assert!(!a.ats_health.is_failing());
    assert_eq!(
        s.get_endpoint(&endpoint.id).await.unwrap().unwrap().health,
        ReceiverHealth::default()
    );
    // Every flip is an event and a webhook; a failing endpoint is not sent
    // the news of its own failure.
    let mut flips: Vec<_> = s
        .list_deliveries(&DeliveryFilter {
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.event_type, d.endpoint_id.unwrap() == ops.id))
        .collect();
    flips.sort();
    let expected: Vec<(String, bool)> = [
        ("account.ats_failing", false),
        ("account.ats_failing", true),
        ("account.ats_recovered", false),
        ("account.ats_recovered", true),
        ("endpoint.failing", true),
        ("endpoint.recovered", false),
        ("endpoint.recovered", true),
    ]
    .into_iter()
    .map(|(t, to_ops)| (t.to_owned(), to_ops))
    .collect();
    assert_eq!(flips, expected);
}

async fn leases_expire_and_are_taken_over(s: Store) {
    let (account, _) = new_account(&s).await;
    s.create_order(new_order(&account, "app", T0), ats_update)
        .await
        .unwrap();
    let claimed = s.claim_due("dead-worker", T0, 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(s
        .claim_due("w2", T0 + 999, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    let taken = s.claim_due("w2", T0 + 1_001, 1_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let attempt = Attempt {
        attempt: 1,
        started_at: T0,
        duration_ms: 1,
        status_code: Some(200),
        error: None,
        response_excerpt: None,
    };
    // The original worker comes back late: its result is not applied.
    assert_eq!(
        s.record_attempt(
            &claimed[0].delivery,
            "dead-worker",
            &attempt,
            &AttemptResult::Succeeded,
            T0 + 1_002,
            vec![]
        )
        .await
        .unwrap(),
        Recorded::LeaseLost
    );
    assert_eq!(
        s.record_attempt(
            &taken[0].delivery,
            "w2",
            &attempt,
            &AttemptResult::Failed,
            T0 + 1_003,
            vec![]
        )
        .await
        .unwrap(),
        Recorded::Done
    );
    let d = s
        .retry_delivery(&taken[0].delivery.id, T0 + 2_000)
        .await
        .unwrap();
    assert_eq!(
        (d.state, d.round_start, d.attempts),
        (DeliveryState::Pending, 1, 1)
    );
    assert!(matches!(
        s.retry_delivery(&d.id, T0).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn idempotency_keys(s: Store) {
    let (key, _) = s.create_api_key("k", T0).await.unwrap();
    assert_eq!(
        s.idempotency_begin(&key.id, "abc", b"h1", T0)
            .await
            .unwrap(),
        IdempotencyBegin::New
    );
    assert_eq!(
        s.idempotency_begin(&key.id, "abc", b"h1", T0)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        s.idempotency_begin(&key.id, "abc", b"h2", T0)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
    s.idempotency_complete(&key.id, "abc", 201, b"{}")
        .await
        .unwrap();
    assert_eq!(
        s.idempotency_begin(&key.id, "abc", b"h1", T0)
            .await
            .unwrap(),
        IdempotencyBegin::Replay {
            status: 201,
            body: b"{}".to_vec()
        }
    );
    assert_eq!(
        s.idempotency_begin(&key.id, "stale", b"h", T0)
            .await
            .unwrap(),
        IdempotencyBegin::New
    );
    assert_eq!(
        s.idempotency_begin(&key.id, "stale", b"h", T0 + 120_000)
            .await
            .unwrap(),
        IdempotencyBegin::New
    );
}

async fn settings(s: Store) {
    assert!(s.get_setting(CUSTOM_FIELDS).await.unwrap().is_none());
    s.put_setting(CUSTOM_FIELDS, &json!([{"id": "a"}]), T0)
        .await
        .unwrap();
    s.put_setting(CUSTOM_FIELDS, &json!([{"id": "b"}]), T0)
        .await
        .unwrap();
    assert_eq!(
        s.get_setting(CUSTOM_FIELDS).await.unwrap().unwrap(),
        json!([{"id": "b"}])
    );
}

async fn migrations_are_idempotent(s: Store) {
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
}

async fn candidate_data_is_purged_and_accounts_erased(s: Store) {
    let (account, _) = new_account(&s).await;
    let (keep, _) = new_account(&s).await;
    s.create_endpoint("http://127.0.0.1:9/hook", "", None, T0)
        .await
        .unwrap();
    let vendor = |o: &Order| {
        vec![OutboxMessage::vendor(
            EventType::OrderCreated,
            &json!({"email": o.ats_payload.as_ref().unwrap()["candidate"]["email"]}),
        )]
    };
    let ended = s
        .create_order(new_order(&account, "old", T0), vendor)
        .await
        .unwrap()
        .order;
    let live = s
        .create_order(new_order(&account, "live", T0), vendor)
        .await
        .unwrap()
        .order;
    s.apply_change(
        &ended.id,
        None,
        Change::Complete(result()),
        T0 + 10,
        |_| vec![],
    )
    .await
    .unwrap();
    // Vendor webhook delivered, so its body may go.
    let claimed = s.claim_due("w", T0 + 10, 1000, 10).await.unwrap();
    let ok = Attempt {
        attempt: 1,
        started_at: T0,
        duration_ms: 1,
        status_code: Some(200),
        error: None,
        response_excerpt: None,
    };
    for c in &claimed {
        s.record_attempt(
            &c.delivery,
            "w",
            &ok,
            &AttemptResult::Succeeded,
            T0 + 11,
            vec![],
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.purge_pii(T0 + 5, T0 + 20).await.unwrap(),
        0,
        "not ended long enough ago"
    );
    assert_eq!(s.purge_pii(T0 + 100, T0 + 200).await.unwrap(), 1);
    let purged = s.get_order(&ended.id, None).await.unwrap().unwrap();
    assert!(purged.ats_payload.is_none());
    assert_eq!(purged.pii_purged_at, Some(T0 + 200));
    assert_eq!(
        purged.outcome,
        Some(Outcome::Pass),
        "the non-personal shell stays"
    );
    assert!(
        s.get_order(&live.id, None)
            .await
            .unwrap()
            .unwrap()
            .ats_payload
            .is_some(),
        "live orders keep their data"
    );
    let found = s
        .list_orders(&OrderFilter {
            limit: 10,
            candidate_email: Some("old@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(found.is_empty(), "the email index is gone too");
    let deliveries = s
        .list_deliveries(&DeliveryFilter {
            order_id: Some(ended.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, payload, _) = s.get_delivery(&deliveries[0].id).await.unwrap().unwrap();
    assert_eq!(payload, json!({"purged": true}));
    assert_eq!(
        s.purge_pii(T0 + 100, T0 + 300).await.unwrap(),
        0,
        "purging twice changes nothing"
    );

    s.create_order(new_order(&keep, "other", T0), vendor)
        .await
        .unwrap();
    s.erase_account(&account.id).await.unwrap();
    assert!(s.get_account(&account.id).await.unwrap().is_none());
    assert!(s.get_order(&live.id, None).await.unwrap().is_none());
    assert!(s.order_events(&live.id).await.unwrap().is_empty());
    assert!(s
        .list_deliveries(&DeliveryFilter {
            order_id: Some(live.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.list_orders(&OrderFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1,
        "the other account is untouched"
    );
    assert!(matches!(
        s.erase_account(&account.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn everything_sealed_moves_to_a_new_master_key(s: Store) {
    s.check_master_key(T0).await.unwrap();
    let (account, token) = new_account(&s).await;
    s.set_ats_credentials(&account.id, "ashby-key", None, T0)
        .await
        .unwrap();
    let (endpoint, secret) = s
        .create_endpoint("http://127.0.0.1:9/h", "", None, T0)
        .await
        .unwrap();
    let order = s
        .create_order(new_order(&account, "app", T0), ats_update)
        .await
        .unwrap()
        .order;
    let next = Cipher::new(&MasterKey::generate());
    assert!(s.reencrypt(&next, T0).await.unwrap() >= 5);
    assert!(
        matches!(s.check_master_key(T0).await, Err(StoreError::Decrypt)),
        "the old key no longer opens it"
    );
    let moved = s.with_cipher(next);
    moved.check_master_key(T0).await.unwrap();
    assert_eq!(
        moved.reveal_account_token(&account.id).await.unwrap(),
        token
    );
    assert_eq!(
        moved
            .ats_credentials(&account.id)
            .await
            .unwrap()
            .unwrap()
            .api_key,
        "ashby-key"
    );
    assert_eq!(
        moved
            .endpoint_secrets(&endpoint.id, T0)
            .await
            .unwrap()
            .unwrap()
            .1
            .current,
        secret
    );
    assert!(moved
        .get_order(&order.id, None)
        .await
        .unwrap()
        .unwrap()
        .ats_payload
        .is_some());
    let found = moved
        .list_orders(&OrderFilter {
            limit: 5,
            candidate_email: Some("app@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the email index was rebuilt");
    assert_eq!(moved.claim_due("w", T0, 1000, 10).await.unwrap().len(), 1);
}

/// PostgreSQL only: what several nodes sharing one database rely on.
mod postgres_multinode {
    use super::*;
    use sqlx::Connection;

    async fn fresh_db() -> testing::TestDatabase {
        testing::fresh_postgres_database(&testing::postgres_base_url())
            .await
            .unwrap()
    }

    async fn open(url: &str, key: &MasterKey) -> Store {
        Store::connect(url, Cipher::new(key)).await.unwrap()
    }

    /// Nodes starting together on a fresh database: each migrates, none fails,
    /// and every migration is applied exactly once.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
    async fn concurrent_migrations_do_not_race() {
        let db = fresh_db().await;
        let url = db.url().to_owned();
        let key = MasterKey::generate();
        let mut starts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (url, key) = (url.clone(), key.clone());
            starts.spawn(async move {
                let store = open(&url, &key).await;
                store.migrate().await.map(|_| store)
            });
        }
        let mut stores = Vec::new();
        while let Some(started) = starts.join_next().await {
            stores.push(started.unwrap().expect("every node migrates"));
        }
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let (applied, distinct): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(applied, distinct);
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .count();
        assert_eq!(applied as usize, files, "every migration is recorded once");
        // The schema works from every node.
        let (account, _) = new_account(&stores[0]).await;
        for store in &stores {
            assert!(store.get_account(&account.id).await.unwrap().is_some());
        }
    }

    /// A transaction that inserts an event and commits after a later one must
    /// not be skipped by a reader that already moved past the later one: the
    /// reader waits for it instead.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
    async fn events_feed_never_skips_an_event_that_commits_late() {
        let db = fresh_db().await;
        let url = db.url().to_owned();
        let s = open(&url, &MasterKey::generate()).await;
        s.migrate().await.unwrap();
        // A slow writer: its event is numbered first but commits last.
        let mut slow = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut tx = slow.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO events (type, account_id, order_id, data, created_at) \
             VALUES ('account.updated', NULL, NULL, '{\"slow\":true}', $1)",
        )
        .bind(T0)
        .execute(&mut *tx)
        .await
        .unwrap();
        // A fast writer commits meanwhile (writers do not wait for each other).
        let (fast, _) = new_account(&s).await;
        // A poller must not see the fast event alone: it would move its cursor
        // past the slow one.
        let reader = tokio::spawn({
            let s = s.clone();
            async move { s.list_events(0, 100).await.unwrap() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !reader.is_finished(),
            "the reader waits for the slow writer"
        );
        tx.commit().await.unwrap();
        let seen = reader.await.unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].data, json!({"slow": true}));
        assert_eq!(seen[1].account_id.as_ref(), Some(&fast.id));
        assert!(seen[0].seq < seen[1].seq);
    }

    /// A writer that rolls back leaves a gap, which the reader passes.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
    async fn events_feed_passes_a_rolled_back_event() {
        let db = fresh_db().await;
        let url = db.url().to_owned();
        let s = open(&url, &MasterKey::generate()).await;
        s.migrate().await.unwrap();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO events (type, account_id, order_id, data, created_at) \
             VALUES ('account.updated', NULL, NULL, '{}', $1)",
        )
        .bind(T0)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        new_account(&s).await;
        assert_eq!(s.list_events(0, 100).await.unwrap().len(), 1);
    }

    /// Many writers at once: the feed, read concurrently in pages, sees every
    /// event exactly once.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
    async fn events_feed_sees_every_event_under_concurrent_writers() {
        let db = fresh_db().await;
        let url = db.url().to_owned();
        let s = open(&url, &MasterKey::generate()).await;
        s.migrate().await.unwrap();
        const WRITERS: usize = 8;
        const EACH: usize = 25;
        let mut writers = tokio::task::JoinSet::new();
        for _ in 0..WRITERS {
            let s = s.clone();
            writers.spawn(async move {
                for _ in 0..EACH {
                    new_account(&s).await;
                }
            });
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let done = writers.is_empty();
            let page = s.list_events(cursor, 7).await.unwrap();
            if let Some(last) = page.last() {
                cursor = last.seq;
            }
            seen.extend(page.into_iter().map(|e| e.account_id.unwrap()));
            if done && seen.len() >= WRITERS * EACH {
                break;
            }
            while writers.try_join_next().is_some() {}
            tokio::task::yield_now().await;
        }
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(seen.len(), WRITERS * EACH);
        assert_eq!(distinct.len(), WRITERS * EACH);
    }

    /// Work announced by one node wakes a listener on another.
    #[tokio::test]
    #[ignore = "needs PostgreSQL: set SCREENHUB_TEST_DATABASE_URL, run with --ignored (scripts/test does)"]
    async fn announced_work_wakes_listeners() {
        let db = fresh_db().await;
        let url = db.url().to_owned();
        let key = MasterKey::generate();
        let writer = open(&url, &key).await;
        writer.migrate().await.unwrap();
        let other_node = open(&url, &key).await;
        let mut listener = other_node.listen_for_work().await.unwrap().unwrap();
        let quiet =
            tokio::time::timeout(std::time::Duration::from_millis(300), listener.next()).await;
        assert!(quiet.is_err(), "nothing is heard before work is announced");
        writer.announce_work().await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
            .await
            .expect("a notification arrives")
            .unwrap();
        assert_eq!(heard, Heard::Work);
    }
}

async fn connect_links_and_dashboard_sessions(s: Store) {
    let (account, _) = new_account(&s).await;
    let (session, token) = s
        .create_connect_session(&account.id, 2_000, 1_000)
        .await
        .unwrap();
    assert!(token.starts_with(CONNECT_TOKEN_PREFIX));
    let found = s.find_connect_session(&token).await.unwrap().unwrap();
    assert_eq!(found, session);
    assert_eq!(found.state(1_500), ConnectLinkState::Usable);
    assert_eq!(found.state(2_000), ConnectLinkState::Expired);
    assert_eq!(s.find_connect_session("shc_unknown").await.unwrap(), None);
    assert!(s.use_connect_session(&session.id, 1_600).await.unwrap());
    assert!(
        !s.use_connect_session(&session.id, 1_700).await.unwrap(),
        "a link is used once"
    );
    let used = s.find_connect_session(&token).await.unwrap().unwrap();
    assert_eq!(used.state(1_700), ConnectLinkState::Used);

    let (key, _) = s.create_api_key("ops", 1_000).await.unwrap();
    let (cookie, csrf) = s
        .create_dashboard_session(&key.id, 5_000, 1_000)
        .await
        .unwrap();
    assert!(cookie.starts_with(DASHBOARD_SESSION_PREFIX));
    let live = s
        .find_dashboard_session(&cookie, 1_500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (live.api_key_id.clone(), live.csrf_token.as_str()),
        (key.id.clone(), csrf.as_str())
    );
    assert_eq!(
        s.find_dashboard_session(&cookie, 5_000).await.unwrap(),
        None,
        "expired"
    );
    s.delete_dashboard_session(&cookie).await.unwrap();
    assert_eq!(
        s.find_dashboard_session(&cookie, 1_500).await.unwrap(),
        None,
        "signed out"
    );
    let (cookie, _) = s
        .create_dashboard_session(&key.id, 5_000, 1_000)
        .await
        .unwrap();
    s.revoke_api_key(&key.id, 1_200).await.unwrap();
    assert_eq!(
        s.find_dashboard_session(&cookie, 1_500).await.unwrap(),
        None,
        "key revoked"
    );

    assert_eq!(s.count_accounts_in_error().await.unwrap(), 0);
    assert_eq!(s.count_troubled_deliveries().await.unwrap(), 0);
    assert_eq!(s.order_counts_since_day(0).await.unwrap().total(), 0);
    assert!(s.orders_per_day(0).await.unwrap().is_empty());
}

/// Token, package, endpoint and credential lookups are cached for the hot
/// path; every write through the store must show in the next lookup.
async fn cached_lookups_follow_every_write(s: Store) {
    use screenhub_core::account::AccountStatus;
    let (account, token) = new_account(&s).await;
    let found = |s: Store, token: String| async move {
        s.find_account_by_token(&token, T0)
            .await
            .unwrap()
            .map(|a| a.status())
    };
    assert_eq!(
        found(s.clone(), token.clone()).await,
        Some(AccountStatus::Pending)
    );
    s.set_ats_credentials(&account.id, "key-1", None, T0)
        .await
        .unwrap();
    assert_eq!(
        found(s.clone(), token.clone()).await,
        Some(AccountStatus::Active)
    );
    assert_eq!(
        s.ats_credentials(&account.id)
            .await
            .unwrap()
            .unwrap()
            .api_key,
        "key-1"
    );
    s.set_ats_credentials(&account.id, "key-2", None, T0)
        .await
        .unwrap();
    assert_eq!(
        s.ats_credentials(&account.id)
            .await
            .unwrap()
            .unwrap()
            .api_key,
        "key-2"
    );
    let disable = AccountPatch {
        disabled: Some(true),
        ..Default::default()
    };
    s.update_account(&account.id, disable, T0).await.unwrap();
    assert_eq!(
        found(s.clone(), token.clone()).await,
        Some(AccountStatus::Disabled)
    );
    s.rotate_account_token(&account.id, None, T0).await.unwrap();
    assert_eq!(found(s.clone(), token.clone()).await, None);

    let p = s.create_package(&package("basic"), T0).await.unwrap();
    let by_type = |s: Store| async move {
        s.find_package_by_type_id(&p.ats_type_id)
            .await
            .unwrap()
            .map(|p| p.name)
    };
    assert_eq!(
        by_type(s.clone()).await.as_deref(),
        Some(package("basic").name.as_str())
    );
    let mut renamed = package("basic");
    renamed.name = "Basic, renamed".into();
    s.update_package(&renamed, T0).await.unwrap();
    assert_eq!(by_type(s.clone()).await.as_deref(), Some("Basic, renamed"));
    s.delete_package("basic").await.unwrap();
    assert_eq!(by_type(s.clone()).await, None);

    let (endpoint, first) = s
        .create_endpoint("http://127.0.0.1:9/a", "", None, T0)
        .await
        .unwrap();
    let keys = |s: Store| {
        let id = endpoint.id.clone();
        async move { s.endpoint_secrets(&id, T0).await.unwrap() }
    };
    assert_eq!(keys(s.clone()).await.unwrap().1.current, first);
    let second = s
        .rotate_endpoint_secret(&endpoint.id, None, T0)
        .await
        .unwrap();
    assert_eq!(keys(s.clone()).await.unwrap().1.current, second);
    s.update_endpoint(
        &endpoint.id,
        Some("http://127.0.0.1:9/b"),
        None,
        None,
        None,
        T0,
    )
    .await
    .unwrap();
    assert_eq!(keys(s.clone()).await.unwrap().0, "http://127.0.0.1:9/b");
    s.delete_endpoint(&endpoint.id).await.unwrap();
    assert!(keys(s.clone()).await.is_none());
}

/// The overview's counts come from `order_day_counts`, which triggers keep:
/// they follow orders as they arrive (one at a time and in bulk), change
/// status and are erased, and agree with counting the orders themselves.
async fn daily_order_counts_follow_every_write(s: Store) {
    const DAY: i64 = 86_400_000;
    let day0 = T0 - T0.rem_euclid(DAY);
    let (account, _) = new_account(&s).await;
    let (erased, _) = new_account(&s).await;
    let none = |_: &Order| vec![];
    let first = s
        .create_order(new_order(&account, "a", day0 + 5), none)
        .await
        .unwrap()
        .order;
    s.create_order(new_order(&account, "b", day0 + DAY - 1), none)
        .await
        .unwrap();
    s.create_order(new_order(&account, "c", day0 + DAY), none)
        .await
        .unwrap();
    s.create_order(new_order(&erased, "d", day0 + 2 * DAY + 7), none)
        .await
        .unwrap();
    s.bulk_insert_orders(&[
        new_order(&account, "e", day0 + 2 * DAY),
        new_order(&account, "f", day0 + 2 * DAY + 1),
    ])
    .await
    .unwrap();
    // A repeated start is the same order: counted once.
    s.create_order(new_order(&account, "a", day0 + 2 * DAY), none)
        .await
        .unwrap();
    assert_eq!(
        s.orders_per_day(day0).await.unwrap(),
        vec![(day0, 2), (day0 + DAY, 1), (day0 + 2 * DAY, 3)]
    );
    assert_eq!(
        s.orders_per_day(day0 + DAY + 123).await.unwrap(),
        vec![(day0 + DAY, 1), (day0 + 2 * DAY, 3)],
        "from the start of the day `since` falls in"
    );

    s.apply_change(&first.id, None, Change::Complete(result()), T0, |_| vec![])
        .await
        .unwrap();
    let counts = s.order_counts_since_day(day0).await.unwrap();
    assert_eq!((counts.get("pending"), counts.get("completed")), (5, 1));
    assert_eq!(counts.total(), 6);
    let today = s.order_counts_since_day(day0 + 2 * DAY).await.unwrap();
    assert_eq!(today.by_status, vec![("pending".to_owned(), 3)]);

    s.erase_account(&erased.id).await.unwrap();
    let counts = s.order_counts_since_day(day0).await.unwrap();
    assert_eq!(
        counts.by_status,
        vec![("completed".to_owned(), 1), ("pending".to_owned(), 4)]
    );
    assert_eq!(
        s.orders_per_day(day0).await.unwrap(),
        vec![(day0, 2), (day0 + DAY, 1), (day0 + 2 * DAY, 2)]
    );
    // And the same as counting the orders one by one.
    let listed = s
        .list_orders(&OrderFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len() as i64, counts.total());
    let completed = listed
        .iter()
        .filter(|o| o.status == OrderStatus::Completed)
        .count() as i64;
    assert_eq!(completed, counts.get("completed"));
}

/// The SQLite database and its WAL hold candidate data and secrets: only
/// their owner may read them, whatever the umask, and an existing database
/// created before this rule is tightened when opened.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (store, dir) = sqlite_store().await;
    store.create_api_key("mode", 1).await.unwrap();
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for name in ["t.db", "t.db-wal", "t.db-shm"] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    store.close().await;
    let db = dir.path().join("t.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", db.display());
    let reopened = Store::connect(&url, Cipher::new(&MasterKey::generate()))
        .await
        .unwrap();
    assert_eq!(mode("t.db"), 0o600);
    reopened.close().await;
}
