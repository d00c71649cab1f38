//! Automatic persisted queries, in the exact wire format of Apollo Client's
//! `createPersistedQueryLink` (POST and GET with `useGETForHashedQueries`).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, assert_code, redis_url, spawn_app};

/// What Apollo Client's HTTP link asks for.
const APOLLO_ACCEPT: &str = "application/graphql-response+json,application/json;q=0.9";
const DOCUMENT: &str = "query Probe {\n  __typename\n}";

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs as the link does: the hash alone first (no `query` key), or with the document.
async fn post(app: &TestApp, query: Option<&str>, hash: &str) -> (u16, Value) {
    let mut body = json!({
        "operationName": "Probe",
        "variables": {},
        "extensions": persisted(hash),
    });
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", APOLLO_ACCEPT)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// GETs as the link does with `useGETForHashedQueries`: `extensions` as JSON in the URL.
async fn get(app: &TestApp, hash: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", APOLLO_ACCEPT)
        .query(&[
            ("operationName", "Probe".to_owned()),
            ("variables", "{}".to_owned()),
            ("extensions", persisted(hash).to_string()),
        ])
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn assert_not_found(body: &Value) {
    assert_code(body, "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
}

#[tokio::test]
async fn an_unknown_hash_is_not_found_then_runs_once_its_document_was_sent_over_post() {
    let app = spawn_app().await;
    let hash = sha256(DOCUMENT);
    let (_, first) = post(&app, None, &hash).await;
    assert_not_found(&first);
    let (status, retried) = post(&app, Some(DOCUMENT), &hash).await;
    assert_eq!(
        (status, &retried["data"]),
        (200, &json!({ "__typename": "Query" }))
    );
    let (status, again) = post(&app, None, &hash).await;
    assert_eq!(
        (status, &again["data"]),
        (200, &json!({ "__typename": "Query" }))
    );
}

#[tokio::test]
async fn a_hash_in_the_url_of_a_get_runs_the_stored_document() {
    let app = spawn_app().await;
    let hash = sha256(DOCUMENT);
    let (_, first) = get(&app, &hash).await;
    assert_not_found(&first);
    post(&app, Some(DOCUMENT), &hash).await;
    let (status, body) = get(&app, &hash).await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "__typename": "Query" }))
    );
}

#[tokio::test]
async fn a_hash_that_is_not_the_documents_sha256_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let other = sha256("{ __typename }");
    let (_, body) = post(&app, Some(DOCUMENT), &other).await;
    assert_code(&body, "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["message"],
        "provided sha does not match query"
    );
    assert_not_found(&post(&app, None, &other).await.1);
    let (_, version) = post(&app, None, "not-a-hash").await;
    assert_code(&version, "BAD_REQUEST");
}

#[tokio::test]
async fn a_persisted_document_meets_the_same_bounds_and_a_refused_one_is_not_stored() {
    let app = spawn_app().await;
    let deep = format!("query Probe {}{}", "{ a ".repeat(80), "}".repeat(80));
    let hash = sha256(&deep);
    let (_, refused) = post(&app, Some(&deep), &hash).await;
    assert_code(&refused, "GRAPHQL_PARSE_FAILED");
    assert_not_found(&post(&app, None, &hash).await.1);
}

#[tokio::test]
async fn with_redis_a_document_sent_to_one_instance_runs_by_hash_on_another() {
    let Some(url) = redis_url() else {
        eprintln!("REDIS_URL not set: persisted queries are shared through Redis only");
        return;
    };
    let one = spawn_app().await;
    let two = one.second_instance().await;
    let hash = sha256(DOCUMENT);
    post(&one, Some(DOCUMENT), &hash).await;
    let (status, body) = get(&two, &hash).await;
    assert_eq!(
        (status, &body["data"]),
        (200, &json!({ "__typename": "Query" }))
    );
    // Stored with the default TTL (24 hours), not forever.
    let channel = one.redis_channel.clone().expect("channel");
    let mut redis = redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connected");
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{channel}:apq:{hash}"))
        .query_async(&mut redis)
        .await
        .expect("TTL");
    assert!((1..=24 * 3600).contains(&ttl), "TTL {ttl}");
}
