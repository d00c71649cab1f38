//! The browser pages and their assets: served with their types, self-contained, gated by
//! production mode and `DASHBOARD_ENABLED`, and mail linking to the listen address by default.

use crate::helpers::{Options, TestApp, spawn_app, spawn_with};

/// Our own pages and scripts, each with the media type it must be served with.
const OWN: &[(&str, &str)] = &[
    ("/", "text/html"),
    ("/accept-invitation?token=abc", "text/html"),
    ("/reset-password?token=abc", "text/html"),
    ("/assets/app.css", "text/css"),
    ("/assets/client.js", "text/javascript"),
    ("/assets/ui.js", "text/javascript"),
    ("/assets/dashboard.js", "text/javascript"),
    ("/assets/welcome.js", "text/javascript"),
    ("/assets/graphiql.js", "text/javascript"),
];

/// The vendored GraphiQL and React builds.
const VENDORED: &[(&str, &str)] = &[
    ("/graphiql/graphiql-3.9.0.min.js", "text/javascript"),
    ("/graphiql/graphiql-3.9.0.min.css", "text/css"),
    (
        "/graphiql/react-18.3.1.production.min.js",
        "text/javascript",
    ),
    (
        "/graphiql/react-dom-18.3.1.production.min.js",
        "text/javascript",
    ),
    ("/graphiql/LICENSE.graphiql", "text/plain"),
];

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("accept", "text/html,*/*")
        .send()
        .await
        .expect("request")
}

async fn status(app: &TestApp, path: &str) -> u16 {
    get(app, path).await.status().as_u16()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The paths a page or script loads: `src="…"`, `href="…"` and `from '…'`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["src=\"", "href=\"", "from '"] {
        for piece in text.split(marker).skip(1) {
            let end = piece.find(['"', '\'']).unwrap_or(piece.len());
            found.push(piece[..end].to_owned());
        }
    }
    found
}

#[tokio::test]
async fn pages_and_assets_are_served_with_their_content_types_and_cache_headers() {
    let app = spawn_app().await;
    for (path, media) in OWN.iter().chain(VENDORED) {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let content_type = header(&response, "content-type");
        assert!(content_type.starts_with(media), "{path}: {content_type}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    }
    let vendored = get(&app, "/graphiql/graphiql-3.9.0.min.js").await;
    assert!(header(&vendored, "cache-control").contains("immutable"));
    let own = get(&app, "/assets/dashboard.js").await;
    assert_eq!(header(&own, "cache-control"), "no-cache");
    let page = get(&app, "/").await;
    assert!(header(&page, "content-security-policy").contains("default-src 'self'"));
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    assert_eq!(status(&app, "/assets/missing.js").await, 404);
}

#[tokio::test]
async fn graphiql_is_our_page_on_the_vendored_builds_and_everything_it_loads_is_served() {
    let app = spawn_app().await;
    let page = get(&app, "/graphql").await;
    assert!(header(&page, "content-type").starts_with("text/html"));
    let html = page.text().await.expect("body");
    let loaded = references(&html);
    for expected in [
        "/graphiql/react-18.3.1.production.min.js",
        "/graphiql/react-dom-18.3.1.production.min.js",
        "/graphiql/graphiql-3.9.0.min.js",
        "/graphiql/graphiql-3.9.0.min.css",
        "/assets/graphiql.js",
    ] {
        assert!(
            loaded.iter().any(|p| p == expected),
            "{expected} not in {loaded:?}"
        );
    }
    for path in loaded {
        assert_eq!(status(&app, &path).await, 200, "{path}");
    }
}

#[tokio::test]
async fn no_page_script_or_style_of_ours_refers_to_another_origin() {
    let app = spawn_app().await;
    for (path, _) in OWN.iter().chain(&[("/graphql", "text/html")]) {
        let text = get(&app, path).await.text().await.expect("body");
        for scheme in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
            assert!(!text.contains(scheme), "{path} contains {scheme}");
        }
        for reference in references(&text) {
            assert!(
                reference.starts_with('/') && !reference.starts_with("//"),
                "{path} loads {reference}, not a path of this origin"
            );
            assert_eq!(
                status(&app, &reference).await,
                200,
                "{path} loads {reference}"
            );
        }
    }
    // The vendored stylesheet embeds its fonts and icons: nothing to fetch.
    let css = get(&app, "/graphiql/graphiql-3.9.0.min.css")
        .await
        .text()
        .await
        .expect("body");
    assert!(!css.contains("url(http") && !css.contains("@import"));
}

#[tokio::test]
async fn in_production_graphiql_and_the_dashboard_are_not_served_but_the_mail_pages_are() {
    let app = spawn_with(Options {
        extra: vec![("--production".into(), "true".into())],
        ..Default::default()
    })
    .await;
    for path in [
        "/",
        "/assets/dashboard.js",
        "/assets/graphiql.js",
        "/graphiql/graphiql-3.9.0.min.js",
        "/graphiql/react-18.3.1.production.min.js",
    ] {
        assert_eq!(status(&app, path).await, 404, "{path}");
    }
    let graphql = get(&app, "/graphql").await;
    assert!(!header(&graphql, "content-type").starts_with("text/html"));
    for path in [
        "/accept-invitation?token=abc",
        "/reset-password?token=abc",
        "/assets/welcome.js",
    ] {
        assert_eq!(status(&app, path).await, 200, "{path}");
    }
}

#[tokio::test]
async fn dashboard_enabled_serves_the_dashboard_in_production_without_graphiql() {
    let app = spawn_with(Options {
        extra: vec![
            ("--production".into(), "true".into()),
            ("--dashboard-enabled".into(), "true".into()),
        ],
        ..Default::default()
    })
    .await;
    assert_eq!(status(&app, "/").await, 200);
    assert_eq!(status(&app, "/assets/dashboard.js").await, 200);
    assert_eq!(status(&app, "/graphiql/graphiql-3.9.0.min.js").await, 404);
}

#[tokio::test]
async fn dashboard_enabled_false_turns_the_dashboard_off_outside_production() {
    let app = spawn_with(Options {
        extra: vec![("--dashboard-enabled".into(), "false".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(status(&app, "/").await, 404);
    assert_eq!(status(&app, "/graphiql/graphiql-3.9.0.min.js").await, 200);
}

#[tokio::test]
async fn without_public_url_the_invitation_mail_links_to_the_address_listened_on() {
    let app = spawn_with(Options {
        default_public_url: true,
        ..Default::default()
    })
    .await;
    let org = app.create_org("Linked").await;
    app.invite(&org.admin.token, "new@linked.test", &["DRIVER"])
        .await;
    let mail = app.mail_to("new@linked.test").await;
    let link = format!("http://127.0.0.1:{}/accept-invitation?token=", app.port);
    assert!(mail.contains(&link), "{link} not in {mail}");
    let page = get(&app, "/accept-invitation?token=x").await;
    assert_eq!(page.status(), 200);
}
