//! The live wing: GraphQL subscriptions as dashboards hold them open.
//!
//! - [`protocol`]: the messages the server sends, its close codes, and the one serializer.
//! - [`connection`]: one WebSocket (`graphql-transport-ws` or the legacy `graphql-ws`).
//! - [`groups`]: one execution of a `statusChanged` document shared by every subscriber of
//!   the same organization and roles.
//! - [`sse`]: the same operations as Server-Sent Events.
//! - [`sessions`]: the live sessions of this instance by membership, ended when it is deleted
//!   or changes; [`recheck`] re-reads them as a safety net.
//!
//! One lag policy: whatever falls behind catches up from the event log, in order, without
//! gap or duplicate, and nobody is told to resubscribe. A stream behind the live feed of
//! events (a subscriber's own, or a group's execution) replays from its last cursor
//! ([`crate::events::stream`]); a group member behind its group by `SUBSCRIBER_BACKLOG`
//! responses listens again and replays from the last cursor it was sent ([`groups`]).

pub mod connection;
pub mod groups;
pub mod protocol;
pub mod recheck;
pub mod sessions;
pub mod sse;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::graphql::AppSchema;
use crate::graphql::ingest::Ingest;
use crate::state::AppState;

/// What the live wing needs of the application, cloned into every connection.
#[derive(Clone)]
pub struct Live {
    /// Application state.
    pub state: AppState,
    /// The schema operations run on.
    pub schema: AppSchema,
    /// The door every document passes before it is run.
    pub ingest: Arc<Ingest>,
    /// Live subscriptions shared between subscribers.
    pub groups: Arc<groups::Groups>,
    /// Cancelled when the server shuts down: live streams end so the shutdown does not wait
    /// for them (clients reconnect elsewhere and resume with their cursor).
    pub shutdown: CancellationToken,
    /// The WebSocket connections, so the shutdown waits for their close frames.
    pub connections: TaskTracker,
}
