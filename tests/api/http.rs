//! GraphQL over HTTP and token handling at the edge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{Options, assert_code, spawn_app, spawn_with};

const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";
const PROBE: &str = "{ organization { name } }";

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
        .unwrap_or(Value::Null)
}

fn sign(claims: &Value, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .unwrap_or_default()
}

#[tokio::test]
async fn every_forged_or_stale_access_token_is_rejected() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let valid = claims_of(&org.admin.token);
    assert!(
        app.gql(Some(&org.admin.token), PROBE, json!({}))
            .await
            .get("errors")
            .is_none()
    );

    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = valid.clone();
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = valid.clone();
        c.as_object_mut().map(|o| o.remove(key));
        c
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(valid.to_string())
    );
    let mut tampered = org.admin.token.clone();
    let last = tampered
        .pop()
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .unwrap_or('A');
    tampered.push(last);
    let forged = [
        ("alg none", unsigned),
        ("garbage", "not.a.token".to_owned()),
        ("tampered signature", tampered),
        (
            "other secret",
            sign(
                &valid,
                Algorithm::HS256,
                b"another-secret-that-is-32-bytes-long!!",
            ),
        ),
        ("other algorithm", sign(&valid, Algorithm::HS512, SECRET)),
        (
            "expired",
            sign(&with("exp", json!(now - 120)), Algorithm::HS256, SECRET),
        ),
        (
            "not yet valid",
            sign(&with("nbf", json!(now + 600)), Algorithm::HS256, SECRET),
        ),
        (
            "wrong issuer",
            sign(
                &with("iss", json!("someone-else")),
                Algorithm::HS256,
                SECRET,
            ),
        ),
        (
            "wrong audience",
            sign(
                &with("aud", json!("someone-else")),
                Algorithm::HS256,
                SECRET,
            ),
        ),
        ("no exp", sign(&without("exp"), Algorithm::HS256, SECRET)),
        ("no iss", sign(&without("iss"), Algorithm::HS256, SECRET)),
        ("no aud", sign(&without("aud"), Algorithm::HS256, SECRET)),
        (
            "not an access token",
            sign(
                &with("token_use", json!("refresh")),
                Algorithm::HS256,
                SECRET,
            ),
        ),
    ];
    for (attack, token) in forged {
        let body = app.gql(Some(&token), PROBE, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{attack} was accepted: {body}"
        );
        assert!(body["data"].is_null(), "{attack} leaked data: {body}");
    }
}

#[tokio::test]
async fn an_invalid_token_is_never_treated_as_anonymous() {
    let app = spawn_app().await;
    let body = app
        .gql(Some("garbage"), "{ viewer { email } }", json!({}))
        .await;
    assert_code(&body, "UNAUTHENTICATED");
    let anonymous = app.gql(None, "{ viewer { email } }", json!({})).await;
    assert_code(&anonymous, "UNAUTHENTICATED");
}

#[tokio::test]
async fn typename_works_without_a_token() {
    let app = spawn_app().await;
    let data = app.ok(None, "{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

#[tokio::test]
async fn a_malformed_json_body_gets_400_with_a_graphql_error_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(body["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "text/plain")
        .body("{ __typename }")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let app = spawn_app().await;
    let query = format!("{{ __typename }} # {}", "x".repeat(1_100_000));
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn queries_run_over_get_and_mutations_over_get_are_405() {
    let app = spawn_app().await;
    let ok = app
        .client
        .get(format!("{}/graphql?query=%7B__typename%7D", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    let mutation = app
        .client
        .get(format!(
            "{}/graphql?query=mutation%7BsignOut(refreshToken%3A%22x%22)%7D",
            app.address
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(mutation.status(), 405);
    assert_eq!(
        mutation
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
}

#[tokio::test]
async fn request_errors_are_400_for_graphql_response_json_and_200_for_json() {
    let app = spawn_app().await;
    let send = |accept: &'static str| {
        app.client
            .post(format!("{}/graphql", app.address))
            .header("accept", accept)
            .json(&json!({ "query": "{ noSuchField }" }))
            .send()
    };
    let modern = send("application/graphql-response+json")
        .await
        .expect("sent");
    assert_eq!(modern.status(), 400);
    assert_eq!(
        modern
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/graphql-response+json")
    );
    let body: Value = modern.json().await.expect("json");
    assert!(body.get("data").is_none());
    let legacy = send("application/json").await.expect("sent");
    assert_eq!(legacy.status(), 200);
    let preferred = send("application/json;q=0.5, application/graphql-response+json")
        .await
        .expect("sent");
    assert_eq!(preferred.status(), 400);
}

#[tokio::test]
async fn field_errors_are_200_with_data() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ viewer { email } }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert!(body.get("data").is_some());
    assert_code(&body, "UNAUTHENTICATED");
}

#[tokio::test]
async fn batches_over_ten_operations_are_refused() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&batch)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let small: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let ok = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&small)
        .send()
        .await
        .expect("sent");
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn overly_deep_queries_are_refused() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let deep = "{ organization { depots(first: 1) { nodes { organization { depots(first: 1) { nodes { organization { depots(first: 1) { nodes { organization { depots(first: 1) { nodes { name } } } } } } } } } } } } }";
    let body = app.gql(Some(&org.admin.token), deep, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("deep")),
        "{body}"
    );
}

#[tokio::test]
async fn production_mode_turns_off_introspection_graphiql_and_suggestions() {
    let app = spawn_with(Options {
        extra: vec![("--production".into(), "true".into())],
        ..Default::default()
    })
    .await;
    let body = app
        .gql(None, "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null(),
        "introspection answered: {body}"
    );
    let typo = app.gql(None, "{ viewr { email } }", json!({})).await;
    assert!(!typo.to_string().contains("Did you mean"), "{typo}");
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    let text = page.text().await.unwrap_or_default();
    assert!(!text.to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn graphiql_is_served_to_browsers_outside_production() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .to_lowercase()
            .contains("graphiql")
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 200);
    // Ready once the database answers and, with Redis, the subscriber connection is up:
    // right after start that can take a moment, so poll (bounded) rather than expect it.
    let mut ready = 0;
    for _ in 0..100 {
        ready = app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .expect("sent")
            .status()
            .as_u16();
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready, 200);
    app.ok(None, "{ __typename }", json!({})).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("lastmile_graphql_requests_total{operation=\"query\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("lastmile_graphql_request_duration_seconds_bucket"));
    assert!(
        metrics.contains("lastmile_graphql_requests_total{operation=\"query\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn internal_errors_never_reach_the_client_as_text() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    // A cursor of the wrong shape is the client's fault and says so, without internals.
    let body = app
        .gql(
            Some(&org.admin.token),
            "{ organization { users(after: \"%%%\") { totalCount } } }",
            json!({}),
        )
        .await;
    assert_code(&body, "BAD_USER_INPUT");
    let text = body.to_string().to_lowercase();
    for leak in ["select ", "sqlx", "panicked", "sea_orm", "stack"] {
        assert!(!text.contains(leak), "{leak} leaked: {body}");
    }
}

#[tokio::test]
async fn more_than_thirty_aliases_are_refused() {
    let app = spawn_app().await;
    let many: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let body = app.gql(None, &format!("{{ {many} }}"), json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("aliases")),
        "{body}"
    );
    let few: String = (0..30).map(|i| format!("a{i}: __typename ")).collect();
    app.ok(None, &format!("{{ {few} }}"), json!({})).await;
}

#[tokio::test]
async fn nested_pages_that_would_fetch_too_much_are_refused_before_running() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let heavy = "{ organization { depots(first: 500) { nodes { drivers(first: 500) { nodes { id firstName } } } } } }";
    let body = app.gql(Some(&org.admin.token), heavy, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );
    assert!(body["data"].is_null());
}

#[tokio::test]
async fn the_generated_jwt_secret_is_kept_so_tokens_survive_a_restart() {
    let first = spawn_with(Options {
        generated_secret: true,
        ..Default::default()
    })
    .await;
    let org = first.create_org("Acme").await;
    let database_url = first.database_url.clone();
    let second = spawn_with(Options {
        database_url: Some(database_url),
        generated_secret: true,
        ..Default::default()
    })
    .await;
    let data = second
        .ok(
            Some(&org.admin.token),
            "{ organization { name } }",
            json!({}),
        )
        .await;
    assert_eq!(data["organization"]["name"], "Acme");
}

#[tokio::test]
async fn browsers_from_configured_origins_pass_cors_and_others_do_not() {
    let app = spawn_with(Options {
        extra: vec![(
            "--cors-allowed-origins".into(),
            "https://dashboard.example".into(),
        )],
        ..Default::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://dashboard.example").await.expect("sent");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://dashboard.example")
    );
    let other = preflight("https://evil.example").await.expect("sent");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn more_than_ten_directives_are_refused() {
    let app = spawn_app().await;
    let many: String = (0..11).map(|_| "@include(if: true) ").collect();
    let body = app
        .gql(None, &format!("{{ __typename {many}}}"), json!({}))
        .await;
    assert!(
        body.get("errors").is_some() && body["data"].is_null(),
        "{body}"
    );
    let few: String = (0..10).map(|_| "@include(if: true) ").collect();
    app.ok(None, &format!("{{ __typename {few}}}"), json!({}))
        .await;
}
