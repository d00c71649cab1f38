//! What a hostile client sends, through every entry point (POST, batch, GET, SSE, both
//! WebSocket protocols): nesting, token floods, duplicate selections, fragment bombs, error
//! floods, credential floods, slow and surplus connections. Each bound: just under passes,
//! just over is refused with its code, and the process answers afterwards.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Options, PASSWORD, TestApp, code, spawn_app, spawn_with};
use crate::live::{Proto, Ws};

/// The nesting and selection bounds of the default configuration.
const NESTING: usize = 64;
const TOKENS: usize = 4_000;
const SELECTIONS: usize = 500;

/// The ways a document reaches the gateway.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Post,
    Batch,
    Get,
    Sse,
    Ws(Proto),
}

const ENTRIES: [Entry; 6] = [
    Entry::Post,
    Entry::Batch,
    Entry::Get,
    Entry::Sse,
    Entry::Ws(Proto::Transport),
    Entry::Ws(Proto::Legacy),
];

/// The first response to `query` through `entry`, as `{ "errors": … , "data": … }`; an empty
/// `token` sends none (not possible on a WebSocket, whose init needs one).
async fn send(app: &TestApp, entry: Entry, token: &str, query: &str) -> Value {
    let url = format!("{}/graphql", app.address);
    let body = json!({ "query": query });
    let signed = |request: reqwest::RequestBuilder| match token {
        "" => request,
        token => request.bearer_auth(token),
    };
    match entry {
        Entry::Post => json_of(signed(app.client.post(url)).json(&body)).await,
        Entry::Batch => json_of(signed(app.client.post(url)).json(&json!([body]))).await[0].clone(),
        Entry::Get => json_of(signed(app.client.get(url)).query(&[("query", query)])).await,
        Entry::Sse => sse_first(app, token, query).await,
        Entry::Ws(proto) => ws_first(app, proto, token, query).await,
    }
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request sent");
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The data of the first `event: next` of a Server-Sent Events answer.
async fn sse_first(app: &TestApp, token: &str, query: &str) -> Value {
    let mut request = app.client.post(format!("{}/graphql", app.address));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("sent");
    let mut text = String::new();
    loop {
        if let Some(at) = text.find("event: next") {
            let rest = &text[at..];
            if let Some(line) = rest.lines().find_map(|l| l.strip_prefix("data: "))
                && rest.contains("\n\n")
            {
                return serde_json::from_str(line).expect("JSON data");
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(15), response.chunk())
            .await
            .expect("a chunk in time")
            .expect("stream")
            .unwrap_or_else(|| panic!("stream ended without a response: {text}"));
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The first answer to a subscribe/start on a fresh socket; the socket must stay open.
async fn ws_first(app: &TestApp, proto: Proto, token: &str, query: &str) -> Value {
    let mut ws = Ws::connect(app, proto, token).await;
    let kind = match proto {
        Proto::Transport => "subscribe",
        Proto::Legacy => "start",
    };
    ws.send(json!({ "type": kind, "id": "1", "payload": { "query": query } }))
        .await;
    let message = ws.recv().await;
    assert_ne!(message["type"], "__close", "the socket closed: {message}");
    // Still open and answering: a second operation on the same socket gets its answer.
    ws.send(json!({ "type": kind, "id": "2", "payload": { "query": "{ __typename }" } }))
        .await;
    let second = ws.recv().await;
    assert_ne!(second["type"], "__close", "the socket closed: {second}");
    match (message["type"].as_str(), &message["payload"]) {
        (Some("error"), Value::Array(errors)) => json!({ "errors": errors }),
        (Some("error"), error) => json!({ "errors": [error] }),
        (_, payload) => payload.clone(),
    }
}

/// A fresh connection answers: some tests shorten the server's timeouts below the age of the
/// shared client's pooled connections, which the server may close just as one is reused.
async fn assert_alive(app: &TestApp) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
}

/// `{ node(id: [[…]]) { id } }` nested `depth` levels in all (braces and parentheses count).
fn nested_list(depth: usize) -> String {
    let inner = depth - 2;
    format!(
        "{{ node(id: {}1{}) {{ id }} }}",
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

/// The same depth built of input objects, in a directive argument.
fn nested_object_in_directive(depth: usize) -> String {
    let inner = depth - 3;
    format!(
        "{{ __typename @skip(if: {}1{}) }}",
        "{a: ".repeat(inner),
        "}".repeat(inner)
    )
}

/// The same depth in a variable's default value.
fn nested_variable_default(depth: usize) -> String {
    let inner = depth - 2;
    format!(
        "query($v: Int = {}1{}) {{ __typename }}",
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

#[tokio::test]
async fn a_document_nested_at_the_bound_is_parsed_and_one_level_deeper_is_refused_on_every_entry() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for entry in ENTRIES {
        let at_bound = send(&app, entry, &org.admin.token, &nested_list(NESTING)).await;
        assert_eq!(
            code(&at_bound).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{entry:?}: {at_bound}"
        );
        let over = send(&app, entry, &org.admin.token, &nested_list(NESTING + 1)).await;
        assert_eq!(
            code(&over).as_deref(),
            Some("GRAPHQL_PARSE_FAILED"),
            "{entry:?}: {over}"
        );
    }
    assert_alive(&app).await;
}

#[tokio::test]
async fn values_nested_thousands_deep_anywhere_in_a_document_are_refused_and_the_process_lives() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let documents = [
        nested_list(2_000),
        nested_object_in_directive(2_000),
        nested_variable_default(2_000),
        format!("{}{}", "{".repeat(100_000), "}".repeat(100_000)),
    ];
    for entry in ENTRIES {
        for document in &documents {
            if matches!(entry, Entry::Get) && document.len() > 10_000 {
                continue; // longer than any URL a client may send
            }
            let answer = send(&app, entry, &org.admin.token, document).await;
            assert_eq!(
                code(&answer).as_deref(),
                Some("GRAPHQL_PARSE_FAILED"),
                "{entry:?}: {answer}"
            );
        }
    }
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_document_with_more_tokens_than_the_bound_is_refused_before_parsing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    // `{ node ( id : [ … ] ) { id } }` is 12 tokens around the list's items.
    let document = |items: usize| format!("{{ node(id: [{}]) {{ id }} }}", "1 ".repeat(items));
    for entry in [Entry::Post, Entry::Ws(Proto::Transport)] {
        let at_bound = send(&app, entry, &org.admin.token, &document(TOKENS - 12)).await;
        assert_eq!(
            code(&at_bound).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{at_bound}"
        );
        let over = send(&app, entry, &org.admin.token, &document(TOKENS - 11)).await;
        assert_eq!(
            code(&over).as_deref(),
            Some("GRAPHQL_PARSE_FAILED"),
            "{over}"
        );
    }
}

#[tokio::test]
async fn variables_nested_deeper_than_json_allows_are_a_bad_request_not_a_crash() {
    let app = spawn_app().await;
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let body = format!(r#"{{"query":"{{ __typename }}","variables":{{"v":{deep}}}}}"#);
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let text = response.text().await.expect("body");
    assert!(text.contains("recursion limit"), "{text}");
    assert_alive(&app).await;
}

/// `{ viewer { email email … } }` with `n` selections in all.
fn duplicate_selections(n: usize) -> String {
    format!("{{ viewer {{ {} }} }}", "email ".repeat(n - 1))
}

/// The fewest statements the instance ran around three sends of `query` (background tasks,
/// such as the event log's poll, may run one meanwhile), and the last answer.
async fn fewest_statements(app: &TestApp, entry: Entry, token: &str, query: &str) -> (u64, Value) {
    let mut fewest = u64::MAX;
    let mut answer = Value::Null;
    for _ in 0..3 {
        let before = app.statements();
        answer = send(app, entry, token, query).await;
        fewest = fewest.min(app.statements() - before);
    }
    (fewest, answer)
}

#[tokio::test]
async fn duplicate_selections_beyond_the_bound_are_refused_without_running_sql() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for entry in [Entry::Post, Entry::Batch, Entry::Get] {
        let query = duplicate_selections(SELECTIONS);
        let (statements, at_bound) = fewest_statements(&app, entry, &org.admin.token, &query).await;
        assert!(at_bound.get("errors").is_none(), "{entry:?}: {at_bound}");
        assert!(at_bound["data"]["viewer"]["email"].is_string());
        // The edge checks the session and membership, then the viewer's account is read once.
        assert!(statements <= 2, "{statements} statements for one viewer");
        let query = duplicate_selections(SELECTIONS + 1);
        let (statements, over) = fewest_statements(&app, entry, &org.admin.token, &query).await;
        assert_eq!(
            code(&over).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{entry:?}: {over}"
        );
        assert!(
            statements <= 1,
            "a refused document ran SQL beyond the edge's session check"
        );
    }
}

#[tokio::test]
async fn fragments_are_counted_expanded_so_a_fragment_bomb_is_refused_at_once() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    // Each level spreads the one below twice: 2^30 selections once expanded.
    let mut document = String::from("{ viewer { ...F30 } }\nfragment F0 on Viewer { email }\n");
    for level in 1..=30 {
        let below = level - 1;
        document.push_str(&format!(
            "fragment F{level} on Viewer {{ ...F{below} ...F{below} }}\n"
        ));
    }
    let started = Instant::now();
    let answer = send(&app, Entry::Post, &org.admin.token, &document).await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let cycle = "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }";
    let answer = send(&app, Entry::Post, &org.admin.token, cycle).await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{answer}"
    );
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_response_carries_at_most_one_hundred_errors_and_says_the_rest_were_left_out() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let fields: String = (0..300).map(|i| format!("unknown{i} ")).collect();
    let query = format!("{{ {fields} }}");
    let (statements, answer) = fewest_statements(&app, Entry::Post, &org.admin.token, &query).await;
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 100, "{answer}");
    assert_eq!(errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(errors[99]["extensions"]["code"], "TOO_MANY_ERRORS");
    assert!(
        errors[99]["message"]
            .as_str()
            .is_some_and(|m| m.contains("left out"))
    );
    assert!(statements <= 1, "an invalid document ran SQL");
}

#[tokio::test]
async fn request_errors_carry_the_codes_clients_know() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = Some(org.admin.token.as_str());
    let cases = [
        (
            "{ organization { name ",
            json!({}),
            None,
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "{ noSuchField }",
            json!({}),
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($first: Int) { organization { users(first: $first) { totalCount } } }",
            json!({ "first": "ten" }),
            None,
            "BAD_USER_INPUT",
        ),
        (
            "query A { __typename } query B { __typename }",
            json!({}),
            Some("C"),
            "OPERATION_RESOLUTION_FAILURE",
        ),
        (
            "query A { __typename } query B { __typename }",
            json!({}),
            None,
            "OPERATION_RESOLUTION_FAILURE",
        ),
    ];
    for (query, variables, operation, expected) in cases {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": query, "variables": variables, "operationName": operation }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = json_of(request).await;
        assert_eq!(
            code(&answer).as_deref(),
            Some(expected),
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_document_that_passed_validation_is_validated_again_when_its_variables_are_of_another_kind()
 {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = Some(org.admin.token.as_str());
    let page = "query($first: Int) { organization { users(first: $first) { totalCount } } }";
    // Passed twice with an integer: later integers skip the rules, other kinds must not.
    for _ in 0..2 {
        let body = app.gql(token, page, json!({ "first": 10 })).await;
        assert_eq!(
            body["data"]["organization"]["users"]["totalCount"], 1,
            "{body}"
        );
    }
    for (variables, expected) in [
        (json!({ "first": "ten" }), "BAD_USER_INPUT"),
        (json!({ "first": 2.5 }), "BAD_USER_INPUT"),
        (json!({ "first": [10] }), "BAD_USER_INPUT"),
        (json!({ "first": { "n": 10 } }), "BAD_USER_INPUT"),
    ] {
        let body = app.gql(token, page, variables.clone()).await;
        assert_eq!(
            code(&body).as_deref(),
            Some(expected),
            "{variables}: {body}"
        );
        assert!(body["data"].is_null(), "{variables}: {body}");
    }
    let body = app.gql(token, page, json!({ "first": 3 })).await;
    assert_eq!(
        body["data"]["organization"]["users"]["totalCount"], 1,
        "{body}"
    );
    // A document that failed is refused every time, never remembered as passing.
    for _ in 0..3 {
        let body = app.gql(token, "{ organization { nope } }", json!({})).await;
        assert_eq!(
            code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{body}"
        );
    }
    // A remembered document under another operation name is validated on its own.
    let two = "query A { organization { name } } query B { organization { nope } }";
    for _ in 0..2 {
        let body = json_of(
            app.client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&org.admin.token)
                .json(&json!({ "query": two, "operationName": "A" })),
        )
        .await;
        assert_eq!(
            code(&body).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn two_credential_operations_in_one_request_are_refused_whether_aliased_or_batched() {
    let app = spawn_app().await;
    let sign_in = |alias: &str| {
        format!(r#"{alias}: signIn(email: "a@b.test", password: "x") {{ accessToken }}"#)
    };
    let aliased = format!("mutation {{ {} {} }}", sign_in("a"), sign_in("b"));
    let answer = app.gql(None, &aliased, json!({})).await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{answer}"
    );
    let one = json!({ "query": format!("mutation {{ {} }}", sign_in("a")) });
    let batch = json_of(
        app.client
            .post(format!("{}/graphql", app.address))
            .json(&json!([one, one])),
    )
    .await;
    for answer in batch.as_array().expect("a batch answer") {
        assert_eq!(
            code(answer).as_deref(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{answer}"
        );
    }
    let single = app
        .gql(None, &format!("mutation {{ {} }}", sign_in("a")), json!({}))
        .await;
    assert_eq!(
        code(&single).as_deref(),
        Some("UNAUTHENTICATED"),
        "{single}"
    );
}

#[tokio::test]
async fn sign_ins_beyond_the_hashing_slots_are_rate_limited_with_a_retry_hint() {
    let app = spawn_with(Options {
        extra: vec![
            ("--password-hash-concurrency".into(), "1".into()),
            ("--password-hash-wait-ms".into(), "0".into()),
        ],
        ..Default::default()
    })
    .await;
    let attempts = (0..40).map(|i| {
        let app = &app;
        async move {
            app.gql(
                None,
                "mutation($email: String!) { signIn(email: $email, password: \"wrong password\") { accessToken } }",
                json!({ "email": format!("nobody-{i}@example.test") }),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let limited: Vec<&Value> = answers
        .iter()
        .filter(|a| code(a).as_deref() == Some("RATE_LIMITED"))
        .collect();
    assert!(
        !limited.is_empty(),
        "40 concurrent hashes on one slot were all served"
    );
    assert!(
        limited[0]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again")),
        "{}",
        limited[0]
    );
    assert!(
        answers
            .iter()
            .any(|a| code(a).as_deref() == Some("UNAUTHENTICATED")),
        "no attempt was served at all"
    );
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_client_address_has_its_own_credential_budget_across_emails() {
    let app = spawn_with(Options {
        extra: vec![("--client-credential-attempts".into(), "3".into())],
        ..Default::default()
    })
    .await;
    let attempt = |i: usize| {
        app.gql(
            None,
            "mutation($email: String!) { signIn(email: $email, password: \"wrong\") { accessToken } }",
            json!({ "email": format!("someone-{i}@example.test") }),
        )
    };
    for i in 0..3 {
        assert_eq!(code(&attempt(i).await).as_deref(), Some("UNAUTHENTICATED"));
    }
    assert_eq!(code(&attempt(3).await).as_deref(), Some("RATE_LIMITED"));
}

#[tokio::test]
async fn a_malformed_email_is_answered_like_a_wrong_password() {
    let app = spawn_app().await;
    let answer = app
        .gql(
            None,
            "mutation { signIn(email: \"not an email\", password: \"x\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("UNAUTHENTICATED"),
        "{answer}"
    );
}

/// Reads until the server closes the connection; the time it took, or None past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected_while_others_are_served() {
    let app = spawn_with(Options {
        extra: vec![("--header-read-timeout".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connects");
        stream
            .write_all(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .expect("writes");
        slow.push(stream);
    }
    assert_alive(&app).await;
    for stream in &mut slow {
        let closed = closed_within(stream, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "a half-sent request was held for 10 s");
    }
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_connection_that_moves_no_bytes_is_closed_after_the_idle_timeout() {
    let app = spawn_with(Options {
        extra: vec![
            ("--idle-timeout".into(), "1".into()),
            ("--header-read-timeout".into(), "30".into()),
        ],
        ..Default::default()
    })
    .await;
    let mut stream = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connects");
    let closed = closed_within(&mut stream, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "an idle connection was held for 10 s");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_and_service_resumes_when_they_go() {
    let app = spawn_with(Options {
        extra: vec![("--max-connections".into(), "4".into())],
        ..Default::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(
            TcpStream::connect(("127.0.0.1", app.port))
                .await
                .expect("connects"),
        );
    }
    // Accepted by the kernel, then closed by the gateway without a byte.
    let mut surplus = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connects");
    let closed = closed_within(&mut surplus, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "a connection beyond the cap was kept");
    drop(held);
    let mut served = false;
    for _ in 0..50 {
        let client = reqwest::Client::new();
        if let Ok(response) = client.get(format!("{}/healthz", app.address)).send().await {
            served = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "no service after the held connections closed");
}

/// graphql-js `getIntrospectionQuery()`, with every option on when `options` is set.
fn introspection_query(options: bool) -> String {
    let (description, specified, one_of, repeatable, deprecated) = if options {
        (
            "description",
            "specifiedByURL",
            "isOneOf",
            "isRepeatable",
            "(includeDeprecated: true)",
        )
    } else {
        ("", "", "", "", "")
    };
    let type_ref = (0..9).fold(String::from("kind name"), |inner, _| {
        format!("kind name ofType {{ {inner} }}")
    });
    format!(
        "query IntrospectionQuery {{ __schema {{ {description} queryType {{ name kind }}
          mutationType {{ name kind }} subscriptionType {{ name kind }}
          types {{ ...FullType }}
          directives {{ name {description} {repeatable} locations args{deprecated} {{ ...InputValue }} }} }} }}
        fragment FullType on __Type {{ kind name {description} {specified} {one_of}
          fields(includeDeprecated: true) {{ name {description} args{deprecated} {{ ...InputValue }}
            type {{ ...TypeRef }} isDeprecated deprecationReason }}
          inputFields{deprecated} {{ ...InputValue }}
          interfaces {{ ...TypeRef }}
          enumValues(includeDeprecated: true) {{ name {description} isDeprecated deprecationReason }}
          possibleTypes {{ ...TypeRef }} }}
        fragment InputValue on __InputValue {{ name {description} type {{ ...TypeRef }} defaultValue
          {opt} }}
        fragment TypeRef on __Type {{ {type_ref} }}",
        opt = if options { "isDeprecated deprecationReason" } else { "" },
    )
}

#[tokio::test]
async fn the_standard_introspection_query_is_answered_in_full_with_and_without_options() {
    let app = spawn_app().await;
    for options in [true, false] {
        let query = introspection_query(options);
        for entry in [Entry::Post, Entry::Get] {
            let answer = send(&app, entry, "", &query).await;
            assert!(answer.get("errors").is_none(), "{entry:?}: {answer}");
            let types = answer["data"]["__schema"]["types"]
                .as_array()
                .expect("types");
            assert!(
                types.iter().any(|t| t["name"] == "Driver"),
                "no Driver type in {answer}"
            );
        }
    }
}

#[tokio::test]
async fn introspection_nesting_lists_inside_lists_is_refused() {
    let app = spawn_app().await;
    let query =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let answer = send(&app, Entry::Post, "", query).await;
    assert_eq!(
        code(&answer).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{answer}"
    );
}

#[tokio::test]
async fn in_production_introspection_is_an_error_with_its_code_and_typename_still_works() {
    let app = spawn_with(Options {
        extra: vec![("--production".into(), "true".into())],
        ..Default::default()
    })
    .await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Driver\") { name } }",
    ] {
        let answer = send(&app, Entry::Post, "", query).await;
        assert_eq!(
            code(&answer).as_deref(),
            Some("INTROSPECTION_DISABLED"),
            "{answer}"
        );
    }
    let answer = app.ok(None, "{ __typename }", json!({})).await;
    assert_eq!(answer["__typename"], "Query");
}

#[tokio::test]
async fn a_star_origin_allows_any_origin_without_credentials() {
    let app = spawn_with(Options {
        extra: vec![("--cors-allowed-origins".into(), "*".into())],
        ..Default::default()
    })
    .await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, traceparent, apollographql-client-name",
        )
        .send()
        .await
        .expect("preflight");
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(allowed.as_deref(), Some("*"));
    let headers = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .expect("the preflight names the allowed headers")
        .to_ascii_lowercase();
    for expected in ["authorization", "traceparent", "apollographql-client-name"] {
        assert!(
            headers.contains(expected),
            "{expected} not allowed: {headers}"
        );
    }
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let created = app
        .gql(
            None,
            "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { accessToken } }",
            json!({ "input": { "name": "Star", "adminFirstName": "A", "adminLastName": "B",
                "adminEmail": "star@example.test", "adminPassword": PASSWORD } }),
        )
        .await;
    assert!(created.get("errors").is_none(), "{created}");
}
