//! The event hub of one instance.
//!
//! Committed events reach the hub from the services of this instance (in-process mode) or from
//! the Redis subscriber (every instance). A single dispatcher task keeps the highest cursor it
//! has broadcast and accepts only the next events in order: whenever a batch does not follow on
//! (a lost Redis message, an outage, a concurrent commit), it reads the gap from the event log,
//! and it polls the log on a timer as a safety net. Subscribers therefore see every committed
//! event exactly once, in cursor order, whatever happened to the transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use entity::status_event::{self, EventKind};
use uuid::Uuid;

use crate::db::Db;
use crate::events::visibility::LiveEvent;
use crate::metrics::Metrics;

/// An event as it travels: shared, immutable, its audience typed.
pub type Event = Arc<LiveEvent>;

/// A change of membership that followers of the hub (live sessions) act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    /// The membership (user id) was deleted.
    Deleted(Uuid),
}

/// Membership changes a follower may fall behind before it is told it lagged.
const MEMBERSHIP_BACKLOG: usize = 1024;

/// Events per log read.
const READ_BATCH: u64 = 500;

/// How committed events leave this instance.
#[derive(Clone)]
enum Outbound {
    /// Straight to this instance's dispatcher.
    Local(mpsc::UnboundedSender<Vec<LiveEvent>>),
    /// Through Redis, to every instance's dispatcher (this one included).
    Redis(super::redis::Publisher),
}

struct Inner {
    /// Every event, in cursor order, to the subscriber streams.
    live: broadcast::Sender<Event>,
    /// The membership changes among them, to whoever follows them.
    memberships: broadcast::Sender<MembershipChange>,
    outbound: Outbound,
    /// The highest cursor broadcast so far.
    last: AtomicI64,
    metrics: Metrics,
}

/// Cheap-to-clone handle on the instance's event stream.
#[derive(Clone)]
pub struct EventHub(Arc<Inner>);

/// What the dispatcher consumes.
pub struct Dispatcher {
    hub: EventHub,
    db: Db,
    inbound: mpsc::UnboundedReceiver<Vec<LiveEvent>>,
    poll: Duration,
}

impl EventHub {
    /// An in-process hub and its dispatcher; `capacity` bounds each subscriber's backlog.
    pub fn local(db: Db, metrics: Metrics, capacity: usize, poll: Duration) -> (Self, Dispatcher) {
        let (tx, rx) = mpsc::unbounded_channel();
        Self::build(db, metrics, capacity, poll, Outbound::Local(tx), rx)
    }

    /// A hub publishing through Redis; `inbound` is fed by the Redis subscriber.
    pub fn redis(
        db: Db,
        metrics: Metrics,
        capacity: usize,
        poll: Duration,
        publisher: super::redis::Publisher,
        inbound: mpsc::UnboundedReceiver<Vec<LiveEvent>>,
    ) -> (Self, Dispatcher) {
        Self::build(
            db,
            metrics,
            capacity,
            poll,
            Outbound::Redis(publisher),
            inbound,
        )
    }

    fn build(
        db: Db,
        metrics: Metrics,
        capacity: usize,
        poll: Duration,
        outbound: Outbound,
        inbound: mpsc::UnboundedReceiver<Vec<LiveEvent>>,
    ) -> (Self, Dispatcher) {
        let (live, _) = broadcast::channel(capacity);
        let (memberships, _) = broadcast::channel(MEMBERSHIP_BACKLOG);
        let hub = Self(Arc::new(Inner {
            live,
            memberships,
            outbound,
            last: AtomicI64::new(0),
            metrics,
        }));
        let dispatcher = Dispatcher {
            hub: hub.clone(),
            db,
            inbound,
            poll,
        };
        (hub, dispatcher)
    }

    /// Hands events that just committed to the fan-out.
    pub fn publish(&self, events: Vec<status_event::Model>) {
        if events.is_empty() {
            return;
        }
        self.0.metrics.events_published(events.len() as u64);
        match &self.0.outbound {
            Outbound::Local(tx) => {
                let _ = tx.send(events.into_iter().map(LiveEvent::from).collect());
            }
            Outbound::Redis(publisher) => publisher.publish(events),
        }
    }

    /// A receiver of every event broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.live.subscribe()
    }

    /// A receiver of every membership change broadcast from now on.
    pub fn memberships(&self) -> broadcast::Receiver<MembershipChange> {
        self.0.memberships.subscribe()
    }

    /// Live streams attached to this instance's broadcast (one per shared group or subscriber).
    pub fn receivers(&self) -> usize {
        self.0.live.receiver_count()
    }

    /// The highest cursor broadcast so far.
    pub fn last_cursor(&self) -> i64 {
        self.0.last.load(Ordering::Acquire)
    }

    /// Metrics of this instance.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
}

impl Dispatcher {
    /// Broadcasts committed events in cursor order until `stop` fires.
    pub async fn run(mut self, stop: CancellationToken) {
        if let Err(e) = self.start_at_head().await {
            tracing::warn!(error = ?e, "could not read the event log head; starting from zero");
        }
        let mut poll = tokio::time::interval(self.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                _ = stop.cancelled() => return,
                batch = self.inbound.recv() => match batch {
                    Some(batch) => self.accept(batch).await,
                    None => return,
                },
                _ = poll.tick() => self.catch_up().await,
            };
            if let Err(e) = result {
                tracing::warn!(error = ?e, "event dispatch failed; retrying from the log");
            }
        }
    }

    async fn start_at_head(&self) -> Result<(), sea_orm::DbErr> {
        let head = super::log::head(&self.db.conn).await?;
        self.hub.0.last.store(head, Ordering::Release);
        Ok(())
    }

    /// Broadcasts a batch if it follows on; otherwise reads what is missing from the log.
    /// An empty batch means "something may have been missed": read the log.
    async fn accept(&self, mut batch: Vec<LiveEvent>) -> Result<(), sea_orm::DbErr> {
        if batch.is_empty() {
            return self.catch_up().await;
        }
        batch.sort_by_key(LiveEvent::id);
        let last = self.hub.last_cursor();
        let follows = batch
            .iter()
            .find(|e| e.id() > last)
            .is_none_or(|e| e.id() == last + 1);
        if !follows {
            return self.catch_up().await;
        }
        self.broadcast(batch.into_iter().filter(|e| e.id() > last));
        Ok(())
    }

    /// Reads and broadcasts everything after the last cursor.
    async fn catch_up(&self) -> Result<(), sea_orm::DbErr> {
        loop {
            let events = status_event::Entity::find()
                .filter(status_event::Column::Id.gt(self.hub.last_cursor()))
                .order_by_asc(status_event::Column::Id)
                .limit(READ_BATCH)
                .all(&self.db.conn)
                .await?;
            let full = events.len() as u64 == READ_BATCH;
            self.broadcast(events.into_iter().map(LiveEvent::from));
            if !full {
                return Ok(());
            }
        }
    }

    fn broadcast(&self, events: impl Iterator<Item = LiveEvent>) {
        for event in events {
            let id = event.id();
            if id <= self.hub.last_cursor() {
                continue;
            }
            self.hub.0.last.store(id, Ordering::Release);
            let deleted = (event.model.kind == EventKind::Deleted).then_some(event.model.user_id);
            // No receivers is fine: nobody is watching.
            let _ = self.hub.0.live.send(Arc::new(event));
            if let Some(user_id) = deleted {
                let _ = self
                    .hub
                    .0
                    .memberships
                    .send(MembershipChange::Deleted(user_id));
            }
        }
    }
}
