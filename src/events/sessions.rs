//! Live sessions by membership: a dashboard's socket or event stream ends as soon as its
//! membership is deleted, on every instance (the DELETED event reaches them all), rather than
//! living on until its access token expires.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The live sessions of this instance, by membership (user id).
#[derive(Default)]
pub struct LiveSessions {
    sessions: Mutex<HashMap<Uuid, HashMap<u64, CancellationToken>>>,
    next: AtomicU64,
}

impl LiveSessions {
    /// Registers a live session of `user_id` for as long as the returned watch lives.
    pub fn watch(self: &Arc<Self>, user_id: Uuid) -> Watch {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let ended = CancellationToken::new();
        self.lock()
            .entry(user_id)
            .or_default()
            .insert(id, ended.clone());
        Watch {
            sessions: self.clone(),
            user_id,
            id,
            ended,
        }
    }

    /// Ends every live session of `user_id`.
    pub fn end(&self, user_id: Uuid) {
        if let Some(sessions) = self.lock().remove(&user_id) {
            for ended in sessions.values() {
                ended.cancel();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, HashMap<u64, CancellationToken>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
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

impl Drop for Watch {
    fn drop(&mut self) {
        let mut sessions = self.sessions.lock();
        if let Some(of_user) = sessions.get_mut(&self.user_id) {
            of_user.remove(&self.id);
            if of_user.is_empty() {
                sessions.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_a_membership_ends_its_sessions_only() {
        let sessions = Arc::new(LiveSessions::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = sessions.watch(a);
        let second = sessions.watch(a);
        let other = sessions.watch(b);
        sessions.end(a);
        assert!(first.ended.is_cancelled() && second.ended.is_cancelled());
        assert!(!other.ended.is_cancelled());
        drop(other);
        assert!(sessions.lock().is_empty());
    }
}
