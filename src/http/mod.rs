//! The axum router: `/graphql` (POST, GET, WebSocket), `/healthz`, `/readyz`, `/metrics`,
//! and authentication of each request at the edge.

mod auth;
mod export;
mod graphql;
pub mod serve;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::graphql::AppSchema;
use crate::state::AppState;

pub use auth::{authenticate, client_addr};

/// Largest request body accepted (413 above).
const MAX_BODY: usize = 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct Edge {
    /// Application state.
    pub state: AppState,
    /// The schema.
    pub schema: AppSchema,
    /// The schema introspection operations run on (see `graphql::ingest`).
    pub introspection: AppSchema,
    /// The door every document passes before it is run.
    pub ingest: std::sync::Arc<crate::graphql::ingest::Ingest>,
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
    Router::new()
        .route("/graphql", get(graphql::get_or_upgrade).post(graphql::post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/export/drivers.csv", get(export::drivers))
        .route("/export/routes.csv", get(export::routes))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(timeout)
        .layer(cors(
            &settings.cors_allowed_origins,
            &settings.cors_allowed_headers,
        ))
        .layer(TraceLayer::new_for_http())
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

async fn metrics(State(edge): State<Edge>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        edge.state.metrics.render(),
    )
}
