//! Live status changes over WebSocket: both subprotocols, scoping, resume without loss,
//! the connection's security rules, and (with Redis) several instances and a Redis outage.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Options, TestApp, require_redis, spawn_app, spawn_with};

/// The WebSocket subprotocols the gateway speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    /// graphql-transport-ws
    Transport,
    /// graphql-ws (legacy)
    Legacy,
}

/// How long a test waits for one message before failing.
const WAIT: Duration = Duration::from_secs(15);

pub const STATUS_CHANGED: &str = "subscription($after: String) { statusChanged(after: $after) {
    cursor kind at userId driverId previousStatus status
    driver { id firstName } user { id email } partner { id name } route { id name } } }";

/// A test WebSocket client.
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    proto: Proto,
    hub: lastmile::events::EventHub,
    db: lastmile::db::Db,
}

impl Ws {
    /// Opens a socket without initialising.
    pub async fn open(app: &TestApp, proto: Proto) -> Self {
        let mut request = format!("ws://127.0.0.1:{}/graphql", app.port)
            .into_client_request()
            .expect("request");
        let name = match proto {
            Proto::Transport => "graphql-transport-ws",
            Proto::Legacy => "graphql-ws",
        };
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(name));
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(name)
        );
        Self {
            socket,
            proto,
            hub: app.state.events.clone(),
            db: app.state.db.clone(),
        }
    }

    /// Opens and initialises with `token`; waits for the ack.
    pub async fn connect(app: &TestApp, proto: Proto, token: &str) -> Self {
        let mut ws = Self::open(app, proto).await;
        ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })).await;
        let ack = ws.recv().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        ws
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Subscribes to statusChanged under `id`.
    pub async fn subscribe(&mut self, id: &str, after: Option<&str>) {
        let kind = match self.proto {
            Proto::Transport => "subscribe",
            Proto::Legacy => "start",
        };
        self.caught_up().await;
        let listening = self.hub.receivers();
        self.send(json!({ "type": kind, "id": id, "payload": { "query": STATUS_CHANGED, "variables": { "after": after } } })).await;
        // The server registers the subscription asynchronously: give it a moment (bounded,
        // and not an assertion, since a refused subscription never registers) so that a
        // change made right after this call is not made before the stream listens.
        for _ in 0..80 {
            if self.hub.receivers() > listening {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The next protocol message that is not a keep-alive.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message within the wait")
                .expect("socket open")
                .expect("message");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                    match value["type"].as_str() {
                        Some("ka") | Some("pong") => continue,
                        Some("ping") => {
                            self.send(json!({ "type": "pong" })).await;
                            continue;
                        }
                        _ => return value,
                    }
                }
                Message::Close(frame) => {
                    return json!({ "type": "__close", "code": frame.map(|f| u16::from(f.code)) });
                }
                _ => continue,
            }
        }
    }

    /// The next status event's `statusChanged` object.
    pub async fn event(&mut self) -> Value {
        let message = self.recv().await;
        let expected = match self.proto {
            Proto::Transport => "next",
            Proto::Legacy => "data",
        };
        assert_eq!(message["type"], expected, "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"]["statusChanged"].clone()
    }

    /// Waits (bounded) until this instance has broadcast every event committed so far, so a
    /// subscription opened next gets only events of changes made after it (through Redis, an
    /// earlier change's event may otherwise still be on its way).
    async fn caught_up(&self) {
        let head = lastmile::events::log::head(&self.db.conn)
            .await
            .expect("the event log's head");
        for _ in 0..200 {
            if self.hub.last_cursor() >= head {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The first status event of `kind`, passing over earlier ones: through Redis, events of
    /// changes made before the subscription may still reach it first.
    pub async fn event_of(&mut self, kind: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["kind"] == kind {
                return event;
            }
        }
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let message = self.recv().await;
            if message["type"] == "__close" {
                return message["code"].as_u64().map(|c| c as u16);
            }
        }
    }
}

async fn set_inactive(app: &TestApp, token: &str, driver_id: &str) {
    app.ok(
        Some(token),
        "mutation($d: ID!) { setDriverInactive(driverId: $d) { status } }",
        json!({ "d": driver_id }),
    )
    .await;
}

async fn set_active(app: &TestApp, token: &str, driver_id: &str) {
    app.ok(
        Some(token),
        "mutation($d: ID!) { setDriverActive(driverId: $d) { status } }",
        json!({ "d": driver_id }),
    )
    .await;
}

async fn share(app: &TestApp, token: &str, partner: &str, driver_id: &str) {
    app.ok(
        Some(token),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner, "d": [driver_id] }),
    )
    .await;
}

async fn unshare(app: &TestApp, token: &str, partner: &str, driver_id: &str) {
    app.ok(
        Some(token),
        "mutation($p: ID!, $d: ID!) { unshareDriver(partnerId: $p, driverId: $d) { id } }",
        json!({ "p": partner, "d": driver_id }),
    )
    .await;
}

#[tokio::test]
async fn an_admin_subscriber_sees_invited_then_activated_when_an_invitation_is_accepted() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    let member = app.member(&org.admin.token, &["DRIVER"]).await;
    let invited = ws.event().await;
    assert_eq!(invited["kind"], "INVITED");
    assert_eq!(invited["previousStatus"], Value::Null);
    assert_eq!(invited["status"], "INVITED");
    assert_eq!(invited["userId"], member.user_id.as_str());
    assert_eq!(invited["driverId"], member.driver_id.as_str());
    let activated = ws.event().await;
    assert_eq!(activated["kind"], "ACTIVATED");
    assert_eq!(
        (
            activated["previousStatus"].as_str(),
            activated["status"].as_str()
        ),
        (Some("INVITED"), Some("ACTIVE"))
    );
    assert_eq!(activated["user"]["email"], member.email.as_str());
    assert!(
        activated["cursor"]
            .as_str()
            .unwrap_or_default()
            .parse::<i64>()
            .unwrap_or(0)
            > invited["cursor"]
                .as_str()
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0)
    );
}

#[tokio::test]
async fn the_legacy_protocol_delivers_deactivated_with_previous_status_active() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&app, Proto::Legacy, &org.admin.token).await;
    ws.subscribe("a", None).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "DEACTIVATED");
    assert_eq!(
        (event["previousStatus"].as_str(), event["status"].as_str()),
        (Some("ACTIVE"), Some("INACTIVE"))
    );
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "REACTIVATED");
    assert_eq!(
        (event["previousStatus"].as_str(), event["status"].as_str()),
        (Some("INACTIVE"), Some("ACTIVE"))
    );
}

#[tokio::test]
async fn shared_unshared_assigned_and_unassigned_reach_the_owner() {
    let app = spawn_app().await;
    let owner = app.create_org("Owner").await;
    let partner = app.create_org("Partner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    let route = app.route(&owner.admin.token, "Morning").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    ws.subscribe("1", None).await;

    share(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let shared = ws.event().await;
    assert_eq!(shared["kind"], "SHARED");
    assert_eq!(shared["partner"]["name"], "Partner");
    assert_eq!(
        (shared["previousStatus"].as_str(), shared["status"].as_str()),
        (Some("ACTIVE"), Some("ACTIVE"))
    );

    app.ok(
        Some(&owner.admin.token),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    let assigned = ws.event().await;
    assert_eq!(assigned["kind"], "ASSIGNED");
    assert_eq!(assigned["route"]["name"], "Morning");

    app.ok(
        Some(&owner.admin.token),
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
        json!({ "r": route }),
    )
    .await;
    assert_eq!(ws.event().await["kind"], "UNASSIGNED");

    unshare(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let unshared = ws.event().await;
    assert_eq!(unshared["kind"], "UNSHARED");
    assert_eq!(unshared["partner"]["name"], "Partner");
}

#[tokio::test]
async fn an_unrelated_organization_receives_nothing() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &other.admin.token).await;
    ws.subscribe("1", None).await;
    let driver = app.member(&acme.admin.token, &["DRIVER"]).await;
    set_inactive(&app, &acme.admin.token, &driver.driver_id).await;
    // The first event the other organization sees is its own.
    let own = app
        .invite(&other.admin.token, "own@example.test", &["DISPATCHER"])
        .await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "INVITED");
    assert_eq!(event["userId"], own.as_str());
}

#[tokio::test]
async fn a_partner_sees_status_events_of_a_shared_driver_only_while_it_is_shared() {
    let app = spawn_app().await;
    let owner = app.create_org("Owner").await;
    let partner = app.create_org("Partner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &partner.admin.token).await;
    ws.subscribe("1", None).await;

    set_inactive(&app, &owner.admin.token, &driver.driver_id).await; // not shared yet: unseen
    set_active(&app, &owner.admin.token, &driver.driver_id).await; // not shared yet: unseen
    share(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let shared = ws.event().await;
    assert_eq!(shared["kind"], "SHARED");
    assert_eq!(shared["userId"], Value::Null);
    assert_eq!(shared["user"], Value::Null);
    assert_eq!(shared["driver"]["id"], driver.driver_id.as_str());

    set_inactive(&app, &owner.admin.token, &driver.driver_id).await;
    let deactivated = ws.event().await;
    assert_eq!(deactivated["kind"], "DEACTIVATED");
    assert_eq!(deactivated["userId"], Value::Null);

    unshare(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let unshared = ws.event().await;
    assert_eq!(unshared["kind"], "UNSHARED");
    assert_eq!(
        unshared["driver"],
        Value::Null,
        "no longer visible once unshared"
    );

    set_active(&app, &owner.admin.token, &driver.driver_id).await; // unshared: unseen
    let own = app
        .invite(&partner.admin.token, "own@example.test", &["DISPATCHER"])
        .await;
    let next = ws.event().await;
    assert_eq!(
        (next["kind"].as_str(), next["userId"].as_str()),
        (Some("INVITED"), Some(own.as_str()))
    );
}

#[tokio::test]
async fn a_resumed_subscription_gets_exactly_the_missed_events_in_order_then_live_ones() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    // Through Redis the member's earlier events may still be on their way: resume from the
    // deactivation.
    let seen = ws.event_of("DEACTIVATED").await;
    let cursor = seen["cursor"].as_str().unwrap_or_default().to_owned();
    drop(ws);

    // Missed while disconnected: three changes.
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    app.invite(&org.admin.token, "late@example.test", &["DISPATCHER"])
        .await;

    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("2", Some(&cursor)).await;
    let kinds: Vec<Value> = [ws.event().await, ws.event().await, ws.event().await]
        .into_iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("REACTIVATED"), json!("DEACTIVATED"), json!("INVITED")]
    );
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    let live = ws.event().await;
    assert_eq!(live["kind"], "REACTIVATED");
}

#[tokio::test]
async fn a_cursor_that_is_not_ours_is_bad_input() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", Some("not-a-cursor")).await;
    let message = ws.recv().await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn connection_init_without_a_valid_token_closes_with_4403() {
    let app = spawn_app().await;
    for payload in [json!({}), json!({ "Authorization": "Bearer garbage" })] {
        let mut ws = Ws::open(&app, Proto::Transport).await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.closed().await, Some(4403));
    }
}

#[tokio::test]
async fn subscribing_before_the_ack_closes_with_4401() {
    let app = spawn_app().await;
    let mut ws = Ws::open(&app, Proto::Transport).await;
    ws.subscribe("1", None).await;
    assert_eq!(ws.closed().await, Some(4401));
}

#[tokio::test]
async fn a_duplicate_subscription_id_closes_with_4409() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("same", None).await;
    ws.subscribe("same", None).await;
    assert_eq!(ws.closed().await, Some(4409));
}

#[tokio::test]
async fn a_socket_without_connection_init_closes_with_4408() {
    let app = spawn_app().await;
    let mut ws = Ws::open(&app, Proto::Transport).await;
    assert_eq!(ws.closed().await, Some(4408));
}

#[tokio::test]
async fn the_socket_closes_when_the_access_token_expires() {
    let app = spawn_with(Options {
        extra: vec![("--access-token-ttl".into(), "2".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    let message = ws.recv().await;
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{message}"
    );
    assert_eq!(ws.closed().await, Some(4401));
}

const ASSIGN: &str =
    "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }";

#[tokio::test]
async fn a_driver_watches_only_its_own_events() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let colleague = app.member(&org.admin.token, &["DRIVER"]).await;
    let partner = app.create_org("Partner").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &driver.session.token).await;
    ws.subscribe("1", None).await;
    app.invite(&org.admin.token, "someone@example.test", &["DISPATCHER"])
        .await;
    // Whom it is shared with is its managers' business.
    share(&app, &org.admin.token, &partner.id, &driver.driver_id).await;
    let theirs = app.route(&org.admin.token, "Colleague's run").await;
    app.ok(
        Some(&org.admin.token),
        ASSIGN,
        json!({ "r": theirs, "d": colleague.driver_id }),
    )
    .await;
    let mine = app.route(&org.admin.token, "My run").await;
    app.ok(
        Some(&org.admin.token),
        ASSIGN,
        json!({ "r": mine, "d": driver.driver_id }),
    )
    .await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "ASSIGNED", "{event}");
    assert_eq!(event["driverId"], driver.driver_id.as_str(), "{event}");
    assert_eq!(event["route"]["id"], mine.as_str(), "{event}");
}

#[tokio::test]
#[ignore = "needs Redis: runs in the PostgreSQL + Redis pass (--include-ignored)"]
async fn a_mutation_on_one_instance_reaches_a_subscriber_on_another() {
    require_redis();
    let one = spawn_app().await;
    let two = one.second_instance().await;
    let org = one.create_org("Acme").await;
    let driver = one.member(&org.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&two, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    set_inactive(&one, &org.admin.token, &driver.driver_id).await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "DEACTIVATED");
    assert_eq!(event["driver"]["id"], driver.driver_id.as_str());
}

/// A Redis server of this test's own, so it can be killed without disturbing other tests.
struct PrivateRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    async fn start(port: u16) -> Option<Self> {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let mut redis = Self {
            port,
            child: Some(child),
        };
        for _ in 0..100 {
            if redis.ping().await {
                return Some(redis);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        redis.kill().await;
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ping(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).await.is_ok()
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }
}

async fn ready(app: &TestApp) -> u16 {
    match app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_ready(app: &TestApp, status: u16) {
    for _ in 0..200 {
        if ready(app).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/readyz never answered {status}");
}

#[tokio::test]
#[ignore = "needs Redis: runs in the PostgreSQL + Redis pass (--include-ignored)"]
async fn a_redis_outage_loses_no_event_and_readiness_reports_it() {
    require_redis();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let Some(mut redis) = PrivateRedis::start(port).await else {
        eprintln!("redis-server is not installed here; outage test skipped");
        return;
    };
    let channel = Some(format!("lastmile:outage:{}", uuid::Uuid::now_v7().simple()));
    let one = spawn_with(Options {
        redis_url: Some(redis.url()),
        redis_channel: channel.clone(),
        ..Default::default()
    })
    .await;
    let two = spawn_with(Options {
        database_url: Some(one.database_url.clone()),
        redis_url: Some(redis.url()),
        redis_channel: channel,
        ..Default::default()
    })
    .await;
    wait_ready(&two, 200).await;
    let org = one.create_org("Acme").await;
    let driver = one.member(&org.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&two, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    set_inactive(&one, &org.admin.token, &driver.driver_id).await;
    let mut cursors = vec![
        ws.event().await["cursor"]
            .as_str()
            .unwrap_or_default()
            .parse::<i64>()
            .unwrap_or(0),
    ];

    redis.kill().await;
    wait_ready(&two, 503).await;
    wait_ready(&one, 503).await;
    // Mutations keep succeeding while Redis is away.
    set_active(&one, &org.admin.token, &driver.driver_id).await;
    set_inactive(&one, &org.admin.token, &driver.driver_id).await;
    one.invite(
        &org.admin.token,
        "during-outage@example.test",
        &["DISPATCHER"],
    )
    .await;

    let Some(restarted) = PrivateRedis::start(port).await else {
        panic!("redis-server did not restart")
    };
    redis = restarted;
    wait_ready(&two, 200).await;
    set_active(&one, &org.admin.token, &driver.driver_id).await;

    let mut kinds = Vec::new();
    for _ in 0..4 {
        let event = ws.event().await;
        kinds.push(event["kind"].as_str().unwrap_or_default().to_owned());
        cursors.push(
            event["cursor"]
                .as_str()
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0),
        );
    }
    assert_eq!(
        kinds,
        ["REACTIVATED", "DEACTIVATED", "INVITED", "REACTIVATED"]
    );
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursors not strictly increasing: {cursors:?}"
    );
    redis.kill().await;
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let invited = app
        .invite(&org.admin.token, "pending@example.test", &["DRIVER"])
        .await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    let refused = app
        .gql(
            Some(&org.admin.token),
            "mutation($d: ID!) { setDriverInactive(driverId: $d) { status } }",
            json!({ "d": crate::helpers::driver_id_of(&invited) }),
        )
        .await;
    crate::helpers::assert_code(&refused, "CONFLICT");
    let later = app
        .invite(&org.admin.token, "later@example.test", &["DISPATCHER"])
        .await;
    // Through Redis the first invitation's event may reach the new subscriber too; what must
    // never come is an event of the refused change.
    loop {
        let event = ws.event().await;
        assert_eq!(event["kind"], "INVITED", "the refused change wrote {event}");
        if event["userId"] == later.as_str() {
            break;
        }
        assert_eq!(event["userId"], invited.as_str(), "unexpected {event}");
    }
}

#[tokio::test]
async fn a_partner_sees_assignments_to_its_own_routes_only() {
    let app = spawn_app().await;
    let owner = app.create_org("Owner").await;
    let partner = app.create_org("Partner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    share(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &partner.admin.token).await;
    ws.subscribe("1", None).await;
    let owners_route = app.route(&owner.admin.token, "Owner route").await;
    let assign = "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }";
    app.ok(
        Some(&owner.admin.token),
        assign,
        json!({ "r": owners_route, "d": driver.driver_id }),
    )
    .await;
    app.ok(
        Some(&owner.admin.token),
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
        json!({ "r": owners_route }),
    )
    .await;
    let partners_route = app.route(&partner.admin.token, "Partner route").await;
    app.ok(
        Some(&partner.admin.token),
        assign,
        json!({ "r": partners_route, "d": driver.driver_id }),
    )
    .await;
    let event = ws.event().await;
    assert_eq!(event["kind"], "ASSIGNED");
    assert_eq!(event["route"]["name"], "Partner route");
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_catches_up_from_the_log_in_order() {
    let app = spawn_with(Options {
        extra: vec![("--subscriber-backlog".into(), "2".into())],
        ..Default::default()
    })
    .await;
    let owner = app.create_org("Owner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    let mut partners = Vec::new();
    for i in 0..8 {
        partners.push(app.create_org(&format!("Partner {i}")).await);
    }
    let ids: Vec<&str> = partners.iter().map(|p| p.id.as_str()).collect();
    for id in &ids {
        share(&app, &owner.admin.token, id, &driver.driver_id).await;
    }
    let mut ws = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    ws.subscribe("1", None).await;
    // One commit, nine events (DELETED and eight UNSHARED): far more than the backlog of two.
    app.ok(
        Some(&owner.admin.token),
        "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }",
        json!({ "u": driver.user_id }),
    )
    .await;
    let mut events = Vec::new();
    for _ in 0..9 {
        events.push(ws.event().await);
    }
    assert_eq!(events[0]["kind"], "DELETED");
    assert!(events[1..].iter().all(|e| e["kind"] == "UNSHARED"));
    let cursors: Vec<i64> = events
        .iter()
        .map(|e| {
            e["cursor"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap_or(0)
        })
        .collect();
    assert!(
        cursors.windows(2).all(|w| w[0] + 1 == w[1]),
        "a gap or a duplicate: {cursors:?}"
    );
    let metrics = app.state.metrics.render();
    let catchups = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lastmile_subscriber_lag_catchups_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        catchups >= 1,
        "the subscriber never fell behind, so the test proved nothing:\n{metrics}"
    );
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_gets_a_clear_error() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.invite(&org.admin.token, "old@example.test", &["DISPATCHER"])
        .await;
    let pruned = lastmile::events::retention::prune(&app.state.db, 0)
        .await
        .expect("prune");
    assert!(pruned >= 1);
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", Some("0")).await;
    let message = ws.recv().await;
    let error = &message["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{message}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("retention"),
        "{message}"
    );
}

#[tokio::test]
async fn subscriptions_also_stream_over_server_sent_events() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&org.admin.token)
        .header("accept", "text/event-stream")
        // From the start of the log, so the change below is seen whether it lands before or after the stream opens.
        .json(&json!({ "query": "subscription { statusChanged(after: \"0\") { kind driverId } }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"))
    );
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let mut text = String::new();
    while !text.contains("DEACTIVATED") {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("a chunk in time")
            .expect("stream")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: next"), "{text}");
    assert!(text.contains(&driver.driver_id), "{text}");
}

const LIVE_ONLY: &str = "subscription { statusChanged { cursor kind driverId userId } }";

impl Ws {
    /// Subscribes with a document that has no cursor (served by a shared group).
    pub async fn subscribe_live(&mut self, id: &str) {
        let kind = match self.proto {
            Proto::Transport => "subscribe",
            Proto::Legacy => "start",
        };
        let listening = self.hub.receivers();
        self.send(json!({ "type": kind, "id": id, "payload": { "query": LIVE_ONLY } }))
            .await;
        // As in `subscribe`: a new group registers asynchronously; give it a bounded moment
        // (joining an existing group adds no receiver, so this is no assertion).
        for _ in 0..40 {
            if self.hub.receivers() > listening {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[tokio::test]
async fn subscribers_sharing_one_live_stream_each_get_every_event_of_their_own_organization_only() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    let dispatcher = app.member(&acme.admin.token, &["DISPATCHER"]).await;
    let driver = app.member(&acme.admin.token, &["DRIVER"]).await;
    let mut admin_ws = Ws::connect(&app, Proto::Transport, &acme.admin.token).await;
    let mut second_admin_ws = Ws::connect(&app, Proto::Legacy, &acme.admin.token).await;
    let mut dispatcher_ws = Ws::connect(&app, Proto::Transport, &dispatcher.session.token).await;
    let mut other_ws = Ws::connect(&app, Proto::Transport, &other.admin.token).await;
    admin_ws.subscribe_live("a").await;
    second_admin_ws.subscribe_live("b").await;
    dispatcher_ws.subscribe_live("c").await;
    other_ws.subscribe_live("d").await;
    // Subscriptions register asynchronously: wait until the three groups (Acme admins, Acme
    // dispatchers, Other admins; the two Acme admin sockets share one) listen to the hub.
    for _ in 0..200 {
        if app.state.events.receivers() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        app.state.events.receivers(),
        3,
        "one live stream per organization and role set"
    );
    set_inactive(&app, &acme.admin.token, &driver.driver_id).await;
    set_active(&app, &acme.admin.token, &driver.driver_id).await;
    for ws in [&mut admin_ws, &mut second_admin_ws, &mut dispatcher_ws] {
        let first = ws.event().await;
        let second = ws.event().await;
        assert_eq!(
            (first["kind"].as_str(), second["kind"].as_str()),
            (Some("DEACTIVATED"), Some("REACTIVATED"))
        );
        assert_eq!(first["driverId"], driver.driver_id.as_str());
    }
    let own = app
        .invite(&other.admin.token, "own@example.test", &["DISPATCHER"])
        .await;
    let event = other_ws.event().await;
    assert_eq!(
        (event["kind"].as_str(), event["userId"].as_str()),
        (Some("INVITED"), Some(own.as_str()))
    );
}

#[tokio::test]
async fn a_shared_live_stream_still_ends_each_member_at_its_own_token_expiry() {
    let app = spawn_with(Options {
        extra: vec![("--access-token-ttl".into(), "2".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe_live("1").await;
    let message = ws.recv().await;
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{message}"
    );
    assert_eq!(ws.closed().await, Some(4401));
}

#[tokio::test]
async fn drivers_on_the_shared_live_stream_each_receive_only_their_own_events() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let first = app.member(&org.admin.token, &["DRIVER"]).await;
    let second = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut first_ws = Ws::connect(&app, Proto::Transport, &first.session.token).await;
    first_ws.subscribe_live("1").await;
    let mut second_ws = Ws::connect(&app, Proto::Transport, &second.session.token).await;
    second_ws.subscribe_live("1").await;
    for driver in [&first, &second] {
        let route = app.route(&org.admin.token, "Run").await;
        app.ok(
            Some(&org.admin.token),
            ASSIGN,
            json!({ "r": route, "d": driver.driver_id }),
        )
        .await;
    }
    let event = first_ws.event().await;
    assert_eq!(event["driverId"], first.driver_id.as_str(), "{event}");
    let event = second_ws.event().await;
    assert_eq!(event["driverId"], second.driver_id.as_str(), "{event}");
}

#[tokio::test]
async fn a_socket_holds_at_most_one_hundred_subscriptions() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    for i in 0..100 {
        ws.subscribe_live(&format!("s{i}")).await;
    }
    ws.subscribe_live("one-too-many").await;
    let message = ws.recv().await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("error"), Some("one-too-many")),
        "{message}"
    );
    assert!(
        message["payload"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many")),
        "{message}"
    );
}

#[tokio::test]
async fn deleted_carries_the_last_status_before_and_none_after() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    app.ok(
        Some(&org.admin.token),
        "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }",
        json!({ "u": driver.user_id }),
    )
    .await;
    let deleted = ws.event().await;
    assert_eq!(deleted["kind"], "DELETED");
    assert_eq!(
        (
            deleted["previousStatus"].as_str(),
            deleted["status"].as_str()
        ),
        (Some("INACTIVE"), None)
    );
    assert!(
        deleted["driver"].is_null(),
        "a deleted driver is no longer visible: {deleted}"
    );
}

/// The `lastmile_subscribers` gauge as `/metrics` shows it, once it equals `expected` (or the
/// last value seen after a bounded wait).
async fn subscribers_gauge(app: &TestApp, expected: i64) -> i64 {
    let mut seen = i64::MIN;
    for _ in 0..200 {
        let metrics = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await;
        let text = metrics.expect("metrics answer").text().await.expect("text");
        seen = text
            .lines()
            .find_map(|l| l.strip_prefix("lastmile_subscribers "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the subscribers gauge");
        if seen == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen
}

#[tokio::test]
async fn the_subscriber_gauge_follows_subscriptions_joining_completing_and_disconnecting() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe_live("shared-1").await;
    ws.subscribe_live("shared-2").await;
    ws.subscribe("own", None).await;
    let mut legacy = Ws::connect(&app, Proto::Legacy, &org.admin.token).await;
    legacy.subscribe_live("shared-3").await;
    assert_eq!(subscribers_gauge(&app, 4).await, 4);

    ws.send(json!({ "type": "complete", "id": "shared-2" }))
        .await;
    assert_eq!(subscribers_gauge(&app, 3).await, 3);
    legacy
        .send(json!({ "type": "stop", "id": "shared-3" }))
        .await;
    assert_eq!(legacy.recv().await["type"], "complete");
    assert_eq!(subscribers_gauge(&app, 2).await, 2);

    drop(ws);
    assert_eq!(subscribers_gauge(&app, 0).await, 0);
    // Everyone left, so the stream ended; a new member starts it again and is served.
    let listening = app.state.events.receivers();
    legacy.subscribe_live("shared-4").await;
    assert_eq!(subscribers_gauge(&app, 1).await, 1);
    for _ in 0..200 {
        if app.state.events.receivers() > listening {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.invite(&org.admin.token, "late@example.test", &["DRIVER"])
        .await;
    assert_eq!(legacy.event().await["kind"], "INVITED");
}

/// The `cursor` of a status event, as a number.
fn cursor_of(event: &Value) -> i64 {
    event["cursor"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_resuming_subscriber_joins_the_running_live_stream_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut watcher = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    watcher.subscribe("watch", None).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let resume_from = cursor_of(&watcher.event().await);
    // Missed by the resuming dashboard, delivered live to the watcher.
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    watcher.event().await;
    watcher.event().await;

    let mut resumed = Ws::connect(&app, Proto::Legacy, &org.admin.token).await;
    resumed
        .subscribe("resume", Some(&resume_from.to_string()))
        .await;
    // Changes racing with the replay: in the log, in the group's stream, or both.
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let mut events = Vec::new();
    for _ in 0..4 {
        events.push(resumed.event().await);
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["REACTIVATED", "DEACTIVATED", "REACTIVATED", "DEACTIVATED"]
    );
    let cursors: Vec<i64> = events.iter().map(cursor_of).collect();
    assert_eq!(
        cursors,
        (resume_from + 1..=resume_from + 4).collect::<Vec<_>>(),
        "a gap or a duplicate at the seam"
    );

    // Once caught up, the resumed dashboard is served by the one live execution.
    let mut receivers = usize::MAX;
    for _ in 0..200 {
        receivers = app.state.events.receivers();
        if receivers == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(receivers, 1, "one live execution for both dashboards");
    set_active(&app, &org.admin.token, &driver.driver_id).await;
    assert_eq!(cursor_of(&resumed.event().await), resume_from + 5);
    let watched: Vec<i64> = [
        watcher.event().await,
        watcher.event().await,
        watcher.event().await,
    ]
    .iter()
    .map(cursor_of)
    .collect();
    assert_eq!(watched, [resume_from + 3, resume_from + 4, resume_from + 5]);
}

#[tokio::test]
async fn a_subscribe_message_of_many_kilobytes_is_read_whole() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    // A document of about 20 KiB: a long comment ahead of the subscription.
    let padding = format!("# {}\n", "x".repeat(20 * 1024));
    let listening = app.state.events.receivers();
    ws.send(json!({ "type": "subscribe", "id": "big", "payload": { "query": format!("{padding}{LIVE_ONLY}") } }))
        .await;
    for _ in 0..200 {
        if app.state.events.receivers() > listening {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.invite(&org.admin.token, "big@example.test", &["DRIVER"])
        .await;
    assert_eq!(ws.event().await["kind"], "INVITED");
}

#[tokio::test]
async fn a_shutdown_closes_live_sockets_with_1001_and_ends_event_streams() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("1", None).await;
    let mut sse = open_sse(&app, &org.admin.token, LIVE_ONLY).await;

    let stopped = tokio::spawn(app.stop());
    assert_eq!(ws.closed().await, Some(1001));
    // The event stream ends too, rather than holding the shutdown open.
    sse_ends(&mut sse).await;
    tokio::time::timeout(WAIT, stopped)
        .await
        .expect("the server stops in time")
        .expect("stop task");
}

#[tokio::test]
async fn deleting_a_member_closes_its_live_socket_and_ends_its_event_stream() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let dispatcher = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let mut theirs = Ws::connect(&app, Proto::Transport, &dispatcher.session.token).await;
    theirs.subscribe_live("1").await;
    let mut sse = open_sse(&app, &dispatcher.session.token, LIVE_ONLY).await;
    let mut admins = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    admins.subscribe("1", None).await;

    app.ok(
        Some(&org.admin.token),
        "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }",
        json!({ "u": dispatcher.user_id }),
    )
    .await;
    // The removed dispatcher stops watching at once, not when its token expires.
    assert_eq!(theirs.closed().await, Some(4403));
    sse_ends(&mut sse).await;
    // Everyone else watches on.
    assert_eq!(admins.event().await["kind"], "DELETED");
}

#[tokio::test]
async fn a_live_session_ends_once_its_member_has_other_roles_but_not_when_set_inactive() {
    let app = spawn_with(Options {
        extra: vec![("--session-check-interval".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    let mut admins = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    admins.subscribe_live("1").await;

    let demoted = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &demoted.session.token).await;
    ws.subscribe_live("1").await;
    app.ok(
        Some(&org.admin.token),
        "mutation($id: ID!, $input: EditUserInput!) { editUser(id: $id, input: $input) { id } }",
        json!({ "id": demoted.user_id, "input": { "roles": ["DRIVER"] } }),
    )
    .await;
    assert_eq!(ws.closed().await, Some(4403));

    let benched = app
        .member(&org.admin.token, &["DISPATCHER", "DRIVER"])
        .await;
    let mut ws = Ws::connect(&app, Proto::Legacy, &benched.session.token).await;
    ws.subscribe_live("1").await;
    set_inactive(&app, &org.admin.token, &benched.driver_id).await;
    // INACTIVE only takes the driver off route planning: its dashboard stays open past the
    // re-check and goes on receiving what follows.
    assert_eq!(ws.event().await["kind"], "DEACTIVATED");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.invite(&org.admin.token, "still@example.test", &["DRIVER"])
        .await;
    assert_eq!(ws.event().await["kind"], "INVITED");
    // The admin saw everything up to the deactivation, and goes on seeing what follows it.
    while admins.event().await["kind"] != "DEACTIVATED" {}
    assert_eq!(admins.event().await["kind"], "INVITED");
}

/// Opens an SSE subscription running `query` with `token`.
async fn open_sse(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response
}

/// Reads an SSE response until the server ends it (bounded by the wait).
async fn sse_ends(response: &mut reqwest::Response) {
    loop {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .expect("the event stream ends in time");
        match chunk {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break,
        }
    }
}

const START: &str = "mutation($r: ID!) { startRoute(routeId: $r) { id } }";
const COMPLETE: &str = "mutation($r: ID!) { completeRoute(routeId: $r) { id } }";
const CANCEL: &str = "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }";

/// The next event of `ws` of one of the route kinds (others, such as SHARED, are skipped).
async fn route_event(ws: &mut Ws) -> Value {
    loop {
        let event = ws.event().await;
        if event["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("ROUTE_"))
        {
            return event;
        }
    }
}

/// Asserts the event of `kind` as the route's organization or the driver sees it: with the route.
fn assert_with_route(event: &Value, kind: &str, route: &str) {
    assert_eq!(event["kind"], kind, "{event}");
    assert_eq!(event["route"]["id"], route, "{event}");
    assert_eq!(event["status"], "ACTIVE", "{event}");
    assert_eq!(event["previousStatus"], "ACTIVE", "{event}");
}

/// Asserts the event of `kind` as the driver's owner sees it on a partner's route.
fn assert_for_owner(event: &Value, kind: &str, partner: &str) {
    assert_eq!(event["kind"], kind, "{event}");
    assert!(event["route"].is_null(), "{event}");
    assert_eq!(event["partner"]["name"], partner, "{event}");
}

#[tokio::test]
async fn each_route_transition_reaches_the_route_organization_the_owner_and_the_driver_live_and_on_replay()
 {
    let app = spawn_app().await;
    let owner = app.create_org("Owner").await;
    let partner = app.create_org("Partner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    share(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    let route = app.route(&partner.admin.token, "Partner route").await;
    let mut owner_ws = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    owner_ws.subscribe("1", None).await;
    let mut partner_ws = Ws::connect(&app, Proto::Transport, &partner.admin.token).await;
    partner_ws.subscribe("1", None).await;
    let mut driver_ws = Ws::connect(&app, Proto::Legacy, &driver.session.token).await;
    driver_ws.subscribe("1", None).await;
    app.ok(
        Some(&partner.admin.token),
        ASSIGN,
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    // The owner learns which partner took its driver.
    let assigned = owner_ws.event().await;
    assert_eq!(assigned["kind"], "ASSIGNED");
    assert_eq!(assigned["partner"]["name"], "Partner", "{assigned}");
    let before = cursor_of(&assigned);

    app.ok(Some(&driver.session.token), START, json!({ "r": route }))
        .await;
    app.ok(Some(&driver.session.token), COMPLETE, json!({ "r": route }))
        .await;
    for kind in ["ROUTE_STARTED", "ROUTE_COMPLETED"] {
        let seen = route_event(&mut partner_ws).await;
        assert_with_route(&seen, kind, &route);
        assert!(seen["partner"].is_null(), "{seen}");
        assert_with_route(&route_event(&mut driver_ws).await, kind, &route);
        assert_for_owner(&route_event(&mut owner_ws).await, kind, "Partner");
    }

    // A dashboard or driver app resuming from before the start gets both, the same way.
    let mut resumed = Ws::connect(&app, Proto::Transport, &driver.session.token).await;
    resumed.subscribe("1", Some(&before.to_string())).await;
    for kind in ["ROUTE_STARTED", "ROUTE_COMPLETED"] {
        assert_with_route(&route_event(&mut resumed).await, kind, &route);
    }
    let mut resumed = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    resumed.subscribe("1", Some(&before.to_string())).await;
    for kind in ["ROUTE_STARTED", "ROUTE_COMPLETED"] {
        assert_for_owner(&route_event(&mut resumed).await, kind, "Partner");
    }
    let mut resumed = Ws::connect(&app, Proto::Transport, &partner.admin.token).await;
    resumed.subscribe("1", Some(&before.to_string())).await;
    for kind in ["ROUTE_STARTED", "ROUTE_COMPLETED"] {
        assert_with_route(&route_event(&mut resumed).await, kind, &route);
    }
}

#[tokio::test]
async fn a_cancelled_route_reaches_its_organization_and_its_driver_and_a_route_without_driver_writes_nothing()
 {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut admin_ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    admin_ws.subscribe("1", None).await;
    let mut driver_ws = Ws::connect(&app, Proto::Transport, &driver.session.token).await;
    driver_ws.subscribe("1", None).await;
    let empty = app.route(&org.admin.token, "Nobody's run").await;
    app.ok(Some(&org.admin.token), CANCEL, json!({ "r": empty }))
        .await;
    let route = app.route(&org.admin.token, "Run").await;
    app.ok(
        Some(&org.admin.token),
        ASSIGN,
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    app.ok(Some(&org.admin.token), CANCEL, json!({ "r": route }))
        .await;
    for ws in [&mut admin_ws, &mut driver_ws] {
        assert_eq!(ws.event().await["kind"], "ASSIGNED");
        let cancelled = ws.event().await;
        assert_with_route(&cancelled, "ROUTE_CANCELLED", &route);
        // Its own route: no partner.
        assert!(cancelled["partner"].is_null(), "{cancelled}");
    }
}

#[tokio::test]
#[ignore = "needs Redis: runs in the PostgreSQL + Redis pass (--include-ignored)"]
async fn an_expired_share_ends_once_with_one_unshared_event_on_every_instance() {
    require_redis();
    let sweeping = || vec![("--share-expiry-interval".into(), "1".into())];
    let one = spawn_with(Options {
        extra: sweeping(),
        ..Default::default()
    })
    .await;
    let two = spawn_with(Options {
        database_url: Some(one.database_url.clone()),
        redis_channel: one.redis_channel.clone(),
        extra: sweeping(),
        ..Default::default()
    })
    .await;
    let owner = one.create_org("Owner").await;
    let partner = one.create_org("Partner").await;
    let driver = one.member(&owner.admin.token, &["DRIVER"]).await;
    let mut on_one = Ws::connect(&one, Proto::Transport, &owner.admin.token).await;
    on_one.subscribe("1", None).await;
    let mut on_two = Ws::connect(&two, Proto::Transport, &partner.admin.token).await;
    on_two.subscribe("1", None).await;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    one.ok(
        Some(&owner.admin.token),
        "mutation($p: ID!, $d: [ID!]!, $at: DateTime) {
            shareDrivers(partnerId: $p, driverIds: $d, expiresAt: $at) { id } }",
        json!({ "p": partner.id, "d": [driver.driver_id], "at": at }),
    )
    .await;
    for ws in [&mut on_one, &mut on_two] {
        // The driver's own earlier events may still be on their way through Redis.
        ws.event_of("SHARED").await;
        let ended = ws.event().await;
        assert_eq!(ended["kind"], "UNSHARED", "{ended}");
        assert_eq!(ended["partner"]["name"], "Partner", "{ended}");
    }
    // Both instances swept; one of them ended the share, and nothing follows.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    one.invite(&owner.admin.token, "next@example.test", &["DISPATCHER"])
        .await;
    assert_eq!(on_one.event().await["kind"], "INVITED");
    let unshared: u64 = {
        use entity::status_event::{self, EventKind};
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        status_event::Entity::find()
            .filter(status_event::Column::Kind.eq(EventKind::Unshared))
            .count(&one.state.db.conn)
            .await
            .expect("count")
    };
    assert_eq!(unshared, 1);
}

/// Makes the event log unreadable (and unwritable) by renaming its table away, or brings it
/// back: a real outage of the log as the gateway's statements see it.
async fn event_log_available(app: &TestApp, available: bool) {
    use sea_orm::ConnectionTrait;
    let (from, to) = match available {
        false => ("status_events", "status_events_away"),
        true => ("status_events_away", "status_events"),
    };
    app.state
        .db
        .conn
        .execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .expect("the log table is renamed");
}

/// Commits `count` status events about `member` in the log, as a service would, and returns
/// them for the fan-out.
async fn commit_events(
    app: &TestApp,
    member: &crate::helpers::Member,
    count: usize,
) -> Vec<entity::status_event::Model> {
    use entity::status_event::EventKind;
    use entity::user::UserStatus;
    use lastmile::events::{NewEvent, append};
    use sea_orm::EntityTrait;
    let user_id = crate::helpers::uuid_in(&member.user_id);
    let subject = entity::user::Entity::find_by_id(user_id)
        .one(&app.state.db.conn)
        .await
        .expect("the member is read")
        .expect("the member exists");
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let event = NewEvent::transition(
            EventKind::Deactivated,
            Some(UserStatus::Active),
            Some(UserStatus::Inactive),
        );
        let written = append(&app.state.db.conn, &subject, event)
            .await
            .expect("the event is written");
        events.push(written);
    }
    events
}

/// The next message of `ws` that is not an event, which must be the result of `id` carrying
/// an error `code`. Events of `id` may come first: a subscriber served on another thread than
/// the publisher may take some of a burst before it falls behind.
async fn error_result(ws: &mut Ws, id: &str, code: &str) {
    let mut message = ws.recv().await;
    while message["id"].as_str() == Some(id)
        && message["payload"]["errors"].is_null()
        && message["payload"]["data"]["statusChanged"].is_object()
    {
        message = ws.recv().await;
    }
    let expected = match ws.proto {
        Proto::Transport => "next",
        Proto::Legacy => "data",
    };
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some(expected), Some(id)),
        "{message}"
    );
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], code,
        "{message}"
    );
}

/// The next message of `ws`, which must be the `complete` of `id`.
async fn completed(ws: &mut Ws, id: &str) {
    let message = ws.recv().await;
    assert_eq!(
        (message["type"].as_str(), message["id"].as_str()),
        (Some("complete"), Some(id)),
        "{message}"
    );
}

/// Sends `count` live subscriptions `{prefix}0`, `{prefix}1`, … at once.
async fn subscribe_many(ws: &mut Ws, prefix: &str, count: usize) {
    for i in 0..count {
        let id = format!("{prefix}{i}");
        ws.send(json!({ "type": "subscribe", "id": id, "payload": { "query": LIVE_ONLY } }))
            .await;
    }
}

/// Waits (bounded) until the hub has `expected` live streams attached.
async fn hub_receivers(app: &TestApp, expected: usize) -> usize {
    for _ in 0..200 {
        if app.state.events.receivers() == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.state.events.receivers()
}

#[tokio::test]
async fn shared_groups_ended_by_a_log_outage_complete_every_member_and_a_newcomer_starts_afresh() {
    // A backlog of one: a burst of events sends every group back to the log.
    let app = spawn_with(Options {
        extra: vec![("--subscriber-backlog".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    let first = app.member(&org.admin.token, &["DRIVER"]).await;
    let second = app.member(&org.admin.token, &["DRIVER"]).await;
    // Two dashboards of the first driver share one group; the second driver has its own.
    let mut first_ws = Ws::connect(&app, Proto::Transport, &first.session.token).await;
    let mut first_legacy = Ws::connect(&app, Proto::Legacy, &first.session.token).await;
    let mut second_ws = Ws::connect(&app, Proto::Transport, &second.session.token).await;
    first_ws.subscribe_live("1").await;
    first_legacy.subscribe_live("1").await;
    second_ws.subscribe_live("2").await;
    assert_eq!(hub_receivers(&app, 2).await, 2, "one group per driver");
    assert_eq!(subscribers_gauge(&app, 3).await, 3);

    let mut burst = commit_events(&app, &first, 8).await;
    burst.extend(commit_events(&app, &second, 8).await);
    event_log_available(&app, false).await;
    app.state.events.publish(burst);
    for (ws, id) in [
        (&mut first_ws, "1"),
        (&mut first_legacy, "1"),
        (&mut second_ws, "2"),
    ] {
        error_result(ws, id, "INTERNAL_SERVER_ERROR").await;
        completed(ws, id).await;
    }
    assert_eq!(hub_receivers(&app, 0).await, 0, "the ended groups are gone");
    assert_eq!(subscribers_gauge(&app, 0).await, 0);

    // The log is back: the same ids subscribe again (the ended ones no longer hold them),
    // start fresh groups and are served.
    event_log_available(&app, true).await;
    first_ws.subscribe_live("1").await;
    second_ws.subscribe_live("2").await;
    assert_eq!(hub_receivers(&app, 2).await, 2);
    assert_eq!(subscribers_gauge(&app, 2).await, 2);
    set_inactive(&app, &org.admin.token, &first.driver_id).await;
    set_inactive(&app, &org.admin.token, &second.driver_id).await;
    assert_eq!(first_ws.event().await["driverId"], first.driver_id.as_str());
    assert_eq!(
        second_ws.event().await["driverId"],
        second.driver_id.as_str()
    );
}

#[tokio::test]
async fn a_socket_whose_shared_subscriptions_ended_holds_the_full_cap_again() {
    let app = spawn_with(Options {
        extra: vec![("--subscriber-backlog".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &driver.session.token).await;
    subscribe_many(&mut ws, "s", 100).await;
    assert_eq!(subscribers_gauge(&app, 100).await, 100);
    let burst = commit_events(&app, &driver, 8).await;
    event_log_available(&app, false).await;
    app.state.events.publish(burst);
    let mut completes = 0;
    while completes < 100 {
        if ws.recv().await["type"] == "complete" {
            completes += 1;
        }
    }
    assert_eq!(subscribers_gauge(&app, 0).await, 0);
    event_log_available(&app, true).await;
    subscribe_many(&mut ws, "t", 100).await;
    assert_eq!(subscribers_gauge(&app, 100).await, 100);
    set_inactive(&app, &org.admin.token, &driver.driver_id).await;
    let message = ws.recv().await;
    assert_eq!(message["type"], "next", "the hundredth fits: {message}");
}

#[tokio::test]
async fn members_of_a_shared_group_that_fall_behind_catch_up_from_the_log_without_gap_or_duplicate()
{
    let app = spawn_with(Options {
        extra: vec![("--subscriber-backlog".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let owner = app.create_org("Owner").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    for i in 0..8 {
        let partner = app.create_org(&format!("Partner {i}")).await;
        share(&app, &owner.admin.token, &partner.id, &driver.driver_id).await;
    }
    let mut first = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    let mut second = Ws::connect(&app, Proto::Legacy, &owner.admin.token).await;
    first.subscribe_live("1").await;
    second.subscribe_live("1").await;
    assert_eq!(subscribers_gauge(&app, 2).await, 2);
    // One commit, nine events, against a backlog of one response.
    app.ok(
        Some(&owner.admin.token),
        "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }",
        json!({ "u": driver.user_id }),
    )
    .await;
    for ws in [&mut first, &mut second] {
        let mut cursors = Vec::new();
        for _ in 0..9 {
            cursors.push(cursor_of(&ws.event().await));
        }
        assert!(
            cursors.windows(2).all(|w| w[0] + 1 == w[1]),
            "a gap or a duplicate: {cursors:?}"
        );
    }
    // Both still listen: the next change reaches them live.
    app.invite(&owner.admin.token, "after@example.test", &["DRIVER"])
        .await;
    assert_eq!(first.event().await["kind"], "INVITED");
    assert_eq!(second.event().await["kind"], "INVITED");
    assert_eq!(subscribers_gauge(&app, 2).await, 2);
}
