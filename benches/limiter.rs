//! Credential attempt limiter throughput: attempts/s in-process with many keys, and through Redis.
//!
//! `cargo bench --bench limiter`. For each size in `LIMITER_KEYS` (default `10000,1000000`)
//! a fresh limiter has one window filled with that many distinct keys, then times
//! `LIMITER_ATTEMPTS` (default 200,000) attempts over keys already counted and as many over
//! keys never seen (beyond 250,000 keys the limiter is full, so each of those forgets
//! the oldest key), and prints the resident memory the filled limiter added per key. With
//! `REDIS_URL` set (loopback), 10,000 keys are counted in Redis one attempt at a time, then
//! once more with 64 attempts in flight; those keys expire a minute later.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lastmile::auth::limiter::Limiter;
use sha2::{Digest, Sha256};

/// The production window, so keys counted while filling stay counted while timing.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys counted in Redis: bounded, so the run stays short and its keys few.
const REDIS_KEYS: usize = 10_000;
/// Redis attempts sent at once in the second Redis pass.
const REDIS_IN_FLIGHT: usize = 64;
/// The Redis window: bench keys are gone a minute after the run.
const REDIS_WINDOW: Duration = Duration::from_secs(60);
/// Steps through existing keys out of insertion order; prime, so coprime with the sizes.
const STRIDE: usize = 7_919;

/// The limiter key of a sign-in attempt for bench user `i`.
fn key(i: usize) -> String {
    format!("password:user{i}@bench.test")
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Counts one attempt for each of `keys` in turn; returns attempts/s.
async fn run(limiter: &Limiter, keys: &[String]) -> f64 {
    let started = Instant::now();
    for key in keys {
        limiter.attempt(key).await.unwrap();
    }
    per_second(keys.len(), started.elapsed())
}

/// One in-process size: fill rate, attempts/s over existing and new keys, bytes per key.
struct LocalRow {
    keys: usize,
    fill: f64,
    existing: f64,
    new: f64,
    bytes_per_key: f64,
}

async fn local(keys: usize, attempts: usize) -> LocalRow {
    let limiter = Limiter::new(u32::MAX, WINDOW);
    let rss_before = rss_kib();
    let started = Instant::now();
    for i in 0..keys {
        limiter.attempt(&key(i)).await.unwrap();
    }
    let fill = per_second(keys, started.elapsed());
    let bytes_per_key = rss_kib().saturating_sub(rss_before) as f64 * 1024.0 / keys as f64;
    let existing: Vec<String> = (0..attempts).map(|i| key(i * STRIDE % keys)).collect();
    let existing = run(&limiter, &existing).await;
    let new: Vec<String> = (0..attempts).map(|i| key(keys + i)).collect();
    let new = run(&limiter, &new).await;
    LocalRow {
        keys,
        fill,
        existing,
        new,
        bytes_per_key,
    }
}

/// Redis: attempts/s one at a time (each key's first attempt) and with many in flight (its
/// second), after checking the counts really are in Redis and expire.
async fn shared(url: &str) -> (f64, f64) {
    let client = redis::Client::open(url).unwrap();
    let namespace = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let limiter = Limiter::new(u32::MAX, REDIS_WINDOW).shared(client.clone(), &namespace);
    let keys: Vec<String> = (0..REDIS_KEYS).map(key).collect();
    let sequential = run(&limiter, &keys).await;
    let started = Instant::now();
    futures_util::stream::iter(&keys)
        .for_each_concurrent(REDIS_IN_FLIGHT, |key| {
            let limiter = &limiter;
            async move { limiter.attempt(key).await.unwrap() }
        })
        .await;
    let in_flight = per_second(keys.len(), started.elapsed());
    // A limiter that lost Redis counts locally without failing; make sure it did not.
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for key in [&keys[0], &keys[REDIS_KEYS - 1]] {
        let name = format!(
            "{namespace}:attempts:{}",
            hex::encode(Sha256::digest(key.as_bytes()))
        );
        let (count, ttl): (u64, i64) = redis::pipe()
            .get(&name)
            .pttl(&name)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(count, 2, "{name} counted in Redis");
        assert!(ttl > 0, "{name} expires");
    }
    (sequential, in_flight)
}

fn sizes() -> Vec<usize> {
    std::env::var("LIMITER_KEYS")
        .unwrap_or_else(|_| "10000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect()
}

#[tokio::main]
async fn main() {
    let attempts = std::env::var("LIMITER_ATTEMPTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    println!(
        "in-process, one {}-minute window, {attempts} attempts timed per column",
        WINDOW.as_secs() / 60
    );
    println!(
        "{:>10} {:>14} {:>16} {:>14} {:>14}",
        "keys", "fill/s", "existing keys/s", "new keys/s", "RSS/key"
    );
    for keys in sizes() {
        let row = local(keys, attempts).await;
        println!(
            "{:>10} {:>14.0} {:>16.0} {:>14.0} {:>12.0} B",
            row.keys, row.fill, row.existing, row.new, row.bytes_per_key
        );
    }
    match std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let (sequential, in_flight) = shared(&url).await;
            println!("\nRedis, {REDIS_KEYS} keys, {REDIS_KEYS} attempts timed per column");
            println!(
                "{:>10} {:>16} {:>16}",
                "keys",
                "one at a time/s",
                format!("{REDIS_IN_FLIGHT} in flight/s")
            );
            println!("{REDIS_KEYS:>10} {sequential:>16.0} {in_flight:>16.0}");
        }
        None => println!("\nREDIS_URL not set: Redis not measured"),
    }
}
