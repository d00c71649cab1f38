//! One subscriber's stream: live events of its organization (and its partners' shared
//! drivers), resumable from a cursor without gap or duplicate, recovering from the log when
//! it falls behind.
//!
//! Order of work: subscribe to the live broadcast first, then replay from the log, then pass
//! live events on, dropping any at or below the last cursor sent. An event committed during
//! the replay is thus in the log, in the live buffer, or both, and is sent exactly once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::Stream;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast::error::RecvError;

use entity::{kv, status_event};

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::events::hub::{Event, EventHub};
use crate::events::visibility::{LiveEvent, Subscriber};

/// Events read per replay query.
const REPLAY_BATCH: u64 = 500;
/// The kv key recording the highest cursor removed by retention.
pub const PRUNED_THROUGH: &str = "events.pruned_through";

/// Why a stream ended early.
#[derive(Debug, Clone)]
pub enum StreamEnd {
    /// The access token expired.
    TokenExpired,
    /// The log could not be read.
    Failed,
    /// A catch-up was asked to start where retention has already removed events.
    Pruned,
}

/// Who a stream reads for. The live wing's own executions are not counted as subscribers:
/// their members are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// A subscriber's own stream: counted, and on until it ends.
    Own,
    /// A shared group's execution: on until it ends.
    Shared,
    /// A group member catching up from the log: ends once the replay has reached its end.
    CatchUp,
}

/// Where a stream starts and for whom: what `statusChanged` decides before events flow.
pub struct Opening {
    /// The live broadcast.
    pub hub: EventHub,
    /// The log replays read.
    pub db: Db,
    /// Whose events pass.
    pub subscriber: Subscriber,
    /// Replay from this cursor first; live from what this instance has broadcast otherwise.
    pub after: Option<i64>,
    /// Time left before the access token expires.
    pub expires_in: Duration,
}

/// Parses a cursor given by a client.
pub fn parse_cursor(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| AppError::bad_input("after", "is not a cursor of this gateway"))
}

/// Refuses a cursor whose successors were already removed by retention.
pub async fn check_retained(db: &Db, after: i64) -> AppResult<()> {
    let pruned = match kv::Entity::find_by_id(PRUNED_THROUGH.to_owned())
        .one(&db.conn)
        .await?
    {
        Some(row) => row.value.parse::<i64>().with_context(|| {
            format!(
                "the stored {PRUNED_THROUGH} `{}` is not a cursor",
                row.value
            )
        })?,
        // Retention has not removed anything yet.
        None => 0,
    };
    if after < pruned {
        return Err(pruned_error());
    }
    Ok(())
}

/// The refusal of a cursor whose successors retention has removed: at subscription time
/// ([`check_retained`]) and when a catch-up finds them gone ([`StreamEnd::Pruned`]).
pub fn pruned_error() -> AppError {
    AppError::bad_input(
        "after",
        "events after this cursor are older than the retention period and were removed; resubscribe without `after` and reload the dashboard",
    )
}

async fn read_after(db: &Db, after: i64) -> Result<Vec<status_event::Model>, sea_orm::DbErr> {
    status_event::Entity::find()
        .filter(status_event::Column::Id.gt(after))
        .order_by_asc(status_event::Column::Id)
        .limit(REPLAY_BATCH)
        .all(&db.conn)
        .await
}

/// The event stream `opening` describes, ending when the token expires (or, catching up,
/// once the replay has reached the log's end).
pub fn open(
    opening: Opening,
    reading: Reading,
) -> impl Stream<Item = Result<Event, StreamEnd>> + use<> {
    let Opening {
        hub,
        db,
        subscriber,
        after,
        expires_in,
    } = opening;
    let mut live = hub.subscribe();
    let metrics = hub.metrics().clone();
    let deadline = tokio::time::Instant::now() + expires_in;
    // With no cursor, start at what this instance has broadcast when the live feed opened.
    let mut position = Position::new(
        after.unwrap_or_else(|| hub.last_cursor()),
        reading == Reading::Own,
        &metrics,
    );
    async_stream::stream! {
        let _guard = position.counted.then(|| SubscriberGuard::new(metrics.clone()));
        // One timer for the whole stream: re-arming one per event would cost a timer-wheel
        // insertion per event per subscriber.
        let expiry = tokio::time::sleep_until(deadline);
        tokio::pin!(expiry);
        let mut replay = after.is_some();
        loop {
            if replay {
                metrics.replay();
                loop {
                    let Ok(batch) = read_after(&db, position.last).await.inspect_err(|e| {
                        tracing::warn!(error = %e, "event replay failed");
                    }) else {
                        yield Err(StreamEnd::Failed);
                        return;
                    };
                    let full = batch.len() as u64 == REPLAY_BATCH;
                    for event in batch.into_iter().map(LiveEvent::from) {
                        if position.pass(&event, &subscriber) {
                            yield Ok(Arc::new(event));
                        }
                    }
                    if !full {
                        break;
                    }
                }
                replay = false;
                if reading == Reading::CatchUp {
                    return;
                }
            }
            let received = tokio::select! {
                _ = &mut expiry => {
                    yield Err(StreamEnd::TokenExpired);
                    return;
                }
                r = live.recv() => r,
            };
            match received {
                Ok(event) if event.id() <= position.last => continue,
                Ok(event) => {
                    if position.pass(&event, &subscriber) {
                        yield Ok(event);
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "subscriber fell behind; catching up from the log");
                    metrics.lag_catchup();
                    replay = true;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Where a stream stands: the last cursor it has passed, and whether its deliveries count as
/// a subscriber's.
struct Position {
    last: i64,
    counted: bool,
    metrics: crate::metrics::Metrics,
}

impl Position {
    fn new(start: i64, counted: bool, metrics: &crate::metrics::Metrics) -> Self {
        Self {
            last: start,
            counted,
            metrics: metrics.clone(),
        }
    }

    /// Moves past `event`; whether `subscriber` receives it.
    fn pass(&mut self, event: &LiveEvent, subscriber: &Subscriber) -> bool {
        self.last = event.id();
        let receives = subscriber.receives(event);
        if receives && self.counted {
            self.metrics.event_delivered();
        }
        receives
    }
}

/// Keeps the subscriber gauge right however the stream ends.
struct SubscriberGuard(crate::metrics::Metrics);

impl SubscriberGuard {
    fn new(metrics: crate::metrics::Metrics) -> Self {
        metrics.subscribers_add(1);
        Self(metrics)
    }
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.subscribers_add(-1);
    }
}
