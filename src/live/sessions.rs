//! Live sessions by membership: a dashboard's socket or event stream ends as soon as its
//! session ends or its membership is deleted or changed, on every instance (each follows its
//! hub's membership changes and the session authority's access changes), or, as the safety
//! net, once the periodic check ([`super::recheck`]) finds its membership changed, rather than
//! living on until its access token expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::access::Access;
use crate::auth::Auth;
use crate::auth::principal::Scope;
use crate::db::Db;
use crate::domain::AccessChange;
use crate::events::EventHub;
use crate::events::hub::MembershipChange;

/// One live session: the scope it was opened with, and how to end it.
struct Session {
    scope: Scope,
    /// The session (refresh-token family) and account of the token it was opened with.
    origin: (Uuid, Uuid),
    ended: CancellationToken,
}

/// The live sessions of this instance, by membership (user id).
#[derive(Default)]
pub struct LiveSessions {
    sessions: Mutex<HashMap<Uuid, HashMap<u64, Session>>>,
    next: AtomicU64,
}

impl LiveSessions {
    /// Registers a live session opened with `scope` for as long as the returned watch lives.
    pub fn watch(self: &Arc<Self>, scope: Scope) -> Watch {
        self.watch_from(scope, (Uuid::nil(), Uuid::nil()))
    }

    /// Registers a live session opened with `scope` by a token of `origin` (session, account).
    pub fn watch_from(self: &Arc<Self>, scope: Scope, origin: (Uuid, Uuid)) -> Watch {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let ended = CancellationToken::new();
        let user_id = scope.user_id;
        self.lock().entry(user_id).or_default().insert(
            id,
            Session {
                scope,
                origin,
                ended: ended.clone(),
            },
        );
        Watch {
            sessions: self.clone(),
            user_id,
            id,
            ended,
        }
    }

    /// Ends every live session of `user_id`.
    pub fn end(&self, user_id: Uuid) {
        self.end_unless(user_id, None);
    }

    /// Ends the sessions of `user_id` not opened with `current` (all of them when `None`).
    pub fn end_unless(&self, user_id: Uuid, current: Option<&Scope>) {
        self.retain(user_id, |_, session| {
            let keep = current.is_some_and(|c| *c == session.scope);
            if !keep {
                session.ended.cancel();
            }
            keep
        });
    }

    /// Ends every live session whose token's (session, account) `ends` accepts.
    pub fn end_origins(&self, ends: impl Fn(Uuid, Uuid) -> bool) {
        let mut sessions = self.lock();
        for of_user in sessions.values_mut() {
            of_user.retain(|_, s| {
                let end = ends(s.origin.0, s.origin.1);
                if end {
                    s.ended.cancel();
                }
                !end
            });
        }
        sessions.retain(|_, of_user| !of_user.is_empty());
    }

    /// Keeps the sessions of `user_id` that `keep` accepts, forgetting the membership once none is left.
    fn retain(&self, user_id: Uuid, keep: impl FnMut(&u64, &mut Session) -> bool) {
        let mut sessions = self.lock();
        if let Some(of_user) = sessions.get_mut(&user_id) {
            of_user.retain(keep);
            if of_user.is_empty() {
                sessions.remove(&user_id);
            }
        }
    }

    /// Forgets live session `id` of `user_id`, and the membership once none is left: one
    /// lookup, however many sessions the membership holds (a wall of dashboards on one account
    /// closing at once would otherwise cost the square of their number).
    fn forget(&self, user_id: Uuid, id: u64) {
        let mut sessions = self.lock();
        if let Some(of_user) = sessions.get_mut(&user_id) {
            of_user.remove(&id);
            if of_user.is_empty() {
                sessions.remove(&user_id);
            }
        }
    }

    /// The memberships with a live session.
    pub fn members(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, HashMap<u64, Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Ends the sessions of every membership the hub reports DELETED, until `stop`. Events missed
/// by falling behind are caught by the periodic re-check.
pub async fn follow(sessions: Arc<LiveSessions>, hub: EventHub, stop: CancellationToken) {
    let mut changes = hub.memberships();
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = changes.recv() => received,
        };
        match received {
            Ok(MembershipChange::Deleted(user_id)) => sessions.end(user_id),
            Err(RecvError::Lagged(skipped)) => {
                tracing::warn!(
                    skipped,
                    "live sessions fell behind the event hub; the re-check covers it"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// One registered session; unregistered when dropped.
pub struct Watch {
    sessions: Arc<LiveSessions>,
    user_id: Uuid,
    id: u64,
    /// Cancelled when the membership is deleted.
    pub ended: CancellationToken,
}

impl Watch {
    /// Registers the live session `auth` opens, when it speaks for a membership.
    pub fn of(sessions: &Arc<LiveSessions>, auth: &Auth) -> Option<Self> {
        match auth {
            Auth::Signed(principal) => principal.scope.as_ref().map(|scope| {
                sessions.watch_from(scope.clone(), (principal.session_id, principal.account_id))
            }),
            _ => None,
        }
    }

    /// Waits until `watch`'s session is ended; forever without one.
    pub async fn ended(watch: Option<&Self>) {
        match watch {
            Some(watch) => watch.ended.cancelled().await,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.sessions.forget(self.user_id, self.id);
    }
}

/// Ends this instance's live sessions (sockets, event streams) as changes arrive, until `stop`:
/// those of an ended session or account at once, those of a deleted membership at once, and
/// those of a changed membership unless they were opened with its current scope.
pub async fn follow_access(
    access: Access,
    sessions: Arc<LiveSessions>,
    db: Db,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut changes = access.subscribe();
    loop {
        let change = tokio::select! {
            _ = stop.cancelled() => return,
            change = changes.recv() => change,
        };
        match change {
            Ok(AccessChange::SessionEnded { session_id }) => {
                sessions.end_origins(|s, _| s == session_id)
            }
            Ok(AccessChange::AccountSessionsEnded { account_id }) => {
                sessions.end_origins(|_, a| a == account_id)
            }
            Ok(AccessChange::MembershipDeleted { user_id }) => sessions.end(user_id),
            Ok(AccessChange::MembershipChanged { user_id }) => {
                match crate::service::account::current_scopes(&db.conn, &[user_id]).await {
                    Ok(current) => sessions.end_unless(user_id, current.get(&user_id)),
                    Err(error) => {
                        tracing::warn!(?error, "could not re-read a changed membership");
                        sessions.end(user_id);
                    }
                }
            }
            // Too many changes at once: every live session reconnects and is checked anew.
            Err(RecvError::Lagged(_)) => sessions.end_origins(|_, _| true),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Roles;

    fn scope(user_id: Uuid, dispatcher: bool) -> Scope {
        Scope {
            organization_id: Uuid::nil(),
            user_id,
            roles: Roles {
                dispatcher,
                ..Roles::default()
            },
        }
    }

    #[test]
    fn ending_a_membership_ends_its_sessions_only() {
        let sessions = Arc::new(LiveSessions::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = sessions.watch(scope(a, true));
        let second = sessions.watch(scope(a, true));
        let other = sessions.watch(scope(b, true));
        sessions.end(a);
        assert!(first.ended.is_cancelled() && second.ended.is_cancelled());
        assert!(!other.ended.is_cancelled());
        drop(other);
        assert!(sessions.lock().is_empty());
    }

    #[test]
    fn a_closed_session_is_forgotten_alone_and_the_membership_with_its_last() {
        let sessions = Arc::new(LiveSessions::default());
        let user = Uuid::now_v7();
        let mut open: Vec<Watch> = (0..3).map(|_| sessions.watch(scope(user, true))).collect();
        drop(open.remove(1));
        assert_eq!(sessions.lock()[&user].len(), 2);
        sessions.end(user);
        assert!(open.iter().all(|w| w.ended.is_cancelled()));
        let again = sessions.watch(scope(user, true));
        drop(open);
        assert_eq!(sessions.members(), vec![user]);
        drop(again);
        assert!(sessions.lock().is_empty());
    }

    #[test]
    fn sessions_opened_with_other_roles_than_the_current_ones_end() {
        let sessions = Arc::new(LiveSessions::default());
        let a = Uuid::now_v7();
        let stale = sessions.watch(scope(a, true));
        let current = sessions.watch(scope(a, false));
        sessions.end_unless(a, Some(&scope(a, false)));
        assert!(stale.ended.is_cancelled());
        assert!(!current.ended.is_cancelled());
        assert_eq!(sessions.members(), vec![a]);
    }
}
