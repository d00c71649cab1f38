//! Shared live subscriptions: subscribers of one organization (same roles) running the same
//! `statusChanged` document receive the very same responses, so one execution serves them all
//! and each member only wraps the serialized payload in its own envelope. Without this, every
//! event is executed and serialized once per subscriber.
//!
//! A member resuming with `after` (as every dashboard does after a reconnect) first replays
//! what it missed with an execution of its own, then continues on the group's responses,
//! skipping those at or below the last cursor its replay read: no gap, no duplicate. It joins
//! the group before replaying, so whatever the group sends meanwhile waits in its backlog.
//!
//! Other documents, or an `after` written into the document itself, run on their own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_graphql::parser::types::{OperationType, Selection};
use async_graphql::{Name, Request, Value, Variables};
use axum::extract::ws::Utf8Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::auth::{Auth, Principal};
use crate::error::AppError;
use crate::events::stream::{self, Reading, StreamEnd};
use crate::graphql::AppSchema;
use crate::graphql::events::Feed;

use super::Live;
use super::protocol::{INTERNAL_RESPONSE, Payload, Protocol, ServerMessage, Unencodable, to_json};

/// How long the group's own execution stays authorized; members keep their own expiry.
const GROUP_LIFETIME: Duration = Duration::from_secs(3650 * 24 * 3600);

/// One response of a group, serialized once; the message around it is encoded once per
/// protocol for the subscription id most members use, and shared by all of them.
pub struct Item {
    /// The cursor of the event the response is about.
    pub cursor: i64,
    /// What the item says.
    body: Body,
    /// The message for the first member id seen, by protocol: members using the same id
    /// (dashboards mostly do) send these very bytes.
    encoded: [OnceLock<(Box<str>, Utf8Bytes)>; 2],
}

/// What an item says.
enum Body {
    /// A response; the errors list apart when nothing ran (a request error).
    Response {
        /// The serialized GraphQL response.
        payload: String,
        /// The serialized errors list of a request error.
        request_errors: Option<String>,
    },
    /// The group's execution is over: nothing follows.
    End,
}

impl Item {
    fn new(response: async_graphql::Response, first: bool, cursor: i64) -> Self {
        let response = crate::graphql::ingest::Finish::default().apply(response);
        let request_error = first && crate::graphql::ingest::is_request_error(&response);
        let request_errors = request_error.then(|| to_json(&response.errors, "[]"));
        Self::with(
            cursor,
            Body::Response {
                payload: to_json(&response, INTERNAL_RESPONSE),
                request_errors,
            },
        )
    }

    fn end() -> Self {
        Self::with(i64::MAX, Body::End)
    }

    fn with(cursor: i64, body: Body) -> Self {
        Self {
            cursor,
            body,
            encoded: Default::default(),
        }
    }

    /// Whether this item ends the group.
    pub fn is_end(&self) -> bool {
        matches!(self.body, Body::End)
    }

    /// Whether the operation failed as a whole (nothing ran).
    pub fn is_request_error(&self) -> bool {
        matches!(
            self.body,
            Body::Response {
                request_errors: Some(_),
                ..
            }
        )
    }

    /// The message carrying this item to subscription `id`, in `protocol`.
    pub fn message(&self, protocol: Protocol, id: &str) -> Result<Utf8Bytes, Unencodable> {
        let slot = &self.encoded[protocol as usize];
        if let Some((cached, bytes)) = slot.get()
            && **cached == *id
        {
            return Ok(bytes.clone());
        }
        let bytes = self.encode(protocol, id)?;
        // Only the first id seen is kept: members with another id encode their own.
        let _ = slot.set((id.into(), bytes.clone()));
        Ok(bytes)
    }

    fn encode(&self, protocol: Protocol, id: &str) -> Result<Utf8Bytes, Unencodable> {
        match &self.body {
            Body::Response {
                request_errors: Some(errors),
                ..
            } if protocol.error_ends_operation() => {
                ServerMessage::SerializedError { id, errors }.encode(protocol)
            }
            Body::Response { payload, .. } => ServerMessage::Next {
                id,
                payload: Payload::Serialized(payload),
            }
            .encode(protocol),
            Body::End => ServerMessage::Complete { id }.encode(protocol),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    organization_id: Uuid,
    /// A DRIVER's stream is its own: its membership; `None` for managers, who share.
    driver: Option<Uuid>,
    roles: Vec<String>,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

struct Group {
    /// The group's responses, to every member.
    tx: broadcast::Sender<Arc<Item>>,
    /// Cancels the group's execution once the last member has let go of the group.
    _abandoned: DropGuard,
}

/// A membership in a group: the receiver, the group kept alive by it, and how the member
/// replays from the log (when it resumes from a cursor, and whenever it falls behind).
pub struct Membership {
    /// The group's responses.
    rx: broadcast::Receiver<Arc<Item>>,
    /// The group, alive while it has members.
    group: Arc<Group>,
    /// The member's own request, to replay from the log.
    replayer: Replayer,
    /// Whether the member resumes from the cursor in its request.
    resumes: bool,
    /// Where the member stands when it joins without a cursor.
    start: i64,
}

/// A member's own request, run from a cursor until it has caught up with the log.
struct Replayer {
    /// The schema.
    schema: AppSchema,
    /// The member's document and operation.
    query: String,
    /// The operation to run.
    operation_name: Option<String>,
    /// The member's variables, its cursor among them.
    variables: Variables,
    /// The member's authorization.
    auth: Auth,
    /// Where the replay reads.
    db: crate::db::Db,
    /// Where catch-ups are counted.
    metrics: crate::metrics::Metrics,
}

impl Replayer {
    /// The member's responses after `from` (its own cursor when `None`), up to the log's end,
    /// and the cursor its replay has read through.
    fn replay(
        &self,
        from: Option<i64>,
    ) -> (impl Stream<Item = async_graphql::Response> + use<>, Seen) {
        let seen = Seen::default();
        let mut request = Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        let request = crate::graphql::with_loaders(request, &self.db)
            .data(self.auth.clone())
            .data(feed(Reading::CatchUp, from, seen.clone()));
        (self.schema.execute_stream(request), seen)
    }
}

/// The cursor of the last event one of the live wing's executions has read.
#[derive(Clone, Default)]
struct Seen(Arc<AtomicI64>);

impl Seen {
    fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, cursor: i64) {
        self.0.store(cursor, Ordering::Release);
    }
}

/// The events of one of the live wing's own executions, read as `reading` says (from `from`
/// rather than the operation's cursor, when given), each cursor noted in `seen` as it passes.
fn feed(reading: Reading, from: Option<i64>, seen: Seen) -> Feed {
    Feed::new(move |mut opening| {
        if from.is_some() {
            opening.after = from;
        }
        seen.set(opening.after.unwrap_or_else(|| opening.hub.last_cursor()));
        let db = opening.db.clone();
        let events = stream::open(opening, reading);
        async_stream::stream! {
            // The operation's own cursor was checked by its resolver; this one was not.
            if let Some(from) = from {
                match stream::check_retained(&db, from).await {
                    Ok(()) => {}
                    Err(AppError::BadInput { .. }) => {
                        yield Err(StreamEnd::Pruned);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(?error, "could not check a catch-up cursor");
                        yield Err(StreamEnd::Failed);
                        return;
                    }
                }
            }
            futures_util::pin_mut!(events);
            while let Some(event) = events.next().await {
                if let Ok(event) = &event {
                    seen.set(event.id());
                }
                yield event;
            }
        }
        .boxed()
    })
}

/// What a member receives.
pub enum Delivery {
    /// The group's next response.
    Item(Arc<Item>),
    /// The group's operation ended, or the member's replay failed: nothing follows.
    End,
}

impl Membership {
    /// The member's deliveries, ending after `End`; the group lives as long. A member that
    /// falls more than the backlog behind its group listens again and replays from the last
    /// cursor it was sent, skipping group responses its replay covered: no gap, no duplicate.
    pub fn into_deliveries(self) -> impl Stream<Item = Delivery> + Send + 'static {
        let Membership {
            mut rx,
            group,
            replayer,
            resumes,
            start,
        } = self;
        async_stream::stream! {
            // Group responses at or below this cursor were part of a replay.
            let mut seam = i64::MIN;
            let mut last = start;
            let mut replay_from = resumes.then_some(None);
            loop {
                if let Some(from) = replay_from.take() {
                    let (mut responses, seen) = replayer.replay(from);
                    let mut first = true;
                    while let Some(response) = responses.next().await {
                        let failed = !response.errors.is_empty();
                        yield Delivery::Item(Arc::new(Item::new(response, first, seen.get())));
                        first = false;
                        if failed {
                            // A refused cursor, an expired token, the log unavailable: over.
                            yield Delivery::End;
                            return;
                        }
                    }
                    seam = seen.get();
                    last = last.max(seam);
                }
                match rx.recv().await {
                    Ok(item) if item.is_end() => {
                        yield Delivery::End;
                        break;
                    }
                    Ok(item) if item.cursor <= seam => continue,
                    Ok(item) => {
                        last = item.cursor;
                        yield Delivery::Item(item);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Listen again first, so what the group sends meanwhile waits here.
                        replayer.metrics.lag_catchup();
                        rx = group.tx.subscribe();
                        replay_from = Some(Some(last));
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        yield Delivery::End;
                        break;
                    }
                }
            }
        }
    }
}

/// The registry of live groups of this instance.
#[derive(Default)]
pub struct Groups {
    groups: Mutex<HashMap<Key, Weak<Group>>>,
}

impl Groups {
    /// Joins (or starts) the group for `request`; gives the request back when it cannot be shared.
    pub fn join(
        self: &Arc<Self>,
        live: &Live,
        auth: &Auth,
        request: Request,
    ) -> Result<Membership, Box<Request>> {
        let Auth::Signed(principal) = auth else {
            return Err(Box::new(request));
        };
        let Some(scope) = principal.scope.as_ref() else {
            return Err(Box::new(request));
        };
        let Some(after_variable) = shareable(&request) else {
            return Err(Box::new(request));
        };
        // The group runs the document live, without the member's cursor.
        let mut variables = request.variables.clone();
        let resumes = after_variable
            .and_then(|name| variables.remove(&Name::new(name)))
            .is_some_and(|after| after != Value::Null);
        // Variables that cannot be written down cannot be compared: such a request runs alone.
        let Ok(variables_key) = serde_json::to_string(&variables) else {
            return Err(Box::new(request));
        };
        let key = Key {
            organization_id: scope.organization_id,
            driver: (!scope.roles.is_manager()).then_some(scope.user_id),
            roles: scope.roles.names(),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: variables_key,
        };
        let replayer = Replayer {
            schema: live.schema.clone(),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            auth: auth.clone(),
            db: live.state.db.clone(),
            metrics: live.state.metrics.clone(),
        };
        let start = live.state.events.last_cursor();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            return Ok(Membership {
                rx: group.tx.subscribe(),
                group,
                replayer,
                resumes,
                start,
            });
        }
        // A member may fall as far behind its group as a stream behind the live feed.
        let (tx, rx) = broadcast::channel(live.state.settings.subscriber_backlog);
        let abandoned = CancellationToken::new();
        let group = Arc::new(Group {
            tx: tx.clone(),
            _abandoned: abandoned.clone().drop_guard(),
        });
        groups.insert(key.clone(), Arc::downgrade(&group));
        drop(groups);
        let execution = Execution {
            groups: self.clone(),
            live: live.clone(),
            key,
            group: Arc::downgrade(&group),
            tx,
            abandoned,
        };
        let request = group_request(&execution.key, variables).data(group_auth(principal));
        live.connections.spawn(execution.run(request));
        Ok(Membership {
            rx,
            group,
            replayer,
            resumes,
            start,
        })
    }

    /// Unlists `group` (and no newer group of the same key), so nobody joins it any more.
    fn remove(&self, key: &Key, group: &Weak<Group>) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.get(key).is_some_and(|w| w.ptr_eq(group)) {
            groups.remove(key);
        }
    }
}

/// Whether `request` is a `statusChanged` subscription a group can serve: then the name of
/// the variable carrying its `after` argument, if it has one. An `after` written into the
/// document, or a document this cannot read, is not shared.
fn shareable(request: &Request) -> Option<Option<String>> {
    if !request.query.contains("statusChanged") {
        return None;
    }
    let doc = async_graphql::parser::parse_query(&request.query).ok()?;
    let mut operations = doc.operations.iter();
    let (Some((_, op)), None) = (operations.next(), operations.next()) else {
        return None;
    };
    if op.node.ty != OperationType::Subscription {
        return None;
    }
    let [field] = op.node.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &field.node else {
        return None;
    };
    if field.node.name.node != "statusChanged" {
        return None;
    }
    match field
        .node
        .arguments
        .iter()
        .find(|(name, _)| name.node == "after")
    {
        None => Some(None),
        Some((_, value)) => match &value.node {
            // Without the member's value the group must run live: no default cursor.
            async_graphql_value::Value::Variable(name)
                if op
                    .node
                    .variable_definitions
                    .iter()
                    .all(|d| d.node.name.node != *name || d.node.default_value.is_none()) =>
            {
                Some(Some(name.to_string()))
            }
            _ => None,
        },
    }
}

/// The group's own request: the document with the variables every member shares.
fn group_request(key: &Key, variables: Variables) -> Request {
    let mut request = Request::new(key.query.clone()).variables(variables);
    if let Some(name) = &key.operation_name {
        request = request.operation_name(name.clone());
    }
    request
}

/// The member's authorization, living as long as the group (members enforce their own expiry).
fn group_auth(principal: &Principal) -> Auth {
    let mut principal = principal.clone();
    principal.expires_at = chrono::Utc::now().timestamp() + GROUP_LIFETIME.as_secs() as i64;
    Auth::Signed(principal)
}

/// A group's one execution of its document.
struct Execution {
    /// The registry the group is listed in.
    groups: Arc<Groups>,
    /// What the live wing shares.
    live: Live,
    /// The group's key in the registry.
    key: Key,
    /// The group, while it has members.
    group: Weak<Group>,
    /// The group's responses.
    tx: broadcast::Sender<Arc<Item>>,
    /// Cancelled once no member is left.
    abandoned: CancellationToken,
}

impl Execution {
    /// Runs until the document's stream ends, the last member leaves or the server stops;
    /// then every member is told the execution is over.
    async fn run(self, request: Request) {
        let seen = Seen::default();
        let request = crate::graphql::with_loaders(request, &self.live.state.db).data(feed(
            Reading::Shared,
            None,
            seen.clone(),
        ));
        let mut responses = self.live.schema.execute_stream(request);
        let mut first = true;
        loop {
            let response = tokio::select! {
                _ = self.abandoned.cancelled() => break,
                _ = self.live.shutdown.cancelled() => break,
                response = responses.next() => response,
            };
            let Some(response) = response else { break };
            // The feed waits while its event is resolved: the cursor seen last is this event's.
            let item = Item::new(response, first, seen.get());
            first = false;
            if self.tx.send(Arc::new(item)).is_err() {
                break;
            }
        }
        // Unlisted first, so nobody joins a finished group; then every member, however it
        // joined, is told the execution is over (members keep the channel open, so its
        // closing alone would never reach them).
        self.groups.remove(&self.key, &self.group);
        let _ = self.tx.send(Arc::new(Item::end()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(query: &str) -> Option<Option<String>> {
        shareable(&Request::new(query))
    }

    #[test]
    fn a_live_status_subscription_is_shared() {
        assert_eq!(
            classify("subscription { statusChanged { cursor } }"),
            Some(None)
        );
        assert_eq!(
            classify("subscription { s: statusChanged { cursor } }"),
            Some(None)
        );
    }

    #[test]
    fn a_cursor_in_a_variable_is_shared_and_named() {
        assert_eq!(
            classify("subscription($a: String) { statusChanged(after: $a) { cursor } }"),
            Some(Some("a".into()))
        );
    }

    #[test]
    fn a_cursor_the_group_cannot_drop_is_not_shared() {
        for query in [
            r#"subscription { statusChanged(after: "5") { cursor } }"#,
            r#"subscription($a: String = "5") { statusChanged(after: $a) { cursor } }"#,
            "subscription { ...F } fragment F on Subscription { statusChanged { cursor } }",
            "query { statusChanged }",
            "subscription { statusChanged { cursor } } subscription B { statusChanged { kind } }",
            "not graphql statusChanged",
        ] {
            assert_eq!(classify(query), None, "{query}");
        }
    }
}
