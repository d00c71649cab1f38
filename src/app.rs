//! `Application`: connects, migrates, starts the background tasks, binds, and serves until
//! stopped, shutting down gracefully on SIGTERM or ctrl-c.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{EntityTrait, Set};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use entity::kv;
use migration::Migrator;

use crate::auth::limiter::Limiter;
use crate::auth::password::Hasher;
use crate::auth::{JwtKeys, token};
use crate::config::Settings;
use crate::db::Db;
use crate::events::{self, EventHub};
use crate::http::{self, Edge};
use crate::live::{self, sessions::LiveSessions};
use crate::mail::{self, Mailer};
use crate::metrics::Metrics;
use crate::state::AppState;

/// How often each instance checks the log for events it was not told about.
const LOG_POLL: Duration = Duration::from_secs(1);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Password checks (or reset mails) per email per window.
const CREDENTIAL_ATTEMPTS: u32 = 10;
/// The window of [`CREDENTIAL_ATTEMPTS`].
const CREDENTIAL_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The kv key of the generated JWT secret.
const JWT_SECRET_KEY: &str = "jwt.secret";

/// A built gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    edge: Edge,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Connects to the database and runs pending migrations.
pub async fn connect_and_migrate(settings: &Settings, metrics: Metrics) -> anyhow::Result<Db> {
    let db = Db::connect(
        &settings.database_url,
        settings.database_max_connections,
        metrics,
    )
    .await?;
    Migrator::up(&db.conn, None)
        .await
        .context("Failed to run database migrations")?;
    Ok(db)
}

impl Application {
    /// Builds the gateway from `settings`; binds `LISTEN_ADDR` (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let settings = Arc::new(settings);
        let metrics = Metrics::default();
        let db = connect_and_migrate(&settings, metrics.clone()).await?;
        let secret = jwt_secret(&db, &settings).await?;
        let jwt = JwtKeys::new(
            secret.as_bytes(),
            &settings.jwt_issuer,
            &settings.jwt_audience,
            settings.access_token_ttl,
        );
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();

        let (hub, dispatcher, redis) = match &settings.redis_url {
            None => {
                let (hub, dispatcher) = EventHub::local(
                    db.clone(),
                    metrics.clone(),
                    settings.subscriber_backlog,
                    LOG_POLL,
                );
                (hub, dispatcher, None)
            }
            Some(url) => {
                let client = events::redis::client(url)?;
                let health = events::redis::RedisHealth::default();
                let (publisher, publishing) = events::redis::publisher(
                    client.clone(),
                    settings.redis_channel.clone(),
                    stop.clone(),
                );
                tasks.push(publishing);
                let (tx, rx) = mpsc::unbounded_channel();
                tasks.push(tokio::spawn(events::redis::subscribe_loop(
                    client.clone(),
                    settings.redis_channel.clone(),
                    tx,
                    health.clone(),
                    stop.clone(),
                )));
                let (hub, dispatcher) = EventHub::redis(
                    db.clone(),
                    metrics.clone(),
                    settings.subscriber_backlog,
                    LOG_POLL,
                    publisher,
                    rx,
                );
                (hub, dispatcher, Some((client, health)))
            }
        };
        let sessions = Arc::new(LiveSessions::default());
        tasks.push(tokio::spawn(live::sessions::follow(
            sessions.clone(),
            hub.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(live::recheck::run(
            sessions.clone(),
            db.clone(),
            Duration::from_secs(settings.session_check_interval),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(dispatcher.run(stop.clone())));
        tasks.push(tokio::spawn(crate::service::expiry::run(
            db.clone(),
            hub.clone(),
            Duration::from_secs(settings.share_expiry_interval),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(events::retention::run(
            db.clone(),
            settings.event_retention_days,
            PRUNE_EVERY,
            stop.clone(),
        )));

        let mailer = Mailer::default();
        {
            let (db, settings, mailer, metrics, stop) = (
                db.clone(),
                settings.clone(),
                mailer.clone(),
                metrics.clone(),
                stop.clone(),
            );
            tasks.push(tokio::spawn(async move {
                mail::delivery::run(db, &settings, mailer, metrics, stop).await
            }));
        }

        // Counted in Redis when configured, so the budget holds across instances.
        let mut limiter = Limiter::new(CREDENTIAL_ATTEMPTS, CREDENTIAL_WINDOW);
        let mut client_limiter =
            Limiter::new(settings.client_credential_attempts, CREDENTIAL_WINDOW);
        if let Some((client, _)) = &redis {
            limiter = limiter.shared(client.clone(), &settings.redis_channel);
            client_limiter = client_limiter.shared(
                client.clone(),
                &format!("{}:client", settings.redis_channel),
            );
        }
        let hasher = Hasher::new(
            settings.hash_concurrency(),
            Duration::from_millis(settings.password_hash_wait_ms),
            metrics.clone(),
        );
        let state = AppState {
            db,
            settings: settings.clone(),
            jwt,
            metrics,
            events: hub,
            sessions,
            mailer,
            limiter,
            client_limiter,
            hasher,
        };
        let schema = crate::graphql::build(Some(state.clone()));
        let introspection = crate::graphql::build_introspection(state.clone());
        let ingest = Arc::new(crate::graphql::ingest::Ingest::new(
            crate::graphql::ingest::Limits::from_settings(&settings),
        ));
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("Failed to bind LISTEN_ADDR {}", settings.listen_addr))?;
        Ok(Self {
            listener,
            edge: Edge {
                live: live::Live {
                    state: state.clone(),
                    schema: schema.clone(),
                    ingest: ingest.clone(),
                    groups: Default::default(),
                    shutdown: stop.clone(),
                    connections: Default::default(),
                },
                state,
                schema,
                introspection,
                ingest,
                redis,
            },
            stop,
            tasks,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The state, for loading demo data or inspecting in tests.
    pub fn state(&self) -> &AppState {
        &self.edge.state
    }

    /// Serves until SIGTERM or ctrl-c.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops the background tasks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let connections = self.edge.live.connections.clone();
        let settings = self.edge.state.settings.clone();
        let metrics = self.edge.state.metrics.clone();
        let router = http::router(self.edge);
        let stop = self.stop.clone();
        let limits = http::serve::ConnectionLimits {
            max_connections: settings.max_connections,
            header_read: Duration::from_secs(settings.header_read_timeout),
            idle: Duration::from_secs(settings.idle_timeout),
        };
        http::serve::serve(self.listener, router, limits, metrics, async move {
            shutdown.await;
            stop.cancel();
        })
        .await;
        self.stop.cancel();
        // WebSocket connections were told to close (1001) when `stop` was cancelled.
        connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), connections.wait()).await;
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// `JWT_SECRET`, or the secret generated once and kept in the database.
async fn jwt_secret(db: &Db, settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let candidate = token::secret();
    kv::Entity::insert(kv::ActiveModel {
        key: Set(JWT_SECRET_KEY.to_owned()),
        value: Set(candidate),
    })
    .on_conflict_do_nothing_on([kv::Column::Key])
    .exec(&db.conn)
    .await
    .context("Failed to store the generated JWT secret")?;
    let stored = kv::Entity::find_by_id(JWT_SECRET_KEY.to_owned())
        .one(&db.conn)
        .await
        .context("Failed to read the JWT secret")?
        .context("The JWT secret is missing from the database")?;
    Ok(stored.value)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
