//! Subscriber fan-out on one gateway instance: opens N `graphql-transport-ws` subscribers,
//! fires status changes, and prints event-to-client latency (p50/p99) and the gateway's
//! memory per connected subscriber.
//!
//! Run with `scripts/bench-fanout.sh` (raises the open-files limit), or
//! `FANOUT_SUBSCRIBERS=1000,5000 cargo bench --bench fanout`. `FANOUT_RESUME=1` subscribes
//! with a cursor, as dashboards do after a reconnect. `FANOUT_INSTANCES=2` spreads the
//! subscribers over two gateways sharing `DATABASE_URL` (PostgreSQL) and `REDIS_URL`, the
//! changes made on the first. Uses `DATABASE_URL` / `REDIS_URL` when set, else SQLite and
//! in-process fan-out. Loopback only; bounded in count and time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpSocket;
use tokio::sync::Mutex;

use common::{Gateway, percentile};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;

/// Status changes fired per run.
const EVENTS: usize = 20;
/// Pause between status changes.
const SPACING: Duration = Duration::from_millis(250);
/// Subscribers connecting at once.
const CONNECT_CONCURRENCY: usize = 200;

/// Creates an organization and one ACTIVE driver; returns (admin token, driver id).
async fn fixture(gw: &Gateway) -> (String, String) {
    let name = format!("Bench {}", uuid::Uuid::now_v7().simple());
    let data = gw
        .gql(None, "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken } }",
            json!({ "i": { "name": name, "adminFirstName": "B", "adminLastName": "A", "adminEmail": format!("{}@bench.test", uuid::Uuid::now_v7().simple()), "adminPassword": "bench password" } }))
        .await;
    let token = data["createOrganization"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let email = format!("{}@bench.test", uuid::Uuid::now_v7().simple());
    let invited = gw
        .gql(Some(&token), "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "firstName": "D", "lastName": "R", "email": email, "roles": ["DRIVER"] } }))
        .await;
    let user_id = invited["inviteUser"]["id"].as_str().unwrap().to_owned();
    let invitation = loop {
        let found = std::fs::read_dir(gw.dir.path().join("mail"))
            .ok()
            .and_then(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .find(|t| t.contains(&email))
            });
        if let Some(mail) = found {
            let start = mail.find("token=").unwrap() + 6;
            break mail[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    gw.gql(
        None,
        "mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken } }",
        json!({ "i": { "token": invitation, "password": "bench password" } }),
    )
    .await;
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let raw = String::from_utf8(engine.decode(&user_id).unwrap()).unwrap();
    let driver_id = engine.encode(format!("Driver:{}", raw.split_once(':').unwrap().1));
    (token, driver_id)
}

/// Opens one subscriber; returns a task collecting latencies (ms) of `EVENTS` events.
async fn subscriber(
    port: u16,
    index: usize,
    token: Arc<String>,
    resume: bool,
) -> Option<tokio::task::JoinHandle<Vec<f64>>> {
    let source = format!("127.0.0.{}:0", 1 + index % 4);
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(source.parse().ok()?).ok()?;
    let stream = socket
        .connect(format!("127.0.0.1:{port}").parse().ok()?)
        .await
        .ok()?;
    let mut request = format!("ws://127.0.0.1:{port}/graphql")
        .into_client_request()
        .ok()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .ok()?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(Message::text(init.to_string())).await.ok()?;
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            return None;
        };
        if t.as_str().contains("connection_ack") {
            break;
        }
    }
    // Resuming subscribers pass a cursor, as dashboards do after a reconnect.
    let payload = if resume {
        json!({ "query": "subscription($after: String) { statusChanged(after: $after) { cursor at kind } }", "variables": { "after": "0" } })
    } else {
        json!({ "query": "subscription { statusChanged { cursor at kind } }" })
    };
    let sub = json!({ "type": "subscribe", "id": "1", "payload": payload });
    ws.send(Message::text(sub.to_string())).await.ok()?;
    // Events older than the subscription are the replay of a resuming subscriber, not fan-out.
    let subscribed_at = chrono::Utc::now();
    Some(tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(EVENTS);
        while latencies.len() < EVENTS {
            let next = tokio::time::timeout(Duration::from_secs(60), ws.next()).await;
            let Ok(Some(Ok(message))) = next else { break };
            let Message::Text(text) = message else {
                continue;
            };
            // Only the fields needed, found without a full parse: the clients share the
            // machine with the gateway and should cost it as little as possible.
            let text = text.as_str();
            if text.starts_with(r#"{"type":"ping""#) {
                let _ = ws.send(Message::text(r#"{"type":"pong"}"#)).await;
                continue;
            }
            if !text.starts_with(r#"{"type":"next""#) {
                continue;
            }
            let Some(at) = text
                .split(r#""at":""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
            else {
                continue;
            };
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) {
                let at = at.with_timezone(&chrono::Utc);
                if at < subscribed_at {
                    continue;
                }
                let ms = (chrono::Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                latencies.push(ms);
            }
        }
        let _ = ws.close(None).await;
        latencies
    }))
}

async fn run(n: usize, resume: bool, instances: usize) {
    let gw = Gateway::start().await;
    let (token, driver) = fixture(&gw).await;
    let token = Arc::new(token);
    // Further instances start once the fixture's mail was read from the first one's directory.
    let mut gateways = vec![gw];
    for _ in 1..instances {
        gateways.push(Gateway::start().await);
    }
    let gw = &gateways[0];
    let ports: Vec<u16> = gateways.iter().map(|g| g.port).collect();
    let idle_rss: u64 = gateways.iter().map(Gateway::rss_kib).sum();
    let started = Instant::now();
    let tasks = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut failed = 0usize;
    for chunk in (0..n).collect::<Vec<_>>().chunks(CONNECT_CONCURRENCY) {
        let opened = futures_util::future::join_all(
            chunk
                .iter()
                .map(|&i| subscriber(ports[i % ports.len()], i, token.clone(), resume)),
        )
        .await;
        for task in opened {
            match task {
                Some(t) => tasks.lock().await.push(t),
                None => failed += 1,
            }
        }
    }
    let connected = n - failed;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss: u64 = gateways.iter().map(Gateway::rss_kib).sum();
    let cpu_before: u64 = gateways.iter().map(Gateway::cpu_ms).sum();
    for i in 0..EVENTS {
        let mutation = if i % 2 == 0 {
            "setDriverInactive"
        } else {
            "setDriverActive"
        };
        gw.gql(
            Some(&token),
            &format!("mutation($d: ID!) {{ {mutation}(driverId: $d) {{ status }} }}"),
            json!({ "d": driver }),
        )
        .await;
        tokio::time::sleep(SPACING).await;
    }
    let cpu_ms = gateways
        .iter()
        .map(Gateway::cpu_ms)
        .sum::<u64>()
        .saturating_sub(cpu_before);
    let mut all = Vec::new();
    let mut complete = 0usize;
    for task in tasks.lock().await.drain(..) {
        let latencies = task.await.unwrap_or_default();
        if latencies.len() == EVENTS {
            complete += 1;
        }
        all.extend(latencies);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let per_sub = (loaded_rss.saturating_sub(idle_rss)) as f64 / connected.max(1) as f64;
    println!(
        "subscribers={n} instances={instances} resume={resume} connected={connected} connect_time={connect_secs:.1}s events={EVENTS} deliveries={} complete_subscribers={complete} \
         latency_ms p50={:.1} p90={:.1} p99={:.1} max={:.1} gateway_rss idle={}MiB loaded={}MiB per_subscriber={:.1}KiB gateway_cpu per_delivery={:.1}us",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
        idle_rss / 1024,
        loaded_rss / 1024,
        per_sub,
        cpu_ms as f64 * 1000.0 / (all.len().max(1)) as f64,
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("FANOUT_SUBSCRIBERS")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let resume = std::env::var("FANOUT_RESUME").is_ok_and(|v| v == "1");
    let instances: usize = std::env::var("FANOUT_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    if instances > 1 {
        let shared = std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
            && std::env::var("REDIS_URL").is_ok();
        assert!(
            shared,
            "several instances need DATABASE_URL (PostgreSQL) and REDIS_URL"
        );
    }
    for n in sizes {
        run(n, resume, instances).await;
    }
}
