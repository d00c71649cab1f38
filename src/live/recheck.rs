//! The live wing re-reads, every so often, the memberships behind its live sessions: a session whose
//! member was removed or has other roles than it connected with ends, and
//! the client reconnects with what it may now do. One statement per 500 memberships.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::sessions::LiveSessions;
use crate::db::Db;
use crate::service;

/// Memberships read per statement.
const CHUNK: usize = 500;

/// Re-checks the live sessions every `every` until `stop`.
pub async fn run(sessions: Arc<LiveSessions>, db: Db, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for members in sessions.members().chunks(CHUNK) {
            match service::account::current_scopes(&db.conn, members).await {
                Ok(current) => {
                    for user_id in members {
                        sessions.end_unless(*user_id, current.get(user_id));
                    }
                }
                Err(error) => {
                    tracing::warn!(?error, "could not re-check live sessions");
                    break;
                }
            }
        }
    }
}
