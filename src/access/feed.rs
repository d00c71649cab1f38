//! How access changes reach every instance: a versioned message on the Redis access channel
//! for immediacy, and a poll of the access log as the safety net for lost messages.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use redis::AsyncCommands;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use entity::access_event::{self, AccessKind};

use super::{Access, from_row};
use crate::db::Db;
use crate::domain::access::AccessChange;

/// How far back each poll of the log looks: longer than any transaction lives, so a change
/// committed after a later one is still found.
const LOOKBACK: Duration = Duration::from_secs(60);
/// Rows read per poll at most.
const POLL_ROWS: u64 = 10_000;
/// How long access-log rows are kept (far longer than any poll looks back).
const KEEP: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// Polls between removals of rows older than [`KEEP`].
const PRUNE_EVERY_POLLS: u32 = 3600;
/// The version of the message format on the access channel.
const VERSION: u32 = 1;

/// The log row of a change: its kind and subject.
pub fn to_row(change: &AccessChange) -> (AccessKind, Uuid) {
    match *change {
        AccessChange::SessionEnded { session_id } => (AccessKind::SessionEnded, session_id),
        AccessChange::AccountSessionsEnded { account_id } => {
            (AccessKind::AccountSessionsEnded, account_id)
        }
        AccessChange::MembershipChanged { user_id } => (AccessKind::MembershipChanged, user_id),
        AccessChange::MembershipDeleted { user_id } => (AccessKind::MembershipDeleted, user_id),
    }
}

/// A message on the access channel.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    /// Format version; messages of another version are ignored (the log poll applies them).
    v: u32,
    /// The changes, with their log ids.
    changes: Vec<Change>,
}

/// One change on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Change {
    /// Its access-log id.
    id: i64,
    /// `SESSION_ENDED`, `ACCOUNT_SESSIONS_ENDED`, `MEMBERSHIP_CHANGED` or `MEMBERSHIP_DELETED`.
    kind: Wire,
    /// The session, account or membership.
    subject: Uuid,
}

/// Change kinds on the wire, spelled as in the log.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Wire {
    SessionEnded,
    AccountSessionsEnded,
    MembershipChanged,
    MembershipDeleted,
}

impl From<AccessKind> for Wire {
    fn from(kind: AccessKind) -> Self {
        match kind {
            AccessKind::SessionEnded => Self::SessionEnded,
            AccessKind::AccountSessionsEnded => Self::AccountSessionsEnded,
            AccessKind::MembershipChanged => Self::MembershipChanged,
            AccessKind::MembershipDeleted => Self::MembershipDeleted,
        }
    }
}

impl From<Wire> for AccessKind {
    fn from(kind: Wire) -> Self {
        match kind {
            Wire::SessionEnded => Self::SessionEnded,
            Wire::AccountSessionsEnded => Self::AccountSessionsEnded,
            Wire::MembershipChanged => Self::MembershipChanged,
            Wire::MembershipDeleted => Self::MembershipDeleted,
        }
    }
}

fn encode(changes: &[(i64, AccessChange)]) -> serde_json::Result<String> {
    let changes = changes
        .iter()
        .map(|(id, change)| {
            let (kind, subject) = to_row(change);
            Change {
                id: *id,
                kind: kind.into(),
                subject,
            }
        })
        .collect();
    serde_json::to_string(&Message {
        v: VERSION,
        changes,
    })
}

fn decode(payload: &str) -> Option<Vec<(i64, AccessChange)>> {
    let message: Message = serde_json::from_str(payload).ok()?;
    (message.v == VERSION).then(|| {
        message
            .changes
            .into_iter()
            .map(|c| (c.id, from_row(c.kind.into(), c.subject)))
            .collect()
    })
}

/// Log ids already applied on this instance, remembered for as long as a poll may read them.
#[derive(Default)]
pub struct Seen(Mutex<HashMap<i64, Instant>>);

impl Seen {
    /// Marks `id` applied; false when it already was.
    pub fn insert(&self, id: i64) -> bool {
        self.lock().insert(id, Instant::now()).is_none()
    }

    fn forget_old(&self) {
        self.lock().retain(|_, at| at.elapsed() < LOOKBACK * 2);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        // Plain inserts and retains: a poisoned lock holds a consistent map.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Sends committed changes to the other instances from one background task.
#[derive(Clone)]
pub struct Publisher(mpsc::UnboundedSender<String>);

impl Publisher {
    /// Queues `changes` for the access channel; never blocks the committing request.
    pub fn send(&self, changes: &[(i64, AccessChange)]) {
        match encode(changes) {
            Ok(payload) => {
                let _ = self.0.send(payload);
            }
            Err(error) => tracing::error!(%error, "could not encode access changes"),
        }
    }
}

/// The publisher and the task that runs it (until `stop`).
pub fn publisher(
    client: redis::Client,
    channel: String,
    stop: CancellationToken,
) -> (Publisher, impl Future<Output = ()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let task = async move {
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            let payload = tokio::select! {
                _ = stop.cancelled() => return,
                p = rx.recv() => match p { Some(p) => p, None => return },
            };
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
            }
            let Some(c) = conn.as_mut() else {
                tracing::warn!(
                    "Redis unavailable; other instances apply the change from the access log"
                );
                continue;
            };
            let sent: redis::RedisResult<i64> = c.publish(&channel, payload).await;
            if let Err(error) = sent {
                tracing::warn!(%error, "PUBLISH of an access change failed; other instances read it from the log");
                conn = None;
            }
        }
    };
    (Publisher(tx), task)
}

/// Applies what other instances publish on `channel`, reconnecting with backoff, until `stop`.
pub async fn subscribe(
    access: Access,
    client: redis::Client,
    channel: String,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let payload: String = msg.get_payload()?;
                match decode(&payload) {
                    Some(changes) => access.received(&changes),
                    None => tracing::warn!("ignored an access message of unknown form"),
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = session => r,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "access subscription failed; reconnecting (the log poll covers the gap)");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Reads the access log every `every`, applying rows no message brought, until `stop`.
pub async fn poll(access: Access, db: Db, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    let mut polls = 0u32;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(PRUNE_EVERY_POLLS) {
            prune(&db).await;
        }
        match recent(&db).await {
            Ok(rows) => {
                // Rows written before this instance started concern nothing it remembers.
                access.polled(&rows, !first);
                first = false;
            }
            Err(error) => tracing::warn!(?error, "could not read the access log"),
        }
        access.forget_old();
    }
}

/// Removes access-log rows older than [`KEEP`].
async fn prune(db: &Db) {
    let removed = access_event::Entity::delete_many()
        .filter(access_event::Column::At.lt(Utc::now() - KEEP))
        .exec(&db.conn)
        .await;
    if let Err(error) = removed {
        tracing::warn!(?error, "could not prune the access log");
    }
}

async fn recent(db: &Db) -> Result<Vec<(i64, AccessChange)>, sea_orm::DbErr> {
    let since = Utc::now() - LOOKBACK;
    let rows = access_event::Entity::find()
        .filter(access_event::Column::At.gt(since))
        .order_by_desc(access_event::Column::Id)
        .limit(POLL_ROWS)
        .all(&db.conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, from_row(r.kind, r.subject)))
        .collect())
}

impl Access {
    /// Applies changes another instance committed, once each.
    fn received(&self, changes: &[(i64, AccessChange)]) {
        for (id, change) in changes {
            if self.0.seen.insert(*id) {
                self.apply(change);
            }
        }
    }

    /// Applies log rows not applied yet; `count` says whether they are caught misses.
    fn polled(&self, rows: &[(i64, AccessChange)], count: bool) {
        for (id, change) in rows {
            if self.0.seen.insert(*id) {
                self.apply(change);
                if count {
                    self.0.metrics.access_change_caught();
                }
            }
        }
    }

    fn forget_old(&self) {
        self.0.seen.forget_old();
        self.0.book.prune();
        self.0.metrics.sessions_remembered(self.0.book.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_its_changes_and_their_log_ids() {
        let changes = vec![
            (
                7,
                AccessChange::SessionEnded {
                    session_id: Uuid::now_v7(),
                },
            ),
            (
                8,
                AccessChange::MembershipDeleted {
                    user_id: Uuid::now_v7(),
                },
            ),
        ];
        let payload = encode(&changes).expect("encode");
        assert!(payload.contains("\"SESSION_ENDED\""), "{payload}");
        assert_eq!(decode(&payload), Some(changes));
    }

    #[test]
    fn a_message_of_another_version_is_left_to_the_log_poll() {
        let payload = r#"{"v":2,"changes":[]}"#;
        assert_eq!(decode(payload), None);
    }
}
