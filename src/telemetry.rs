//! Logs and traces: `tracing` lines (human-readable or JSON, filtered by `RUST_LOG`) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every span exported over OTLP/HTTP; unset, no
//! exporter, no OpenTelemetry layer and no span bookkeeping for it.
//!
//! SQL statements become client spans once they have run ([`statement`], called by the
//! database handle's statement callback with the statement's duration), rather than by
//! wrapping each statement's future in a span: with traces off they cost nothing at all.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use sea_orm::DatabaseBackend;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, Settings};

/// The trace export, kept so the spans still buffered are sent before the process exits.
pub struct Telemetry {
    /// The OpenTelemetry pipeline, when an endpoint is configured.
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the export.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The processor's last round trip is awaited on a thread of its own.
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(error)) = flushed {
                eprintln!("lastmile: could not flush traces: {error}");
            }
        }
    }
}

/// Installs the global subscriber (once; later calls are ignored); must run inside the tokio
/// runtime when traces are exported (the export is one of its tasks).
pub fn init(settings: &Settings) -> anyhow::Result<Telemetry> {
    // Unset or empty: `info`; set but unreadable: refused, rather than silently `info`.
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()
        .context("RUST_LOG is not a valid log filter")?;
    let provider = match &settings.otel_exporter_otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(endpoint, &settings.otel_service_name)?),
        None => None,
    };
    if let Some(provider) = &provider {
        let _ = STATEMENTS.set(provider.tracer("lastmile"));
    }
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("lastmile"))
            .with_tracked_inactivity(false)
    });
    // Colours for a terminal only: not as escape codes in a log file or collector.
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let lines = match settings.log_format {
        LogFormat::Json => lines.json().boxed(),
        LogFormat::Text => lines.boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(traces)
        .with(lines)
        .try_init();
    Ok(Telemetry { provider })
}

/// The tracer of statement spans: set only when traces are exported.
static STATEMENTS: OnceLock<SdkTracer> = OnceLock::new();

/// Records an SQL statement that has just finished as a client span of the span it ran in
/// (`db.system`, `db.operation`, `db.statement`: the SQL text with its placeholders, never the
/// values bound to them). Nothing happens unless traces are exported.
pub fn statement(backend: DatabaseBackend, sql: &str, elapsed: Duration, failed: bool) {
    let Some(tracer) = STATEMENTS.get() else {
        return;
    };
    let end = SystemTime::now();
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let operation = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let system = match backend {
        DatabaseBackend::Postgres => "postgresql",
        DatabaseBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    let parent = tracing::Span::current().context();
    let mut span = tracer
        .span_builder(operation.clone())
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system", system),
            KeyValue::new("db.operation", operation),
            KeyValue::new("db.statement", sql.to_owned()),
        ])
        .start_with_context(tracer, &parent);
    span.set_status(match failed {
        true => Status::error("the statement failed"),
        false => Status::Ok,
    });
    span.end_with_timestamp(end);
}

/// Spans batched and sent as protobuf to `{endpoint}/v1/traces`.
fn tracer_provider(endpoint: &str, service: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("Failed to build the OTLP span exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}
