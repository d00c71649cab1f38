//! Each HTTP request as a span, its parent taken from a W3C `traceparent`, and one INFO line
//! when it is answered: method, path, GraphQL operation name and type, status, duration and
//! trace id. Never the query string, headers, variables or bodies (they carry tokens).

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The GraphQL operations a response answered, left on it by the GraphQL handler for the log.
#[derive(Clone, Default)]
pub struct Operations {
    /// Operation names as the client sent them (`-` for none), in request order.
    pub names: Vec<String>,
    /// Operation types (`query`, `mutation`, `subscription`, `-` for a refused document).
    pub types: Vec<&'static str>,
}

/// The middleware: wraps the request in its span and logs it once answered.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = %format_args!("{method} {path}"),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        url.path = %path,
        http.response.status_code = Empty,
        trace_id = Empty,
    );
    let _ = span.set_parent(parent.clone());
    let trace_id = trace_id(&span, &parent);
    if let Some(id) = &trace_id {
        span.record("trace_id", id.as_str());
    }
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    // Only GraphQL responses carry operations; any other path logs none.
    let operations = response
        .extensions()
        .get::<Operations>()
        .cloned()
        .unwrap_or_default();
    tracing::info!(
        parent: &span,
        method = %method,
        path = %path,
        operation_name = %operations.names.join(","),
        operation_type = %operations.types.join(","),
        status = status.as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1e3,
        trace_id = trace_id.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

/// The trace the request belongs to: the exported span's, or else the caller's `traceparent`.
fn trace_id(span: &tracing::Span, parent: &opentelemetry::Context) -> Option<String> {
    [span.context(), parent.clone()].iter().find_map(|cx| {
        let context = cx.span().span_context().clone();
        context.is_valid().then(|| context.trace_id().to_string())
    })
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
