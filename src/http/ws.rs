//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws` protocol.
//!
//! Written here rather than taken from async-graphql-axum so that the connection obeys the
//! security baseline: `connection_init` within a few seconds (else 4408), a missing or
//! invalid token closes with 4403, subscribing before the ack closes with 4401, a duplicate
//! id closes with 4409, subscriptions per socket are capped, and the socket closes when the
//! access token expires. Members of a shared live stream ([`super::shared`]) are read by the
//! connection itself, with no task or queue of their own, because one event goes to thousands
//! of them; other subscriptions run in their own task and forward into one bounded queue. A
//! slow client never buffers without bound: its streams stop being polled and catch up from
//! the log, or (shared members) are told to resubscribe once they fall too far behind.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderValue;
use axum::response::Response;
use futures_util::{SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamMap;

use crate::auth::{Auth, ClientAddr};
use crate::events::sessions::Watch;
use crate::graphql::ingest::{self, is_request_error};

use super::shared::Delivery;
use super::{Edge, authenticate};

/// Time allowed between the upgrade and `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive interval.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Subscriptions one socket may hold.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Read buffer of one socket: clients send little (subscribe, complete, pong).
const READ_BUFFER: usize = 2 * 1024;
/// Bytes gathered before a write (each message is flushed anyway).
const WRITE_BUFFER: usize = 8 * 1024;
/// How long after the token's expiry the socket is closed.
const EXPIRY_GRACE: Duration = Duration::from_millis(500);
/// Messages queued for one socket before its subscriptions wait.
const QUEUE: usize = 256;

/// Which protocol the client speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    /// `graphql-transport-ws` (graphql-ws library).
    TransportWs,
    /// `graphql-ws` (legacy subscriptions-transport-ws).
    LegacyWs,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }

    /// The message type carrying a response: a request error has its own in
    /// graphql-transport-ws (with the errors list as payload).
    fn message_type(self, request_error: bool) -> &'static str {
        match (self, request_error) {
            (Self::TransportWs, true) => "error",
            (Self::TransportWs, false) => "next",
            (Self::LegacyWs, _) => "data",
        }
    }
}

/// Accepts the upgrade with the protocol the client asked for.
pub fn upgrade(edge: Edge, upgrade: WebSocketUpgrade, client: ClientAddr) -> Response {
    let requested: Vec<String> = upgrade
        .requested_protocols()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let protocol = if requested.iter().any(|p| p == "graphql-transport-ws") {
        Protocol::TransportWs
    } else if requested.iter().any(|p| p == "graphql-ws") {
        Protocol::LegacyWs
    } else {
        Protocol::TransportWs
    };
    // Small buffers: thousands of dashboards stay connected, and their messages are small.
    let mut upgrade = upgrade
        .max_message_size(1024 * 1024)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    if !requested.is_empty() {
        upgrade.set_selected_protocol(HeaderValue::from_static(protocol.name()));
    }
    let connections = edge.connections.clone();
    upgrade.on_upgrade(move |socket| {
        connections.track_future(Connection::new(edge, protocol, client).run(socket))
    })
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

enum Outgoing {
    /// A serialized message.
    Raw(String),
    /// A JSON message.
    Text(Value),
    /// The subscription `id` ended on its own.
    Done(String),
}

/// A shared member's deliveries.
type Deliveries = Pin<Box<dyn Stream<Item = Delivery> + Send>>;

struct Connection {
    edge: Edge,
    protocol: Protocol,
    /// The client, for its credential budget.
    client: ClientAddr,
    /// The `Authorization` value of `connection_init`: every operation is authorized anew
    /// with it, so a session or membership that ended, or roles that changed, count at once.
    authorization: Option<String>,
    auth: Option<Auth>,
    /// Subscriptions running in their own task.
    subscriptions: HashMap<String, JoinHandle<()>>,
    /// Members of shared live streams, by subscription id.
    shared: StreamMap<Arc<str>, Deliveries>,
    /// The membership the token speaks for, once authenticated: its deletion closes the socket.
    membership: Option<Watch>,
    tx: mpsc::Sender<Outgoing>,
    rx: mpsc::Receiver<Outgoing>,
}

/// Why the server closes the socket: code, reason, and a message to send before closing.
struct Close(u16, &'static str, Option<Value>);

/// What woke the connection.
enum Step {
    InitTimeout,
    Shutdown,
    MembershipEnded,
    Expiry,
    Keepalive,
    Own(Option<Outgoing>),
    Shared(Arc<str>, Delivery),
    Incoming(Option<Result<Message, axum::Error>>),
}

/// Whether the connection goes on.
enum Flow {
    Go,
    /// Stop, with the close the server decided (none when the client went away).
    Stop(Option<Close>),
}

/// The connection's clocks.
struct Timers {
    /// `connection_init` must come before this.
    init_deadline: Pin<Box<tokio::time::Sleep>>,
    keepalive: tokio::time::Interval,
    /// Set once authenticated: fires when the token expires (shared members end), then, a
    /// moment later, closes the socket (other subscriptions end themselves in that moment).
    expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The token has expired; the next expiry closes the socket.
    expired: bool,
}

impl Timers {
    async fn start() -> Self {
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        Self {
            init_deadline: Box::pin(tokio::time::sleep(INIT_TIMEOUT)),
            keepalive,
            expiry: None,
            expired: false,
        }
    }

    /// Arms the expiry, once.
    fn expire_in(&mut self, left: Duration) {
        self.expiry
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(left)));
    }

    /// Waits for `expiry`; forever when it is not armed.
    async fn until(expiry: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
        match expiry.as_mut() {
            Some(expiry) => expiry.await,
            None => std::future::pending().await,
        }
    }

    /// The token expired: the socket closes after the grace period.
    fn expire(&mut self) {
        self.expired = true;
        if let Some(expiry) = self.expiry.as_mut() {
            expiry
                .as_mut()
                .reset(tokio::time::Instant::now() + EXPIRY_GRACE);
        }
    }
}

impl Connection {
    fn new(edge: Edge, protocol: Protocol, client: ClientAddr) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            edge,
            protocol,
            client,
            authorization: None,
            auth: None,
            subscriptions: HashMap::new(),
            shared: StreamMap::new(),
            membership: None,
            tx,
            rx,
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut timers = Timers::start().await;
        let shutdown = self.edge.shutdown.clone();
        let close = loop {
            let step = tokio::select! {
                _ = shutdown.cancelled() => Step::Shutdown,
                _ = Watch::ended(self.membership.as_ref()) => Step::MembershipEnded,
                _ = &mut timers.init_deadline, if self.auth.is_none() => Step::InitTimeout,
                _ = Timers::until(&mut timers.expiry) => Step::Expiry,
                _ = timers.keepalive.tick() => Step::Keepalive,
                out = self.rx.recv() => Step::Own(out),
                Some((id, delivery)) = self.shared.next(), if !self.shared.is_empty() => Step::Shared(id, delivery),
                incoming = socket.recv() => Step::Incoming(incoming),
            };
            if let Flow::Stop(close) = self.step(&mut socket, &mut timers, step).await {
                break close;
            }
        };
        self.finish(socket, close).await;
    }

    /// Acts on what woke the connection.
    async fn step(&mut self, socket: &mut WebSocket, timers: &mut Timers, step: Step) -> Flow {
        let sent = match step {
            Step::InitTimeout => {
                return Flow::Stop(Some(Close(4408, "Connection initialisation timeout", None)));
            }
            Step::Shutdown => {
                return Flow::Stop(Some(Close(1001, "Server shutting down", None)));
            }
            Step::MembershipEnded => {
                return Flow::Stop(Some(Close(4403, "Membership ended", None)));
            }
            Step::Expiry if timers.expired => {
                return Flow::Stop(Some(Close(4401, "Access token expired", None)));
            }
            Step::Expiry => {
                timers.expire();
                self.end_members(socket).await
            }
            Step::Keepalive => {
                let ping = match self.protocol {
                    Protocol::TransportWs => r#"{"type":"ping"}"#,
                    Protocol::LegacyWs => r#"{"type":"ka"}"#,
                };
                socket.send(Message::Text(ping.into())).await
            }
            Step::Own(None) => return Flow::Stop(None),
            Step::Own(Some(Outgoing::Raw(text))) => socket.send(Message::Text(text.into())).await,
            Step::Own(Some(Outgoing::Text(v))) => {
                socket.send(Message::Text(v.to_string().into())).await
            }
            Step::Own(Some(Outgoing::Done(id))) => {
                self.subscriptions.remove(&id);
                Ok(())
            }
            Step::Shared(id, delivery) => self.deliver(socket, id, delivery).await,
            Step::Incoming(incoming) => return self.incoming(socket, timers, incoming).await,
        };
        match sent {
            Ok(()) => Flow::Go,
            Err(_) => Flow::Stop(None),
        }
    }

    /// A message from the client.
    async fn incoming(
        &mut self,
        socket: &mut WebSocket,
        timers: &mut Timers,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> Flow {
        let text = match incoming {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                return Flow::Stop(Some(Close(4400, "Binary messages are not supported", None)));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Flow::Stop(None),
            Some(Ok(_)) => return Flow::Go,
        };
        match self.handle(text.as_str()).await {
            Ok(replies) => {
                if let Some(left) = self.expires_in() {
                    timers.expire_in(left);
                }
                match send_all(socket, replies).await {
                    Ok(()) => Flow::Go,
                    Err(_) => Flow::Stop(None),
                }
            }
            Err(close) => Flow::Stop(Some(close)),
        }
    }

    /// The token expired: every shared member gets its error and `complete` (other
    /// subscriptions end themselves before the socket closes).
    async fn end_members(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error> {
        let ids: Vec<Arc<str>> = self.shared.keys().cloned().collect();
        for id in ids {
            self.leave(&id);
            let ending = self.ending(
                &id,
                "UNAUTHENTICATED",
                "the access token expired; subscribe again with a fresh token",
            );
            send_all(socket, ending).await?;
        }
        Ok(())
    }

    /// Ends every subscription and closes the socket, with `close` when the server decided it.
    async fn finish(mut self, mut socket: WebSocket, close: Option<Close>) {
        for (_, task) in self.subscriptions.drain() {
            task.abort();
        }
        let members = self.shared.len();
        self.shared.clear();
        self.edge.state.metrics.subscribers_add(-(members as i64));
        if let Some(Close(code, reason, preface)) = close {
            if let Some(message) = preface {
                let _ = socket.send(Message::Text(message.to_string().into())).await;
            }
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
        let _ = socket.close().await;
    }

    /// Sends one delivery of the shared member `id`, wrapped in its own envelope.
    async fn deliver(
        &mut self,
        socket: &mut WebSocket,
        id: Arc<str>,
        delivery: Delivery,
    ) -> Result<(), axum::Error> {
        let metrics = &self.edge.state.metrics;
        let item = match delivery {
            Delivery::Item(item) => item,
            Delivery::Lagged => {
                metrics.lag_disconnect();
                self.leave(&id);
                let ending = self.ending(
                    &id,
                    "RATE_LIMITED",
                    "this subscriber fell too far behind; subscribe again with `after` set to the last cursor received",
                );
                return send_all(socket, ending).await;
            }
            Delivery::End => {
                self.leave(&id);
                return send_all(socket, vec![json!({"type": "complete", "id": &*id})]).await;
            }
        };
        let kind = self.protocol.message_type(item.request_error);
        let id_json = serde_json::to_string(&*id).unwrap_or_else(|_| "\"\"".into());
        let message = if kind == "error" {
            // graphql-transport-ws carries the errors list itself in an `error` message.
            let errors = serde_json::from_str::<Value>(&item.payload)
                .map(|v| v["errors"].to_string())
                .unwrap_or_else(|_| "[]".into());
            format!(r#"{{"type":"error","id":{id_json},"payload":{errors}}}"#)
        } else {
            format!(
                r#"{{"type":"{kind}","id":{id_json},"payload":{}}}"#,
                item.payload
            )
        };
        socket.send(Message::Text(message.into())).await?;
        metrics.event_delivered();
        if kind == "error" {
            // The operation failed as a whole: the subscription is over (no `complete` follows).
            self.leave(&id);
        }
        Ok(())
    }

    /// Drops the shared member `id`, if there is one.
    fn leave(&mut self, id: &str) {
        if self.shared.remove(id).is_some() {
            self.edge.state.metrics.subscribers_add(-1);
        }
    }

    /// The error that ends subscription `id`, then its `complete`.
    fn ending(&self, id: &str, code: &str, message: &str) -> Vec<Value> {
        let payload = json!({ "data": null, "errors": [{ "message": message, "extensions": { "code": code } }] });
        vec![
            json!({"type": self.protocol.message_type(false), "id": id, "payload": payload}),
            json!({"type": "complete", "id": id}),
        ]
    }

    /// Time left on the access token, once authenticated.
    fn expires_in(&self) -> Option<Duration> {
        match &self.auth {
            Some(Auth::Signed(p)) => {
                let left = p.expires_at - chrono::Utc::now().timestamp();
                Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
            }
            _ => None,
        }
    }

    async fn handle(&mut self, text: &str) -> Result<Vec<Value>, Close> {
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|_| Close(4400, "Invalid message", None))?;
        match (self.protocol, message.kind.as_str()) {
            (_, "connection_init") => self.init(message.payload).await,
            (Protocol::TransportWs, "ping") => Ok(vec![json!({"type": "pong"})]),
            (Protocol::TransportWs, "pong") => Ok(Vec::new()),
            (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
                self.subscribe(message.id, message.payload).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => {
                let id = message.id.ok_or(Close(4400, "Missing id", None))?;
                if let Some(task) = self.subscriptions.remove(&id) {
                    task.abort();
                }
                self.leave(&id);
                Ok(match self.protocol {
                    Protocol::LegacyWs => vec![json!({"type": "complete", "id": id})],
                    Protocol::TransportWs => Vec::new(),
                })
            }
            (Protocol::LegacyWs, "connection_terminate") => Err(Close(1000, "Terminated", None)),
            _ => Err(Close(4400, "Unknown message type", None)),
        }
    }

    async fn init(&mut self, payload: Option<Value>) -> Result<Vec<Value>, Close> {
        if self.auth.is_some() {
            return Err(Close(4429, "Too many initialisation requests", None));
        }
        let header = payload
            .as_ref()
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let auth = authenticate(&self.edge.state, header.as_deref()).await;
        if !matches!(auth, Auth::Signed(_)) {
            // The legacy protocol has no close codes of its own; its error message comes first.
            let preface = (self.protocol == Protocol::LegacyWs)
                .then(|| json!({"type": "connection_error", "payload": {"message": "Forbidden"}}));
            return Err(Close(4403, "Forbidden", preface));
        }
        self.membership = Watch::of(self.edge.state.events.sessions(), &auth);
        self.auth = Some(auth);
        self.authorization = header;
        Ok(vec![json!({"type": "connection_ack"})])
    }

    async fn subscribe(
        &mut self,
        id: Option<String>,
        payload: Option<Value>,
    ) -> Result<Vec<Value>, Close> {
        if self.auth.is_none() {
            return Err(Close(4401, "Unauthorized", None));
        }
        // Authorized as of now, not as of `connection_init`.
        let auth = authenticate(&self.edge.state, self.authorization.as_deref()).await;
        if !matches!(auth, Auth::Signed(_)) {
            let expired = self.expires_in().is_some_and(|left| left.is_zero());
            return Err(match expired {
                true => Close(4401, "Unauthorized", None),
                false => Close(4403, "Forbidden", None),
            });
        }
        let id = id.ok_or(Close(4400, "Missing id", None))?;
        let running = self
            .subscriptions
            .get(&id)
            .is_some_and(|t| !t.is_finished());
        if running || self.shared.contains_key(id.as_str()) {
            return Err(Close(4409, "Subscriber for this id already exists", None));
        }
        let request: Request = match payload.map(serde_json::from_value) {
            Some(Ok(r)) => r,
            _ => return Err(Close(4400, "Invalid subscribe payload", None)),
        };
        // Refused documents answer an error for this id; the socket stays open.
        let mut admitted = match self.edge.ingest.admit(request) {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(vec![self.errors_message(&id, &refused.errors)]),
        };
        let finish = admitted.findings.finish.clone();
        let request = admitted.take_request().data(self.client);
        if self.subscriptions.len() + self.shared.len() >= MAX_SUBSCRIPTIONS {
            return Ok(vec![
                self.error_message(&id, "too many subscriptions on this connection"),
            ]);
        }
        match self.edge.groups.join(&self.edge, &auth, request) {
            Ok(membership) => {
                self.edge.state.metrics.subscribers_add(1);
                let lifetime = self.edge.state.metrics.subscription_started();
                let deliveries = membership.into_deliveries().inspect(move |_| {
                    let _ = &lifetime;
                });
                self.shared.insert(Arc::from(id), Box::pin(deliveries));
            }
            Err(request) => {
                let task = tokio::spawn(forward(
                    self.edge.clone(),
                    self.protocol,
                    id.clone(),
                    (*request).data(auth),
                    finish,
                    self.tx.clone(),
                ));
                self.subscriptions.insert(id, task);
            }
        }
        Ok(Vec::new())
    }

    fn error_message(&self, id: &str, message: &str) -> Value {
        self.errors_message(id, &[async_graphql::ServerError::new(message, None)])
    }

    /// The protocol's `error` message: every error, or (legacy protocol) the first.
    fn errors_message(&self, id: &str, errors: &[async_graphql::ServerError]) -> Value {
        let payload = match self.protocol {
            Protocol::TransportWs => serde_json::to_value(errors),
            Protocol::LegacyWs => serde_json::to_value(errors.first()),
        };
        let payload = payload.unwrap_or_else(|_| json!([{ "message": "unencodable error" }]));
        json!({"type": "error", "id": id, "payload": payload})
    }
}

/// Runs one operation and forwards its responses to the socket's queue.
async fn forward(
    edge: Edge,
    protocol: Protocol,
    id: String,
    request: Request,
    finish: ingest::Finish,
    tx: mpsc::Sender<Outgoing>,
) {
    let _lifetime = edge.state.metrics.subscription_started();
    let mut responses = edge.schema.execute_stream(request);
    let mut first = true;
    while let Some(response) = responses.next().await {
        let response = finish.apply(response);
        let request_error = first && is_request_error(&response);
        first = false;
        // Serialized straight to text: no intermediate JSON tree per message, which matters
        // when one event goes out to thousands of subscribers.
        let message = match protocol.message_type(request_error) {
            "error" => envelope("error", &id, &response.errors),
            kind => envelope(kind, &id, &response),
        };
        if tx.send(Outgoing::Raw(message)).await.is_err() {
            return;
        }
        if request_error && protocol == Protocol::TransportWs {
            let _ = tx.send(Outgoing::Done(id)).await;
            return;
        }
    }
    let _ = tx
        .send(Outgoing::Text(json!({"type": "complete", "id": id})))
        .await;
    let _ = tx.send(Outgoing::Done(id)).await;
}

/// `{"type": …, "id": …, "payload": …}` as text.
fn envelope<P: serde::Serialize>(kind: &str, id: &str, payload: &P) -> String {
    #[derive(serde::Serialize)]
    struct Envelope<'a, P> {
        #[serde(rename = "type")]
        kind: &'a str,
        id: &'a str,
        payload: &'a P,
    }
    serde_json::to_string(&Envelope { kind, id, payload }).unwrap_or_else(|_| {
        format!(r#"{{"type":"error","id":{},"payload":[{{"message":"response could not be encoded"}}]}}"#, json!(id))
    })
}

/// Sends `messages` in order, flushing once.
async fn send_all(socket: &mut WebSocket, messages: Vec<Value>) -> Result<(), axum::Error> {
    if messages.is_empty() {
        return Ok(());
    }
    for message in messages {
        socket
            .feed(Message::Text(message.to_string().into()))
            .await?;
    }
    socket.flush().await
}
