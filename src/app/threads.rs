//! The serving threads: one single-threaded runtime per core, all accepting on the same
//! listener. A connection lives on the thread that accepted it, with every task its requests
//! start (DataLoader batches, WebSocket sessions, shared subscription groups); on PostgreSQL
//! the thread's statements go out on a pool opened on its own runtime (see `db`). A request
//! then runs from its first byte to its last without waking another thread, which on a few
//! cores costs more than the work itself.
//!
//! The instance's own tasks (event dispatch, mail, re-checks, expiry) stay on the main
//! runtime; what they share with the serving threads (the event hub, the session authority,
//! the live registries) is thread-safe and runtime-independent.
//!
//! The connection budget (`MAX_CONNECTIONS`) is one semaphore for all threads. On shutdown
//! each thread stops accepting, drains its connections, waits for the WebSocket sessions to
//! send their close frames, and drops its runtime; a thread that ends early for any other
//! reason (its pool could not open, a panic) ends the whole instance, so nothing keeps
//! serving half-alive.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::db::Db;
use crate::http::serve::{self, ConnectionLimits};
use crate::metrics::Metrics;

/// How long a stopping thread waits for its WebSocket sessions' close frames.
const CLOSE_FRAMES: Duration = Duration::from_secs(5);

/// A pool of its own for each serving thread (PostgreSQL).
pub struct ThreadPools {
    /// The handle whose thread slots are filled.
    pub db: Db,
    /// `DATABASE_URL`.
    pub url: String,
    /// Connections per thread.
    pub per_thread: u32,
    /// Where the pools report their statements.
    pub metrics: Metrics,
}

/// What every serving thread is given.
pub struct Plan {
    /// Threads to start.
    pub threads: usize,
    /// The bound listener, shared by all threads.
    pub listener: std::net::TcpListener,
    /// The routes, cloned into each thread.
    pub router: Router,
    /// Connection bounds.
    pub limits: ConnectionLimits,
    /// Where refused connections are counted.
    pub metrics: Metrics,
    /// Cancelled to stop serving.
    pub stop: CancellationToken,
    /// The WebSocket sessions, awaited on shutdown.
    pub connections: TaskTracker,
    /// The pools to open, one per thread; `None` shares the main pool.
    pub pools: Option<Arc<ThreadPools>>,
}

/// The started threads.
pub struct Serving {
    handles: Vec<std::thread::JoinHandle<()>>,
    /// Cancelled when any thread ends.
    ended: CancellationToken,
}

/// Starts the threads and returns once every one of them is ready to accept.
pub async fn start(plan: Plan) -> anyhow::Result<Serving> {
    plan.listener
        .set_nonblocking(true)
        .context("Failed to make the listener non-blocking")?;
    let permits = Arc::new(Semaphore::new(plan.limits.max_connections));
    let ended = CancellationToken::new();
    let mut handles = Vec::with_capacity(plan.threads);
    let mut readiness = Vec::with_capacity(plan.threads);
    for index in 0..plan.threads {
        let (ready, is_ready) = oneshot::channel();
        let thread = Thread {
            index,
            listener: plan
                .listener
                .try_clone()
                .context("Failed to share the listener")?,
            router: plan.router.clone(),
            limits: plan.limits,
            metrics: plan.metrics.clone(),
            permits: permits.clone(),
            stop: plan.stop.clone(),
            connections: plan.connections.clone(),
            pools: plan.pools.clone(),
            ended: ended.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("lastmile-serve-{index}"))
            .spawn(move || thread.run(ready));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                let serving = Serving { handles, ended };
                plan.stop.cancel();
                serving.join().await;
                return Err(error).context("Failed to start a serving thread");
            }
        }
        readiness.push(is_ready);
    }
    let serving = Serving { handles, ended };
    for is_ready in readiness {
        let outcome = is_ready
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a serving thread ended while starting")));
        if let Err(error) = outcome {
            plan.stop.cancel();
            serving.join().await;
            return Err(error);
        }
    }
    Ok(serving)
}

impl Serving {
    /// Completes when any thread has ended.
    pub async fn any_ended(&self) {
        self.ended.cancelled().await;
    }

    /// Waits for every thread to end (after the stop token was cancelled).
    pub async fn join(self) {
        for handle in self.handles {
            let joined = tokio::task::spawn_blocking(move || handle.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("a serving thread panicked");
            }
        }
    }
}

/// One serving thread's share of the [`Plan`].
struct Thread {
    index: usize,
    listener: std::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Metrics,
    permits: Arc<Semaphore>,
    stop: CancellationToken,
    connections: TaskTracker,
    pools: Option<Arc<ThreadPools>>,
    ended: CancellationToken,
}

impl Thread {
    /// Builds the runtime, opens the pool, reports ready, and serves until stopped.
    fn run(self, ready: oneshot::Sender<anyhow::Result<()>>) {
        let _ended = self.ended.clone().drop_guard();
        crate::db::enter_serving_thread(self.index);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let runtime = match runtime {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = ready.send(Err(error).context("Failed to build a serving runtime"));
                return;
            }
        };
        runtime.block_on(self.serve(ready));
        // Dropping the runtime cancels whatever tasks are left on it.
    }

    async fn serve(self, ready: oneshot::Sender<anyhow::Result<()>>) {
        if let Some(pools) = &self.pools {
            match Db::connect(&pools.url, pools.per_thread, pools.metrics.clone()).await {
                Ok(pool) => pools.db.set_thread_pool(self.index, pool),
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            }
        }
        let listener = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(listener) => listener,
            Err(error) => {
                let _ = ready.send(Err(error).context("Failed to register the listener"));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let limits = self.limits;
        let stopped = self.stop.cancelled_owned();
        serve::serve(
            listener,
            self.router,
            limits,
            self.metrics,
            self.permits,
            stopped,
        )
        .await;
        // The sessions were told to close (1001) when the stop token was cancelled.
        self.connections.close();
        let _ = tokio::time::timeout(CLOSE_FRAMES, self.connections.wait()).await;
    }
}
