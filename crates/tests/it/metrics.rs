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

#[tokio::test]
async fn metrics_can_have_their_own_address_and_a_token() {
    let hub = screenhub_tests::TestHub::spawn_with(|c| {
        c.metrics_listen = "127.0.0.1:0".into();
        c.metrics_token = "scrape-secret".into();
    })
    .await;
    let own = hub.hub.metrics_addr.expect("a metrics listener");
    assert_ne!(own, hub.hub.addr);
    let main = hub
        .http
        .get(format!("{}/metrics", hub.url()))
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404, "not on the main listener any more");
    let url = format!("http://{own}/metrics");
    for token in [None, Some("wrong")] {
        let mut req = hub.http.get(&url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
        let text = res.text().await.unwrap();
        assert!(text.contains("metrics_token"), "{text}");
    }
    let res = hub
        .http
        .get(&url)
        .header("authorization", "BEARER scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("# TYPE"));
}
