//! Logs and traces: `tracing` lines (human-readable or JSON, filtered by `RUST_LOG`) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every span exported over OTLP/HTTP; unset, no
//! exporter, no OpenTelemetry layer and no span bookkeeping for it.

use std::io::IsTerminal;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
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
