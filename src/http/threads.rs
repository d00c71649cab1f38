//! HTTP served on one runtime per thread: the accept loop (on the main runtime) hands each
//! connection to the thread with the fewest open ones, and that thread serves it on its own
//! single-threaded runtime, so a request runs on one thread from its first byte to its
//! response and nothing it waits for wakes it across threads. On
//! PostgreSQL each thread also holds a pool of its own: a connection's socket is driven by
//! the runtime that opened it. SQLite's connections run on threads of their own and its
//! writes take one lock, so every thread shares the instance's pool.
//!
//! Background work (event relay, mail, retention, session feeds) stays on the main runtime.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use anyhow::Context;
use sea_orm::DatabaseBackend;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::serve::{Accepted, ConnectionLimits, Lane, accept, serve};
use super::{Edge, router};
use crate::db::Db;

/// The smallest pool a serving thread holds on PostgreSQL.
const MIN_THREAD_POOL: u32 = 2;

/// How long a thread waits for its WebSockets' close frames once its connections drained.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The serving threads of one instance. Dropped, it cancels `stop`: the threads do not
/// outlive the future that started them (a test's runtime, say), or they would go on holding
/// the port and their pools.
pub struct Threads {
    /// Completes when its thread has drained and closed everything it served.
    done: Vec<oneshot::Receiver<()>>,
    /// The accept loop.
    acceptor: Option<JoinHandle<()>>,
    /// Cancelled by `join`, or when the threads are dropped, not joined.
    stop: CancellationToken,
}

/// Starts `count` serving threads, then the accept loop on `listener` that feeds them; returns
/// once every thread holds its pool, or with the first thread's error (the others then stop).
pub async fn start(
    count: usize,
    listener: TcpListener,
    edge: &Edge,
    limits: ConnectionLimits,
    stop: &CancellationToken,
) -> anyhow::Result<Threads> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let own_pools = edge.state.db.backend() == DatabaseBackend::Postgres;
    // At least two, so that one long statement or transaction does not hold up every other
    // request of its thread.
    let pool_size = edge
        .state
        .settings
        .database_max_connections
        .div_ceil(u32::try_from(count).unwrap_or(u32::MAX))
        .max(MIN_THREAD_POOL);
    let mut ready = Vec::with_capacity(count);
    let mut threads = Threads {
        done: Vec::with_capacity(count),
        acceptor: None,
        stop: stop.clone(),
    };
    let mut lanes = Vec::with_capacity(count);
    for index in 0..count {
        let (queue, incoming) = mpsc::unbounded_channel();
        lanes.push(Lane {
            queue,
            open: Arc::new(AtomicUsize::new(0)),
        });
        let thread = Thread {
            incoming,
            edge: edge.clone(),
            pool_size: own_pools.then_some(pool_size),
            limits,
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
            threads.join().await;
            return Err(error);
        }
    }
    threads.acceptor = Some(tokio::spawn(accept(
        listener,
        lanes,
        permits,
        edge.state.metrics.clone(),
        stop.clone().cancelled_owned(),
    )));
    Ok(threads)
}

impl Threads {
    /// Stops the accept loop and the threads, and waits until every thread has drained.
    pub async fn join(mut self) {
        self.stop.cancel();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.await;
        }
        for thread in std::mem::take(&mut self.done) {
            // An error means the thread is gone already.
            let _ = thread.await;
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What one serving thread is given.
struct Thread {
    /// The connections the accept loop hands this thread.
    incoming: mpsc::UnboundedReceiver<Accepted>,
    edge: Edge,
    /// The size of the thread's own pool; `None`: the instance's pool is shared.
    pool_size: Option<u32>,
    limits: ConnectionLimits,
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
            match self.pool_size {
                None => anyhow::Ok(self.edge),
                Some(size) => {
                    let settings = &self.edge.state.settings;
                    let db = Db::connect(
                        &settings.database_url,
                        size,
                        self.edge.state.metrics.clone(),
                    )
                    .await?;
                    Ok(self.edge.with_db(db))
                }
            }
        };
        let edge = match setup.await {
            Ok(parts) => parts,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let connections = edge.live.connections.clone();
        serve(
            self.incoming,
            router(edge),
            self.limits,
            self.stop.cancelled_owned(),
        )
        .await;
        // The WebSockets this thread serves were told to close (1001) when `stop` was
        // cancelled; their tasks run here, so the runtime lives until they have.
        connections.close();
        let _ = tokio::time::timeout(CLOSE_WAIT, connections.wait()).await;
    }
}
