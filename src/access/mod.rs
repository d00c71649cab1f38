//! Session authority: whether a token's session and membership still stand, answered without a
//! statement per request.
//!
//! The edge asks [`Access::standing`]; the first check of a session reads it (one statement) and
//! the answer is remembered in the [`book`]. Every change that ends a session or alters a
//! membership is written to the access log in the transaction of the change ([`record`]), then,
//! once committed, applied on this instance at once and sent to every other instance through
//! Redis ([`Access::changed`]). The [`feed`] applies what others send, and reads the log every
//! second as a safety net for lost messages; a remembered answer older than the re-check
//! interval is read again. What either net catches is counted.

pub mod book;
pub mod feed;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use tokio::sync::broadcast;

use entity::access_event::{self, AccessKind};

use crate::auth::Principal;
use crate::db::Db;
use crate::domain::access::AccessChange;
use crate::error::AppResult;
use crate::metrics::Metrics;
use crate::service::account;

pub use book::{Book, Key, Lookup, Standing};

/// Changes kept for slow listeners (live-session tracking) before they skip.
const LISTENER_BACKLOG: usize = 1024;

struct Inner {
    book: Book,
    db: Db,
    /// Applied changes, for the live sessions of this instance.
    listeners: broadcast::Sender<AccessChange>,
    /// Sends committed changes to the other instances, when Redis is configured.
    outbound: Option<feed::Publisher>,
    /// Log rows applied by this instance as they were committed or received.
    seen: feed::Seen,
    /// Where session checks from memory and caught changes are counted.
    metrics: Metrics,
}

/// Cheap-to-clone handle on this instance's session authority.
#[derive(Clone)]
pub struct Access(Arc<Inner>);

impl Access {
    /// Trusts a remembered answer for `recheck`; sends changes through `outbound` when set.
    pub fn new(
        db: Db,
        metrics: Metrics,
        recheck: Duration,
        outbound: Option<feed::Publisher>,
    ) -> Self {
        Self(Arc::new(Inner {
            book: Book::new(recheck),
            db,
            listeners: broadcast::channel(LISTENER_BACKLOG).0,
            outbound,
            seen: feed::Seen::default(),
            metrics,
        }))
    }

    /// Whether `principal`'s session and membership stand, and the membership's scope now.
    pub async fn standing(&self, principal: &Principal) -> AppResult<Standing> {
        let key = Key {
            session_id: principal.session_id,
            account_id: principal.account_id,
            user_id: principal.scope.as_ref().map(|s| s.user_id),
        };
        let before = match self.0.book.lookup(&key) {
            Lookup::Fresh(standing) => {
                self.0.metrics.session_check_remembered();
                return Ok(standing);
            }
            Lookup::Stale(before) => before,
        };
        let generation = self.0.book.generation();
        let now = self.read(principal).await?;
        if before.as_ref().is_some_and(|b| *b != now) {
            self.0.metrics.access_change_caught();
        }
        self.0.book.remember(key, now.clone(), generation);
        Ok(now)
    }

    async fn read(&self, principal: &Principal) -> AppResult<Standing> {
        let conn = &self.0.db.conn;
        let live = match &principal.scope {
            None => account::session_is_live(conn, principal.session_id)
                .await?
                .then_some(None),
            Some(scope) => account::current_membership_scope(
                conn,
                principal.account_id,
                scope,
                principal.session_id,
            )
            .await?
            .map(Some),
        };
        Ok(live.map_or(Standing::Ended, Standing::Live))
    }

    /// Applies committed changes (recorded with their log ids) here at once, and sends them to
    /// the other instances.
    pub fn changed(&self, changes: &[(i64, AccessChange)]) {
        for (id, change) in changes {
            self.0.seen.insert(*id);
            self.apply(change);
        }
        if let Some(outbound) = &self.0.outbound {
            outbound.send(changes);
        }
    }

    /// Forgets what `change` touches and tells this instance's live sessions.
    fn apply(&self, change: &AccessChange) {
        self.0.book.apply(change);
        let _ = self.0.listeners.send(*change);
    }

    /// Every change applied on this instance from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AccessChange> {
        self.0.listeners.subscribe()
    }

    /// Sessions remembered.
    pub fn remembered(&self) -> usize {
        self.0.book.len()
    }
}

/// Writes `changes` to the access log inside the caller's transaction; pass what it returns
/// to [`Access::changed`] once the transaction has committed.
pub async fn record(
    conn: &impl ConnectionTrait,
    changes: &[AccessChange],
) -> AppResult<Vec<(i64, AccessChange)>> {
    let mut recorded = Vec::with_capacity(changes.len());
    for change in changes {
        let (kind, subject) = feed::to_row(change);
        let row = access_event::ActiveModel {
            kind: Set(kind),
            subject: Set(subject),
            at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        recorded.push((row.id, *change));
    }
    Ok(recorded)
}

/// The change a log row describes.
pub fn from_row(kind: AccessKind, subject: uuid::Uuid) -> AccessChange {
    match kind {
        AccessKind::SessionEnded => AccessChange::SessionEnded {
            session_id: subject,
        },
        AccessKind::AccountSessionsEnded => AccessChange::AccountSessionsEnded {
            account_id: subject,
        },
        AccessKind::MembershipChanged => AccessChange::MembershipChanged { user_id: subject },
        AccessKind::MembershipDeleted => AccessChange::MembershipDeleted { user_id: subject },
    }
}
