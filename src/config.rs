//! Settings: every option is a command-line flag and an environment variable, read once at startup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The `lastmile` command line.
#[derive(Debug, Parser)]
#[command(
    name = "lastmile",
    version,
    about = "GraphQL gateway for last-mile delivery fleets"
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands of `lastmile`.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run pending migrations, then serve HTTP and WebSocket.
    Serve {
        /// On an empty database, load demo data first and print how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Run pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) that `schema.graphql` must equal.
    Schema,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The longest token lifetime, in seconds: a century. Longer expiries overflow the time
/// arithmetic of tokens, so they are refused at startup rather than failing at sign-in.
pub const MAX_TOKEN_TTL: u64 = 100 * 366 * 24 * 3600;

/// Gateway configuration; defaults give a working single-machine gateway.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        global = true,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8000"
    )]
    pub listen_addr: SocketAddr,
    /// `sqlite://…` (embedded) or `postgres://…`.
    #[arg(
        global = true,
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://lastmile.db?mode=rwc"
    )]
    pub database_url: String,
    /// Maximum database connections in the pool.
    #[arg(
        long,
        global = true,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub database_max_connections: u32,
    /// `redis://…`: fan events out through Redis pub/sub; unset: in-process fan-out.
    #[arg(long, global = true, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Redis pub/sub channel carrying status events; instances of one deployment share it.
    #[arg(
        long,
        global = true,
        env = "REDIS_CHANNEL",
        default_value = "lastmile:status-events"
    )]
    pub redis_channel: String,
    /// HS256 signing secret (32+ bytes); unset: generated once and kept in the database.
    #[arg(long, global = true, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// `iss` of issued tokens, required on every token.
    #[arg(long, global = true, env = "JWT_ISSUER", default_value = "lastmile")]
    pub jwt_issuer: String,
    /// `aud` of issued tokens, required on every token.
    #[arg(long, global = true, env = "JWT_AUDIENCE", default_value = "lastmile")]
    pub jwt_audience: String,
    /// Access token lifetime in seconds (at most a century).
    #[arg(long, global = true, env = "ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,
    /// Refresh token lifetime in seconds (at most a century).
    #[arg(long, global = true, env = "REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,
    /// `smtp://host:port` for real delivery; unset: `.eml` files in `MAIL_DIR`.
    #[arg(long, global = true, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Where mail goes without SMTP.
    #[arg(long, global = true, env = "MAIL_DIR", default_value = "./mail")]
    pub mail_dir: PathBuf,
    /// Sender of every mail.
    #[arg(
        global = true,
        long,
        env = "MAIL_FROM",
        default_value = "Last Mile <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Base of links in mail; unset: `http://` + the address listened on (loopback when that
    /// is all interfaces), so read it through [`Settings::public_url`].
    #[arg(long, global = true, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Whether `createOrganization` is open to anyone.
    #[arg(long, global = true, env = "ALLOW_SIGNUP", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub allow_signup: bool,
    /// Turns off GraphiQL, introspection and field suggestions.
    #[arg(long, global = true, env = "PRODUCTION", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub production: bool,
    /// Serves the live dashboard page at `/`; unset: on outside production, off in it.
    #[arg(long, global = true, env = "DASHBOARD_ENABLED", value_parser = BoolishValueParser::new())]
    pub dashboard_enabled: Option<bool>,
    /// Days status events are kept: the audit trail and the `statusChanged(after:)` replay window.
    #[arg(
        long,
        global = true,
        env = "EVENT_RETENTION_DAYS",
        default_value_t = 400
    )]
    pub event_retention_days: u32,
    /// Seconds between re-checks of live sessions' memberships (removed or other roles end the
    /// session; a status change does not).
    #[arg(
        long,
        global = true,
        env = "SESSION_CHECK_INTERVAL",
        default_value_t = 30
    )]
    pub session_check_interval: u64,
    /// Seconds between sweeps ending the shares whose `expiresAt` has passed.
    #[arg(
        long,
        global = true,
        env = "SHARE_EXPIRY_INTERVAL",
        default_value_t = 10
    )]
    pub share_expiry_interval: u64,
    /// Live events one subscriber may fall behind before it is caught up from the event log.
    #[arg(
        long,
        global = true,
        env = "SUBSCRIBER_BACKLOG",
        default_value_t = 4096
    )]
    pub subscriber_backlog: usize,
    /// Origins allowed to call the API from a browser (comma-separated, each
    /// `scheme://host[:port]`); `*`: any origin (browsers then send no credentials such as
    /// cookies, which the gateway never uses: tokens travel in `Authorization`); unset: same
    /// origin only.
    #[arg(
        long,
        global = true,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allowed_origins: Vec<String>,
    /// Deepest nesting of `[`, `{` and `(` a GraphQL document may have; deeper ones are refused
    /// before parsing (GRAPHQL_PARSE_FAILED).
    #[arg(long, global = true, env = "GRAPHQL_MAX_NESTING", default_value_t = 64)]
    pub graphql_max_nesting: usize,
    /// Most lexical tokens a GraphQL document may have; longer ones are refused before parsing.
    #[arg(
        long,
        global = true,
        env = "GRAPHQL_MAX_TOKENS",
        default_value_t = 4_000
    )]
    pub graphql_max_tokens: usize,
    /// Most field selections of one operation, fragments expanded and duplicates included.
    #[arg(
        long,
        global = true,
        env = "GRAPHQL_MAX_SELECTIONS",
        default_value_t = 500
    )]
    pub graphql_max_selections: usize,
    /// Most password hashes computed at once (each takes 19 MiB and a core for ~50 ms);
    /// 0: the number of cores.
    #[arg(
        long,
        global = true,
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 0
    )]
    pub password_hash_concurrency: usize,
    /// Milliseconds a credential operation waits for a free hashing slot before it is
    /// answered RATE_LIMITED.
    #[arg(
        long,
        global = true,
        env = "PASSWORD_HASH_WAIT_MS",
        default_value_t = 2_000
    )]
    pub password_hash_wait_ms: u64,
    /// Credential attempts (sign-in, tokens, sign-up) one client address may make per 15 minutes.
    #[arg(
        long,
        global = true,
        env = "CLIENT_CREDENTIAL_ATTEMPTS",
        default_value_t = 100
    )]
    pub client_credential_attempts: u32,
    /// Proxies whose `X-Forwarded-For` names the client (comma-separated IP addresses);
    /// unset: the peer address is the client.
    #[arg(long, global = true, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds a client may take to send a request's headers before the connection is closed.
    #[arg(long, global = true, env = "HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, global = true, env = "IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Most open connections (HTTP and WebSocket); beyond it new connections are closed at once.
    #[arg(long, global = true, env = "MAX_CONNECTIONS", default_value_t = 25_000)]
    pub max_connections: usize,
    /// Threads serving HTTP, each with a runtime of its own (and, on PostgreSQL, a pool of its
    /// own); unset: one per core. A request is served on one thread from accept to response,
    /// so it is not woken across threads.
    #[arg(long, global = true, env = "SERVE_THREADS")]
    pub serve_threads: Option<std::num::NonZeroUsize>,
    /// Request headers browsers may send from an allowed origin (comma-separated): the default
    /// takes W3C trace context and Apollo Client's identification headers.
    #[arg(
        long,
        global = true,
        env = "CORS_ALLOWED_HEADERS",
        value_delimiter = ',',
        default_value = "authorization,content-type,accept,traceparent,tracestate,apollographql-client-name,apollographql-client-version"
    )]
    pub cors_allowed_headers: Vec<String>,
    /// Seconds an HTTP request may take before it is answered 408.
    #[arg(long, global = true, env = "REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds a persisted query's document stays in Redis after it was last sent in full.
    #[arg(
        long,
        global = true,
        env = "PERSISTED_QUERY_TTL",
        default_value_t = 24 * 3600
    )]
    pub persisted_query_ttl: u64,
    /// Where to serve `/metrics` instead of the public listener (e.g. `127.0.0.1:9100`, an
    /// address only the scraper reaches); unset: `/metrics` on `LISTEN_ADDR`.
    #[arg(long, global = true, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`): spans are exported as protobuf to
    /// `{endpoint}/v1/traces`; unset: no trace export at all. The exporter also reads the other
    /// standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
    /// `OTEL_TRACES_SAMPLER`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`).
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// `service.name` of exported spans.
    #[arg(
        long,
        global = true,
        env = "OTEL_SERVICE_NAME",
        default_value = "lastmile"
    )]
    pub otel_service_name: String,
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

impl Settings {
    /// Checks what clap cannot: each failure names the setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return Err("JWT_SECRET must be at least 32 bytes".into());
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return Err("DATABASE_URL must start with sqlite: or postgres://".into());
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err("REDIS_URL must start with redis:// or rediss://".into());
        }
        if let Some(url) = &self.smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err("SMTP_URL must start with smtp:// or smtps://".into());
        }
        if let Some(endpoint) = &self.otel_exporter_otlp_endpoint
            && !endpoint.starts_with("http://")
        {
            return Err(
                "OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// (OTLP over plain HTTP, e.g. to a collector on the host)"
                    .into(),
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err("PUBLIC_URL must start with http:// or https://".into());
        }
        if self.access_token_ttl == 0 || self.refresh_token_ttl == 0 {
            return Err("ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL must be positive".into());
        }
        if self.access_token_ttl.max(self.refresh_token_ttl) > MAX_TOKEN_TTL {
            return Err(format!(
                "ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL must be at most {MAX_TOKEN_TTL} seconds (a century)"
            ));
        }
        if self.session_check_interval == 0 {
            return Err("SESSION_CHECK_INTERVAL must be positive".into());
        }
        if self.share_expiry_interval == 0 {
            return Err("SHARE_EXPIRY_INTERVAL must be positive".into());
        }
        if self.subscriber_backlog == 0 {
            return Err("SUBSCRIBER_BACKLOG must be positive".into());
        }
        if self.database_max_connections == 0 {
            return Err("DATABASE_MAX_CONNECTIONS must be positive".into());
        }
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            return Err("JWT_ISSUER and JWT_AUDIENCE must not be empty".into());
        }
        self.validate_limits()?;
        for name in &self.cors_allowed_headers {
            if axum::http::HeaderName::from_bytes(name.trim().as_bytes()).is_err() {
                return Err(format!(
                    "CORS_ALLOWED_HEADERS: `{name}` is not a header name"
                ));
            }
        }
        validate_origins(&self.cors_allowed_origins)
    }

    fn validate_limits(&self) -> Result<(), String> {
        for (value, name) in [
            (self.graphql_max_nesting, "GRAPHQL_MAX_NESTING"),
            (self.graphql_max_tokens, "GRAPHQL_MAX_TOKENS"),
            (self.graphql_max_selections, "GRAPHQL_MAX_SELECTIONS"),
            (self.max_connections, "MAX_CONNECTIONS"),
        ] {
            if value == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        // Deeper documents would overflow the parser's stack, whatever the setting says.
        if self.graphql_max_nesting > 256 {
            return Err("GRAPHQL_MAX_NESTING must be at most 256".into());
        }
        if self.persisted_query_ttl == 0 {
            return Err("PERSISTED_QUERY_TTL must be positive".into());
        }
        if self.header_read_timeout == 0 || self.idle_timeout == 0 || self.request_timeout == 0 {
            return Err(
                "HEADER_READ_TIMEOUT, IDLE_TIMEOUT and REQUEST_TIMEOUT must be positive".into(),
            );
        }
        Ok(())
    }

    /// The password hashes computed at once.
    pub fn hash_concurrency(&self) -> usize {
        match self.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    /// The threads serving HTTP: `SERVE_THREADS`, or one per core.
    pub fn serve_threads(&self) -> usize {
        self.serve_threads.map_or_else(
            || std::thread::available_parallelism().map_or(2, usize::from),
            usize::from,
        )
    }

    /// The base of links in mail: `PUBLIC_URL`, or `http://` + the listen address, with
    /// loopback in place of an unspecified (all interfaces) address.
    pub fn public_url(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let mut address = self.listen_addr;
        if address.ip().is_unspecified() {
            address.set_ip(match address.ip() {
                IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{address}")
    }

    /// Whether `/` serves the dashboard page: `DASHBOARD_ENABLED`, else outside production.
    pub fn dashboard_enabled(&self) -> bool {
        self.dashboard_enabled.unwrap_or(!self.production)
    }

    /// True when the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// Each origin is `*` alone, or `scheme://host[:port]` usable as a header value.
fn validate_origins(origins: &[String]) -> Result<(), String> {
    let origins: Vec<&str> = origins.iter().map(|o| o.trim()).collect();
    if origins.contains(&"*") {
        return match origins.len() {
            1 => Ok(()),
            _ => {
                Err("CORS_ALLOWED_ORIGINS: `*` (any origin) cannot be combined with others".into())
            }
        };
    }
    for origin in origins {
        let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
        let header_ok = axum::http::HeaderValue::from_str(origin).is_ok();
        let bare =
            !origin.trim_end_matches('/').contains(['?', '#']) && origin.matches('/').count() == 2;
        if !(scheme_ok && header_ok && bare) {
            return Err(format!(
                "CORS_ALLOWED_ORIGINS: `{origin}` is not an origin (scheme://host[:port])"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    fn validate(args: &[&str]) -> Result<(), String> {
        let mut argv = vec!["lastmile"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .settings
            .validate()
    }

    #[test]
    fn the_defaults_are_a_working_configuration() {
        assert_eq!(validate(&[]), Ok(()));
    }

    #[test]
    fn a_bad_setting_is_refused_with_a_message_naming_it() {
        for (args, name) in [
            (&["--jwt-secret", "too-short"][..], "JWT_SECRET"),
            (&["--database-url", "mysql://x"][..], "DATABASE_URL"),
            (&["--redis-url", "http://x"][..], "REDIS_URL"),
            (&["--smtp-url", "mail.example.com"][..], "SMTP_URL"),
            (&["--public-url", "example.com"][..], "PUBLIC_URL"),
            (
                &["--otel-exporter-otlp-endpoint", "collector:4318"][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (&["--persisted-query-ttl", "0"][..], "PERSISTED_QUERY_TTL"),
            (&["--access-token-ttl", "0"][..], "ACCESS_TOKEN_TTL"),
            (
                &["--refresh-token-ttl", "18446744073709551615"][..],
                "REFRESH_TOKEN_TTL",
            ),
            (
                &["--cors-allowed-origins", "*,https://a.example"][..],
                "CORS_ALLOWED_ORIGINS",
            ),
            (
                &["--cors-allowed-origins", "a.example"][..],
                "CORS_ALLOWED_ORIGINS",
            ),
            (
                &["--graphql-max-nesting", "100000"][..],
                "GRAPHQL_MAX_NESTING",
            ),
            (&["--max-connections", "0"][..], "MAX_CONNECTIONS"),
            (
                &["--cors-allowed-headers", "bad header"][..],
                "CORS_ALLOWED_HEADERS",
            ),
        ] {
            let error = validate(args).expect_err("refused");
            assert!(error.contains(name), "{error} does not name {name}");
        }
    }

    #[test]
    fn a_lone_star_or_a_list_of_origins_is_a_valid_cors_setting() {
        assert_eq!(validate(&["--cors-allowed-origins", "*"]), Ok(()));
        assert_eq!(
            validate(&[
                "--cors-allowed-origins",
                "https://a.example,http://localhost:5173"
            ]),
            Ok(())
        );
    }

    fn settings(args: &[&str]) -> super::Settings {
        let mut argv = vec!["lastmile"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("parses").settings
    }

    #[test]
    fn the_public_url_defaults_to_the_listen_address() {
        let on = |address| settings(&["--listen-addr", address]).public_url();
        assert_eq!(on("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(on("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(on("[::]:8080"), "http://[::1]:8080");
        assert_eq!(settings(&[]).public_url(), "http://127.0.0.1:8000");
        let set = settings(&[
            "--listen-addr",
            "0.0.0.0:80",
            "--public-url",
            "https://a.example",
        ]);
        assert_eq!(set.public_url(), "https://a.example");
    }

    #[test]
    fn the_dashboard_is_on_outside_production_and_off_in_it_unless_enabled() {
        assert!(settings(&[]).dashboard_enabled());
        assert!(!settings(&["--production", "true"]).dashboard_enabled());
        let enabled = ["--production", "true", "--dashboard-enabled", "true"];
        assert!(settings(&enabled).dashboard_enabled());
        assert!(!settings(&["--dashboard-enabled", "false"]).dashboard_enabled());
    }

    #[test]
    fn http_is_served_on_one_thread_per_core_unless_serve_threads_says_otherwise() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        assert_eq!(settings(&[]).serve_threads(), cores);
        assert_eq!(settings(&["--serve-threads", "3"]).serve_threads(), 3);
        assert!(Cli::try_parse_from(["lastmile", "--serve-threads", "0"]).is_err());
    }

    #[test]
    fn settings_are_flags_after_the_subcommand_too() {
        let cli = Cli::try_parse_from([
            "lastmile",
            "serve",
            "--demo",
            "--listen-addr",
            "127.0.0.1:9000",
        ])
        .expect("parses");
        assert_eq!(cli.settings.listen_addr.port(), 9000);
    }
}
