//! The browser pages the binary serves (the dashboard at `/`, the pages mails link to,
//! GraphiQL) and their assets, embedded at build time so they work with no network.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Edge;

/// Who may be served an asset.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Always: the pages mails link to and what they need.
    Always,
    /// While the dashboard is enabled (`DASHBOARD_ENABLED`, by default outside production).
    Dashboard,
    /// While GraphiQL is on (outside production).
    GraphiQL,
}

/// One file served at one path.
struct Asset {
    /// The URL path.
    path: &'static str,
    /// The `Content-Type`.
    content_type: &'static str,
    /// The bytes, embedded in the binary.
    body: &'static [u8],
    /// When it is served.
    gate: Gate,
    /// Whether the path carries the file's version, so browsers may keep it for a year.
    versioned: bool,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Our own files: small, changed with the binary, so revalidated on every load.
macro_rules! own {
    ($path:literal, $file:literal, $type:expr, $gate:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/web/", $file)),
            gate: $gate,
            versioned: false,
        }
    };
}

/// Vendored GraphiQL and React builds, their versions in their paths (see assets/README).
macro_rules! vendored {
    ($file:literal, $type:expr, $versioned:expr) => {
        Asset {
            path: concat!("/graphiql/", $file),
            content_type: $type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $file
            )),
            gate: Gate::GraphiQL,
            versioned: $versioned,
        }
    };
}

/// The GraphiQL page, served by `GET /graphql` to browsers.
const GRAPHIQL_PAGE: Asset = own!("/graphql", "graphiql.html", HTML, Gate::GraphiQL);

/// Every file served at its own path.
const ASSETS: &[Asset] = &[
    own!("/", "dashboard.html", HTML, Gate::Dashboard),
    own!("/assets/dashboard.js", "dashboard.js", JS, Gate::Dashboard),
    own!(
        "/accept-invitation",
        "accept-invitation.html",
        HTML,
        Gate::Always
    ),
    own!("/reset-password", "reset-password.html", HTML, Gate::Always),
    own!("/assets/welcome.js", "welcome.js", JS, Gate::Always),
    own!("/assets/client.js", "client.js", JS, Gate::Always),
    own!("/assets/ui.js", "ui.js", JS, Gate::Always),
    own!("/assets/app.css", "app.css", CSS, Gate::Always),
    own!("/assets/graphiql.js", "graphiql.js", JS, Gate::GraphiQL),
    vendored!("graphiql-3.9.0.min.js", JS, true),
    vendored!("graphiql-3.9.0.min.css", CSS, true),
    vendored!("react-18.3.1.production.min.js", JS, true),
    vendored!("react-dom-18.3.1.production.min.js", JS, true),
    vendored!("LICENSE.graphiql", TEXT, false),
    vendored!("LICENSE.react", TEXT, false),
    vendored!("LICENSE.react-dom", TEXT, false),
];

/// Scripts, styles, fonts and connections from this origin only (fonts and icons of GraphiQL
/// are `data:` URLs; React sets inline styles); no framing; links carry no referrer, so an
/// invitation or reset token in the URL never leaves in a `Referer`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     font-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The routes of every asset (each answers 404 while its gate is closed).
pub fn routes() -> Router<Edge> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(serve))
    })
}

/// The GraphiQL page when GraphiQL is on.
pub fn graphiql(edge: &Edge) -> Option<Response> {
    open(edge, GRAPHIQL_PAGE.gate).then(|| respond(&GRAPHIQL_PAGE))
}

async fn serve(State(edge): State<Edge>, uri: Uri) -> Response {
    match ASSETS.iter().find(|asset| asset.path == uri.path()) {
        Some(asset) if open(&edge, asset.gate) => respond(asset),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn open(edge: &Edge, gate: Gate) -> bool {
    let settings = &edge.state.settings;
    match gate {
        Gate::Always => true,
        Gate::Dashboard => settings.dashboard_enabled(),
        Gate::GraphiQL => !settings.production,
    }
}

fn respond(asset: &Asset) -> Response {
    let cache = if asset.versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type == HTML {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}
