//! The Redis fan-out: one PUBLISH connection and one SUBSCRIBE connection per instance, shared
//! by all of its subscribers. The redis crate's pub/sub does not reconnect by itself, so the
//! subscriber loop reconnects with backoff and resubscribes; while Redis is away `/readyz`
//! reports it, and the dispatcher's log polling keeps every event flowing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use entity::status_event;

/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether the subscriber connection is up, for `/readyz`.
#[derive(Clone, Default)]
pub struct RedisHealth(Arc<AtomicBool>);

impl RedisHealth {
    /// True while subscribed.
    pub fn is_up(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release);
    }
}

/// Publishes committed events on the channel, in order, from one background task.
#[derive(Clone)]
pub struct Publisher(mpsc::UnboundedSender<Vec<status_event::Model>>);

impl Publisher {
    /// Queues events for publishing; never blocks the request that committed them.
    pub fn publish(&self, events: Vec<status_event::Model>) {
        let _ = self.0.send(events);
    }
}

/// Opens the client; fails when the URL is malformed (not when Redis is down).
pub fn client(url: &str) -> anyhow::Result<redis::Client> {
    redis::Client::open(url).map_err(|e| anyhow::anyhow!("REDIS_URL is not usable: {e}"))
}

/// Starts the publisher task.
pub fn publisher(client: redis::Client, channel: String, stop: CancellationToken) -> Publisher {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<status_event::Model>>();
    tokio::spawn(async move {
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            let events = tokio::select! {
                _ = stop.cancelled() => return,
                events = rx.recv() => match events { Some(e) => e, None => return },
            };
            let payload = match serde_json::to_string(&events) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "could not encode events");
                    continue;
                }
            };
            if conn.is_none() {
                conn = connect(&client).await;
            }
            let Some(c) = conn.as_mut() else {
                // Redis is away: drop what queued up meanwhile rather than hold it in memory
                // (every instance catches up from the log), and pause before trying again.
                while rx.try_recv().is_ok() {}
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            let sent: redis::RedisResult<i64> = c.publish(&channel, payload).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "PUBLISH failed; subscribers will catch up from the log");
                conn = None;
            }
        }
    });
    Publisher(tx)
}

async fn connect(client: &redis::Client) -> Option<redis::aio::MultiplexedConnection> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Redis unavailable");
            None
        }
        Err(_) => {
            tracing::warn!("Redis connection timed out");
            None
        }
    }
}

/// Runs the one subscriber connection of this instance, feeding `inbound`, until `stop`.
pub async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    inbound: mpsc::UnboundedSender<Vec<status_event::Model>>,
    health: RedisHealth,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            health.set(true);
            tracing::info!(%channel, "subscribed to Redis");
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let payload: String = msg.get_payload()?;
                match serde_json::from_str::<Vec<status_event::Model>>(&payload) {
                    Ok(events) => {
                        let _ = inbound.send(events);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignored a malformed event message"),
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = session => r,
        };
        if health.is_up() {
            backoff = Duration::from_millis(100);
        }
        health.set(false);
        match result {
            Ok(()) => tracing::warn!("Redis subscription ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "Redis subscription failed; reconnecting"),
        }
        // Whatever was published meanwhile is read from the log on the next batch or poll.
        let _ = inbound.send(Vec::new());
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// PING with a short timeout, for `/readyz`.
pub async fn ping(client: &redis::Client) -> bool {
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Ok(_))
    )
}
