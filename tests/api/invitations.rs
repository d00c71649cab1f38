//! What the Welcome and Users pages read about invitations: the preview behind a token, an
//! invited user's expiry, and the viewer a sign-in answers with.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_code, spawn_app};

const PREVIEW: &str = "query($token: String!) { invitation(token: $token) {
    organization { id name } email firstName accountExists expiresAt } }";

async fn preview(app: &TestApp, token: &str) -> Value {
    app.ok(None, PREVIEW, json!({ "token": token })).await["invitation"].clone()
}

async fn accept(app: &TestApp, token: &str) {
    app.ok(
        None,
        "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }",
        json!({ "input": { "token": token, "password": PASSWORD } }),
    )
    .await;
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a DateTime: {value}"))
}

#[tokio::test]
async fn an_invitation_for_a_new_email_previews_its_organization_email_name_and_expiry_without_a_token()
 {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.invite(&org.admin.token, "newcomer@example.test", &["DRIVER"])
        .await;
    let token = app
        .token_from_mail("newcomer@example.test", "/accept-invitation")
        .await;
    let found = preview(&app, &token).await;
    assert_eq!(found["organization"]["id"], org.id.as_str());
    assert_eq!(found["organization"]["name"], "Acme");
    assert_eq!(found["email"], "newcomer@example.test");
    assert_eq!(found["firstName"], "Test");
    assert_eq!(found["accountExists"], false);
    let expires = time(&found["expiresAt"]);
    let week = Utc::now() + Duration::days(7);
    assert!((expires - week).num_seconds().abs() < 120, "{expires}");
}

#[tokio::test]
async fn an_invitation_for_an_email_with_an_account_previews_that_the_account_exists() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let globex = app.create_org("Globex").await;
    app.invite(&globex.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    let token = app
        .token_from_mail(&acme.admin_email, "/accept-invitation")
        .await;
    let found = preview(&app, &token).await;
    assert_eq!(found["organization"]["name"], "Globex");
    assert_eq!(found["email"], acme.admin_email.as_str());
    assert_eq!(found["accountExists"], true);
}

#[tokio::test]
async fn a_used_an_expired_an_unknown_and_a_replaced_invitation_token_all_preview_as_null() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.invite(&org.admin.token, "used@example.test", &["DRIVER"])
        .await;
    let used = app
        .token_from_mail("used@example.test", "/accept-invitation")
        .await;
    accept(&app, &used).await;
    assert_eq!(preview(&app, &used).await, Value::Null);

    let late = app
        .invite(&org.admin.token, "late@example.test", &["DRIVER"])
        .await;
    let expired = app
        .token_from_mail("late@example.test", "/accept-invitation")
        .await;
    assert!(preview(&app, &expired).await.is_object());
    entity::invitation::Entity::update_many()
        .col_expr(
            entity::invitation::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::minutes(1)),
        )
        .filter(entity::invitation::Column::TokenHash.ne(""))
        .exec(&app.state.db.conn)
        .await
        .unwrap();
    assert_eq!(preview(&app, &expired).await, Value::Null);

    app.ok(
        Some(&org.admin.token),
        "mutation($id: ID!) { resendInvitation(userId: $id) { id } }",
        json!({ "id": late }),
    )
    .await;
    for _ in 0..100 {
        if app.mails_to("late@example.test").len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fresh = app
        .token_from_mail("late@example.test", "/accept-invitation")
        .await;
    assert_ne!(fresh, expired);
    assert!(preview(&app, &fresh).await.is_object());
    assert_eq!(preview(&app, &expired).await, Value::Null);

    for unknown in ["no-such-token", "", "\u{1}\u{2}", &"x".repeat(300)] {
        assert_eq!(preview(&app, unknown).await, Value::Null, "{unknown:?}");
    }
}

#[tokio::test]
async fn invitation_previews_count_against_the_clients_credential_budget() {
    let app = crate::helpers::spawn_with(crate::helpers::Options {
        extra: vec![("--client-credential-attempts".into(), "3".into())],
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(preview(&app, "guess").await, Value::Null);
    }
    let body = app.gql(None, PREVIEW, json!({ "token": "guess" })).await;
    assert_code(&body, "RATE_LIMITED");
}

#[tokio::test]
async fn an_invited_user_shows_when_its_invitation_expires_and_an_active_one_shows_null() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let invited = app
        .invite(&org.admin.token, "pending@example.test", &["DRIVER"])
        .await;
    let data = app
        .ok(
            Some(&org.admin.token),
            "{ organization { users(first: 10) { nodes { id status invitationExpiresAt } } } }",
            json!({}),
        )
        .await;
    let nodes = data["organization"]["users"]["nodes"].as_array().unwrap();
    let of = |id: &str| nodes.iter().find(|n| n["id"] == id).unwrap().clone();
    let pending = of(&invited);
    assert_eq!(pending["status"], "INVITED");
    let expires = time(&pending["invitationExpiresAt"]);
    assert!(
        (expires - (Utc::now() + Duration::days(7)))
            .num_seconds()
            .abs()
            < 120
    );
    assert_eq!(of(&org.admin_user_id)["invitationExpiresAt"], Value::Null);

    // An invitation past its expiry still shows when it expired, so the page can flag it.
    let past = Utc::now() - Duration::days(1);
    entity::invitation::Entity::update_many()
        .col_expr(entity::invitation::Column::ExpiresAt, Expr::value(past))
        .filter(entity::invitation::Column::TokenHash.ne(""))
        .exec(&app.state.db.conn)
        .await
        .unwrap();
    let data = app
        .ok(
            Some(&org.admin.token),
            "query($id: ID!) { user(id: $id) { invitationExpiresAt } }",
            json!({ "id": invited }),
        )
        .await;
    let expired = time(&data["user"]["invitationExpiresAt"]);
    assert!((expired - past).num_seconds().abs() < 5, "{expired}");
    app.ok(
        Some(&org.admin.token),
        "mutation($id: ID!) { resendInvitation(userId: $id) { id } }",
        json!({ "id": invited }),
    )
    .await;
    for _ in 0..100 {
        if app.mails_to("pending@example.test").len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let token = app
        .token_from_mail("pending@example.test", "/accept-invitation")
        .await;
    accept(&app, &token).await;
    let data = app
        .ok(
            Some(&org.admin.token),
            "query($id: ID!) { user(id: $id) { status invitationExpiresAt } }",
            json!({ "id": invited }),
        )
        .await;
    assert_eq!(data["user"]["status"], "ACTIVE");
    assert_eq!(data["user"]["invitationExpiresAt"], Value::Null);
}

#[tokio::test]
async fn a_single_organization_sign_in_answers_with_its_viewer_user_and_organization() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let data = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
                scoped viewer { email user { id } organization { id name }
                memberships { userId } } } }",
            json!({ "e": org.admin_email, "p": PASSWORD }),
        )
        .await;
    let payload = &data["signIn"];
    assert_eq!(payload["scoped"], true);
    assert_eq!(payload["viewer"]["email"], org.admin_email.as_str());
    assert_eq!(payload["viewer"]["user"]["id"], org.admin_user_id.as_str());
    assert_eq!(payload["viewer"]["organization"]["id"], org.id.as_str());
    assert_eq!(payload["viewer"]["organization"]["name"], "Acme");
}

#[tokio::test]
async fn a_sign_in_to_several_organizations_answers_with_an_unscoped_viewer_and_its_memberships() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let globex = app.create_org("Globex").await;
    app.invite(&globex.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    let token = app
        .token_from_mail(&acme.admin_email, "/accept-invitation")
        .await;
    accept(&app, &token).await;
    let data = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
                scoped viewer { email user { id } organization { id } memberships { userId } } } }",
            json!({ "e": acme.admin_email, "p": PASSWORD }),
        )
        .await;
    let payload = &data["signIn"];
    assert_eq!(payload["scoped"], false);
    assert_eq!(payload["viewer"]["user"], Value::Null);
    assert_eq!(payload["viewer"]["organization"], Value::Null);
    assert_eq!(
        payload["viewer"]["memberships"].as_array().map(Vec::len),
        Some(2)
    );
}

const INVITE_USERS: &str = "mutation($inputs: [InviteUserInput!]!) { inviteUsers(inputs: $inputs) {
    email user { id email status } error { code message field } } }";

fn item(email: &str, roles: Value) -> Value {
    json!({ "firstName": "Bulk", "lastName": "Person", "email": email, "roles": roles })
}

async fn user_total(app: &TestApp, token: &str) -> i64 {
    app.ok(
        Some(token),
        "{ organization { users { totalCount } } }",
        json!({}),
    )
    .await["organization"]["users"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_bulk_invitation_applies_each_good_row_and_answers_each_bad_one_with_the_code_invite_user_would()
 {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let other = app.create_org("Globex").await;
    let foreign_depot = app.depot(&other.admin.token, "Elsewhere").await;
    let dispatcher = app.member(&org.admin.token, &["DISPATCHER"]).await;
    app.invite(&org.admin.token, "taken@example.test", &["DRIVER"])
        .await;
    let mut depot_item = item("depot@example.test", json!(["DRIVER"]));
    depot_item["depotId"] = json!(foreign_depot);
    let mut bad_id_item = item("badid@example.test", json!(["DRIVER"]));
    bad_id_item["depotId"] = json!("not-an-id");
    let inputs = json!([
        item("one@example.test", json!(["DRIVER"])),
        item("not an email", json!(["DRIVER"])),
        item("TAKEN@example.test", json!(["DISPATCHER"])),
        item("two@example.test", json!(["DISPATCHER"])),
        item("two@example.test", json!(["DRIVER"])),
        item("admin@example.test", json!(["ADMIN"])),
        depot_item,
        bad_id_item,
        item("noroles@example.test", json!([])),
        item("Three@Example.test", json!(["DRIVER"])),
    ]);
    let before = user_total(&app, &org.admin.token).await;
    let data = app
        .ok(
            Some(&dispatcher.session.token),
            INVITE_USERS,
            json!({ "inputs": inputs }),
        )
        .await;
    let results = data["inviteUsers"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    let expect = [
        ("one@example.test", None, None),
        ("not an email", Some("BAD_USER_INPUT"), Some("input.email")),
        ("TAKEN@example.test", Some("CONFLICT"), None),
        ("two@example.test", None, None),
        ("two@example.test", Some("CONFLICT"), None),
        ("admin@example.test", Some("FORBIDDEN"), None),
        ("depot@example.test", Some("NOT_FOUND"), None),
        (
            "badid@example.test",
            Some("BAD_USER_INPUT"),
            Some("input.depotId"),
        ),
        (
            "noroles@example.test",
            Some("BAD_USER_INPUT"),
            Some("input.roles"),
        ),
        ("three@example.test", None, None),
    ];
    for (result, (email, code, field)) in results.iter().zip(expect) {
        assert_eq!(result["email"], email, "{result}");
        match code {
            None => {
                assert_eq!(result["error"], Value::Null, "{result}");
                assert_eq!(result["user"]["email"], email);
                assert_eq!(result["user"]["status"], "INVITED");
            }
            Some(code) => {
                assert_eq!(result["user"], Value::Null, "{result}");
                assert_eq!(result["error"]["code"], code, "{result}");
                assert!(!result["error"]["message"].as_str().unwrap().is_empty());
                assert_eq!(result["error"]["field"].as_str(), field, "{result}");
            }
        }
    }
    assert_eq!(user_total(&app, &org.admin.token).await, before + 3);
    for email in ["one@example.test", "two@example.test", "three@example.test"] {
        app.token_from_mail(email, "/accept-invitation").await;
        assert_eq!(app.mails_to(email).len(), 1, "{email}");
    }
    for email in [
        "admin@example.test",
        "depot@example.test",
        "noroles@example.test",
    ] {
        assert!(app.mails_to(email).is_empty(), "{email}");
    }
}

#[tokio::test]
async fn a_bulk_invitation_of_more_than_500_rows_or_by_a_driver_is_refused_whole() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let before = user_total(&app, &org.admin.token).await;
    let inputs: Vec<Value> = (0..501)
        .map(|i| item(&format!("bulk{i}@example.test"), json!(["DRIVER"])))
        .collect();
    let body = app
        .gql(
            Some(&org.admin.token),
            INVITE_USERS,
            json!({ "inputs": inputs }),
        )
        .await;
    assert_code(&body, "BAD_USER_INPUT");
    assert_eq!(user_total(&app, &org.admin.token).await, before);

    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let body = app
        .gql(
            Some(&driver.session.token),
            INVITE_USERS,
            json!({ "inputs": [item("x@example.test", json!(["DRIVER"]))] }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
    assert_eq!(user_total(&app, &org.admin.token).await, before + 1);
}

#[tokio::test]
async fn a_bulk_invitation_of_500_rows_invites_all_of_them_in_input_order() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let inputs: Vec<Value> = (0..500)
        .map(|i| item(&format!("fleet{i}@example.test"), json!(["DRIVER"])))
        .collect();
    let data = app
        .ok(
            Some(&org.admin.token),
            INVITE_USERS,
            json!({ "inputs": inputs }),
        )
        .await;
    let results = data["inviteUsers"].as_array().unwrap();
    assert_eq!(results.len(), 500);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["email"], format!("fleet{i}@example.test"));
        assert_eq!(result["error"], Value::Null);
    }
    assert_eq!(user_total(&app, &org.admin.token).await, 501);
}
