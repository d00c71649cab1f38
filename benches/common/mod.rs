//! What the benchmarks share: the gateway started as its own process (so its memory is its
//! own), and a GraphQL client for it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

/// A gateway process on a free loopback port.
pub struct Gateway {
    /// The process.
    pub child: tokio::process::Child,
    /// Its port.
    pub port: u16,
    /// Its data directory (SQLite file, mail).
    pub dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts the release binary (or `LASTMILE_BIN`, to compare builds with one client);
    /// `DATABASE_URL` is used when it is PostgreSQL.
    pub async fn start() -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let database = match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => url,
            _ => format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
        };
        let binary = std::env::var("LASTMILE_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_lastmile").to_owned());
        let mut command = tokio::process::Command::new(binary);
        command
            .args([
                "serve",
                "--listen-addr",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &database,
            ])
            .args([
                "--mail-dir",
                &dir.path().join("mail").display().to_string(),
                "--access-token-ttl",
                "3600",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn().expect("gateway starts");
        let gateway = Gateway { child, port, dir };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok()
            {
                return gateway;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway did not start");
    }

    /// Resident memory of the process, KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().unwrap_or(0);
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the gateway has used in user space and in the kernel, in milliseconds.
    pub fn cpu_split_ms(&self) -> (u64, u64) {
        cpu_split_ms(self.child.id().unwrap_or(0))
    }

    /// POSTs a query; panics on errors.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/graphql", self.port))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

/// Reads a counter from `/metrics`.
pub async fn metric(port: u16, name: &str) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

/// The value at quantile `p` of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU time process `pid` has used in user space and in the kernel, in milliseconds.
pub fn cpu_split_ms(pid: u32) -> (u64, u64) {
    stat_cpu_ms(&format!("/proc/{pid}/stat"))
}

/// User and kernel CPU time, in milliseconds, from a `/proc` stat file (a process's, or
/// `/proc/thread-self/stat` for the calling thread).
pub fn stat_cpu_ms(path: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> u64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    // Clock ticks of 10 ms.
    (ticks(11) * 10, ticks(12) * 10)
}
