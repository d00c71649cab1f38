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

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;

use common::{Gateway, percentile};

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

/// A subscriber's end of a `graphql-transport-ws` socket, framed by hand: the clients share
/// the machine with the gateway, so they read as little as a client can (no per-message
/// allocation or UTF-8 check, one timer per subscriber) and the gateway's share is measured.
struct Socket {
    stream: TcpStream,
    /// Bytes read and not yet consumed, from `start`.
    buffer: Vec<u8>,
    start: usize,
}

/// What a frame from the server is.
enum Frame {
    Text(std::ops::Range<usize>),
    Close,
    Other,
}

impl Socket {
    /// Connects from `source` and upgrades to `graphql-transport-ws`.
    async fn open(source: &str, port: u16) -> Option<Self> {
        let socket = TcpSocket::new_v4().ok()?;
        socket.bind(source.parse().ok()?).ok()?;
        let mut stream = socket
            .connect(format!("127.0.0.1:{port}").parse().ok()?)
            .await
            .ok()?;
        stream.set_nodelay(true).ok()?;
        let upgrade = format!(
            "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        );
        stream.write_all(upgrade.as_bytes()).await.ok()?;
        let mut buffer = Vec::with_capacity(1024);
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if buffer.len() > 8192 || stream.read_buf(&mut buffer).await.ok()? == 0 {
                return None;
            }
        };
        if !buffer.starts_with(b"HTTP/1.1 101") {
            return None;
        }
        Some(Self {
            stream,
            buffer,
            start: head_end,
        })
    }

    /// Sends a text message, masked as clients must.
    async fn send(&mut self, text: &str) -> Option<()> {
        let mask = rand_mask();
        let mut frame = Vec::with_capacity(text.len() + 14);
        frame.push(0x81);
        match text.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.ok()
    }

    /// The next frame from the server (which never masks); `None` when the socket ends.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse(&self.buffer[self.start..]) {
                let frame = match frame {
                    Frame::Text(range) => {
                        Frame::Text(self.start + range.start..self.start + range.end)
                    }
                    other => other,
                };
                self.start += used;
                return Some(frame);
            }
            // Keep the unread tail at the front before reading more.
            self.buffer.drain(..self.start);
            self.start = 0;
            if self.buffer.capacity() - self.buffer.len() < 512 {
                self.buffer.reserve(4096);
            }
            if self.stream.read_buf(&mut self.buffer).await.ok()? == 0 {
                return None;
            }
        }
    }

    /// The text of a frame `next` returned.
    fn text(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.buffer[range]
    }
}

/// A frame at the start of `bytes` and the bytes it takes, if it is all there.
fn parse(bytes: &[u8]) -> Option<(Frame, usize)> {
    let [first, second, ..] = *bytes else {
        return None;
    };
    let (len, header) = match second & 0x7f {
        126 => (
            u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        len => (len as usize, 2),
    };
    if bytes.len() < header + len {
        return None;
    }
    let frame = match first & 0x0f {
        0x1 => Frame::Text(header..header + len),
        0x8 => Frame::Close,
        _ => Frame::Other,
    };
    Some((frame, header + len))
}

/// A masking key; clients must mask, and any key will do for a benchmark.
fn rand_mask() -> [u8; 4] {
    uuid::Uuid::now_v7().as_bytes()[12..16].try_into().unwrap()
}

/// Opens one subscriber; returns a task collecting latencies (ms) of `EVENTS` events, which
/// hands back its still open socket.
async fn subscriber(
    port: u16,
    index: usize,
    token: Arc<String>,
    resume: bool,
) -> Option<tokio::task::JoinHandle<(Vec<f64>, Socket)>> {
    let source = format!("127.0.0.{}:0", 1 + index % 4);
    let mut ws = Socket::open(&source, port).await?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(&init.to_string()).await?;
    loop {
        match ws.next().await? {
            Frame::Text(range)
                if ws
                    .text(range.clone())
                    .starts_with(br#"{"type":"connection_ack""#) =>
            {
                break;
            }
            Frame::Close => return None,
            _ => {}
        }
    }
    // Resuming subscribers pass a cursor, as dashboards do after a reconnect.
    let payload = if resume {
        json!({ "query": "subscription($after: String) { statusChanged(after: $after) { cursor at kind } }", "variables": { "after": "0" } })
    } else {
        json!({ "query": "subscription { statusChanged { cursor at kind } }" })
    };
    let sub = json!({ "type": "subscribe", "id": "1", "payload": payload });
    ws.send(&sub.to_string()).await?;
    // Events older than the subscription are the replay of a resuming subscriber, not fan-out.
    let subscribed_at = chrono::Utc::now();
    Some(tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(EVENTS);
        let collect = async {
            while latencies.len() < EVENTS {
                let text = match ws.next().await {
                    Some(Frame::Text(range)) => ws.text(range),
                    Some(Frame::Other) => continue,
                    Some(Frame::Close) | None => break,
                };
                // Only the fields needed, found without a full parse.
                if text.starts_with(br#"{"type":"ping""#) {
                    if ws.send(r#"{"type":"pong"}"#).await.is_none() {
                        break;
                    }
                    continue;
                }
                if !text.starts_with(br#"{"id":"1","type":"next""#)
                    && !text.starts_with(br#"{"type":"next""#)
                {
                    continue;
                }
                let Some(at) = at_of(text) else { continue };
                if let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) {
                    let at = at.with_timezone(&chrono::Utc);
                    if at < subscribed_at {
                        continue;
                    }
                    let ms =
                        (chrono::Utc::now() - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                    latencies.push(ms);
                }
            }
        };
        // One timer for the whole run, not one per message.
        let _ = tokio::time::timeout(Duration::from_secs(120), collect).await;
        // The socket stays open until every subscriber is done: subscribers closing as they
        // finish would load the gateway while it still delivers the last event to the others.
        (latencies, ws)
    }))
}

/// The `at` of a delivery.
fn at_of(text: &[u8]) -> Option<&str> {
    const KEY: &[u8] = br#""at":""#;
    let start = text.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = text[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&text[start..start + len]).ok()
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
    let cpu = |gateways: &[Gateway]| {
        gateways
            .iter()
            .map(Gateway::cpu_split_ms)
            .fold((0, 0), |(u, s), (du, ds)| (u + du, s + ds))
    };
    let cpu_before = cpu(&gateways);
    let client_before = common::cpu_split_ms(std::process::id());
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
    let cpu_after = cpu(&gateways);
    let user_ms = cpu_after.0.saturating_sub(cpu_before.0);
    let system_ms = cpu_after.1.saturating_sub(cpu_before.1);
    let cpu_ms = user_ms + system_ms;
    let client_after = common::cpu_split_ms(std::process::id());
    let client_ms =
        (client_after.0 + client_after.1).saturating_sub(client_before.0 + client_before.1);
    let mut all = Vec::new();
    let mut complete = 0usize;
    let mut sockets = Vec::with_capacity(n);
    // The latencies of each event apart: a slow event stands out.
    let mut by_event: Vec<Vec<f64>> = (0..EVENTS).map(|_| Vec::new()).collect();
    for task in tasks.lock().await.drain(..) {
        let Ok((latencies, socket)) = task.await else {
            continue;
        };
        sockets.push(socket);
        if latencies.len() == EVENTS {
            complete += 1;
            for (event, latency) in by_event.iter_mut().zip(&latencies) {
                event.push(*latency);
            }
        }
        all.extend(latencies);
    }
    drop(sockets);
    let event_p99: Vec<f64> = by_event
        .iter_mut()
        .map(|event| {
            event.sort_by(|a, b| a.total_cmp(b));
            percentile(event, 0.99)
        })
        .collect();
    let (best_event, worst_event) = event_p99
        .iter()
        .fold((f64::INFINITY, 0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    all.sort_by(|a, b| a.total_cmp(b));
    let per_sub = (loaded_rss.saturating_sub(idle_rss)) as f64 / connected.max(1) as f64;
    println!(
        "subscribers={n} instances={instances} resume={resume} connected={connected} connect_time={connect_secs:.1}s events={EVENTS} deliveries={} complete_subscribers={complete} \
         latency_ms p50={:.1} p90={:.1} p99={:.1} max={:.1} p99_by_event={:.1}..{:.1} gateway_rss idle={}MiB loaded={}MiB per_subscriber={:.1}KiB gateway_cpu per_delivery={:.1}us (user {:.1}us, kernel {:.1}us) client_cpu per_delivery={:.1}us",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
        best_event,
        worst_event,
        idle_rss / 1024,
        loaded_rss / 1024,
        per_sub,
        cpu_ms as f64 * 1000.0 / (all.len().max(1)) as f64,
        user_ms as f64 * 1000.0 / (all.len().max(1)) as f64,
        system_ms as f64 * 1000.0 / (all.len().max(1)) as f64,
        client_ms as f64 * 1000.0 / (all.len().max(1)) as f64,
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
