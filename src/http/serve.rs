//! The accept loop and the serving of connections. The accept loop counts every connection
//! against `MAX_CONNECTIONS` (beyond it, closed at once) and hands it to the serving thread
//! with the fewest open connections. There it must send its request headers within
//! `HEADER_READ_TIMEOUT`, and is closed after `IDLE_TIMEOUT` without a byte in either direction. The peer address travels with each
//! request as [`ConnectInfo`], so the edge can tell clients apart.
//!
//! hyper's header timer also runs while a keep-alive connection waits for its next request,
//! so an idle keep-alive connection lives at most `HEADER_READ_TIMEOUT`; `IDLE_TIMEOUT` bounds
//! what that timer does not see: upgraded WebSockets, request bodies and responses that stall.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tower::ServiceExt;

use crate::metrics::Metrics;

/// How long the shutdown waits for connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(10);

/// The connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most open connections.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_read: Duration,
    /// Time a connection may move no bytes.
    pub idle: Duration,
}

/// A connection accepted within `max_connections`, on its way to the thread serving it.
pub struct Accepted {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    /// Held until the connection closes.
    permit: OwnedSemaphorePermit,
    /// Counts the connection among its lane's open ones until it closes.
    counted: Counted,
}

/// Where the accept loop hands a serving thread its connections, and how many it has open.
pub struct Lane {
    /// The thread's queue of accepted connections.
    pub queue: mpsc::UnboundedSender<Accepted>,
    /// Connections the thread serves now.
    pub open: Arc<AtomicUsize>,
}

/// Accepts on `listener` until `shutdown` completes and hands each connection to the lane with
/// the fewest open connections: clients that open their connections all at once (a load
/// balancer, a benchmark) are spread evenly over the threads. Beyond `permits`, a connection is
/// closed at once.
pub async fn accept(
    listener: TcpListener,
    lanes: Vec<Lane>,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.connection_refused();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let Some(lane) = lanes
            .iter()
            .filter(|lane| !lane.queue.is_closed())
            .min_by_key(|lane| lane.open.load(Ordering::Relaxed))
        else {
            break;
        };
        // Counted here, so the next connection of a burst sees it already; a connection the
        // lane can no longer take is closed, and counted down, as it is dropped.
        let _ = lane.queue.send(Accepted {
            stream,
            peer,
            permit,
            counted: Counted::new(&lane.open),
        });
    }
}

/// Serves `router` on the connections arriving in `incoming` until `shutdown` completes (or
/// the accept loop is gone), then drains them.
pub async fn serve(
    mut incoming: mpsc::UnboundedReceiver<Accepted>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = incoming.recv() => match accepted {
                Some(accepted) => accepted,
                None => break,
            },
        };
        let Accepted {
            stream,
            peer,
            permit,
            counted,
        } = accepted;
        let Ok(stream) = TcpStream::from_std(stream) else {
            continue;
        };
        let activity = Activity::new();
        let io = TokioIo::new(Tracked {
            stream,
            activity: activity.clone(),
        });
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        ));
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        let idle = limits.idle;
        tokio::spawn(async move {
            tokio::select! {
                result = connection => if let Err(error) = result {
                    tracing::debug!(%peer, error = %error, "connection ended with an error");
                },
                () = activity.idle_for(idle) => tracing::debug!(%peer, "idle connection closed"),
            }
            drop(permit);
            drop(counted);
        });
    }
    drop(incoming);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
}

/// One open connection of a lane: counted up when made, down when dropped.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self(open.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a connection last moved a byte, in milliseconds since it was accepted.
#[derive(Clone)]
struct Activity {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        // u64 milliseconds last 584 million years.
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Completes once no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = self.start + last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A TCP stream that records its activity.
struct Tracked {
    stream: TcpStream,
    activity: Activity,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_opened_at_once_are_spread_evenly_over_the_serving_threads() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("bound");
        let (lanes, mut queues): (Vec<_>, Vec<_>) = (0..2)
            .map(|_| {
                let (queue, incoming) = mpsc::unbounded_channel();
                let open = Arc::new(AtomicUsize::new(0));
                (Lane { queue, open }, incoming)
            })
            .unzip();
        let stop = tokio_util::sync::CancellationToken::new();
        let acceptor = tokio::spawn(accept(
            listener,
            lanes,
            Arc::new(Semaphore::new(100)),
            Metrics::default(),
            stop.clone().cancelled_owned(),
        ));
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(TcpStream::connect(address).await.expect("connects"));
        }
        // Nothing serves them, so every one handed over stays open.
        let mut handed = [Vec::new(), Vec::new()];
        let deadline = Instant::now() + Duration::from_secs(5);
        while handed.iter().map(Vec::len).sum::<usize>() < 10 && Instant::now() < deadline {
            for (lane, queue) in handed.iter_mut().zip(&mut queues) {
                while let Ok(accepted) = queue.try_recv() {
                    lane.push(accepted);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handed.map(|lane| lane.len()), [5, 5]);
        stop.cancel();
        acceptor.await.expect("the accept loop ends");
    }
}
