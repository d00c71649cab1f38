//! The floor under fan-out: what one delivery costs when nothing of the gateway is in the way.
//! One thread writes a frame the size of a `statusChanged` delivery to each of N loopback TCP
//! connections with plain blocking writes, a round at a time as events arrive; readers drain
//! the other ends. It prints the writing thread's CPU per write, user and kernel apart: the
//! kernel's share of the gateway's figure in `fanout` cannot go below this one's.
//!
//! `FLOOR_CONNECTIONS=1000,5000,19000 cargo bench --bench fanout_floor` (each connection is one
//! socket on each side, in this one process: mind the open-files limit). Loopback only;
//! bounded in count and time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use common::stat_cpu_ms;

/// CPU time the calling thread has used, user and kernel apart, in milliseconds.
fn thread_cpu_ms() -> (u64, u64) {
    stat_cpu_ms("/proc/thread-self/stat")
}

/// CPU time this process has used, user and kernel together, in milliseconds.
fn process_cpu_ms() -> u64 {
    let (user, kernel) = stat_cpu_ms("/proc/self/stat");
    user + kernel
}

/// Rounds of writes (one per event) per size.
const ROUNDS: usize = 20;
/// Pause between rounds, as between the events of `fanout`.
const SPACING: Duration = Duration::from_millis(250);

/// A delivery as `fanout` receives it: a WebSocket text frame header and its message.
fn frame() -> Vec<u8> {
    let message = br#"{"id":"1","type":"next","payload":{"data":{"statusChanged":{"cursor":"1234","at":"2026-12-03T10:00:00.123456Z","kind":"DRIVER_DEACTIVATED"}}}}"#;
    let mut frame = vec![0x81, message.len() as u8];
    frame.extend_from_slice(message);
    frame
}

fn run(n: usize, readers: &tokio::runtime::Runtime) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        let client = TcpStream::connect(address).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nodelay(true).unwrap();
        client.set_nonblocking(true).unwrap();
        let client = readers.block_on(async { tokio::net::TcpStream::from_std(client).unwrap() });
        readers.spawn(async move {
            let mut client = client;
            let mut buffer = [0u8; 4096];
            while matches!(client.read(&mut buffer).await, Ok(read) if read > 0) {}
        });
        servers.push(server);
    }
    let frame = frame();
    std::thread::sleep(Duration::from_secs(1));
    let process_before = process_cpu_ms();
    let (user_before, kernel_before) = thread_cpu_ms();
    let mut busy = Duration::ZERO;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for server in &mut servers {
            server.write_all(&frame).unwrap();
        }
        busy += started.elapsed();
        std::thread::sleep(SPACING);
    }
    let (user_after, kernel_after) = thread_cpu_ms();
    let process_ms = process_cpu_ms().saturating_sub(process_before);
    let writes = (n * ROUNDS) as f64;
    let user = user_after.saturating_sub(user_before);
    let kernel = kernel_after.saturating_sub(kernel_before);
    let readers_ms = process_ms.saturating_sub(user + kernel);
    println!(
        "connections={n} writes={writes} writer_cpu per_write={:.1}us (user {:.1}us, kernel {:.1}us) \
         round_time={:.1}ms readers_cpu per_write={:.1}us",
        (user + kernel) as f64 * 1000.0 / writes,
        user as f64 * 1000.0 / writes,
        kernel as f64 * 1000.0 / writes,
        busy.as_secs_f64() * 1000.0 / ROUNDS as f64,
        readers_ms as f64 * 1000.0 / writes,
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("FLOOR_CONNECTIONS")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let readers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_io()
        .build()
        .unwrap();
    for n in sizes {
        run(n, &readers);
    }
}
