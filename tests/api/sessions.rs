//! Sessions with authority: an access token dies with its session (sign-out, password reset)
//! at once, over HTTP, WebSocket and Server-Sent Events; organization selection stays in the
//! session it is called from; only the newest reset link works; roles count as they are now,
//! on open sockets too.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, code, spawn_app};
use crate::live::{Proto, Ws};

const VIEWER: &str = "{ viewer { email } }";

async fn sign_out(app: &TestApp, refresh: &str) {
    let data = app
        .ok(
            None,
            "mutation($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(data["signOut"], true);
}

async fn select(app: &TestApp, token: &str, org_id: &str) -> serde_json::Value {
    app.gql(
        Some(token),
        "mutation($o: ID!) { selectOrganization(organizationId: $o) { accessToken refreshToken } }",
        json!({ "o": org_id }),
    )
    .await
}

async fn sse_status(app: &TestApp, token: &str) -> serde_json::Value {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "subscription { statusChanged { kind } }" }))
        .send()
        .await
        .expect("sent");
    let text = tokio::time::timeout(Duration::from_secs(15), response.text())
        .await
        .expect("the stream ends in time")
        .expect("body");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: ").filter(|d| !d.is_empty()))
        .unwrap_or_else(|| panic!("no response in {text}"));
    serde_json::from_str(data).expect("JSON")
}

#[tokio::test]
async fn after_sign_out_the_access_token_is_refused_at_once_and_mints_no_new_session() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let stolen = org.admin.token.clone();
    assert!(
        app.gql(Some(&stolen), VIEWER, json!({}))
            .await
            .get("errors")
            .is_none()
    );
    sign_out(&app, &org.admin.refresh).await;
    assert_eq!(
        code(&app.gql(Some(&stolen), VIEWER, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&select(&app, &stolen, &org.id).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&sse_status(&app, &stolen).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    let mut ws = Ws::open(&app, Proto::Transport).await;
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {stolen}") } }))
        .await;
    assert_eq!(ws.closed().await, Some(4403));
}

#[tokio::test]
async fn an_open_socket_of_a_signed_out_session_refuses_its_next_operation() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    sign_out(&app, &org.admin.refresh).await;
    ws.send(
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ viewer { email } }" } }),
    )
    .await;
    assert_eq!(ws.closed().await, Some(4403));
}

#[tokio::test]
async fn after_a_password_reset_every_access_token_of_the_account_is_refused() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.ok(
        None,
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": org.admin_email }),
    )
    .await;
    let reset = app
        .token_from_mail(&org.admin_email, "/reset-password")
        .await;
    app.ok(
        None,
        "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
        json!({ "t": reset, "p": "a brand new password" }),
    )
    .await;
    assert_eq!(
        code(&app.gql(Some(&org.admin.token), VIEWER, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        code(&select(&app, &org.admin.token, &org.id).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
}

/// The reset tokens mailed to `to`, oldest first.
async fn reset_tokens(app: &TestApp, to: &str, count: usize) -> Vec<String> {
    for _ in 0..200 {
        let mails = app.mails_to(to);
        let tokens: Vec<String> = mails
            .iter()
            .filter_map(|mail| {
                let start = mail.find("/reset-password?token=")? + "/reset-password?token=".len();
                Some(
                    mail[start..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect(),
                )
            })
            .collect();
        if tokens.len() >= count {
            return tokens;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} reset mails to {to}");
}

#[tokio::test]
async fn a_reset_link_is_dead_once_a_newer_one_is_mailed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for _ in 0..2 {
        app.ok(
            None,
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": org.admin_email }),
        )
        .await;
        // Mail files are named by time: let the first one land before the second is queued.
        reset_tokens(&app, &org.admin_email, 1).await;
    }
    let tokens = reset_tokens(&app, &org.admin_email, 2).await;
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let mut outcomes = Vec::new();
    for token in &tokens {
        let answer = app
            .gql(
                None,
                reset,
                json!({ "t": token, "p": "another new password" }),
            )
            .await;
        outcomes.push(answer.get("errors").is_none());
    }
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly the newest link works: {outcomes:?}"
    );
}

#[tokio::test]
async fn selecting_an_organization_stays_in_the_session_and_sign_out_ends_both_tokens() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let selected = select(&app, &org.admin.token, &org.id).await;
    assert!(selected.get("errors").is_none(), "{selected}");
    let token = selected["data"]["selectOrganization"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let refresh = selected["data"]["selectOrganization"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    sign_out(&app, &refresh).await;
    for stale in [&token, &org.admin.token] {
        assert_eq!(
            code(&app.gql(Some(stale), VIEWER, json!({})).await).as_deref(),
            Some("UNAUTHENTICATED")
        );
    }
}

#[tokio::test]
async fn a_demoted_admins_open_socket_closes_and_its_share_is_refused() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let partner = app.create_org("Partner").await;
    let second = app.member(&acme.admin.token, &["ADMIN"]).await;
    let driver = app.member(&acme.admin.token, &["DRIVER"]).await;
    let mut ws = Ws::connect(&app, Proto::Transport, &second.session.token).await;
    app.ok(
        Some(&acme.admin.token),
        "mutation($id: ID!) { editUser(id: $id, input: { roles: [DISPATCHER] }) { id } }",
        json!({ "id": second.user_id }),
    )
    .await;
    let share = json!({ "type": "subscribe", "id": "s", "payload": {
        "query": "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        "variables": { "p": partner.id, "d": [driver.driver_id] } } });
    ws.send(share).await;
    let answer = ws.recv().await;
    let refused = answer["type"] == "__close"
        || answer["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN";
    assert!(
        refused,
        "a demoted admin shared over its open socket: {answer}"
    );
    let shared = app
        .ok(
            Some(&partner.admin.token),
            "{ organization { sharedWithUs { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        shared["organization"]["sharedWithUs"]["totalCount"], 0,
        "the driver was shared"
    );
}
