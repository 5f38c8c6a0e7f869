//! `/metrics`: Prometheus text with request latency by matched route, delivery
//! outcomes and the queue.

use screenhub_tests::World;

async fn scrape(w: &World) -> String {
    let response = w
        .hub
        .http
        .get(format!("{}/metrics", w.hub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_show_routes_deliveries_and_the_queue() {
    let w = World::new().await;
    let id = w.start("metrics@example.com").await;
    w.hub
        .eventually("order.created webhook", 10, || async {
            !w.receiver.of_type("order.created").is_empty()
        })
        .await;
    // A path with an id is reported by its route, never by the raw URI.
    let (status, _) = w.hub.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(status, 200);
    let text = scrape(&w).await;
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(
        has(r#"route="/ats/ashby/assessment.start",status="200""#),
        "{text}"
    );
    assert!(has(r#"route="/v1/orders/{id}",status="200""#), "{text}");
    assert!(!text.contains(&id), "order ids must not become labels");
    assert!(has("screenhub_delivery_queue_depth "), "{text}");
    assert!(
        has("screenhub_delivery_queue_oldest_age_seconds "),
        "{text}"
    );
    // The attempt is counted as it is recorded, just after the receiver answers.
    w.hub
        .eventually("a delivered vendor attempt counted", 10, || async {
            scrape(&w).await.contains(
                r#"screenhub_delivery_attempts_total{target="vendor",outcome="delivered"}"#,
            )
        })
        .await;
}
