//! Shared live subscriptions: subscribers of one organization (same roles) running the same
//! `statusChanged` document without a resume cursor receive the very same responses, so one
//! execution serves them all and each member only wraps the serialized payload in its own
//! envelope. Without this, every event is executed and serialized once per subscriber.
//!
//! Subscriptions with `after` (a replay) or any other document run on their own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_graphql::Request;
use async_graphql::parser::types::OperationType;
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::auth::{Auth, Principal};

use super::Edge;

/// Responses a member may fall behind its group before it is told to resubscribe.
const GROUP_BACKLOG: usize = 1024;
/// How long the group's own execution stays authorized; members keep their own expiry.
const GROUP_LIFETIME: Duration = Duration::from_secs(3650 * 24 * 3600);

/// Marks the shared execution, so per-subscriber metrics count members, not groups.
#[derive(Clone, Copy)]
pub struct GroupExecution;

/// One response of a group, serialized once.
pub struct Item {
    /// Nothing ran: parse, validation or authorization of the whole operation failed.
    pub request_error: bool,
    /// The serialized GraphQL response.
    pub payload: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    organization_id: Uuid,
    roles: Vec<String>,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

struct Group {
    tx: broadcast::Sender<Arc<Item>>,
}

/// A membership in a group: the receiver, and the group kept alive by it.
pub struct Membership {
    rx: broadcast::Receiver<Arc<Item>>,
    group: Arc<Group>,
}

/// What a member receives.
pub enum Delivery {
    /// The group's next response.
    Item(Arc<Item>),
    /// The member fell more than the group's backlog behind; nothing more follows.
    Lagged,
    /// The group's operation ended.
    End,
}

impl Membership {
    /// The member's deliveries, ending after `Lagged` or `End`; the group lives as long.
    pub fn into_deliveries(self) -> impl Stream<Item = Delivery> + Send + 'static {
        let Membership { mut rx, group } = self;
        async_stream::stream! {
            let _alive = group;
            loop {
                match rx.recv().await {
                    Ok(item) => yield Delivery::Item(item),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        yield Delivery::Lagged;
                        break;
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
        edge: &Edge,
        auth: &Auth,
        request: Request,
    ) -> Result<Membership, Box<Request>> {
        let Auth::Signed(principal) = auth else {
            return Err(Box::new(request));
        };
        let Some(scope) = principal.scope.as_ref() else {
            return Err(Box::new(request));
        };
        if !shareable(&request) {
            return Err(Box::new(request));
        }
        let key = Key {
            organization_id: scope.organization_id,
            roles: scope.roles.names(),
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).unwrap_or_default(),
        };
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            return Ok(Membership {
                rx: group.tx.subscribe(),
                group,
            });
        }
        let (tx, rx) = broadcast::channel(GROUP_BACKLOG);
        let group = Arc::new(Group { tx: tx.clone() });
        groups.insert(key.clone(), Arc::downgrade(&group));
        drop(groups);
        tokio::spawn(run(
            self.clone(),
            edge.clone(),
            key,
            group_auth(principal),
            request,
            tx,
        ));
        Ok(Membership { rx, group })
    }

    fn remove(&self, key: &Key) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if groups.get(key).is_some_and(|w| w.strong_count() == 0) {
            groups.remove(key);
        }
    }
}

/// A live `statusChanged` subscription without a cursor.
fn shareable(request: &Request) -> bool {
    let after_given = request
        .variables
        .get("after")
        .is_some_and(|v| !matches!(v, async_graphql::Value::Null));
    if after_given || request.query.contains("after") || !request.query.contains("statusChanged") {
        return false;
    }
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let mut operations = doc.operations.iter();
    match (operations.next(), operations.next()) {
        (Some((_, op)), None) => op.node.ty == OperationType::Subscription,
        _ => false,
    }
}

/// The member's authorization, living as long as the group (members enforce their own expiry).
fn group_auth(principal: &Principal) -> Auth {
    let mut principal = principal.clone();
    principal.expires_at = chrono::Utc::now().timestamp() + GROUP_LIFETIME.as_secs() as i64;
    Auth::Signed(principal)
}

async fn run(
    groups: Arc<Groups>,
    edge: Edge,
    key: Key,
    auth: Auth,
    request: Request,
    tx: broadcast::Sender<Arc<Item>>,
) {
    let mut responses = edge
        .schema
        .execute_stream(request.data(auth).data(GroupExecution));
    let mut first = true;
    while let Some(response) = responses.next().await {
        let request_error = first && super::ws::is_request_error(&response);
        first = false;
        let payload = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
        if tx
            .send(Arc::new(Item {
                request_error,
                payload,
            }))
            .is_err()
        {
            break;
        }
    }
    // Unlisted before the sender goes, so nobody joins a finished group.
    drop(tx);
    groups.remove(&key);
}
