//! What this instance remembers about the sessions it has checked: for each (session, account,
//! membership) whether it is still live and with which scope. An entry is dropped the moment
//! an access change touches it, and re-read once it is older than the re-check interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::auth::principal::Scope;
use crate::domain::access::AccessChange;

/// Most sessions remembered; above it new ones are checked on every request until entries age out.
const CAPACITY: usize = 200_000;

/// What a session check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The session is live; the membership's scope as it is now (`None` for an unscoped token).
    Live(Option<Scope>),
    /// The session ended, or the membership is gone or can no longer sign in.
    Ended,
}

/// Which session, for which account and membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The session (refresh-token family).
    pub session_id: Uuid,
    /// The account the token names.
    pub account_id: Uuid,
    /// The membership the token is scoped to, if any.
    pub user_id: Option<Uuid>,
}

impl Key {
    fn touched_by(&self, change: &AccessChange) -> bool {
        change.touches(self.session_id, self.account_id, self.user_id)
    }
}

/// A remembered standing and when it was read.
struct Entry {
    standing: Standing,
    read_at: Instant,
}

/// A lookup's answer.
pub enum Lookup {
    /// Known and fresh.
    Fresh(Standing),
    /// Unknown, or older than the re-check interval (then with what it was).
    Stale(Option<Standing>),
}

/// The sessions this instance has checked.
pub struct Book {
    entries: Mutex<HashMap<Key, Entry>>,
    /// Bumped by every change applied: a read that began before a change is not remembered.
    generation: AtomicU64,
    /// How long a standing is trusted without a change arriving.
    recheck: Duration,
}

impl Book {
    /// An empty book trusting standings for `recheck`.
    pub fn new(recheck: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            recheck,
        }
    }

    /// The current generation; pass it to [`Book::remember`] with what was read after it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// What is known about `key`.
    pub fn lookup(&self, key: &Key) -> Lookup {
        let entries = self.lock();
        match entries.get(key) {
            Some(e) if e.read_at.elapsed() < self.recheck => Lookup::Fresh(e.standing.clone()),
            Some(e) => Lookup::Stale(Some(e.standing.clone())),
            None => Lookup::Stale(None),
        }
    }

    /// Remembers `standing`, read after `generation`, unless a change arrived meanwhile.
    pub fn remember(&self, key: Key, standing: Standing, generation: u64) {
        let mut entries = self.lock();
        // Checked under the lock that `apply` bumps under, so no change slips in between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            return;
        }
        entries.insert(
            key,
            Entry {
                standing,
                read_at: Instant::now(),
            },
        );
    }

    /// Forgets every entry `change` touches.
    pub fn apply(&self, change: &AccessChange) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|key, _| !key.touched_by(change));
    }

    /// Drops entries past their re-check time (they would be re-read anyway).
    pub fn prune(&self) {
        let recheck = self.recheck;
        self.lock().retain(|_, e| e.read_at.elapsed() < recheck);
    }

    /// Sessions remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single insert or retain), so a poisoned lock is taken over.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user_id: Option<Uuid>) -> Key {
        Key {
            session_id: Uuid::now_v7(),
            account_id: Uuid::now_v7(),
            user_id,
        }
    }

    #[test]
    fn a_remembered_standing_is_fresh_until_the_recheck_interval() {
        let book = Book::new(Duration::from_secs(60));
        let k = key(None);
        book.remember(k, Standing::Live(None), book.generation());
        assert!(matches!(
            book.lookup(&k),
            Lookup::Fresh(Standing::Live(None))
        ));
        let expired = Book::new(Duration::ZERO);
        expired.remember(k, Standing::Ended, expired.generation());
        assert!(matches!(
            expired.lookup(&k),
            Lookup::Stale(Some(Standing::Ended))
        ));
    }

    #[test]
    fn a_change_forgets_the_sessions_it_touches_and_keeps_the_others() {
        let book = Book::new(Duration::from_secs(60));
        let (a, b) = (key(Some(Uuid::now_v7())), key(Some(Uuid::now_v7())));
        for k in [a, b] {
            book.remember(k, Standing::Live(None), book.generation());
        }
        book.apply(&AccessChange::SessionEnded {
            session_id: a.session_id,
        });
        assert!(matches!(book.lookup(&a), Lookup::Stale(None)));
        assert!(matches!(book.lookup(&b), Lookup::Fresh(_)));
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_remembered() {
        let book = Book::new(Duration::from_secs(60));
        let k = key(None);
        let before = book.generation();
        book.apply(&AccessChange::AccountSessionsEnded {
            account_id: k.account_id,
        });
        book.remember(k, Standing::Live(None), before);
        assert!(matches!(book.lookup(&k), Lookup::Stale(None)));
    }
}
