//! A fixed-window attempt limiter for credential checks (sign-in, password reset, invitation
//! and reset tokens): brute force meets RATE_LIMITED long before it meets a password.
//!
//! With Redis configured the count is shared by every instance (one key per credential, named
//! by its hash, expiring with its window), so adding instances does not multiply the budget.
//! Without Redis, or while Redis does not answer, each instance counts on its own, in constant
//! time per attempt and for at most [`LOCAL_CAPACITY`] keys, each held as a hash.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// How long one Redis round trip may take before this instance counts on its own.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// The most keys one instance counts for at once (see [`Limiter::with_capacity`]). Beyond it
/// the oldest window is forgotten, so a flood of distinct keys costs bounded memory, about
/// 120 bytes per key (30 MB when full), instead of growing without end: a quarter of a million
/// windows is far beyond the honest traffic of one instance.
pub const LOCAL_CAPACITY: usize = 250_000;

/// The most expired windows one attempt drops. More than one, so that a backlog shrinks
/// (an attempt opens at most one window); few, so that no attempt pays for a whole burst
/// expiring at once while every other attempt waits on the lock.
const EXPIRED_PER_ATTEMPT: usize = 8;

/// Counts attempts per key in fixed windows.
#[derive(Clone)]
pub struct Limiter {
    /// This instance's counts: the only ones without Redis, the fallback while it is away.
    local: Local,
    /// The counts every instance shares, when Redis is configured.
    shared: Option<Arc<Shared>>,
    /// Attempts allowed per key per window.
    max: u32,
    /// The length of every window.
    window: Duration,
}

impl Limiter {
    /// At most `max` attempts per key per `window`, counted by this instance for up to
    /// [`LOCAL_CAPACITY`] keys.
    pub fn new(max: u32, window: Duration) -> Self {
        Self::with_capacity(max, window, LOCAL_CAPACITY)
    }

    /// Like [`Limiter::new`], counting locally for at most `capacity` keys (at least one):
    /// when full, the key whose window started first is forgotten and starts afresh. A window
    /// ended early by a reset keeps its place until it would have run out.
    pub fn with_capacity(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            local: Local::new(capacity),
            shared: None,
            max,
            window,
        }
    }

    /// The same budget counted in Redis for every instance using `namespace`.
    pub fn shared(mut self, client: redis::Client, namespace: &str) -> Self {
        self.shared = Some(Arc::new(Shared {
            client,
            connection: tokio::sync::Mutex::new(None),
            prefix: format!("{namespace}:attempts:"),
        }));
        self
    }

    /// Counts one attempt for `key`; RATE_LIMITED once the window's budget is spent.
    pub async fn attempt(&self, key: &str) -> AppResult<()> {
        let counted = match &self.shared {
            Some(shared) => match shared.count(key, self.window).await {
                Ok(counted) => Some(counted),
                Err(error) => {
                    tracing::warn!(%error, "attempt limiter: Redis unavailable, counting locally");
                    None
                }
            },
            None => None,
        };
        let (attempts, left) =
            counted.unwrap_or_else(|| self.local.count(key, self.window, Instant::now()));
        if attempts > u64::from(self.max) {
            return Err(AppError::RateLimited(format!(
                "too many attempts; try again in {} seconds",
                left.as_secs().max(1)
            )));
        }
        Ok(())
    }

    /// Forgets `key` (after a success).
    pub async fn reset(&self, key: &str) {
        self.local.reset(key);
        if let Some(shared) = &self.shared
            && let Err(error) = shared.reset(key).await
        {
            tracing::warn!(%error, "attempt limiter: could not reset a shared count");
        }
    }
}

/// This instance's counts, behind one lock shared by its clones.
#[derive(Clone)]
struct Local(Arc<Mutex<Counts>>);

impl Local {
    fn new(capacity: usize) -> Self {
        Self(Arc::new(Mutex::new(Counts::new(capacity))))
    }

    /// Counts an attempt; returns the attempts in the current window and the time it has left.
    fn count(&self, key: &str, window: Duration, now: Instant) -> (u64, Duration) {
        // Hashed before taking the lock, so concurrent attempts wait only for the table.
        let key = key_hash(key);
        self.lock().count(key, window, now)
    }

    fn reset(&self, key: &str) {
        let key = key_hash(key);
        self.lock().reset(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic cannot leave `Counts` half-updated in a way that matters to a limiter.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key of a local count: the first 16 bytes of the SHA-256 of the limiter key, so every
/// entry has the same small size and no email address is held in memory.
type KeyHash = [u8; 16];

fn key_hash(key: &str) -> KeyHash {
    let mut hash = KeyHash::default();
    hash.copy_from_slice(&Sha256::digest(key)[..16]);
    hash
}

/// One key's current window.
#[derive(Clone, Copy)]
struct Window {
    /// The first attempt of the window.
    start: Instant,
    /// Attempts counted since `start`.
    attempts: u64,
}

/// Windows by key, and the order in which they started.
///
/// Every window has the same length, so windows expire in the order they started: the
/// oldest sits at the front of `starts`, and each attempt drops a few expired ones from there
/// instead of scanning the table. Each attempt adds at most one pair, so the work per attempt
/// is constant and the table never holds more than `capacity` windows.
struct Counts {
    /// The current window of each key. SipHash with a random seed (the std default), because
    /// the key hashes are chosen by whoever sends the attempts.
    windows: HashMap<KeyHash, Window>,
    /// (key, window start) for every window opened, oldest first. A pair is stale once its
    /// key was reset or opened a newer window; a stale pair only ever removes nothing.
    starts: VecDeque<(KeyHash, Instant)>,
    /// The most pairs `starts` holds; `windows` never holds more entries than `starts`.
    capacity: usize,
}

impl Counts {
    fn new(capacity: usize) -> Self {
        Self {
            windows: HashMap::new(),
            starts: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn count(&mut self, key: KeyHash, window: Duration, now: Instant) -> (u64, Duration) {
        self.drop_expired(window, now);
        if let Some(current) = self.windows.get_mut(&key) {
            let elapsed = now.saturating_duration_since(current.start);
            if elapsed < window {
                current.attempts += 1;
                return (current.attempts, window - elapsed);
            }
        }
        self.open(key, now);
        (1, window)
    }

    fn reset(&mut self, key: KeyHash) {
        // Its pair stays in `starts` and, being stale by then, removes nothing when it leaves.
        self.windows.remove(&key);
    }

    /// Drops up to [`EXPIRED_PER_ATTEMPT`] windows that have run out, oldest first.
    fn drop_expired(&mut self, window: Duration, now: Instant) {
        for _ in 0..EXPIRED_PER_ATTEMPT {
            let Some(&(key, start)) = self.starts.front() else {
                return;
            };
            if now.saturating_duration_since(start) < window {
                return;
            }
            self.starts.pop_front();
            self.forget(key, start);
        }
    }

    /// Opens a window for `key` at `now`; when full, the oldest window makes room.
    fn open(&mut self, key: KeyHash, now: Instant) {
        while self.starts.len() >= self.capacity {
            let Some((oldest, start)) = self.starts.pop_front() else {
                break;
            };
            self.forget(oldest, start);
        }
        self.starts.push_back((key, now));
        self.windows.insert(
            key,
            Window {
                start: now,
                attempts: 1,
            },
        );
    }

    /// Removes `key`'s window only if it is the one that started at `start`: the pair of a
    /// window that was reset, or that restarted, must not remove the window opened after it.
    fn forget(&mut self, key: KeyHash, start: Instant) {
        if let Entry::Occupied(current) = self.windows.entry(key)
            && current.get().start == start
        {
            current.remove();
        }
    }
}

/// Counts kept in Redis: one key per credential and window, so each attempt is one round trip
/// of constant work, and every key expires with its window.
struct Shared {
    /// Where to connect.
    client: redis::Client,
    /// The open connection, if any; cleared after a failure so the next attempt reconnects.
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// `{namespace}:attempts:`, before each key's hash.
    prefix: String,
}

impl Shared {
    /// The Redis key of `key`: hashed, so no email address is written to Redis.
    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, hex::encode(Sha256::digest(key)))
    }

    async fn connection(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await??;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `pipe`; a failed connection is dropped so the next call reconnects.
    async fn run<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> anyhow::Result<T> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            failed => {
                *self.connection.lock().await = None;
                match failed {
                    Ok(Err(e)) => Err(e.into()),
                    _ => Err(anyhow::anyhow!("Redis did not answer in time")),
                }
            }
        }
    }

    /// Counts an attempt: the window starts with the first attempt and the key expires with it.
    async fn count(&self, key: &str, window: Duration) -> anyhow::Result<(u64, Duration)> {
        let key = self.key(key);
        // The window is minutes long; u64 milliseconds would last 584 million years.
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("NX")
            .arg("PX")
            .arg(window_ms)
            .ignore()
            .incr(&key, 1)
            .pttl(&key);
        let (attempts, left_ms): (u64, i64) = self.run(&pipe).await?;
        match u64::try_from(left_ms) {
            Ok(left_ms) => Ok((attempts, Duration::from_millis(left_ms))),
            Err(_) => {
                self.expire(&key, window_ms).await?;
                Ok((attempts, window))
            }
        }
    }

    /// Gives a key found without an expiry one, so that it cannot count (and stay) forever.
    /// INCR creates such a key when the previous window expires between SET NX and INCR on a
    /// server that checks expiry per command within a transaction.
    async fn expire(&self, key: &str, window_ms: u64) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("PEXPIRE").arg(key).arg(window_ms).ignore();
        self.run::<()>(&pipe).await
    }

    async fn reset(&self, key: &str) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.del(self.key(key)).ignore();
        self.run::<()>(&pipe).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn len(local: &Local) -> (usize, usize) {
        let counts = local.lock();
        (counts.windows.len(), counts.starts.len())
    }

    #[tokio::test]
    async fn attempts_beyond_the_budget_are_rate_limited_until_reset() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.attempt("a").await.is_ok());
        }
        assert!(matches!(
            limiter.attempt("a").await,
            Err(AppError::RateLimited(_))
        ));
        assert!(limiter.attempt("b").await.is_ok());
        limiter.reset("a").await;
        assert!(limiter.attempt("a").await.is_ok());
    }

    #[test]
    fn a_local_window_starts_again_once_it_has_passed() {
        let local = Local::new(LOCAL_CAPACITY);
        let start = Instant::now();
        assert_eq!(local.count("a", WINDOW, start).0, 1);
        assert_eq!(local.count("a", WINDOW, start).0, 2);
        let (attempts, left) = local.count("a", WINDOW, start + WINDOW);
        assert_eq!((attempts, left), (1, WINDOW));
    }

    #[test]
    fn attempts_stay_counted_until_the_last_moment_of_their_window() {
        let local = Local::new(LOCAL_CAPACITY);
        let start = Instant::now();
        for second in 0..10 {
            local.count("a", WINDOW, start + Duration::from_secs(second));
        }
        // Other keys coming and going do not disturb a key whose window is still open.
        for i in 0..100 {
            local.count(
                &format!("other {i}"),
                WINDOW,
                start + Duration::from_secs(30),
            );
        }
        let last = start + WINDOW - Duration::from_millis(1);
        assert_eq!(
            local.count("a", WINDOW, last),
            (11, Duration::from_millis(1))
        );
    }

    #[test]
    fn expired_windows_leave_memory_as_later_attempts_arrive() {
        let local = Local::new(LOCAL_CAPACITY);
        let start = Instant::now();
        for i in 0..20 {
            local.count(&format!("early {i}"), WINDOW, start);
        }
        assert_eq!(len(&local), (20, 20));
        let later = start + WINDOW;
        for i in 0..3 {
            local.count(&format!("late {i}"), WINDOW, later);
        }
        // Each of the three attempts dropped up to EXPIRED_PER_ATTEMPT expired windows.
        assert_eq!(len(&local), (3, 3));
    }

    #[test]
    fn a_full_limiter_forgets_the_oldest_window_first() {
        let local = Local::new(3);
        let start = Instant::now();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            local.count(key, WINDOW, start + Duration::from_secs(i as u64));
        }
        local.count("d", WINDOW, start + Duration::from_secs(3));
        assert_eq!(len(&local), (3, 3));
        let now = start + Duration::from_secs(4);
        assert_eq!(local.count("b", WINDOW, now).0, 2);
        // "a" was forgotten to make room for "d". Counting it again forgets "b", whose window
        // is now the oldest although "b" was just attempted.
        assert_eq!(local.count("a", WINDOW, now).0, 1);
        assert_eq!(local.count("c", WINDOW, now).0, 2);
        assert_eq!(local.count("b", WINDOW, now).0, 1);
        assert_eq!(len(&local), (3, 3));
    }

    #[test]
    fn a_window_opened_after_a_reset_outlives_the_pair_of_the_window_before() {
        let local = Local::new(LOCAL_CAPACITY);
        let start = Instant::now();
        local.count("a", WINDOW, start);
        local.reset("a");
        let reopened = start + Duration::from_secs(30);
        local.count("a", WINDOW, reopened);
        // The pair of the reset window leaves now, and must leave the new window alone.
        local.count("b", WINDOW, start + WINDOW);
        let (attempts, left) = local.count("a", WINDOW, start + WINDOW);
        assert_eq!((attempts, left), (2, Duration::from_secs(30)));
    }

    #[test]
    fn a_restarted_window_outlives_the_pair_of_the_window_before() {
        let local = Local::new(LOCAL_CAPACITY);
        let start = Instant::now();
        // Enough expired pairs ahead of "a" that restarting "a" does not reach its old pair.
        for i in 0..EXPIRED_PER_ATTEMPT {
            local.count(&format!("early {i}"), WINDOW, start);
        }
        local.count("a", WINDOW, start);
        let restarted = start + WINDOW;
        assert_eq!(local.count("a", WINDOW, restarted).0, 1);
        let then = restarted + Duration::from_secs(1);
        let (attempts, left) = local.count("a", WINDOW, then);
        assert_eq!((attempts, left), (2, WINDOW - Duration::from_secs(1)));
        assert_eq!(len(&local), (1, 1));
    }

    #[tokio::test]
    async fn a_shared_count_found_without_an_expiry_is_given_one() {
        let Some(url) = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) else {
            eprintln!("REDIS_URL not set: the shared count needs Redis");
            return;
        };
        let client = redis::Client::open(url).unwrap();
        let namespace = format!("test-{}", uuid::Uuid::now_v7().simple());
        let limiter = Limiter::new(3, WINDOW).shared(client.clone(), &namespace);
        let shared = limiter.shared.as_ref().unwrap();
        let key = shared.key("a");
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("SET")
            .arg(&key)
            .arg(5)
            .exec_async(&mut connection)
            .await
            .unwrap();
        let (attempts, left) = shared.count("a", WINDOW).await.unwrap();
        assert_eq!((attempts, left), (6, WINDOW));
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "PTTL {ttl}");
        limiter.reset("a").await;
    }
}
