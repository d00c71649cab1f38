//! The dashboard's driver list at full page size: `organization { drivers(first: 500) { … } }`
//! with depot, user, current route and organization per driver, over loopback. Prints latency
//! percentiles and SQL statements per request (from the gateway's own counter).
//!
//! `cargo bench --bench drivers_query` (SQLite), or with `DATABASE_URL=postgres://…`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use serde_json::json;

use common::{Gateway, metric, percentile};

const DRIVERS: usize = 500;
const REQUESTS: usize = 200;
const QUERY: &str = "{ organization { drivers(first: 500) { nodes { depot { name } user { email } currentRoute { name } organization { name } } } } }";

#[tokio::main]
async fn main() {
    let gw = Gateway::start().await;
    let name = format!("Bench {}", uuid::Uuid::now_v7().simple());
    let data = gw
        .gql(None, "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken } }",
            json!({ "i": { "name": name, "adminFirstName": "B", "adminLastName": "A", "adminEmail": format!("{}@bench.test", uuid::Uuid::now_v7().simple()), "adminPassword": "bench password" } }))
        .await;
    let token = data["createOrganization"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut depots = Vec::new();
    for i in 0..5 {
        let d = gw
            .gql(
                Some(&token),
                "mutation($i: DepotInput!) { createDepot(input: $i) { id } }",
                json!({ "i": { "name": format!("Depot {i}"), "timezone": "Europe/Berlin" } }),
            )
            .await;
        depots.push(d["createDepot"]["id"].as_str().unwrap().to_owned());
    }
    let started = Instant::now();
    for i in 0..DRIVERS {
        gw.gql(Some(&token), "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "firstName": "Driver", "lastName": format!("{i}"), "email": format!("driver{i}-{}@bench.test", uuid::Uuid::now_v7().simple()), "roles": ["DRIVER"], "depotId": depots[i % depots.len()] } }))
            .await;
    }
    let load_secs = started.elapsed().as_secs_f64();
    // Let the mail worker deliver the invitations first: its statements are not the query's.
    while std::fs::read_dir(gw.dir.path().join("mail"))
        .map(|d| d.count())
        .unwrap_or(0)
        < DRIVERS
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/graphql", gw.port);
    let run = || async {
        let t = Instant::now();
        let body: serde_json::Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "query": QUERY }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["data"]["organization"]["drivers"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(DRIVERS),
            "{body}"
        );
        t.elapsed().as_secs_f64() * 1000.0
    };
    let idle_before = metric(gw.port, "lastmile_db_statements_total ").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let idle = metric(gw.port, "lastmile_db_statements_total ").await - idle_before;
    println!("idle statements in 3s: {idle}");
    let mut least = u64::MAX;
    for _ in 0..10 {
        let before = metric(gw.port, "lastmile_db_statements_total ").await;
        run().await;
        least = least.min(metric(gw.port, "lastmile_db_statements_total ").await - before);
    }
    let before = metric(gw.port, "lastmile_db_statements_total ").await;
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        samples.push(run().await);
    }
    let after = metric(gw.port, "lastmile_db_statements_total ").await;
    samples.sort_by(|a, b| a.total_cmp(b));
    let backend = if std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "drivers_query backend={backend} drivers={DRIVERS} requests={REQUESTS} latency_ms p50={:.1} p90={:.1} p99={:.1} max={:.1} statements_per_request={:.2} (least {least}; load of {DRIVERS} invitations took {load_secs:.1}s)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or(f64::NAN),
        (after - before) as f64 / REQUESTS as f64,
    );
}
