//! A fixed-window attempt limiter for credential checks (sign-in, password reset, invitation
//! and reset tokens): brute force meets RATE_LIMITED long before it meets a password.
//!
//! With Redis configured the count is shared by every instance (one key per credential, named
//! by its hash, expiring with its window), so adding instances does not multiply the budget.
//! Without Redis, or while Redis does not answer, each instance counts on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// How long one Redis round trip may take before this instance counts on its own.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Counts attempts per key in fixed windows.
#[derive(Clone)]
pub struct Limiter {
    local: Local,
    shared: Option<Arc<Shared>>,
    max: u32,
    window: Duration,
}

impl Limiter {
    /// At most `max` attempts per key per `window`, counted by this instance.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            local: Local::default(),
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

/// This instance's counts.
#[derive(Clone, Default)]
struct Local(Arc<Mutex<HashMap<String, (Instant, u64)>>>);

impl Local {
    /// Counts an attempt; returns the attempts in the current window and the time it has left.
    fn count(&self, key: &str, window: Duration, now: Instant) -> (u64, Duration) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1, window.saturating_sub(now.duration_since(entry.0)))
    }

    fn reset(&self, key: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// Counts kept in Redis.
struct Shared {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
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
        Ok((
            attempts,
            Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)),
        ))
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
        let local = Local::default();
        let start = Instant::now();
        let window = Duration::from_secs(60);
        assert_eq!(local.count("a", window, start).0, 1);
        assert_eq!(local.count("a", window, start).0, 2);
        let (attempts, left) = local.count("a", window, start + window);
        assert_eq!((attempts, left), (1, window));
    }
}
