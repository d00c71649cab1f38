//! A fixed-window attempt limiter for credential checks (sign-in, password reset, invitation
//! and reset tokens): brute force meets RATE_LIMITED long before it meets a password.
//! Per instance; with several instances the effective limit is that many times higher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};

/// Counts attempts per key in fixed windows.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Mutex<HashMap<String, (Instant, u32)>>>,
    max: u32,
    window: Duration,
}

impl Limiter {
    /// At most `max` attempts per key per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            max,
            window,
        }
    }

    /// Counts one attempt for `key`; RATE_LIMITED once the window's budget is spent.
    pub fn attempt(&self, key: &str) -> AppResult<()> {
        let now = Instant::now();
        let mut map = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.max {
            let wait = self
                .window
                .saturating_sub(now.duration_since(entry.0))
                .as_secs()
                .max(1);
            return Err(AppError::RateLimited(format!(
                "too many attempts; try again in {wait} seconds"
            )));
        }
        Ok(())
    }

    /// Forgets `key` (after a success).
    pub fn reset(&self, key: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_beyond_the_budget_are_rate_limited_until_reset() {
        let limiter = Limiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.attempt("a").is_ok());
        }
        assert!(matches!(
            limiter.attempt("a"),
            Err(AppError::RateLimited(_))
        ));
        assert!(limiter.attempt("b").is_ok());
        limiter.reset("a");
        assert!(limiter.attempt("a").is_ok());
    }
}
