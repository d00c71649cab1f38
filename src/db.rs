//! The database handle: connecting (SQLite or PostgreSQL), statement metrics, and write transactions.
//!
//! Rules that read then write (assigning a driver while it is deactivated, removing the last
//! admin) must see a stable state. On PostgreSQL the services lock the rows they read with
//! `SELECT … FOR UPDATE`; SQLite has no row locks, so writes are serialized here, in-process,
//! which with a single embedded database file is what SQLite does anyway.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::metrics::Metrics;

/// A pooled connection plus the SQLite write lock.
#[derive(Clone)]
pub struct Db {
    /// The sea-orm pool.
    pub conn: DatabaseConnection,
    /// Serializes write transactions on SQLite; `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
}

/// A write transaction; holds the SQLite write lock until committed or dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl WriteTxn {
    /// Commits, then releases the write lock.
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }
}

/// How long a pooled connection may sit idle before it is pinged on its next checkout.
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

impl Db {
    /// Connects to `url` and records every statement in `metrics`.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        // Unless the URL or PGSSLMODE chooses, TLS is off towards a server on this host: the
        // traffic never leaves it, and TLS would cost both sides CPU on every statement.
        let tls_chosen = url.contains("sslmode=") || std::env::var_os("PGSSLMODE").is_some();
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // A connection in steady use goes out untested (a ping on every checkout would be
            // a round trip more per statement); one idle for a while is pinged first, since
            // the server, a proxy or a firewall may have dropped it meanwhile.
            .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE)
            .sqlx_logging(false)
            .map_sqlx_postgres_opts(move |opts| {
                if tls_chosen {
                    return opts;
                }
                let loopback = is_loopback(opts.get_host());
                if loopback {
                    opts.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
                } else {
                    opts
                }
            })
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let mut conn = Database::connect(options).await.with_context(|| {
            format!(
                "Failed to connect to the database (DATABASE_URL={})",
                redact(url)
            )
        })?;
        conn.set_metric_callback(move |info| {
            metrics.record_statement(info.elapsed, info.failed);
            crate::telemetry::statement(
                info.statement.db_backend,
                &info.statement.sql,
                info.elapsed,
                info.failed,
            );
        });
        let write_lock = match conn.get_database_backend() {
            DatabaseBackend::Sqlite => Some(Arc::new(Mutex::new(()))),
            _ => None,
        };
        Ok(Self { conn, write_lock })
    }

    /// The backend in use.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// Begins a transaction for a change; on SQLite, waits for the write lock first.
    ///
    /// On SQLite the transaction is `BEGIN IMMEDIATE`: a deferred one that reads, then writes
    /// after another connection (the mail worker, event retention) committed in between fails
    /// at once with `SQLITE_BUSY_SNAPSHOT` ("database is locked", code 517), which the busy
    /// timeout cannot retry. Taking the write lock up front makes it wait instead.
    pub async fn begin_write(&self) -> Result<WriteTxn, sea_orm::DbErr> {
        let Some(lock) = &self.write_lock else {
            let txn = self.conn.begin().await?;
            return Ok(WriteTxn { txn, _guard: None });
        };
        let guard = lock.clone().lock_owned().await;
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        Ok(WriteTxn {
            txn,
            _guard: Some(guard),
        })
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), sea_orm::DbErr> {
        self.conn.ping().await
    }
}

/// Hides the password of a connection URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Whether the connection is PostgreSQL (row locks available).
pub fn is_postgres(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DatabaseBackend::Postgres
}

/// Whether `host` (as a PostgreSQL URL names it) is this machine: a loopback address, the
/// name `localhost`, or a Unix socket directory.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_are_told_apart_from_remote_ones() {
        for host in [
            "127.0.0.1",
            "127.8.0.1",
            "::1",
            "[::1]",
            "localhost",
            "/var/run/postgresql",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.5",
            "db.example.com",
            "192.168.1.1",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
