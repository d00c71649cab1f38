//! One subscriber's stream: live events of its organization (and its partners' shared
//! drivers), resumable from a cursor without gap or duplicate, recovering from the log when
//! it falls behind.
//!
//! Order of work: subscribe to the live broadcast first, then replay from the log, then pass
//! live events on, dropping any at or below the last cursor sent. An event committed during
//! the replay is thus in the log, in the live buffer, or both, and is sent exactly once.

use std::time::Duration;

use futures_util::Stream;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use entity::{kv, status_event};

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::events::hub::{Event, EventHub};
use crate::events::visibility;

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
    let pruned = kv::Entity::find_by_id(PRUNED_THROUGH.to_owned())
        .one(&db.conn)
        .await?
        .and_then(|row| row.value.parse::<i64>().ok())
        .unwrap_or(0);
    if after < pruned {
        return Err(AppError::bad_input(
            "after",
            "events after this cursor are older than the retention period and were removed; resubscribe without `after` and reload the dashboard",
        ));
    }
    Ok(())
}

async fn read_after(db: &Db, after: i64) -> Result<Vec<status_event::Model>, sea_orm::DbErr> {
    status_event::Entity::find()
        .filter(status_event::Column::Id.gt(after))
        .order_by_asc(status_event::Column::Id)
        .limit(REPLAY_BATCH)
        .all(&db.conn)
        .await
}

/// The event stream of a subscriber in `organization_id`, ending when the token expires.
pub fn open(
    hub: EventHub,
    db: Db,
    organization_id: Uuid,
    after: Option<i64>,
    expires_in: Duration,
    count: bool,
) -> impl Stream<Item = Result<Event, StreamEnd>> {
    let mut live = hub.subscribe();
    // A shared group's execution is not a subscriber: its members are counted instead.
    let metrics = if count {
        hub.metrics().clone()
    } else {
        crate::metrics::Metrics::default()
    };
    let deadline = tokio::time::Instant::now() + expires_in;
    // With no cursor, start at what this instance has broadcast when the live feed opened.
    let start = after.unwrap_or_else(|| hub.last_cursor());
    async_stream::stream! {
        metrics.subscribers_add(1);
        let _guard = SubscriberGuard(metrics.clone());
        let mut last = start;
        // One timer for the whole stream: re-arming one per event would cost a timer-wheel
        // insertion per event per subscriber.
        let expiry = tokio::time::sleep_until(deadline);
        tokio::pin!(expiry);
        let mut replay = after.is_some();
        loop {
            if replay {
                metrics.replay();
                loop {
                    let batch = match read_after(&db, last).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(error = %e, "event replay failed");
                            yield Err(StreamEnd::Failed);
                            return;
                        }
                    };
                    let full = batch.len() as u64 == REPLAY_BATCH;
                    for event in batch {
                        last = event.id;
                        if visibility::receives(&event, organization_id) {
                            metrics.event_delivered();
                            yield Ok(std::sync::Arc::new(event));
                        }
                    }
                    if !full {
                        break;
                    }
                }
                replay = false;
            }
            let received = tokio::select! {
                _ = &mut expiry => {
                    yield Err(StreamEnd::TokenExpired);
                    return;
                }
                r = live.recv() => r,
            };
            match received {
                Ok(event) => {
                    if event.id <= last {
                        continue;
                    }
                    last = event.id;
                    if visibility::receives(&event, organization_id) {
                        metrics.event_delivered();
                        yield Ok(event);
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "subscriber fell behind; catching up from the log");
                    replay = true;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Keeps the subscriber gauge right however the stream ends.
struct SubscriberGuard(crate::metrics::Metrics);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.subscribers_add(-1);
    }
}
