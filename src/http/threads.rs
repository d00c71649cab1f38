//! HTTP served on one runtime per thread: each thread accepts from the same listening socket
//! and serves what it accepted on its own single-threaded runtime, so a request runs on one
//! thread from accept to response and nothing it waits for wakes it across threads. On
//! PostgreSQL each thread also holds a pool of its own: a connection's socket is driven by
//! the runtime that opened it. SQLite's connections run on threads of their own and its
//! writes take one lock, so every thread shares the instance's pool.
//!
//! Background work (event relay, mail, retention, session feeds) stays on the main runtime.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::DatabaseBackend;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::serve::{ConnectionLimits, serve};
use super::{Edge, router};
use crate::db::Db;

/// How long a thread waits for its WebSockets' close frames once its connections drained.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The serving threads of one instance. Dropped, it cancels `stop`: the threads do not
/// outlive the future that started them (a test's runtime, say), or they would go on holding
/// the port and their pools.
pub struct Threads {
    /// Completes when its thread has drained and closed everything it served.
    done: Vec<oneshot::Receiver<()>>,
    /// Cancels `stop` when the threads are dropped, not joined.
    _stop: DropGuard,
}

/// Starts `count` serving threads on `listener`; returns once every thread holds its pool
/// and accepts, or with the first thread's error (the others then stop).
pub async fn start(
    count: usize,
    listener: TcpListener,
    edge: &Edge,
    limits: ConnectionLimits,
    stop: &CancellationToken,
) -> anyhow::Result<Threads> {
    let listener = listener
        .into_std()
        .context("Failed to hand the listener to the serving threads")?;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let own_pools = edge.state.db.backend() == DatabaseBackend::Postgres;
    let pool_size = edge
        .state
        .settings
        .database_max_connections
        .div_ceil(u32::try_from(count).unwrap_or(u32::MAX));
    let mut ready = Vec::with_capacity(count);
    let mut threads = Threads {
        done: Vec::with_capacity(count),
        _stop: stop.clone().drop_guard(),
    };
    for index in 0..count {
        let thread = Thread {
            listener: listener
                .try_clone()
                .context("Failed to share the listener")?,
            edge: edge.clone(),
            pool_size: own_pools.then_some(pool_size),
            limits,
            permits: permits.clone(),
            stop: stop.clone(),
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("serve-{index}"))
            .spawn(move || thread.run(ready_tx, done_tx))
            .context("Failed to start a serving thread")?;
        ready.push(ready_rx);
        threads.done.push(done_rx);
    }
    for started in ready {
        let started = started
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a serving thread ended while starting")));
        if let Err(error) = started {
            stop.cancel();
            threads.join().await;
            return Err(error);
        }
    }
    Ok(threads)
}

impl Threads {
    /// Waits until every thread has stopped (after `stop` was cancelled).
    pub async fn join(mut self) {
        for thread in std::mem::take(&mut self.done) {
            // An error means the thread is gone already.
            let _ = thread.await;
        }
    }
}

/// What one serving thread is given.
struct Thread {
    listener: std::net::TcpListener,
    edge: Edge,
    /// The size of the thread's own pool; `None`: the instance's pool is shared.
    pool_size: Option<u32>,
    limits: ConnectionLimits,
    permits: Arc<Semaphore>,
    stop: CancellationToken,
}

impl Thread {
    fn run(self, ready: oneshot::Sender<anyhow::Result<()>>, done: oneshot::Sender<()>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = ready
                    .send(Err(anyhow::Error::new(error)
                        .context("Failed to start a serving thread's runtime")));
                return;
            }
        };
        runtime.block_on(self.serve(ready));
        // Whatever is left on this runtime (a socket past its close wait) ends here.
        drop(runtime);
        let _ = done.send(());
    }

    async fn serve(self, ready: oneshot::Sender<anyhow::Result<()>>) {
        let setup = async {
            let listener = TcpListener::from_std(self.listener)
                .context("Failed to register the listener with a serving thread")?;
            let edge = match self.pool_size {
                None => self.edge,
                Some(size) => {
                    let settings = &self.edge.state.settings;
                    let db = Db::connect(
                        &settings.database_url,
                        size,
                        self.edge.state.metrics.clone(),
                    )
                    .await?;
                    self.edge.with_db(db)
                }
            };
            anyhow::Ok((listener, edge))
        };
        let (listener, edge) = match setup.await {
            Ok(parts) => parts,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let connections = edge.live.connections.clone();
        let metrics = edge.state.metrics.clone();
        serve(
            listener,
            router(edge),
            self.limits,
            self.permits,
            metrics,
            self.stop.cancelled_owned(),
        )
        .await;
        // The WebSockets this thread serves were told to close (1001) when `stop` was
        // cancelled; their tasks run here, so the runtime lives until they have.
        connections.close();
        let _ = tokio::time::timeout(CLOSE_WAIT, connections.wait()).await;
    }
}
