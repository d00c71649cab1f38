//! GraphQL over WebSocket: `graphql-transport-ws` and the legacy `graphql-ws` protocol.
//!
//! Written here rather than taken from async-graphql-axum so that the connection obeys the
//! security baseline: `connection_init` within a few seconds (else 4408), a missing or
//! invalid token closes with 4403, subscribing before the ack closes with 4401, a duplicate
//! id closes with 4409, subscriptions per socket are capped, and the socket closes when the
//! access token expires. Members of a shared live stream ([`super::groups`]) are read by the
//! connection itself, with no task or queue of their own, because one event goes to thousands
//! of them; other subscriptions run in their own task and forward into one bounded queue. A
//! slow client never buffers without bound: its streams stop being polled and catch up from
//! the log once they fall too far behind.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::{Request, ServerError};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderValue;
use axum::response::Response;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamMap;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::sessions::Watch;
use crate::auth::{Auth, ClientAddr};
use crate::graphql::ingest::{self, is_request_error};

use super::Live;
use super::groups::Delivery;
use super::protocol::{Close, Payload, Protocol, ServerMessage};
use crate::error::AppError;
use crate::http::authenticate;

/// Time allowed between the upgrade and `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive interval.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Subscriptions one socket may hold.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Read buffer of one socket: clients send little (subscribe, complete, pong), and the
/// buffer is cleared before every read attempt, so every wake-up of the socket pays its size.
const READ_BUFFER: usize = 512;
/// Bytes gathered before a write (each message is flushed anyway).
const WRITE_BUFFER: usize = 8 * 1024;
/// How long after the token's expiry the socket is closed.
const EXPIRY_GRACE: Duration = Duration::from_millis(500);
/// Messages queued for one socket before its subscriptions wait.
const QUEUE: usize = 256;

/// Accepts the upgrade with the protocol the client asked for.
pub fn upgrade(live: Live, upgrade: WebSocketUpgrade, client: ClientAddr) -> Response {
    let requested: Vec<String> = upgrade
        .requested_protocols()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let protocol = Protocol::choose(requested.iter().map(String::as_str));
    // Small buffers: thousands of dashboards stay connected, and their messages are small.
    let mut upgrade = upgrade
        .max_message_size(1024 * 1024)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    if !requested.is_empty() {
        upgrade.set_selected_protocol(HeaderValue::from_static(protocol.name()));
    }
    let connections = live.connections.clone();
    upgrade.on_upgrade(move |socket| {
        connections.track_future(Connection::new(live, protocol, client).run(socket))
    })
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

/// What a subscription running in its own task hands the connection.
enum Outgoing {
    /// An encoded message.
    Message(Utf8Bytes),
    /// The subscription `id` ended on its own.
    Done(String),
}

/// A shared member's deliveries.
type Deliveries = Pin<Box<dyn Stream<Item = Delivery> + Send>>;

struct Connection {
    /// What the live wing shares.
    live: Live,
    /// The subprotocol of this socket.
    protocol: Protocol,
    /// The client, for its credential budget.
    client: ClientAddr,
    /// The `Authorization` value of `connection_init`: every operation is authorized anew
    /// with it, so a session or membership that ended, or roles that changed, count at once.
    authorization: Option<String>,
    /// The caller as of `connection_init`.
    auth: Option<Auth>,
    /// Subscriptions running in their own task.
    subscriptions: HashMap<String, JoinHandle<()>>,
    /// Members of shared live streams, by subscription id.
    shared: StreamMap<Arc<str>, Deliveries>,
    /// The membership the token speaks for, once authenticated: its deletion closes the socket.
    membership: Option<Watch>,
    /// Resolves when that membership ends: made once, not on every turn of the loop.
    membership_ended: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// The queue own-task subscriptions write into, made with the first of them: most
    /// dashboards only hold shared members, and an idle queue costs a block of slots.
    own: Option<(mpsc::Sender<Outgoing>, mpsc::Receiver<Outgoing>)>,
}

/// How the server ends the socket: the close, and a message to send before it.
struct Ending(Close, Option<Utf8Bytes>);

impl From<Close> for Ending {
    fn from(close: Close) -> Self {
        Self(close, None)
    }
}

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
    Stop(Option<Ending>),
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

/// Whether anything but a shared delivery may have woken the connection. One event wakes
/// thousands of connections at once; each then polls only its deliveries, not its timers,
/// tokens and socket, which are polled again only once one of them has called its waker.
struct Others {
    /// What those other branches wake: it notes the wake-up, then wakes the connection.
    waker: Waker,
    flag: Arc<OthersFlag>,
}

struct OthersFlag {
    /// Set when one of the other branches woke (and at first, and after one was ready).
    woken: AtomicBool,
    /// The connection's task.
    task: AtomicWaker,
}

impl Wake for OthersFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl Default for Others {
    fn default() -> Self {
        let flag = Arc::new(OthersFlag {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        Self {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }
}

impl Others {
    /// The next step: what `others` yields (polled only when one of its wakers fired since it
    /// was last pending), else the next shared delivery.
    async fn next_step(
        &self,
        others: impl Future<Output = Step>,
        shared: &mut StreamMap<Arc<str>, Deliveries>,
    ) -> Step {
        let mut others = std::pin::pin!(others);
        std::future::poll_fn(|cx| {
            // Registered before the flag is read: a wake-up in between is seen either way.
            self.flag.task.register(cx.waker());
            if self.flag.woken.swap(false, Ordering::AcqRel) {
                let mut own_cx = Context::from_waker(&self.waker);
                if let Poll::Ready(step) = others.as_mut().poll(&mut own_cx) {
                    // The branch that was ready is made anew: poll them all next time.
                    self.flag.woken.store(true, Ordering::Release);
                    return Poll::Ready(step);
                }
            }
            if !shared.is_empty()
                && let Poll::Ready(Some((id, delivery))) = shared.poll_next_unpin(cx)
            {
                return Poll::Ready(Step::Shared(id, delivery));
            }
            Poll::Pending
        })
        .await
    }
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
    fn new(live: Live, protocol: Protocol, client: ClientAddr) -> Self {
        Self {
            live,
            protocol,
            client,
            authorization: None,
            auth: None,
            subscriptions: HashMap::new(),
            shared: StreamMap::new(),
            membership: None,
            membership_ended: None,
            own: None,
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut timers = Timers::start().await;
        // Waiting futures made once: one per turn would register and unregister with the
        // server-wide shutdown token on every event. A token of the connection's own, so
        // thousands of connections polling it do not contend for the server-wide one's lock.
        let shutdown = self.live.shutdown.child_token().cancelled_owned();
        tokio::pin!(shutdown);
        let others = Others::default();
        let close = loop {
            let authenticated = self.auth.is_some();
            let own_running = !self.subscriptions.is_empty();
            let (membership_ended, own, shared) =
                (&mut self.membership_ended, &mut self.own, &mut self.shared);
            let rest = async {
                tokio::select! {
                    _ = &mut shutdown => Step::Shutdown,
                    _ = ended(membership_ended) => Step::MembershipEnded,
                    _ = &mut timers.init_deadline, if !authenticated => Step::InitTimeout,
                    _ = Timers::until(&mut timers.expiry) => Step::Expiry,
                    _ = timers.keepalive.tick() => Step::Keepalive,
                    // Only subscriptions running in their own task write to the queue.
                    out = queued(own), if own_running => Step::Own(out),
                    incoming = socket.recv() => Step::Incoming(incoming),
                }
            };
            let step = others.next_step(rest, shared).await;
            if let Flow::Stop(close) = self.step(&mut socket, &mut timers, step).await {
                break close;
            }
        };
        self.finish(socket, close).await;
    }

    /// Acts on what woke the connection.
    async fn step(&mut self, socket: &mut WebSocket, timers: &mut Timers, step: Step) -> Flow {
        let sent = match step {
            Step::InitTimeout => return Flow::Stop(Some(Close::InitTimeout.into())),
            Step::Shutdown => return Flow::Stop(Some(Close::ShuttingDown.into())),
            Step::MembershipEnded => return Flow::Stop(Some(Close::MembershipEnded.into())),
            Step::Expiry if timers.expired => {
                return Flow::Stop(Some(Close::TokenExpired.into()));
            }
            Step::Expiry => {
                timers.expire();
                self.end_members(socket).await
            }
            Step::Keepalive => {
                let ping = self.encode_all(&[ServerMessage::KeepAlive]);
                send_all(socket, ping).await
            }
            Step::Own(None) => return Flow::Stop(None),
            Step::Own(Some(Outgoing::Message(text))) => socket.send(Message::Text(text)).await,
            Step::Own(Some(Outgoing::Done(id))) => {
                self.subscriptions.remove(&id);
                Ok(())
            }
            Step::Shared(id, delivery) => self.deliver(socket, id, delivery).await,
            Step::Incoming(incoming) => {
                // Boxed: authorizing a message awaits database reads whose futures are large,
                // and every idle connection would otherwise carry their size all its life.
                return Box::pin(self.incoming(socket, timers, incoming)).await;
            }
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
            Some(Ok(Message::Binary(_))) => return Flow::Stop(Some(Close::BinaryMessage.into())),
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
            Err(ending) => Flow::Stop(Some(ending)),
        }
    }

    /// `messages` encoded; one that cannot be (never expected) is logged and left out.
    fn encode_all(&self, messages: &[ServerMessage<'_>]) -> Vec<Utf8Bytes> {
        messages
            .iter()
            .filter_map(|m| match m.encode(self.protocol) {
                Ok(text) => Some(text),
                Err(error) => {
                    tracing::error!(%error, "left out a live message");
                    None
                }
            })
            .collect()
    }

    /// The token expired: every shared member gets its error and `complete` (other
    /// subscriptions end themselves before the socket closes).
    async fn end_members(&mut self, socket: &mut WebSocket) -> Result<(), axum::Error> {
        let ids: Vec<Arc<str>> = self.shared.keys().cloned().collect();
        for id in ids {
            self.leave(&id);
            let ending = self.ending(
                &id,
                AppError::Unauthenticated(
                    "the access token expired; subscribe again with a fresh token".into(),
                ),
            );
            send_all(socket, ending).await?;
        }
        Ok(())
    }

    /// Ends every subscription and closes the socket, with `ending` when the server decided it.
    async fn finish(mut self, mut socket: WebSocket, ending: Option<Ending>) {
        for (_, task) in self.subscriptions.drain() {
            task.abort();
        }
        let members = self.shared.len();
        self.shared.clear();
        self.live.state.metrics.subscribers_add(-(members as i64));
        if let Some(Ending(close, preface)) = ending {
            if let Some(message) = preface {
                let _ = socket.send(Message::Text(message)).await;
            }
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: close.code(),
                    reason: close.reason().into(),
                })))
                .await;
        }
        let _ = socket.close().await;
    }

    /// Sends one delivery of the shared member `id`, then whatever else its members have
    /// ready, with one flush for all of them.
    async fn deliver(
        &mut self,
        socket: &mut WebSocket,
        id: Arc<str>,
        delivery: Delivery,
    ) -> Result<(), axum::Error> {
        self.feed(socket, id, delivery).await?;
        while let Some(Some((id, delivery))) = self.shared.next().now_or_never() {
            self.feed(socket, id, delivery).await?;
        }
        socket.flush().await
    }

    /// Writes one delivery of the shared member `id` without flushing.
    async fn feed(
        &mut self,
        socket: &mut WebSocket,
        id: Arc<str>,
        delivery: Delivery,
    ) -> Result<(), axum::Error> {
        let item = match delivery {
            Delivery::Item(item) => item,
            Delivery::End => {
                self.leave(&id);
                let complete = self.encode_all(&[ServerMessage::Complete { id: &id }]);
                return feed_all(socket, complete).await;
            }
        };
        match item.message(self.protocol, &id) {
            Ok(text) => socket.feed(Message::Text(text)).await?,
            Err(error) => tracing::error!(%error, "left out a live delivery"),
        }
        self.live.state.metrics.event_delivered();
        if item.is_request_error() && self.protocol.error_ends_operation() {
            // The operation failed as a whole: its `error` is the last word (no `complete`).
            self.leave(&id);
        }
        Ok(())
    }

    /// Drops the shared member `id`, if there is one.
    fn leave(&mut self, id: &str) {
        if self.shared.remove(id).is_some() {
            self.live.state.metrics.subscribers_add(-1);
        }
    }

    /// The result with `error` that ends subscription `id`, then its `complete`.
    fn ending(&self, id: &str, error: AppError) -> Vec<Utf8Bytes> {
        let response = async_graphql::Response::from_errors(vec![server_error(&error)]);
        self.encode_all(&[
            ServerMessage::Next {
                id,
                payload: Payload::Response(&response),
            },
            ServerMessage::Complete { id },
        ])
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

    async fn handle(&mut self, text: &str) -> Result<Vec<Utf8Bytes>, Ending> {
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|_| Close::InvalidMessage)?;
        match (self.protocol, message.kind.as_str()) {
            (_, "connection_init") => self.init(message.payload).await,
            (Protocol::TransportWs, "ping") => Ok(self.encode_all(&[ServerMessage::Pong])),
            (Protocol::TransportWs, "pong") => Ok(Vec::new()),
            (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
                self.subscribe(message.id, message.payload).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => {
                let id = message.id.ok_or(Close::MissingId)?;
                if let Some(task) = self.subscriptions.remove(&id) {
                    task.abort();
                }
                self.leave(&id);
                Ok(match self.protocol {
                    Protocol::LegacyWs => self.encode_all(&[ServerMessage::Complete { id: &id }]),
                    Protocol::TransportWs => Vec::new(),
                })
            }
            (Protocol::LegacyWs, "connection_terminate") => Err(Close::Terminated.into()),
            _ => Err(Close::UnknownMessageType.into()),
        }
    }

    async fn init(&mut self, payload: Option<Value>) -> Result<Vec<Utf8Bytes>, Ending> {
        if self.auth.is_some() {
            return Err(Close::TooManyInits.into());
        }
        let header = payload
            .as_ref()
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let auth = authenticate(&self.live.state, header.as_deref()).await;
        if !matches!(auth, Auth::Signed(_)) {
            // The legacy protocol has no close codes of its own; its error message comes first.
            let preface = (self.protocol == Protocol::LegacyWs)
                .then(|| {
                    self.encode_all(&[ServerMessage::ConnectionError {
                        message: "Forbidden",
                    }])
                })
                .and_then(|mut encoded| encoded.pop());
            return Err(Ending(Close::Forbidden, preface));
        }
        self.membership = Watch::of(&self.live.state.sessions, &auth);
        self.membership_ended = self
            .membership
            .as_ref()
            .map(|watch| Box::pin(watch.ended.clone().cancelled_owned()));
        self.auth = Some(auth);
        self.authorization = header;
        Ok(self.encode_all(&[ServerMessage::ConnectionAck]))
    }

    async fn subscribe(
        &mut self,
        id: Option<String>,
        payload: Option<Value>,
    ) -> Result<Vec<Utf8Bytes>, Ending> {
        if self.auth.is_none() {
            return Err(Close::Unauthorized.into());
        }
        // Authorized as of now, not as of `connection_init`.
        let auth = authenticate(&self.live.state, self.authorization.as_deref()).await;
        if !matches!(auth, Auth::Signed(_)) {
            let expired = self.expires_in().is_some_and(|left| left.is_zero());
            return Err(match expired {
                true => Close::Unauthorized,
                false => Close::Forbidden,
            }
            .into());
        }
        let id = id.ok_or(Close::MissingId)?;
        let running = self
            .subscriptions
            .get(&id)
            .is_some_and(|t| !t.is_finished());
        if running || self.shared.contains_key(id.as_str()) {
            return Err(Close::DuplicateId.into());
        }
        let request: Request = match payload.map(serde_json::from_value) {
            Some(Ok(r)) => r,
            _ => return Err(Close::InvalidSubscribePayload.into()),
        };
        // Refused documents answer an error for this id; the socket stays open.
        let mut admitted = match self.live.ingest.admit(request) {
            Ok(admitted) => admitted,
            Err(refused) => return Ok(self.errors(&id, &refused.errors)),
        };
        let finish = admitted.findings.finish.clone();
        let request = admitted.take_request().data(self.client);
        if self.subscriptions.len() + self.shared.len() >= MAX_SUBSCRIPTIONS {
            let error = ServerError::new("too many subscriptions on this connection", None);
            return Ok(self.errors(&id, &[error]));
        }
        self.start(id, auth, request, finish);
        Ok(Vec::new())
    }

    /// Runs subscription `id`: as a member of a shared group when it can be, else on its own.
    fn start(&mut self, id: String, auth: Auth, request: Request, finish: ingest::Finish) {
        match self.live.groups.join(&self.live, &auth, request) {
            Ok(membership) => {
                self.live.state.metrics.subscribers_add(1);
                let lifetime = self.live.state.metrics.subscription_started();
                let deliveries = membership.into_deliveries().inspect(move |_| {
                    let _ = &lifetime;
                });
                self.shared.insert(Arc::from(id), Box::pin(deliveries));
            }
            Err(request) => {
                let own = Own {
                    live: self.live.clone(),
                    protocol: self.protocol,
                    id: id.clone(),
                    finish,
                    tx: self
                        .own
                        .get_or_insert_with(|| mpsc::channel(QUEUE))
                        .0
                        .clone(),
                };
                let request = crate::graphql::with_loaders(*request, &self.live.state.db);
                let task = tokio::spawn(own.forward(request.data(auth)));
                self.subscriptions.insert(id, task);
            }
        }
    }

    /// The protocol's `error` message for `id`.
    fn errors(&self, id: &str, errors: &[ServerError]) -> Vec<Utf8Bytes> {
        self.encode_all(&[ServerMessage::Error { id, errors }])
    }
}

/// `error` as the GraphQL error clients read, with its code and no location.
fn server_error(error: &AppError) -> ServerError {
    use async_graphql::ErrorExtensions;
    let extended = error.extend();
    let mut server_error = ServerError::new(extended.message, None);
    server_error.extensions = extended.extensions;
    server_error
}

/// The next message of the own-task queue; waits forever while there is no queue.
async fn queued(
    own: &mut Option<(mpsc::Sender<Outgoing>, mpsc::Receiver<Outgoing>)>,
) -> Option<Outgoing> {
    match own.as_mut() {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for `ended`; forever when there is none.
async fn ended(ended: &mut Option<Pin<Box<WaitForCancellationFutureOwned>>>) {
    match ended.as_mut() {
        Some(ended) => ended.as_mut().await,
        None => std::future::pending().await,
    }
}

/// A subscription running in its own task.
struct Own {
    /// What the live wing shares.
    live: Live,
    /// The socket's protocol.
    protocol: Protocol,
    /// The subscription id.
    id: String,
    /// Error codes and caps applied to each response.
    finish: ingest::Finish,
    /// The socket's queue.
    tx: mpsc::Sender<Outgoing>,
}

impl Own {
    /// Runs the operation and forwards its responses to the socket's queue.
    async fn forward(self, request: Request) {
        let _lifetime = self.live.state.metrics.subscription_started();
        let mut responses = self.live.schema.execute_stream(request);
        let mut first = true;
        while let Some(response) = responses.next().await {
            let response = self.finish.apply(response);
            let request_error = first && is_request_error(&response);
            first = false;
            let id = self.id.as_str();
            // Serialized straight to text: no intermediate JSON tree per message.
            let message = match request_error && self.protocol.error_ends_operation() {
                true => ServerMessage::Error {
                    id,
                    errors: &response.errors,
                },
                false => ServerMessage::Next {
                    id,
                    payload: Payload::Response(&response),
                },
            };
            if !self.send(&message).await {
                return;
            }
            if request_error && self.protocol.error_ends_operation() {
                let _ = self.tx.send(Outgoing::Done(self.id)).await;
                return;
            }
        }
        let id = self.id.as_str();
        self.send(&ServerMessage::Complete { id }).await;
        let _ = self.tx.send(Outgoing::Done(self.id)).await;
    }

    /// Queues `message`; false once the socket is gone. A message that cannot be encoded
    /// (never expected) is logged and answered as an internal error.
    async fn send(&self, message: &ServerMessage<'_>) -> bool {
        let text = message.encode(self.protocol).or_else(|error| {
            tracing::error!(%error, "a live response could not be encoded");
            let internal = AppError::Internal(anyhow::anyhow!("unencodable response"));
            let errors = [server_error(&internal)];
            ServerMessage::Error {
                id: &self.id,
                errors: &errors,
            }
            .encode(self.protocol)
        });
        match text {
            Ok(text) => self.tx.send(Outgoing::Message(text)).await.is_ok(),
            Err(_) => false,
        }
    }
}

/// Sends `messages` in order, flushing once.
async fn send_all(socket: &mut WebSocket, messages: Vec<Utf8Bytes>) -> Result<(), axum::Error> {
    if messages.is_empty() {
        return Ok(());
    }
    feed_all(socket, messages).await?;
    socket.flush().await
}

/// Writes `messages` in order without flushing.
async fn feed_all(socket: &mut WebSocket, messages: Vec<Utf8Bytes>) -> Result<(), axum::Error> {
    for message in messages {
        socket.feed(Message::Text(message)).await?;
    }
    Ok(())
}
