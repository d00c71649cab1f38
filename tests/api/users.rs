//! The user lifecycle: inviting, accepting, resending, editing and deleting users, the
//! ADMIN rules, drivers' ACTIVE/INACTIVE status, route assignment and what a DRIVER sees.

use entity::{invitation, mail_outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Member, Org, PASSWORD, TestApp, assert_code, driver_id_of, retype, spawn_app,
};

const INVITE: &str = "mutation($input: InviteUserInput!) { inviteUser(input: $input) {
    id status invitedAt activatedAt email } }";
const ACCEPT: &str = "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) {
    accessToken refreshToken viewer { email user { id status activatedAt } organization { id name } } } }";
const RESEND: &str = "mutation($id: ID!) { resendInvitation(userId: $id) { id status } }";
const EDIT: &str = "mutation($id: ID!, $input: EditUserInput!) { editUser(id: $id, input: $input) {
    id firstName lastName phone roles driver { depot { id } } } }";
const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id) { deletedId } }";
const USER: &str = "query($id: ID!) { user(id: $id) { id firstName lastName phone roles status
    activatedAt driver { id status depot { id } } } }";
const DRIVER: &str = "query($id: ID!) { driver(id: $id) { id status available depot { id } } }";
const SET_INACTIVE: &str = "mutation($d: ID!) { setDriverInactive(driverId: $d) { id status } }";
const SET_ACTIVE: &str = "mutation($d: ID!) { setDriverActive(driverId: $d) { id status } }";
const ASSIGN: &str =
    "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id driver { id } } }";
const START: &str = "mutation($r: ID!) { startRoute(routeId: $r) { id status } }";
const COMPLETE: &str = "mutation($r: ID!) { completeRoute(routeId: $r) { id status } }";
const ROUTE: &str = "query($id: ID!) { route(id: $id) { id status driverName driver { id }
    completedAt } }";
const USERS: &str = "{ organization { users { totalCount nodes { id email status } } } }";
const DELETE_DEPOT: &str = "mutation($id: ID!) { deleteDepot(id: $id) { deletedId } }";

/// A gateway with one organization.
async fn org() -> (TestApp, Org) {
    let app = spawn_app().await;
    let org = app.create_org("Lifecycle Fleet").await;
    (app, org)
}

fn fresh_email() -> String {
    format!("{}@example.test", Uuid::now_v7().simple())
}

/// Invites `email` with the helper's names and `extra` input fields; returns the raw response.
async fn invite_with(
    app: &TestApp,
    token: &str,
    email: &str,
    roles: &[&str],
    extra: Value,
) -> Value {
    let mut input =
        json!({ "firstName": "Test", "lastName": "Person", "email": email, "roles": roles });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    app.gql(Some(token), INVITE, json!({ "input": input }))
        .await
}

async fn accept(app: &TestApp, token: &str, password: &str) -> Value {
    app.gql(
        None,
        ACCEPT,
        json!({ "input": { "token": token, "password": password } }),
    )
    .await
}

async fn user(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(Some(token), USER, json!({ "id": id })).await["user"].clone()
}

async fn driver(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(Some(token), DRIVER, json!({ "id": id })).await["driver"].clone()
}

async fn route(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(Some(token), ROUTE, json!({ "id": id })).await["route"].clone()
}

async fn assign(app: &TestApp, token: &str, route: &str, driver: &str) -> Value {
    app.gql(Some(token), ASSIGN, json!({ "r": route, "d": driver }))
        .await
}

/// A PLANNED route with `driver` assigned.
async fn planned_route_for(app: &TestApp, token: &str, driver: &Member) -> String {
    let route = app.route(token, "Morning loop").await;
    let body = assign(app, token, &route, &driver.driver_id).await;
    assert!(body.get("errors").is_none(), "assign failed: {body}");
    route
}

/// An IN_PROGRESS route with `driver` assigned.
async fn started_route_for(app: &TestApp, token: &str, driver: &Member) -> String {
    let route = planned_route_for(app, token, driver).await;
    app.ok(Some(token), START, json!({ "r": route })).await;
    route
}

/// Mails queued for `to` (delivered or not): the outbox, not the asynchronous mail files.
async fn queued_mails(app: &TestApp, to: &str) -> u64 {
    mail_outbox::Entity::find()
        .filter(mail_outbox::Column::ToAddress.eq(to))
        .count(&app.state.db.conn)
        .await
        .unwrap()
}

async fn user_count(app: &TestApp, token: &str) -> i64 {
    app.ok(Some(token), USERS, json!({})).await["organization"]["users"]["totalCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn invite_creates_an_invited_user_and_mails_an_invitation_to_that_address() {
    let (app, org) = org().await;
    let email = fresh_email();
    let body = invite_with(&app, &org.admin.token, &email, &["DRIVER"], json!({})).await;
    let invited = &body["data"]["inviteUser"];
    assert_eq!(invited["status"], "INVITED", "{body}");
    assert!(invited["invitedAt"].is_string(), "{body}");
    assert!(invited["activatedAt"].is_null(), "{body}");
    assert_eq!(invited["email"], email.as_str());
    let mail = app.mail_to(&email).await;
    assert!(mail.contains("/accept-invitation?token="), "{mail}");
    assert_eq!(queued_mails(&app, &email).await, 1);
}

#[tokio::test]
async fn inviting_an_email_already_a_user_of_the_organization_is_a_conflict_in_any_letter_case() {
    let (app, org) = org().await;
    let email = fresh_email();
    app.invite(&org.admin.token, &email, &["DRIVER"]).await;
    let before = user_count(&app, &org.admin.token).await;
    let again = invite_with(&app, &org.admin.token, &email, &["DISPATCHER"], json!({})).await;
    assert_code(&again, "CONFLICT");
    let upper = invite_with(
        &app,
        &org.admin.token,
        &email.to_uppercase(),
        &["DRIVER"],
        json!({}),
    )
    .await;
    assert_code(&upper, "CONFLICT");
    let admin_upper = invite_with(
        &app,
        &org.admin.token,
        &org.admin_email.to_uppercase(),
        &["DRIVER"],
        json!({}),
    )
    .await;
    assert_code(&admin_upper, "CONFLICT");
    assert_eq!(user_count(&app, &org.admin.token).await, before);
}

#[tokio::test]
async fn accepting_an_invitation_for_a_new_email_creates_the_account_and_activates_the_user() {
    let (app, org) = org().await;
    let email = fresh_email();
    let user_id = app.invite(&org.admin.token, &email, &["DISPATCHER"]).await;
    let token = app.token_from_mail(&email, "/accept-invitation").await;
    let body = accept(&app, &token, PASSWORD).await;
    let payload = &body["data"]["acceptInvitation"];
    assert!(payload["accessToken"].is_string(), "{body}");
    assert_eq!(payload["viewer"]["organization"]["id"], org.id.as_str());
    assert_eq!(payload["viewer"]["user"]["id"], user_id.as_str());
    assert_eq!(payload["viewer"]["user"]["status"], "ACTIVE");
    assert!(
        payload["viewer"]["user"]["activatedAt"].is_string(),
        "{body}"
    );

    // The new token works for the organization, and the password signs in.
    let access = payload["accessToken"].as_str().unwrap();
    let seen = user(&app, access, &user_id).await;
    assert_eq!(seen["status"], "ACTIVE");
    let signed_in = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { scoped } }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in["signIn"]["scoped"], true);
}

#[tokio::test]
async fn accepting_for_an_existing_account_needs_that_accounts_password_and_a_wrong_one_leaves_the_invitation_usable()
 {
    let app = spawn_app().await;
    let org = app.create_org("Inviting Fleet").await;
    let other = app.create_org("Home Fleet").await;
    let user_id = app
        .invite(&org.admin.token, &other.admin_email, &["DISPATCHER"])
        .await;
    let token = app
        .token_from_mail(&other.admin_email, "/accept-invitation")
        .await;

    let wrong = accept(&app, &token, "not the right password").await;
    assert_code(&wrong, "UNAUTHENTICATED");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["status"],
        "INVITED"
    );

    let right = accept(&app, &token, PASSWORD).await;
    let payload = &right["data"]["acceptInvitation"];
    assert_eq!(
        payload["viewer"]["organization"]["id"],
        org.id.as_str(),
        "{right}"
    );
    assert_eq!(payload["viewer"]["user"]["status"], "ACTIVE");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["status"],
        "ACTIVE"
    );
}

#[tokio::test]
async fn a_used_or_unknown_invitation_token_is_bad_user_input_and_changes_nothing() {
    let (app, org) = org().await;
    let email = fresh_email();
    let user_id = app.invite(&org.admin.token, &email, &["DRIVER"]).await;
    let token = app.token_from_mail(&email, "/accept-invitation").await;

    let unknown = accept(&app, "no-such-invitation-token", PASSWORD).await;
    assert_code(&unknown, "BAD_USER_INPUT");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["status"],
        "INVITED"
    );

    let first = accept(&app, &token, PASSWORD).await;
    assert!(first.get("errors").is_none(), "{first}");
    let activated = user(&app, &org.admin.token, &user_id).await;

    let reused = accept(&app, &token, "another password entirely").await;
    assert_code(&reused, "BAD_USER_INPUT");
    assert!(reused["data"].is_null(), "{reused}");
    let after = user(&app, &org.admin.token, &user_id).await;
    assert_eq!(after, activated);
    // The password was not changed by the refused attempt.
    let signed_in = app
        .gql(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { scoped } }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
    assert!(signed_in.get("errors").is_none(), "{signed_in}");
}

#[tokio::test]
async fn an_expired_invitation_is_bad_user_input_and_a_resent_one_works() {
    let (app, org) = org().await;
    let email = fresh_email();
    let user_id = app.invite(&org.admin.token, &email, &["DRIVER"]).await;
    let token = app.token_from_mail(&email, "/accept-invitation").await;
    // Seven days pass: the stored invitation's expiry moves into the past.
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.state.db.conn)
        .await
        .unwrap();
    assert_code(&accept(&app, &token, PASSWORD).await, "BAD_USER_INPUT");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["status"],
        "INVITED"
    );

    app.ok(Some(&org.admin.token), RESEND, json!({ "id": user_id }))
        .await;
    let mut fresh = token.clone();
    for _ in 0..200 {
        if app.mails_to(&email).len() == 2 {
            fresh = app.token_from_mail(&email, "/accept-invitation").await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_ne!(fresh, token);
    let accepted = accept(&app, &fresh, PASSWORD).await;
    assert!(accepted.get("errors").is_none(), "{accepted}");
}

#[tokio::test]
async fn resending_an_invitation_replaces_the_token_and_is_a_conflict_once_accepted() {
    let (app, org) = org().await;
    let email = fresh_email();
    let user_id = app.invite(&org.admin.token, &email, &["DRIVER"]).await;
    let old = app.token_from_mail(&email, "/accept-invitation").await;

    assert_eq!(queued_mails(&app, &email).await, 1);
    app.ok(Some(&org.admin.token), RESEND, json!({ "id": user_id }))
        .await;
    assert_eq!(queued_mails(&app, &email).await, 2);
    // Delivery is asynchronous: wait for the second mail file to land.
    let mut new = old.clone();
    for _ in 0..200 {
        if app.mails_to(&email).len() == 2 {
            new = app.token_from_mail(&email, "/accept-invitation").await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_ne!(new, old);

    assert_code(&accept(&app, &old, PASSWORD).await, "BAD_USER_INPUT");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["status"],
        "INVITED"
    );
    let accepted = accept(&app, &new, PASSWORD).await;
    assert!(accepted.get("errors").is_none(), "{accepted}");

    let late = app
        .gql(Some(&org.admin.token), RESEND, json!({ "id": user_id }))
        .await;
    assert_code(&late, "CONFLICT");
    assert_eq!(queued_mails(&app, &email).await, 2);
}

#[tokio::test]
async fn an_invited_user_cannot_be_edited_but_can_be_deleted() {
    let (app, org) = org().await;
    let user_id = app
        .invite(&org.admin.token, &fresh_email(), &["DRIVER"])
        .await;
    let edit = app
        .gql(
            Some(&org.admin.token),
            EDIT,
            json!({ "id": user_id, "input": { "firstName": "Renamed" } }),
        )
        .await;
    assert_code(&edit, "CONFLICT");
    assert_eq!(
        user(&app, &org.admin.token, &user_id).await["firstName"],
        "Test"
    );

    let deleted = app
        .ok(
            Some(&org.admin.token),
            DELETE_USER,
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(deleted["deleteUser"]["deletedId"], user_id.as_str());
    assert!(user(&app, &org.admin.token, &user_id).await.is_null());
}

#[tokio::test]
async fn edit_user_changes_names_and_phone_and_can_clear_the_phone() {
    let (app, org) = org().await;
    let member = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let edited = app
        .ok(
            Some(&org.admin.token),
            EDIT,
            json!({ "id": member.user_id, "input": {
                "firstName": "Grace", "lastName": "Hopper", "phone": "+4930123456" } }),
        )
        .await;
    assert_eq!(edited["editUser"]["firstName"], "Grace");
    assert_eq!(edited["editUser"]["lastName"], "Hopper");
    assert_eq!(edited["editUser"]["phone"], "+4930123456");

    let cleared = app
        .ok(
            Some(&org.admin.token),
            EDIT,
            json!({ "id": member.user_id, "input": { "phone": "" } }),
        )
        .await;
    assert!(cleared["editUser"]["phone"].is_null(), "{cleared}");
    let seen = user(&app, &org.admin.token, &member.user_id).await;
    assert_eq!(seen["firstName"], "Grace");
    assert!(seen["phone"].is_null());
}

#[tokio::test]
async fn a_driver_may_edit_its_own_names_and_phone_but_not_its_roles_its_depot_or_other_users() {
    let (app, org) = org().await;
    let depot = app.depot(&org.admin.token, "North").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let other = app.member(&org.admin.token, &["DRIVER"]).await;
    let token = driver.session.token.as_str();

    let own = app
        .ok(
            Some(token),
            EDIT,
            json!({ "id": driver.user_id, "input": {
                "firstName": "Dora", "lastName": "Driver", "phone": "+33123456789" } }),
        )
        .await;
    assert_eq!(own["editUser"]["firstName"], "Dora");
    assert_eq!(own["editUser"]["phone"], "+33123456789");

    for input in [
        json!({ "roles": ["DRIVER", "DISPATCHER"] }),
        json!({ "depotId": depot }),
        json!({ "firstName": "Sneaky", "roles": ["DRIVER"] }),
    ] {
        let body = app
            .gql(
                Some(token),
                EDIT,
                json!({ "id": driver.user_id, "input": input }),
            )
            .await;
        assert_code(&body, "FORBIDDEN");
    }
    let others = app
        .gql(
            Some(token),
            EDIT,
            json!({ "id": other.user_id, "input": { "firstName": "Hacked" } }),
        )
        .await;
    assert_code(&others, "FORBIDDEN");

    let me = user(&app, &org.admin.token, &driver.user_id).await;
    assert_eq!(me["firstName"], "Dora");
    assert_eq!(me["roles"], json!(["DRIVER"]));
    assert!(me["driver"]["depot"].is_null(), "{me}");
    assert_eq!(
        user(&app, &org.admin.token, &other.user_id).await["firstName"],
        "Test"
    );
}

#[tokio::test]
async fn a_dispatcher_cannot_grant_admin_edit_an_admin_or_delete_an_admin() {
    let (app, org) = org().await;
    let dispatcher = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let second_admin = app.member(&org.admin.token, &["ADMIN"]).await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let token = dispatcher.session.token.as_str();
    let before = user_count(&app, &org.admin.token).await;

    let grant_on_invite =
        invite_with(&app, token, &fresh_email(), &["ADMIN", "DRIVER"], json!({})).await;
    assert_code(&grant_on_invite, "FORBIDDEN");
    let grant_on_edit = app
        .gql(
            Some(token),
            EDIT,
            json!({ "id": driver.user_id, "input": { "roles": ["DRIVER", "ADMIN"] } }),
        )
        .await;
    assert_code(&grant_on_edit, "FORBIDDEN");
    let grant_self = app
        .gql(
            Some(token),
            EDIT,
            json!({ "id": dispatcher.user_id, "input": { "roles": ["DISPATCHER", "ADMIN"] } }),
        )
        .await;
    assert_code(&grant_self, "FORBIDDEN");
    let edit_admin = app
        .gql(
            Some(token),
            EDIT,
            json!({ "id": second_admin.user_id, "input": { "firstName": "Renamed" } }),
        )
        .await;
    assert_code(&edit_admin, "FORBIDDEN");
    let delete_admin = app
        .gql(
            Some(token),
            DELETE_USER,
            json!({ "id": second_admin.user_id }),
        )
        .await;
    assert_code(&delete_admin, "FORBIDDEN");

    assert_eq!(user_count(&app, &org.admin.token).await, before);
    assert_eq!(
        user(&app, &org.admin.token, &driver.user_id).await["roles"],
        json!(["DRIVER"])
    );
    assert_eq!(
        user(&app, &org.admin.token, &second_admin.user_id).await["firstName"],
        "Test"
    );
    // What a dispatcher may do, it does: edit a non-admin.
    app.ok(
        Some(token),
        EDIT,
        json!({ "id": driver.user_id, "input": { "firstName": "Fine" } }),
    )
    .await;
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_deleted_or_demoted_until_a_second_active_admin_exists() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let demote = json!({ "id": org.admin_user_id, "input": { "roles": ["DISPATCHER"] } });

    assert_code(
        &app.gql(Some(admin), EDIT, demote.clone()).await,
        "CONFLICT",
    );
    assert_code(
        &app.gql(Some(admin), DELETE_USER, json!({ "id": org.admin_user_id }))
            .await,
        "CONFLICT",
    );

    // An INVITED admin does not count.
    let invited = app.invite(admin, &fresh_email(), &["ADMIN"]).await;
    assert_code(
        &app.gql(Some(admin), EDIT, demote.clone()).await,
        "CONFLICT",
    );
    app.ok(Some(admin), DELETE_USER, json!({ "id": invited }))
        .await;
    assert_eq!(
        user(&app, admin, &org.admin_user_id).await["roles"],
        json!(["ADMIN"])
    );

    let second = app.member(admin, &["ADMIN"]).await;
    let demoted = app.ok(Some(admin), EDIT, demote).await;
    assert_eq!(demoted["editUser"]["roles"], json!(["DISPATCHER"]));
    // Now `second` is the last ACTIVE ADMIN in turn.
    let last = app
        .gql(
            Some(&second.session.token),
            DELETE_USER,
            json!({ "id": second.user_id }),
        )
        .await;
    assert_code(&last, "CONFLICT");
    app.ok(
        Some(&second.session.token),
        DELETE_USER,
        json!({ "id": org.admin_user_id }),
    )
    .await;
}

#[tokio::test]
async fn deleting_a_driver_on_a_planned_or_in_progress_route_is_a_conflict() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let planned = app.member(admin, &["DRIVER"]).await;
    let driving = app.member(admin, &["DRIVER"]).await;
    planned_route_for(&app, admin, &planned).await;
    started_route_for(&app, admin, &driving).await;
    for member in [&planned, &driving] {
        let body = app
            .gql(Some(admin), DELETE_USER, json!({ "id": member.user_id }))
            .await;
        assert_code(&body, "CONFLICT");
        assert_eq!(user(&app, admin, &member.user_id).await["status"], "ACTIVE");
    }
}

#[tokio::test]
async fn deleting_a_driver_keeps_its_completed_routes_with_the_drivers_name() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let driver = app.member(admin, &["DRIVER"]).await;
    let route_id = started_route_for(&app, admin, &driver).await;
    app.ok(Some(admin), COMPLETE, json!({ "r": route_id }))
        .await;

    app.ok(Some(admin), DELETE_USER, json!({ "id": driver.user_id }))
        .await;
    let kept = route(&app, admin, &route_id).await;
    assert_eq!(kept["status"], "COMPLETED");
    assert_eq!(kept["driverName"], "Test Person");
    assert!(kept["completedAt"].is_string(), "{kept}");
    assert!(kept["driver"].is_null(), "{kept}");
    assert!(user(&app, admin, &driver.user_id).await.is_null());
}

#[tokio::test]
async fn removing_the_driver_role_from_a_user_on_an_active_route_is_a_conflict() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let driver = app.member(admin, &["DRIVER", "DISPATCHER"]).await;
    planned_route_for(&app, admin, &driver).await;
    let body = app
        .gql(
            Some(admin),
            EDIT,
            json!({ "id": driver.user_id, "input": { "roles": ["DISPATCHER"] } }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    let seen = user(&app, admin, &driver.user_id).await;
    let mut roles: Vec<String> = serde_json::from_value(seen["roles"].clone()).unwrap();
    roles.sort();
    assert_eq!(roles, ["DISPATCHER", "DRIVER"]);
}

#[tokio::test]
async fn only_drivers_can_be_set_inactive() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let dispatcher = app.member(admin, &["DISPATCHER"]).await;
    let as_user = app
        .gql(
            Some(admin),
            SET_INACTIVE,
            json!({ "d": dispatcher.user_id }),
        )
        .await;
    assert_code(&as_user, "BAD_USER_INPUT");
    let as_driver = app
        .gql(
            Some(admin),
            SET_INACTIVE,
            json!({ "d": retype(&dispatcher.user_id, "Driver") }),
        )
        .await;
    assert_code(&as_driver, "NOT_FOUND");
    assert_eq!(
        user(&app, admin, &dispatcher.user_id).await["status"],
        "ACTIVE"
    );
}

#[tokio::test]
async fn set_driver_inactive_is_a_conflict_for_a_driver_on_an_active_route_or_an_invited_driver() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let planned = app.member(admin, &["DRIVER"]).await;
    let driving = app.member(admin, &["DRIVER"]).await;
    planned_route_for(&app, admin, &planned).await;
    started_route_for(&app, admin, &driving).await;
    for member in [&planned, &driving] {
        let body = app
            .gql(Some(admin), SET_INACTIVE, json!({ "d": member.driver_id }))
            .await;
        assert_code(&body, "CONFLICT");
        assert_eq!(
            driver(&app, admin, &member.driver_id).await["status"],
            "ACTIVE"
        );
    }
    let invited = app.invite(admin, &fresh_email(), &["DRIVER"]).await;
    let body = app
        .gql(
            Some(admin),
            SET_INACTIVE,
            json!({ "d": driver_id_of(&invited) }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(user(&app, admin, &invited).await["status"], "INVITED");
}

#[tokio::test]
async fn set_driver_active_undoes_inactive() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let member = app.member(admin, &["DRIVER"]).await;
    let off = app
        .ok(Some(admin), SET_INACTIVE, json!({ "d": member.driver_id }))
        .await;
    assert_eq!(off["setDriverInactive"]["status"], "INACTIVE");
    let seen = driver(&app, admin, &member.driver_id).await;
    assert_eq!(seen["status"], "INACTIVE");
    assert_eq!(seen["available"], false);
    let on = app
        .ok(Some(admin), SET_ACTIVE, json!({ "d": member.driver_id }))
        .await;
    assert_eq!(on["setDriverActive"]["status"], "ACTIVE");
    let seen = driver(&app, admin, &member.driver_id).await;
    assert_eq!(seen["status"], "ACTIVE");
    assert_eq!(seen["available"], true);
}

#[tokio::test]
async fn assigning_an_invited_inactive_or_busy_driver_is_a_conflict() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let invited = driver_id_of(&app.invite(admin, &fresh_email(), &["DRIVER"]).await);
    let inactive = app.member(admin, &["DRIVER"]).await;
    app.ok(
        Some(admin),
        SET_INACTIVE,
        json!({ "d": inactive.driver_id }),
    )
    .await;
    let busy = app.member(admin, &["DRIVER"]).await;
    planned_route_for(&app, admin, &busy).await;

    let route_id = app.route(admin, "Needs a driver").await;
    for driver_id in [&invited, &inactive.driver_id, &busy.driver_id] {
        assert_code(&assign(&app, admin, &route_id, driver_id).await, "CONFLICT");
    }
    assert!(route(&app, admin, &route_id).await["driver"].is_null());
}

#[tokio::test]
async fn starting_a_route_with_no_driver_is_a_conflict() {
    let (app, org) = org().await;
    let route_id = app.route(&org.admin.token, "Driverless").await;
    let body = app
        .gql(Some(&org.admin.token), START, json!({ "r": route_id }))
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(
        route(&app, &org.admin.token, &route_id).await["status"],
        "PLANNED"
    );
}

#[tokio::test]
async fn completing_a_route_that_is_not_in_progress_is_a_conflict() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let member = app.member(admin, &["DRIVER"]).await;
    let route_id = planned_route_for(&app, admin, &member).await;
    assert_code(
        &app.gql(Some(admin), COMPLETE, json!({ "r": route_id }))
            .await,
        "CONFLICT",
    );
    assert_eq!(route(&app, admin, &route_id).await["status"], "PLANNED");
    app.ok(Some(admin), START, json!({ "r": route_id })).await;
    app.ok(Some(admin), COMPLETE, json!({ "r": route_id }))
        .await;
    assert_code(
        &app.gql(Some(admin), COMPLETE, json!({ "r": route_id }))
            .await,
        "CONFLICT",
    );
}

#[tokio::test]
async fn a_driver_can_start_and_complete_its_own_route_but_not_another_drivers() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let mine = app.member(admin, &["DRIVER"]).await;
    let theirs = app.member(admin, &["DRIVER"]).await;
    let my_route = planned_route_for(&app, admin, &mine).await;
    let their_route = planned_route_for(&app, admin, &theirs).await;
    let token = mine.session.token.as_str();

    assert_code(
        &app.gql(Some(token), START, json!({ "r": their_route }))
            .await,
        "FORBIDDEN",
    );
    app.ok(Some(admin), START, json!({ "r": their_route }))
        .await;
    assert_code(
        &app.gql(Some(token), COMPLETE, json!({ "r": their_route }))
            .await,
        "FORBIDDEN",
    );
    assert_eq!(
        route(&app, admin, &their_route).await["status"],
        "IN_PROGRESS"
    );

    let started = app.ok(Some(token), START, json!({ "r": my_route })).await;
    assert_eq!(started["startRoute"]["status"], "IN_PROGRESS");
    let completed = app
        .ok(Some(token), COMPLETE, json!({ "r": my_route }))
        .await;
    assert_eq!(completed["completeRoute"]["status"], "COMPLETED");
}

#[tokio::test]
async fn deleting_a_depot_unassigns_its_drivers_and_is_a_conflict_while_it_has_a_planned_route() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let depot = app.depot(admin, "South").await;
    let invited = invite_with(
        &app,
        admin,
        &fresh_email(),
        &["DRIVER"],
        json!({ "depotId": depot }),
    )
    .await;
    let driver_id = driver_id_of(invited["data"]["inviteUser"]["id"].as_str().unwrap());
    assert_eq!(
        driver(&app, admin, &driver_id).await["depot"]["id"],
        depot.as_str()
    );

    let route_id = app
        .ok(
            Some(admin),
            "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
            json!({ "input": { "name": "From South", "plannedStart": "2030-01-01T08:00:00Z",
                "depotId": depot } }),
        )
        .await["createRoute"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_code(
        &app.gql(Some(admin), DELETE_DEPOT, json!({ "id": depot }))
            .await,
        "CONFLICT",
    );
    assert_eq!(
        driver(&app, admin, &driver_id).await["depot"]["id"],
        depot.as_str()
    );

    app.ok(
        Some(admin),
        "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
        json!({ "r": route_id }),
    )
    .await;
    app.ok(Some(admin), DELETE_DEPOT, json!({ "id": depot }))
        .await;
    assert!(driver(&app, admin, &driver_id).await["depot"].is_null());
}

#[tokio::test]
async fn user_status_equals_driver_status_through_the_lifecycle() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    let email = fresh_email();
    let user_id = app.invite(admin, &email, &["DRIVER"]).await;
    let driver_id = driver_id_of(&user_id);
    let both = |seen: Value| {
        assert_eq!(seen["status"], seen["driver"]["status"], "{seen}");
        seen["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(both(user(&app, admin, &user_id).await), "INVITED");
    assert_eq!(driver(&app, admin, &driver_id).await["status"], "INVITED");
    let token = app.token_from_mail(&email, "/accept-invitation").await;
    accept(&app, &token, PASSWORD).await;
    assert_eq!(both(user(&app, admin, &user_id).await), "ACTIVE");
    app.ok(Some(admin), SET_INACTIVE, json!({ "d": driver_id }))
        .await;
    assert_eq!(both(user(&app, admin, &user_id).await), "INACTIVE");
    assert_eq!(driver(&app, admin, &driver_id).await["status"], "INACTIVE");
}

#[tokio::test]
async fn a_driver_sees_only_itself_among_users_and_drivers_only_its_own_routes_and_all_depots() {
    let (app, org) = org().await;
    let admin = org.admin.token.as_str();
    app.depot(admin, "East").await;
    app.depot(admin, "West").await;
    let me = app.member(admin, &["DRIVER"]).await;
    let other = app.member(admin, &["DRIVER"]).await;
    app.member(admin, &["DISPATCHER"]).await;
    let my_route = planned_route_for(&app, admin, &me).await;
    let their_route = planned_route_for(&app, admin, &other).await;
    app.route(admin, "Unassigned").await;

    let view = app
        .ok(
            Some(&me.session.token),
            "{ organization {
                users { totalCount nodes { id } }
                drivers { totalCount nodes { id } }
                routes { totalCount nodes { id } }
                depots { totalCount nodes { id } } } }",
            json!({}),
        )
        .await;
    let o = &view["organization"];
    assert_eq!(o["users"]["totalCount"], 1, "{view}");
    assert_eq!(o["users"]["nodes"], json!([{ "id": me.user_id }]));
    assert_eq!(o["drivers"]["totalCount"], 1, "{view}");
    assert_eq!(o["drivers"]["nodes"], json!([{ "id": me.driver_id }]));
    assert_eq!(o["routes"]["totalCount"], 1, "{view}");
    assert_eq!(o["routes"]["nodes"], json!([{ "id": my_route }]));
    assert_eq!(o["depots"]["totalCount"], 2, "{view}");

    // Direct reads of what is not its own come back empty.
    let token = me.session.token.as_str();
    assert!(
        app.gql(Some(token), ROUTE, json!({ "id": their_route }))
            .await["data"]["route"]
            .is_null()
    );
    assert!(
        app.gql(Some(token), USER, json!({ "id": other.user_id }))
            .await["data"]["user"]
            .is_null()
    );
}

/// Two ACTIVE ADMINs (and no other) each apply `mutation` to the other at the same moment,
/// five times over: one wins, the other is refused, one ACTIVE ADMIN remains.
async fn race_the_last_two_admins(mutation: &str, variables: fn(&Member) -> Value) {
    let app = spawn_app().await;
    for round in 0..5 {
        let org = app.create_org(&format!("Race Fleet {round}")).await;
        let a = app.member(&org.admin.token, &["ADMIN"]).await;
        let b = app.member(&org.admin.token, &["ADMIN"]).await;
        app.ok(
            Some(&a.session.token),
            DELETE_USER,
            json!({ "id": org.admin_user_id }),
        )
        .await;

        let (first, second) = tokio::join!(
            app.gql(Some(&a.session.token), mutation, variables(&b)),
            app.gql(Some(&b.session.token), mutation, variables(&a)),
        );
        let codes = [crate::helpers::code(&first), crate::helpers::code(&second)];
        // The loser is refused: CONFLICT (the last ACTIVE ADMIN), or FORBIDDEN when it was
        // already demoted or deleted by the time its own request was authorized.
        let refused = codes
            .iter()
            .flatten()
            .all(|c| c == "CONFLICT" || c == "FORBIDDEN" || c == "UNAUTHENTICATED");
        assert!(
            codes.iter().filter(|c| c.is_none()).count() == 1 && refused,
            "round {round}: one must win, the other be refused: {first} / {second}"
        );
        let survivor = if codes[0].is_none() { &a } else { &b };
        let admins = app
            .ok(
                Some(&survivor.session.token),
                "{ organization { users(filter: { roles: [ADMIN], status: [ACTIVE] }) { totalCount } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            admins["organization"]["users"]["totalCount"], 1,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_active_admin_and_refuse_the_other() {
    race_the_last_two_admins(
        EDIT,
        |target| json!({ "id": target.user_id, "input": { "roles": ["DISPATCHER"] } }),
    )
    .await;
}

#[tokio::test]
async fn two_admins_deleting_each_other_at_once_leave_one_active_admin_and_refuse_the_other() {
    race_the_last_two_admins(DELETE_USER, |target| json!({ "id": target.user_id })).await;
}
