//! The Prometheus exposition: HELP and TYPE lines, process and build metrics, subscription
//! lifetimes in their own histogram, and the separate `METRICS_ADDR` listener.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Options, TestApp, spawn_app, spawn_with};
use crate::live::{Proto, Ws};

async fn metrics_at(app: &TestApp, base: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn metrics_carry_help_and_type_lines_process_metrics_and_the_build() {
    let app = spawn_app().await;
    app.ok(None, "{ __typename }", json!({})).await;
    let (status, text) = metrics_at(&app, &app.address).await;
    assert_eq!(status, 200);
    for name in [
        "lastmile_graphql_requests_total",
        "lastmile_graphql_request_duration_seconds",
        "lastmile_subscription_duration_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}:\n{text}"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("lastmile_build_info{{version=\"{version}\"")),
        "{text}"
    );
}

#[tokio::test]
async fn with_metrics_addr_metrics_are_served_there_and_not_on_the_public_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let app = spawn_with(Options {
        extra: vec![("--metrics-addr".into(), format!("127.0.0.1:{port}"))],
        ..Default::default()
    })
    .await;
    let (public, _) = metrics_at(&app, &app.address).await;
    assert_eq!(public, 404);
    let (private, text) = metrics_at(&app, &format!("http://127.0.0.1:{port}")).await;
    assert_eq!(private, 200);
    assert!(
        text.contains("# TYPE lastmile_graphql_requests_total counter"),
        "{text}"
    );
}

#[tokio::test]
async fn a_subscriptions_lifetime_lands_in_its_own_histogram_not_in_request_durations() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    let mut text = String::new();
    for _ in 0..100 {
        text = metrics_at(&app, &app.address).await.1;
        if text.contains("lastmile_subscription_duration_seconds_count 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        text.contains("lastmile_subscription_duration_seconds_count 1"),
        "{text}"
    );
    assert!(
        !text.contains(
            "lastmile_graphql_request_duration_seconds_count{operation=\"subscription\"}"
        ),
        "{text}"
    );
}
