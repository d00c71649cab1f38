//! The axum router: `/graphql` (POST, GET, WebSocket), `/healthz`, `/readyz`, `/metrics`,
//! the browser pages, and authentication of each request at the edge.

mod auth;
mod export;
mod graphql;
pub mod observe;
mod pages;
pub mod serve;
pub mod threads;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::graphql::AppSchema;
use crate::state::AppState;

pub use auth::{authenticate, client_addr};

/// Largest request body accepted (413 above).
const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share: one allocation, so the clone each request takes is a reference
/// count.
#[derive(Clone)]
pub struct Edge(std::sync::Arc<EdgeParts>);

impl Edge {
    /// The edge holding `parts`.
    pub fn new(parts: EdgeParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }

    /// The same edge on another pool (a serving thread's own): the state and the schemas are
    /// built again around it; the ingest door, the persisted documents, the live groups and
    /// the tracker of live connections stay shared by all threads.
    pub fn with_db(&self, db: crate::db::Db) -> Self {
        let state = self.state.with_db(db);
        let schema = crate::graphql::build(Some(state.clone()));
        Self::new(EdgeParts {
            live: crate::live::Live {
                state: state.clone(),
                schema: schema.clone(),
                ..self.live.clone()
            },
            prevalidated: crate::graphql::build_prevalidated(state.clone()),
            introspection: crate::graphql::build_introspection(state.clone()),
            state,
            schema,
            ingest: self.ingest.clone(),
            persisted: self.persisted.clone(),
            redis: self.redis.clone(),
        })
    }
}

impl std::ops::Deref for Edge {
    type Target = EdgeParts;

    fn deref(&self) -> &EdgeParts {
        &self.0
    }
}

/// What [`Edge`] holds.
pub struct EdgeParts {
    /// Application state.
    pub state: AppState,
    /// The schema.
    pub schema: AppSchema,
    /// The same schema, for documents known to pass every validation rule.
    pub prevalidated: AppSchema,
    /// The schema introspection operations run on (see `graphql::ingest`).
    pub introspection: AppSchema,
    /// The door every document passes before it is run.
    pub ingest: std::sync::Arc<crate::graphql::ingest::Ingest>,
    /// Documents clients name by hash (automatic persisted queries).
    pub persisted: std::sync::Arc<crate::graphql::persisted::Persisted>,
    /// The Redis client, when configured (for readiness).
    pub redis: Option<(redis::Client, crate::events::redis::RedisHealth)>,
    /// The live wing: WebSocket and Server-Sent Events subscriptions.
    pub live: crate::live::Live,
}

/// The gateway's routes.
pub fn router(edge: Edge) -> Router {
    let settings = edge.state.settings.clone();
    let timeout = TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(settings.request_timeout),
    );
    let mut routes = Router::new()
        .route("/graphql", get(graphql::get_or_upgrade).post(graphql::post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    // With METRICS_ADDR, `/metrics` is served there only (see [`metrics_router`]).
    if settings.metrics_addr.is_none() {
        routes = routes.route("/metrics", get(metrics));
    }
    routes
        .route("/export/drivers.csv", get(export::drivers))
        .route("/export/routes.csv", get(export::routes))
        .merge(pages::routes())
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(timeout)
        .layer(cors(
            &settings.cors_allowed_origins,
            &settings.cors_allowed_headers,
        ))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(edge)
}

/// CORS for the configured browser origins; none configured means same-origin only, `*` any
/// origin (without credentials: tokens travel in `Authorization`, never in cookies).
fn cors(origins: &[String], headers: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        let allowed: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        if allowed.is_empty() {
            return CorsLayer::new();
        }
        AllowOrigin::list(allowed)
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(
            headers
                .iter()
                .filter_map(|h| header::HeaderName::from_bytes(h.trim().as_bytes()).ok())
                .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(600))
}

async fn readyz(State(edge): State<Edge>) -> impl IntoResponse {
    let db_ok = tokio::time::timeout(Duration::from_secs(2), edge.state.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let redis_ok = match &edge.redis {
        None => true,
        Some((client, health)) => health.is_up() && crate::events::redis::ping(client).await,
    };
    let body = serde_json::json!({
        "database": if db_ok { "up" } else { "down" },
        "redis": match (&edge.redis, redis_ok) { (None, _) => "not configured", (Some(_), true) => "up", (Some(_), false) => "down" },
    });
    let status = if db_ok && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

/// `/metrics` alone, for the listener at `METRICS_ADDR`.
pub fn metrics_router(edge: Edge) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(edge)
}

async fn metrics(State(edge): State<Edge>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        edge.state.metrics.render(),
    )
}
