//! The Redis fan-out: one PUBLISH connection and one SUBSCRIBE connection per instance, shared
//! by all of its subscribers. The redis crate's pub/sub does not reconnect by itself, so the
//! subscriber loop reconnects with backoff and resubscribes; while Redis is away `/readyz`
//! reports it, and the dispatcher's log polling keeps every event flowing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use entity::status_event::{self, EventKind};
use entity::user::UserStatus;

use crate::events::visibility::{Audience, LiveEvent};

/// The version of [`Message`] this instance writes; it reads this one only, so instances of
/// another version ignore each other's messages and catch up from the log instead.
const WIRE_VERSION: u32 = 1;

/// One Redis message: the events of one commit. Its own type, so the table can change
/// without breaking instances still running the previous release.
#[derive(Serialize, Deserialize)]
struct Message {
    /// [`WIRE_VERSION`] of the writer.
    version: u32,
    /// The events, in cursor order.
    events: Vec<WireEvent>,
}

/// One event on the wire.
#[derive(Serialize, Deserialize)]
struct WireEvent {
    /// The cursor.
    id: i64,
    /// What happened.
    kind: EventKind,
    /// The owner organization.
    organization_id: Uuid,
    /// The user (and driver card) concerned.
    user_id: Uuid,
    /// Whether the subject is a driver.
    is_driver: bool,
    /// SHARED/UNSHARED: the partner; route kinds on a partner's route: that partner.
    partner_id: Option<Uuid>,
    /// The route, for route kinds.
    route_id: Option<Uuid>,
    /// The route's organization, for route kinds.
    route_organization_id: Option<Uuid>,
    /// Status before.
    previous_status: Option<UserStatus>,
    /// Status after.
    status: Option<UserStatus>,
    /// Partner organizations receiving the event.
    audience: Vec<Uuid>,
    /// When it happened.
    at: DateTime<Utc>,
}

impl From<status_event::Model> for WireEvent {
    fn from(e: status_event::Model) -> Self {
        Self {
            audience: Audience::parse(&e.audience).organizations().to_vec(),
            id: e.id,
            kind: e.kind,
            organization_id: e.organization_id,
            user_id: e.user_id,
            is_driver: e.is_driver,
            partner_id: e.partner_id,
            route_id: e.route_id,
            route_organization_id: e.route_organization_id,
            previous_status: e.previous_status,
            status: e.status,
            at: e.at,
        }
    }
}

impl From<WireEvent> for LiveEvent {
    fn from(e: WireEvent) -> Self {
        let audience = Audience::of(e.audience);
        let model = status_event::Model {
            id: e.id,
            kind: e.kind,
            organization_id: e.organization_id,
            user_id: e.user_id,
            is_driver: e.is_driver,
            partner_id: e.partner_id,
            route_id: e.route_id,
            route_organization_id: e.route_organization_id,
            previous_status: e.previous_status,
            status: e.status,
            audience: audience.to_column(),
            at: e.at,
        };
        Self {
            model: Arc::new(model),
            audience,
        }
    }
}

/// The message for `events`.
fn encode(events: Vec<status_event::Model>) -> serde_json::Result<String> {
    serde_json::to_string(&Message {
        version: WIRE_VERSION,
        events: events.into_iter().map(WireEvent::from).collect(),
    })
}

/// The events of a message, when it is of this version.
fn decode(payload: &str) -> Result<Vec<LiveEvent>, String> {
    let message: Message = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    if message.version != WIRE_VERSION {
        return Err(format!(
            "message version {} is not {WIRE_VERSION}",
            message.version
        ));
    }
    Ok(message.events.into_iter().map(LiveEvent::from).collect())
}

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

/// Starts the publisher task; its handle lets the shutdown wait for it.
pub fn publisher(
    client: redis::Client,
    channel: String,
    stop: CancellationToken,
) -> (Publisher, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<status_event::Model>>();
    let task = tokio::spawn(async move {
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            let events = tokio::select! {
                _ = stop.cancelled() => return,
                events = rx.recv() => match events { Some(e) => e, None => return },
            };
            let payload = match encode(events) {
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
    (Publisher(tx), task)
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
    inbound: mpsc::UnboundedSender<Vec<LiveEvent>>,
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
                match decode(&payload) {
                    Ok(events) => {
                        let _ = inbound.send(events);
                    }
                    // The log polling brings whatever it carried.
                    Err(error) => tracing::warn!(%error, "ignored an event message"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(audience: &str) -> status_event::Model {
        status_event::Model {
            id: 7,
            kind: EventKind::Shared,
            organization_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            is_driver: true,
            partner_id: None,
            route_id: None,
            route_organization_id: None,
            previous_status: Some(UserStatus::Active),
            status: Some(UserStatus::Active),
            audience: audience.into(),
            at: Utc::now(),
        }
    }

    #[test]
    fn an_event_crosses_the_wire_whole_with_its_audience_typed() {
        let partner = Uuid::now_v7();
        let sent = event(&partner.to_string());
        let received = decode(&encode(vec![sent.clone()]).unwrap_or_default());
        let received = received.unwrap_or_default();
        assert_eq!(received.len(), 1);
        assert_eq!(*received[0].model, sent);
        assert!(received[0].audience.contains(partner));
    }

    #[test]
    fn a_message_of_another_version_or_the_bare_table_rows_is_refused() {
        let rows = serde_json::to_string(&vec![event("")]).unwrap_or_default();
        assert!(decode(&rows).is_err());
        let future = r#"{"version":2,"events":[]}"#;
        assert!(decode(future).is_err());
    }
}
