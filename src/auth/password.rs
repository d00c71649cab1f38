//! argon2id password hashing, off the async runtime and bounded: at most a fixed number of
//! hashes run at once (about one per core), each in a memory buffer kept for reuse, so a
//! flood of sign-ins costs a fixed amount of memory and CPU and the rest are told to retry.
//!
//! Each hash needs 19 MiB. Allocated per hash, that memory was returned to the allocator but
//! rarely to the system, so a burst left the process large for good. During a burst the
//! buffers are reused (one per slot, so the footprint is `slots × 19 MiB` whatever the load);
//! when the last hash of a burst ends they are freed and the allocator is asked to give free
//! memory back to the system (glibc keeps it otherwise), so an idle gateway is small again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// A hash verified when the account does not exist, so both paths cost the same.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2qpEWCbdJ9RjYMuX6CNbHgH9A8b8h6dWbFxD1Xt6XjM";

/// The password hasher of one gateway.
#[derive(Clone)]
pub struct Hasher {
    slots: Arc<Semaphore>,
    /// How long a credential operation waits for a slot before it is told to retry.
    wait: Duration,
    /// Buffers of the default cost, one per slot once they have been used.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Hashes running now.
    running: Arc<std::sync::atomic::AtomicUsize>,
    metrics: crate::metrics::Metrics,
}

impl Hasher {
    /// At most `slots` hashes at once; callers wait at most `wait` for one.
    pub fn new(slots: usize, wait: Duration, metrics: crate::metrics::Metrics) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
            buffers: Arc::default(),
            running: Arc::default(),
            metrics,
        }
    }

    /// Hashes `password` with argon2id and a random salt.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move |memory| hash_with(&password, memory)).await
    }

    /// Checks `password` against `stored` (or a dummy hash when there is none); constant time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
        self.run(move |memory| {
            let exists = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            Ok(verify_with(&password, &stored, memory)? && exists)
        })
        .await
    }

    /// Runs `work` on the blocking pool in a slot, with a buffer from the pool.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> AppResult<T> {
        let permit = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                self.metrics.hashing_busy();
                return Err(AppError::RateLimited(
                    "the server is busy checking passwords; try again in 1 second".into(),
                ));
            }
        };
        let (buffers, running) = (self.buffers.clone(), self.running.clone());
        let result = tokio::task::spawn_blocking(move || {
            use std::sync::atomic::Ordering;
            running.fetch_add(1, Ordering::AcqRel);
            let mut memory = take(&buffers);
            let result = work(&mut memory);
            give_back(&buffers, memory);
            if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                release(&buffers);
            }
            drop(permit);
            result
        })
        .await
        .context("Failed to join the hashing task")?;
        Ok(result?)
    }
}

// The pool is a plain `Vec` of spare buffers: a poisoned lock still holds a usable one.
fn take(buffers: &Mutex<Vec<Vec<Block>>>) -> Vec<Block> {
    // An empty pool: an empty buffer, which `blocks` sizes.
    buffers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default()
}

fn give_back(buffers: &Mutex<Vec<Vec<Block>>>, memory: Vec<Block>) {
    // Only buffers of the default cost are kept: a stored hash with other parameters
    // (an older cost) gets a buffer of its own, freed afterwards.
    if memory.len() == Params::DEFAULT.block_count() {
        buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
    }
}

/// The burst is over: its buffers go, and so does the free memory the allocator holds.
fn release(buffers: &Mutex<Vec<Vec<Block>>>) {
    buffers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    crate::memory::give_back_to_system();
}

/// Resizes `memory` to the blocks `params` need.
fn blocks<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    let needed = params.block_count();
    if memory.len() != needed {
        *memory = vec![Block::default(); needed];
    }
    memory.as_mut_slice()
}

fn hash_with(password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let params = Params::DEFAULT;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("Failed to decode a salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            blocks(memory, &params),
        )
        .map_err(|e| anyhow::anyhow!("Failed to hash a password: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| anyhow::anyhow!("Failed to encode hash parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("Bad hash output: {e}"))?),
    };
    Ok(hash.to_string())
}

fn verify_with(password: &str, stored: &str, memory: &mut Vec<Block>) -> anyhow::Result<bool> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("Stored hash unreadable: {e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("Stored hash has no salt or no output");
    };
    let algorithm = Algorithm::try_from(parsed.algorithm)
        .map_err(|e| anyhow::anyhow!("Stored hash algorithm unknown: {e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("Stored hash version unknown: {e}"))?
        // No `v=`: the current version 0x13, as the argon2 crate reads such a hash.
        .unwrap_or_default();
    let params = Params::try_from(&parsed)
        .map_err(|e| anyhow::anyhow!("Stored hash parameters unreadable: {e}"))?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("Stored salt unreadable: {e}"))?;
    let mut out = vec![0u8; expected.len()];
    if argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            blocks(memory, &params),
        )
        .is_err()
    {
        return Ok(false);
    }
    // `Output` compares in constant time.
    Ok(Output::new(&out).is_ok_and(|computed| computed == expected))
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    fn hasher(slots: usize) -> Hasher {
        Hasher::new(
            slots,
            Duration::from_millis(200),
            crate::metrics::Metrics::default(),
        )
    }

    #[tokio::test]
    async fn a_hash_verifies_with_its_password_only() {
        let hasher = hasher(2);
        let hash = hasher.hash("correct horse".into()).await.expect("hashes");
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .expect("runs")
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(hash))
                .await
                .expect("runs")
        );
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_other_libraries_verify() {
        let hash = hasher(1).hash("pw-12345678".into()).await.expect("hashes");
        let parsed = PasswordHash::new(&hash).expect("parses");
        assert!(
            Argon2::default()
                .verify_password(b"pw-12345678", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_missing_account_never_verifies() {
        assert!(!hasher(1).verify("x".into(), None).await.expect("runs"));
    }

    #[tokio::test]
    async fn buffers_are_reused_during_a_burst_and_freed_after_it() {
        // Every caller of the burst waits its turn however slow the machine is.
        let hasher = Hasher::new(
            2,
            Duration::from_secs(120),
            crate::metrics::Metrics::default(),
        );
        let burst = (0..6).map(|_| hasher.hash("pw".into()));
        for hashed in futures_util::future::join_all(burst).await {
            hashed.expect("hashes");
        }
        let kept = hasher.buffers.lock().expect("lock").len();
        assert_eq!(kept, 0, "{kept} buffers kept by an idle hasher");
    }

    #[tokio::test]
    async fn a_caller_that_finds_every_slot_busy_is_rate_limited() {
        let hasher = hasher(1);
        let held = hasher.slots.clone().acquire_owned().await.expect("slot");
        let refused = hasher.hash("pw".into()).await;
        assert!(matches!(refused, Err(AppError::RateLimited(_))));
        drop(held);
        assert!(hasher.hash("pw".into()).await.is_ok());
    }
}
