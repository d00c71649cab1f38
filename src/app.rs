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

use crate::access::{Access, feed};
use crate::auth::limiter::Limiter;
use crate::auth::password::Hasher;
use crate::auth::{JwtKeys, token};
use crate::config::Settings;
use crate::db::Db;
use crate::events::hub::Dispatcher;
use crate::events::{self, EventHub};
use crate::http::{self, Edge};
use crate::live::{self, sessions::LiveSessions};
use crate::mail::{self, Mailer};
use crate::metrics::Metrics;
use crate::service::{Outlets, ServiceSettings, Services};
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
    /// The listener of `/metrics` when `METRICS_ADDR` is set.
    metrics_listener: Option<TcpListener>,
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

/// The Redis client and its health, when Redis is configured.
type RedisLink = Option<(redis::Client, events::redis::RedisHealth)>;

/// The background tasks of one instance and the token that ends them all.
struct Background {
    /// Cancelled on shutdown.
    stop: CancellationToken,
    /// Every spawned task, awaited on shutdown.
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Spawns `task` and keeps its handle.
    fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }
}

/// The event hub: in-process, or through Redis (whose subscriber is spawned here).
fn event_hub(
    settings: &Settings,
    db: &Db,
    metrics: &Metrics,
    background: &mut Background,
) -> anyhow::Result<(EventHub, Dispatcher, RedisLink)> {
    let backlog = settings.subscriber_backlog;
    let Some(url) = &settings.redis_url else {
        let (hub, dispatcher) = EventHub::local(db.clone(), metrics.clone(), backlog, LOG_POLL);
        return Ok((hub, dispatcher, None));
    };
    let client = events::redis::client(url)?;
    let health = events::redis::RedisHealth::default();
    let channel = settings.redis_channel.clone();
    let stop = background.stop.clone();
    let (publisher, publishing) =
        events::redis::publisher(client.clone(), channel.clone(), stop.clone());
    background.tasks.push(publishing);
    let (tx, rx) = mpsc::unbounded_channel();
    let subscriber =
        events::redis::subscribe_loop(client.clone(), channel, tx, health.clone(), stop);
    background.spawn(subscriber);
    let (hub, dispatcher) = EventHub::redis(
        db.clone(),
        metrics.clone(),
        backlog,
        LOG_POLL,
        publisher,
        rx,
    );
    Ok((hub, dispatcher, Some((client, health))))
}

/// Spawns the instance's workers: the event dispatcher, the session re-check, share expiry,
/// event retention and mail delivery.
fn spawn_workers(
    background: &mut Background,
    settings: &Arc<Settings>,
    db: &Db,
    metrics: &Metrics,
    dispatcher: Dispatcher,
    outlets: &Outlets,
    sessions: &Arc<LiveSessions>,
) {
    let stop = background.stop.clone();
    let every = |seconds| Duration::from_secs(seconds);
    let recheck_every = every(settings.session_check_interval);
    background.spawn(live::recheck::run(
        sessions.clone(),
        db.clone(),
        recheck_every,
        stop.clone(),
    ));
    background.spawn(dispatcher.run(stop.clone()));
    let expiry_every = every(settings.share_expiry_interval);
    let expiry =
        crate::service::expiry::run(db.clone(), outlets.clone(), expiry_every, stop.clone());
    background.spawn(expiry);
    let days = settings.event_retention_days;
    background.spawn(events::retention::run(
        db.clone(),
        days,
        PRUNE_EVERY,
        stop.clone(),
    ));
    let (db, settings, mailer, metrics) = (
        db.clone(),
        settings.clone(),
        outlets.mailer.clone(),
        metrics.clone(),
    );
    background
        .spawn(async move { mail::delivery::run(db, &settings, mailer, metrics, stop).await });
}

/// The per-email and per-client credential budgets, counted in Redis when configured so the
/// budget holds across instances.
fn credential_limiters(settings: &Settings, redis: &RedisLink) -> (Limiter, Limiter) {
    let limiter = Limiter::new(CREDENTIAL_ATTEMPTS, CREDENTIAL_WINDOW);
    let client_limiter = Limiter::new(settings.client_credential_attempts, CREDENTIAL_WINDOW);
    let Some((client, _)) = redis else {
        return (limiter, client_limiter);
    };
    let channel = &settings.redis_channel;
    (
        limiter.shared(client.clone(), channel),
        client_limiter.shared(client.clone(), &format!("{channel}:client")),
    )
}

/// The shared state of the instance, and the services' handles within it.
fn app_state(
    settings: Arc<Settings>,
    db: Db,
    metrics: Metrics,
    jwt: JwtKeys,
    outlets: Outlets,
    sessions: Arc<LiveSessions>,
    redis: &RedisLink,
) -> AppState {
    let (limiter, client_limiter) = credential_limiters(&settings, redis);
    let hasher = Hasher::new(
        settings.hash_concurrency(),
        Duration::from_millis(settings.password_hash_wait_ms),
        metrics.clone(),
    );
    let services = Services {
        db: db.clone(),
        outlets: outlets.clone(),
        jwt: jwt.clone(),
        limiter: limiter.clone(),
        hasher: hasher.clone(),
        settings: Arc::new(ServiceSettings::of(&settings)),
    };
    AppState::new(crate::state::Shared {
        db,
        settings,
        jwt,
        metrics,
        events: outlets.events,
        sessions,
        mailer: outlets.mailer,
        limiter,
        client_limiter,
        hasher,
        access: outlets.access,
        services,
    })
}

/// The request side: the state, both schemas, the ingest door and the live connections.
fn edge(
    settings: &Settings,
    state: AppState,
    redis: RedisLink,
    shutdown: CancellationToken,
) -> Edge {
    let schema = crate::graphql::build(Some(state.clone()));
    let prevalidated = crate::graphql::build_prevalidated(state.clone());
    let introspection = crate::graphql::build_introspection(state.clone());
    let limits = crate::graphql::ingest::Limits::from_settings(settings);
    let persisted = Arc::new(match &redis {
        Some((client, _)) => crate::graphql::persisted::Persisted::shared(
            client.clone(),
            &settings.redis_channel,
            Duration::from_secs(settings.persisted_query_ttl),
        ),
        None => crate::graphql::persisted::Persisted::local(),
    });
    let ingest = Arc::new(crate::graphql::ingest::Ingest::new(limits));
    Edge::new(crate::http::EdgeParts {
        live: live::Live {
            state: state.clone(),
            schema: schema.clone(),
            ingest: ingest.clone(),
            groups: Default::default(),
            shutdown,
            connections: Default::default(),
        },
        state,
        schema,
        prevalidated,
        introspection,
        ingest,
        persisted,
        redis,
    })
}

/// How often each instance reads the access log for changes no message brought.
const ACCESS_POLL: Duration = Duration::from_secs(1);

/// The session authority, its Redis relay when configured, and the log poll.
fn start_access(
    db: &Db,
    metrics: &Metrics,
    settings: &Settings,
    redis: &RedisLink,
    background: &mut Background,
) -> Access {
    let recheck = Duration::from_secs(settings.session_check_interval);
    let channel = format!("{}:access", settings.redis_channel);
    let stop = background.stop.clone();
    let access = match redis {
        None => Access::new(db.clone(), metrics.clone(), recheck, None),
        Some((client, _)) => {
            let (publisher, task) = feed::publisher(client.clone(), channel.clone(), stop.clone());
            background.spawn(task);
            let access = Access::new(db.clone(), metrics.clone(), recheck, Some(publisher));
            background.spawn(feed::subscribe(
                access.clone(),
                client.clone(),
                channel,
                stop.clone(),
            ));
            access
        }
    };
    background.spawn(feed::poll(access.clone(), db.clone(), ACCESS_POLL, stop));
    access
}

/// The listener of `METRICS_ADDR`, when set.
async fn bind_metrics(settings: &Settings) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = settings.metrics_addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("Failed to bind METRICS_ADDR {addr}"))?;
    Ok(Some(listener))
}

impl Application {
    /// Builds the gateway from `settings`; binds `LISTEN_ADDR` (port 0 picks a free port).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("Failed to bind LISTEN_ADDR {}", settings.listen_addr))?;
        // The bound port, when port 0 asked for any: the default `PUBLIC_URL` links to it.
        settings.listen_addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        let settings = Arc::new(settings);
        let metrics = Metrics::default();
        let db = connect_and_migrate(&settings, metrics.clone()).await?;
        let secret = jwt_secret(&db, &settings).await?;
        let jwt = JwtKeys::new(
            secret.as_bytes(),
            &settings.jwt_issuer,
            &settings.jwt_audience,
            i64::try_from(settings.access_token_ttl).context("ACCESS_TOKEN_TTL is too large")?,
        );
        let mut background = Background {
            stop: CancellationToken::new(),
            tasks: Vec::new(),
        };
        let (hub, dispatcher, redis) = event_hub(&settings, &db, &metrics, &mut background)?;
        let access = start_access(&db, &metrics, &settings, &redis, &mut background);
        let sessions = Arc::new(LiveSessions::default());
        let outlets = Outlets {
            events: hub,
            mailer: Mailer::default(),
            access: access.clone(),
        };
        spawn_workers(
            &mut background,
            &settings,
            &db,
            &metrics,
            dispatcher,
            &outlets,
            &sessions,
        );
        let stop = background.stop.clone();
        background.spawn(live::sessions::follow(
            sessions.clone(),
            outlets.events.clone(),
            stop.clone(),
        ));
        background.spawn(live::sessions::follow_access(
            access,
            sessions.clone(),
            db.clone(),
            stop,
        ));
        let state = app_state(
            settings.clone(),
            db,
            metrics,
            jwt,
            outlets,
            sessions,
            &redis,
        );
        let metrics_listener = bind_metrics(&settings).await?;
        Ok(Self {
            listener,
            metrics_listener,
            edge: edge(&settings, state, redis, background.stop.clone()),
            stop: background.stop,
            tasks: background.tasks,
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
        if let Some(listener) = self.metrics_listener {
            let router = http::metrics_router(self.edge.clone());
            let stop = self.stop.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics listener failed");
                }
            });
        }
        let limits = http::serve::ConnectionLimits {
            max_connections: settings.max_connections,
            header_read: Duration::from_secs(settings.header_read_timeout),
            idle: Duration::from_secs(settings.idle_timeout),
        };
        let served = async {
            let threads = http::threads::start(
                settings.serve_threads(),
                self.listener,
                &self.edge,
                limits,
                &self.stop,
            )
            .await?;
            tokio::select! {
                () = shutdown => {},
                () = self.stop.cancelled() => {},
            }
            threads.join().await;
            anyhow::Ok(())
        }
        .await;
        self.stop.cancel();
        // WebSocket connections were told to close (1001) when `stop` was cancelled.
        connections.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), connections.wait()).await;
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        served?;
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
