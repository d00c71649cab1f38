//! Accounts and sessions: sign-up, sign-in, organization selection, refresh rotation,
//! sign-out, password reset and settings.

use serde_json::json;

use crate::helpers::{
    Options, PASSWORD, TestApp, assert_code, require_redis, spawn_app, spawn_with,
};

const SIGN_IN: &str = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
    accessToken refreshToken expiresIn scoped organizations { id name } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken viewer { email } } }";

/// A sign-in of `email` with `password`.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> serde_json::Value {
    app.gql(None, SIGN_IN, json!({ "e": email, "p": password }))
        .await
}

/// A sign-in of `email` with a wrong password.
async fn wrong_password(app: &TestApp, email: &str) -> serde_json::Value {
    sign_in(app, email, "wrong password!").await
}

#[tokio::test]
async fn creating_an_organization_signs_its_admin_in_scoped_to_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let data = app
        .ok(
            Some(&org.admin.token),
            "{ viewer { email user { roles status } organization { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["viewer"]["organization"]["name"], "Acme");
    assert_eq!(data["viewer"]["user"]["roles"], json!(["ADMIN"]));
    assert_eq!(data["viewer"]["user"]["status"], "ACTIVE");
}

#[tokio::test]
async fn organization_names_are_unique() {
    let app = spawn_app().await;
    app.create_org("Acme").await;
    let body = app
        .gql(None, "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken } }",
            json!({ "i": { "name": "Acme", "adminFirstName": "B", "adminLastName": "C", "adminEmail": "b@c.test", "adminPassword": PASSWORD } }))
        .await;
    assert_code(&body, "CONFLICT");
}

#[tokio::test]
async fn sign_up_is_refused_when_allow_signup_is_false() {
    let app = spawn_with(Options {
        extra: vec![("--allow-signup".into(), "false".into())],
        ..Default::default()
    })
    .await;
    let body = app
        .gql(None, "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken } }",
            json!({ "i": { "name": "Acme", "adminFirstName": "B", "adminLastName": "C", "adminEmail": "b@c.test", "adminPassword": PASSWORD } }))
        .await;
    assert_code(&body, "FORBIDDEN");
}

#[tokio::test]
async fn creating_an_organization_with_an_existing_account_needs_that_accounts_password() {
    let app = spawn_app().await;
    let first = app.create_org("Acme").await;
    let mutation = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { accessToken viewer { memberships { organization { name } } } } }";
    let wrong = app
        .gql(None, mutation, json!({ "i": { "name": "Beta", "adminFirstName": "A", "adminLastName": "B", "adminEmail": first.admin_email, "adminPassword": "not the password at all" } }))
        .await;
    assert_code(&wrong, "UNAUTHENTICATED");
    let right = app
        .ok(None, mutation, json!({ "i": { "name": "Beta", "adminFirstName": "A", "adminLastName": "B", "adminEmail": first.admin_email.to_uppercase(), "adminPassword": PASSWORD } }))
        .await;
    assert_eq!(
        right["createOrganization"]["viewer"]["memberships"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn sign_in_with_one_membership_is_scoped_and_lists_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let data = app
        .ok(
            None,
            SIGN_IN,
            json!({ "e": org.admin_email.to_uppercase(), "p": PASSWORD }),
        )
        .await;
    assert_eq!(data["signIn"]["scoped"], true);
    assert_eq!(data["signIn"]["organizations"][0]["name"], "Acme");
    assert_eq!(data["signIn"]["expiresIn"], 900);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let unknown = app
        .gql(
            None,
            SIGN_IN,
            json!({ "e": "nobody@example.test", "p": PASSWORD }),
        )
        .await;
    let wrong = wrong_password(&app, &org.admin_email).await;
    assert_code(&unknown, "UNAUTHENTICATED");
    assert_code(&wrong, "UNAUTHENTICATED");
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
}

#[tokio::test]
async fn an_account_in_several_organizations_signs_in_unscoped_and_selects_one() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let beta = app.create_org("Beta").await;
    // The Beta admin invites Acme's admin email; accepting with the existing password links the account.
    app.invite(&beta.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    let token = app
        .token_from_mail(&acme.admin_email, "/accept-invitation")
        .await;
    app.ok(
        None,
        "mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken } }",
        json!({ "i": { "token": token, "password": PASSWORD } }),
    )
    .await;

    let data = app
        .ok(
            None,
            SIGN_IN,
            json!({ "e": acme.admin_email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(data["signIn"]["scoped"], false);
    assert_eq!(
        data["signIn"]["organizations"].as_array().map(Vec::len),
        Some(2)
    );
    let unscoped = data["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let viewer = app
        .ok(
            Some(&unscoped),
            "{ viewer { email user { id } organization { id } memberships { roles } } }",
            json!({}),
        )
        .await;
    assert!(viewer["viewer"]["organization"].is_null());
    assert!(viewer["viewer"]["user"].is_null());
    let forbidden = app
        .gql(Some(&unscoped), "{ organization { name } }", json!({}))
        .await;
    assert_code(&forbidden, "FORBIDDEN");

    let selected = app
        .ok(Some(&unscoped), "mutation($o: ID!) { selectOrganization(organizationId: $o) { accessToken viewer { organization { name } user { roles } } } }",
            json!({ "o": beta.id }))
        .await;
    assert_eq!(
        selected["selectOrganization"]["viewer"]["organization"]["name"],
        "Beta"
    );
    assert_eq!(
        selected["selectOrganization"]["viewer"]["user"]["roles"],
        json!(["DISPATCHER"])
    );
}

#[tokio::test]
async fn selecting_an_organization_without_an_active_membership_is_not_found() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let beta = app.create_org("Beta").await;
    let body = app
        .gql(
            Some(&acme.admin.token),
            "mutation($o: ID!) { selectOrganization(organizationId: $o) { accessToken } }",
            json!({ "o": beta.id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

#[tokio::test]
async fn a_refresh_token_rotates_and_the_used_one_is_dead() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let first = app
        .ok(None, REFRESH, json!({ "t": org.admin.refresh }))
        .await;
    let second_token = first["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second_token, org.admin.refresh);
    let reused = app
        .gql(None, REFRESH, json!({ "t": org.admin.refresh }))
        .await;
    assert_code(&reused, "UNAUTHENTICATED");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let rotated = app
        .ok(None, REFRESH, json!({ "t": org.admin.refresh }))
        .await;
    let newest = rotated["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": org.admin.refresh }))
            .await,
        "UNAUTHENTICATED",
    );
    // The thief's reuse killed the legitimate newest token too.
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": newest })).await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn a_refresh_works_with_an_expired_access_token_header_present() {
    let app = spawn_with(Options {
        extra: vec![("--access-token-ttl".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let org = app.create_org("Acme").await;
    tokio::time::sleep(std::time::Duration::from_millis(7000)).await;
    let expired = app
        .gql(
            Some(&org.admin.token),
            "{ organization { name } }",
            json!({}),
        )
        .await;
    assert_code(&expired, "UNAUTHENTICATED");
    let refreshed = app
        .gql(
            Some(&org.admin.token),
            REFRESH,
            json!({ "t": org.admin.refresh }),
        )
        .await;
    assert!(refreshed.get("errors").is_none(), "{refreshed}");
}

#[tokio::test]
async fn signing_out_kills_the_refresh_token() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let out = app
        .ok(
            None,
            "mutation($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": org.admin.refresh }),
        )
        .await;
    assert_eq!(out["signOut"], true);
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": org.admin.refresh }))
            .await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn password_reset_mails_existing_accounts_only_and_always_answers_true() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let query = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let unknown = app
        .ok(None, query, json!({ "e": "nobody@example.test" }))
        .await;
    assert_eq!(unknown["requestPasswordReset"], true);
    let known = app.ok(None, query, json!({ "e": org.admin_email })).await;
    assert_eq!(known["requestPasswordReset"], true);
    let token = app
        .token_from_mail(&org.admin_email, "/reset-password")
        .await;
    assert!(!token.is_empty());
    assert!(app.mails_to("nobody@example.test").is_empty());
}

#[tokio::test]
async fn a_reset_token_works_once_and_the_new_password_signs_in() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.ok(
        None,
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": org.admin_email }),
    )
    .await;
    let token = app
        .token_from_mail(&org.admin_email, "/reset-password")
        .await;
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let short = app
        .gql(None, reset, json!({ "t": token, "p": "short" }))
        .await;
    assert_code(&short, "BAD_USER_INPUT");
    app.ok(
        None,
        reset,
        json!({ "t": token, "p": "a brand new password" }),
    )
    .await;
    assert_code(
        &app.gql(
            None,
            reset,
            json!({ "t": token, "p": "another new password" }),
        )
        .await,
        "BAD_USER_INPUT",
    );
    assert_code(
        &app.gql(
            None,
            SIGN_IN,
            json!({ "e": org.admin_email, "p": PASSWORD }),
        )
        .await,
        "UNAUTHENTICATED",
    );
    app.ok(
        None,
        SIGN_IN,
        json!({ "e": org.admin_email, "p": "a brand new password" }),
    )
    .await;
    // Resetting the password ended the old sessions.
    assert_code(
        &app.gql(None, REFRESH, json!({ "t": org.admin.refresh }))
            .await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn settings_are_validated_and_saved() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let update = "mutation($i: SettingsInput!) { updateSettings(input: $i) { timezone currency csvDelimiter } }";
    for (input, field) in [
        (json!({ "timezone": "Mars/Olympus" }), "input.timezone"),
        (json!({ "currency": "EURO" }), "input.currency"),
        (json!({ "csvDelimiter": ":" }), "input.csvDelimiter"),
    ] {
        let body = app
            .gql(Some(&org.admin.token), update, json!({ "i": input }))
            .await;
        assert_code(&body, "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let saved = app
        .ok(Some(&org.admin.token), update, json!({ "i": { "timezone": "Europe/Berlin", "currency": "sek", "csvDelimiter": "\t" } }))
        .await;
    assert_eq!(
        saved["updateSettings"],
        json!({ "timezone": "Europe/Berlin", "currency": "SEK", "csvDelimiter": "\t" })
    );
    let read = app
        .ok(
            Some(&org.admin.token),
            "{ viewer { settings { currency } } }",
            json!({}),
        )
        .await;
    assert_eq!(read["viewer"]["settings"]["currency"], "SEK");
}

#[tokio::test]
async fn a_bad_settings_field_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let body = app
        .gql(
            Some(&org.admin.token),
            "mutation($i: SettingsInput!) { updateSettings(input: $i) { currency } }",
            json!({ "i": { "currency": "SEK", "timezone": "Nowhere/Land" } }),
        )
        .await;
    assert_code(&body, "BAD_USER_INPUT");
    let read = app
        .ok(
            Some(&org.admin.token),
            "{ viewer { settings { currency } } }",
            json!({}),
        )
        .await;
    assert_eq!(read["viewer"]["settings"]["currency"], "EUR");
}

#[tokio::test]
async fn repeated_wrong_passwords_are_rate_limited_even_when_the_right_one_follows() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for _ in 0..10 {
        let body = wrong_password(&app, &org.admin_email).await;
        assert_code(&body, "UNAUTHENTICATED");
    }
    let limited = sign_in(&app, &org.admin_email, PASSWORD).await;
    assert_code(&limited, "RATE_LIMITED");
}

#[tokio::test]
#[ignore = "needs Redis: runs in the PostgreSQL + Redis pass (--include-ignored)"]
async fn the_password_attempt_budget_is_shared_by_every_instance() {
    require_redis();
    let one = spawn_app().await;
    let two = one.second_instance().await;
    let org = one.create_org("Acme").await;
    // Ten wrong passwords spread over both instances spend the one budget.
    for i in 0..10 {
        let app = if i % 2 == 0 { &one } else { &two };
        let body = wrong_password(app, &org.admin_email).await;
        assert_code(&body, "UNAUTHENTICATED");
    }
    for app in [&one, &two] {
        let limited = sign_in(app, &org.admin_email, PASSWORD).await;
        assert_code(&limited, "RATE_LIMITED");
    }
}
