//! The user lifecycle, rule by rule, in short scenarios: invitation, acceptance, editing,
//! deletion, driver availability and the route rules they meet.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_code, driver_id_of, retype, spawn_app};

const ACCEPT: &str = "mutation($i: AcceptInvitationInput!) { acceptInvitation(input: $i) { accessToken viewer { organization { name } user { status activatedAt } } } }";
const EDIT: &str = "mutation($u: ID!, $i: EditUserInput!) { editUser(id: $u, input: $i) { id firstName lastName phone roles status } }";
const DELETE: &str = "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }";
const ASSIGN: &str =
    "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id driver { id } } }";
const INACTIVE: &str = "mutation($d: ID!) { setDriverInactive(driverId: $d) { status } }";
const ACTIVE: &str = "mutation($d: ID!) { setDriverActive(driverId: $d) { status } }";

async fn user(app: &TestApp, token: &str, id: &str) -> Value {
    app.ok(Some(token), "query($u: ID!) { user(id: $u) { id status roles invitedAt activatedAt firstName phone driver { status depot { id } } } }", json!({ "u": id }))
        .await["user"]
        .clone()
}

async fn route_with(app: &TestApp, token: &str, driver_id: &str) -> String {
    let route = app.route(token, "Assigned route").await;
    app.ok(Some(token), ASSIGN, json!({ "r": route, "d": driver_id }))
        .await;
    route
}

#[tokio::test]
async fn an_invited_user_is_invited_and_receives_a_personal_invitation() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let id = app
        .invite(&org.admin.token, "New.Person@Example.test", &["DRIVER"])
        .await;
    let data = user(&app, &org.admin.token, &id).await;
    assert_eq!(data["status"], "INVITED");
    assert!(data["invitedAt"].is_string());
    assert!(data["activatedAt"].is_null());
    let mail = app.mail_to("new.person@example.test").await;
    assert!(
        mail.contains("Subject: You are invited to join Acme"),
        "{mail}"
    );
    assert!(
        mail.contains("http://lastmile.test/accept-invitation?token="),
        "{mail}"
    );
}

#[tokio::test]
async fn inviting_an_email_that_is_already_a_user_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.invite(&org.admin.token, "twice@example.test", &["DISPATCHER"])
        .await;
    let body = app
        .gql(Some(&org.admin.token), "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "firstName": "A", "lastName": "B", "email": "TWICE@example.test", "roles": ["DRIVER"] } }))
        .await;
    assert_code(&body, "CONFLICT");
}

#[tokio::test]
async fn accepting_an_invitation_creates_the_account_activates_the_user_and_scopes_the_tokens() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let id = app
        .invite(&org.admin.token, "fresh@example.test", &["DRIVER"])
        .await;
    let token = app
        .token_from_mail("fresh@example.test", "/accept-invitation")
        .await;
    let short = app
        .gql(
            None,
            ACCEPT,
            json!({ "i": { "token": token, "password": "short" } }),
        )
        .await;
    assert_code(&short, "BAD_USER_INPUT");
    let data = app
        .ok(
            None,
            ACCEPT,
            json!({ "i": { "token": token, "password": PASSWORD } }),
        )
        .await;
    let viewer = &data["acceptInvitation"]["viewer"];
    assert_eq!(viewer["organization"]["name"], "Acme");
    assert_eq!(viewer["user"]["status"], "ACTIVE");
    assert!(viewer["user"]["activatedAt"].is_string());
    assert_eq!(user(&app, &org.admin.token, &id).await["status"], "ACTIVE");
    // The invitation works once.
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "i": { "token": token, "password": PASSWORD } }),
        )
        .await,
        "BAD_USER_INPUT",
    );
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "i": { "token": "unknown", "password": PASSWORD } }),
        )
        .await,
        "BAD_USER_INPUT",
    );
}

#[tokio::test]
async fn an_existing_account_accepts_with_its_own_password_and_a_wrong_one_leaves_the_invitation_usable()
 {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let beta = app.create_org("Beta").await;
    app.invite(&beta.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    let token = app
        .token_from_mail(&acme.admin_email, "/accept-invitation")
        .await;
    let wrong = app
        .gql(
            None,
            ACCEPT,
            json!({ "i": { "token": token, "password": "not the password" } }),
        )
        .await;
    assert_code(&wrong, "UNAUTHENTICATED");
    let data = app
        .ok(
            None,
            ACCEPT,
            json!({ "i": { "token": token, "password": PASSWORD } }),
        )
        .await;
    assert_eq!(
        data["acceptInvitation"]["viewer"]["organization"]["name"],
        "Beta"
    );
}

#[tokio::test]
async fn resending_replaces_the_invitation_and_is_refused_once_accepted() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let id = app
        .invite(&org.admin.token, "again@example.test", &["DRIVER"])
        .await;
    let old = app
        .token_from_mail("again@example.test", "/accept-invitation")
        .await;
    let resend = "mutation($u: ID!) { resendInvitation(userId: $u) { id status } }";
    app.ok(Some(&org.admin.token), resend, json!({ "u": id }))
        .await;
    let mut new = old.clone();
    for _ in 0..100 {
        let mails = app.mails_to("again@example.test");
        if mails.len() == 2 {
            new = mails
                .iter()
                .map(|m| {
                    m.split("token=")
                        .nth(1)
                        .unwrap_or("")
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect::<String>()
                })
                .find(|t| *t != old)
                .unwrap_or_default();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ne!(new, old);
    assert_code(
        &app.gql(
            None,
            ACCEPT,
            json!({ "i": { "token": old, "password": PASSWORD } }),
        )
        .await,
        "BAD_USER_INPUT",
    );
    app.ok(
        None,
        ACCEPT,
        json!({ "i": { "token": new, "password": PASSWORD } }),
    )
    .await;
    assert_code(
        &app.gql(Some(&org.admin.token), resend, json!({ "u": id }))
            .await,
        "CONFLICT",
    );
}

#[tokio::test]
async fn an_invited_user_cannot_be_edited_but_can_be_deleted() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let id = app
        .invite(&org.admin.token, "pending@example.test", &["DRIVER"])
        .await;
    assert_code(
        &app.gql(
            Some(&org.admin.token),
            EDIT,
            json!({ "u": id, "i": { "firstName": "X" } }),
        )
        .await,
        "CONFLICT",
    );
    app.ok(Some(&org.admin.token), DELETE, json!({ "u": id }))
        .await;
    assert!(user(&app, &org.admin.token, &id).await.is_null());
}

#[tokio::test]
async fn names_and_phone_are_editable_and_the_phone_can_be_cleared() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let member = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let data = app.ok(Some(&org.admin.token), EDIT, json!({ "u": member.user_id, "i": { "firstName": "Ann", "lastName": "Lee", "phone": "+4915112345678" } })).await;
    assert_eq!(data["editUser"]["firstName"], "Ann");
    assert_eq!(data["editUser"]["phone"], "+4915112345678");
    let cleared = app
        .ok(
            Some(&org.admin.token),
            EDIT,
            json!({ "u": member.user_id, "i": { "phone": "" } }),
        )
        .await;
    assert!(cleared["editUser"]["phone"].is_null());
}

#[tokio::test]
async fn a_driver_edits_its_own_names_and_phone_but_not_its_roles_or_others() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let token = &driver.session.token;
    app.ok(
        Some(token),
        EDIT,
        json!({ "u": driver.user_id, "i": { "firstName": "Self" } }),
    )
    .await;
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": driver.user_id, "i": { "roles": ["DISPATCHER"] } }),
        )
        .await,
        "FORBIDDEN",
    );
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": org.admin_user_id, "i": { "firstName": "X" } }),
        )
        .await,
        "FORBIDDEN",
    );
}

#[tokio::test]
async fn a_dispatcher_cannot_grant_edit_or_delete_admin() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let dispatcher = app.member(&org.admin.token, &["DISPATCHER"]).await;
    let other = app.member(&org.admin.token, &["DRIVER"]).await;
    let token = &dispatcher.session.token;
    let grant_new = app
        .gql(Some(token), "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "firstName": "A", "lastName": "B", "email": "boss@example.test", "roles": ["ADMIN"] } }))
        .await;
    assert_code(&grant_new, "FORBIDDEN");
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": other.user_id, "i": { "roles": ["ADMIN"] } }),
        )
        .await,
        "FORBIDDEN",
    );
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": org.admin_user_id, "i": { "firstName": "X" } }),
        )
        .await,
        "FORBIDDEN",
    );
    assert_code(
        &app.gql(Some(token), DELETE, json!({ "u": org.admin_user_id }))
            .await,
        "FORBIDDEN",
    );
    // Everything else about drivers is the dispatcher's to do.
    app.ok(
        Some(token),
        EDIT,
        json!({ "u": other.user_id, "i": { "firstName": "Renamed" } }),
    )
    .await;
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_deleted_nor_demoted_until_there_is_another() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    assert_code(
        &app.gql(Some(token), DELETE, json!({ "u": org.admin_user_id }))
            .await,
        "CONFLICT",
    );
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": org.admin_user_id, "i": { "roles": ["DISPATCHER"] } }),
        )
        .await,
        "CONFLICT",
    );
    // An invited admin does not count: it is not ACTIVE.
    app.invite(token, "future-admin@example.test", &["ADMIN"])
        .await;
    assert_code(
        &app.gql(Some(token), DELETE, json!({ "u": org.admin_user_id }))
            .await,
        "CONFLICT",
    );
    let second = app.member(token, &["ADMIN"]).await;
    app.ok(
        Some(token),
        EDIT,
        json!({ "u": org.admin_user_id, "i": { "roles": ["ADMIN", "DISPATCHER"] } }),
    )
    .await;
    app.ok(
        Some(&second.session.token),
        DELETE,
        json!({ "u": org.admin_user_id }),
    )
    .await;
}

#[tokio::test]
async fn a_driver_on_an_active_route_can_be_neither_deleted_deactivated_nor_stripped_of_its_role() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let driver = app.member(token, &["DRIVER"]).await;
    let route = route_with(&app, token, &driver.driver_id).await;
    assert_code(
        &app.gql(Some(token), DELETE, json!({ "u": driver.user_id }))
            .await,
        "CONFLICT",
    );
    assert_code(
        &app.gql(Some(token), INACTIVE, json!({ "d": driver.driver_id }))
            .await,
        "CONFLICT",
    );
    assert_code(
        &app.gql(
            Some(token),
            EDIT,
            json!({ "u": driver.user_id, "i": { "roles": ["DISPATCHER"] } }),
        )
        .await,
        "CONFLICT",
    );
    app.ok(
        Some(token),
        "mutation($r: ID!) { startRoute(routeId: $r) { status } }",
        json!({ "r": route }),
    )
    .await;
    assert_code(
        &app.gql(Some(token), DELETE, json!({ "u": driver.user_id }))
            .await,
        "CONFLICT",
    );
    app.ok(
        Some(token),
        "mutation($r: ID!) { cancelRoute(routeId: $r) { status } }",
        json!({ "r": route }),
    )
    .await;
    app.ok(Some(token), INACTIVE, json!({ "d": driver.driver_id }))
        .await;
    app.ok(Some(token), DELETE, json!({ "u": driver.user_id }))
        .await;
}

#[tokio::test]
async fn deleting_a_driver_keeps_its_completed_routes_with_its_name() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let driver = app.member(token, &["DRIVER"]).await;
    let route = route_with(&app, token, &driver.driver_id).await;
    app.ok(
        Some(token),
        "mutation($r: ID!) { startRoute(routeId: $r) { status } }",
        json!({ "r": route }),
    )
    .await;
    let done = app
        .ok(
            Some(token),
            "mutation($r: ID!) { completeRoute(routeId: $r) { status driverName completedAt } }",
            json!({ "r": route }),
        )
        .await;
    assert_eq!(done["completeRoute"]["driverName"], "Test Person");
    assert!(done["completeRoute"]["completedAt"].is_string());
    app.ok(Some(token), DELETE, json!({ "u": driver.user_id }))
        .await;
    let kept = app
        .ok(
            Some(token),
            "query($r: ID!) { route(id: $r) { status driverName driver { id } } }",
            json!({ "r": route }),
        )
        .await;
    assert_eq!(kept["route"]["status"], "COMPLETED");
    assert_eq!(kept["route"]["driverName"], "Test Person");
    assert!(kept["route"]["driver"].is_null());
}

#[tokio::test]
async fn only_drivers_can_be_inactive_and_set_driver_active_undoes_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let dispatcher = app.member(token, &["DISPATCHER"]).await;
    assert_code(
        &app.gql(Some(token), INACTIVE, json!({ "d": dispatcher.user_id }))
            .await,
        "BAD_USER_INPUT",
    );
    assert_code(
        &app.gql(
            Some(token),
            INACTIVE,
            json!({ "d": driver_id_of(&dispatcher.user_id) }),
        )
        .await,
        "NOT_FOUND",
    );
    let invited = app
        .invite(token, "invited-driver@example.test", &["DRIVER"])
        .await;
    assert_code(
        &app.gql(
            Some(token),
            INACTIVE,
            json!({ "d": driver_id_of(&invited) }),
        )
        .await,
        "CONFLICT",
    );
    let driver = app.member(token, &["DRIVER"]).await;
    assert_eq!(
        app.ok(Some(token), INACTIVE, json!({ "d": driver.driver_id }))
            .await["setDriverInactive"]["status"],
        "INACTIVE"
    );
    let both = app.ok(Some(token), "query($u: ID!, $d: ID!) { user(id: $u) { status } driver(id: $d) { status available } }", json!({ "u": driver.user_id, "d": driver.driver_id })).await;
    assert_eq!(both["user"]["status"], both["driver"]["status"]);
    assert_eq!(both["driver"]["available"], false);
    assert_eq!(
        app.ok(Some(token), ACTIVE, json!({ "d": driver.driver_id }))
            .await["setDriverActive"]["status"],
        "ACTIVE"
    );
}

#[tokio::test]
async fn only_active_free_drivers_can_be_assigned() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let invited = app.invite(token, "not-yet@example.test", &["DRIVER"]).await;
    let inactive = app.member(token, &["DRIVER"]).await;
    app.ok(Some(token), INACTIVE, json!({ "d": inactive.driver_id }))
        .await;
    let busy = app.member(token, &["DRIVER"]).await;
    route_with(&app, token, &busy.driver_id).await;
    let route = app.route(token, "Open").await;
    for driver in [
        driver_id_of(&invited),
        inactive.driver_id.clone(),
        busy.driver_id.clone(),
    ] {
        assert_code(
            &app.gql(Some(token), ASSIGN, json!({ "r": route, "d": driver }))
                .await,
            "CONFLICT",
        );
    }
}

#[tokio::test]
async fn route_lifecycle_rules_hold() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let empty = app.route(token, "Empty").await;
    assert_code(
        &app.gql(
            Some(token),
            "mutation($r: ID!) { startRoute(routeId: $r) { id } }",
            json!({ "r": empty }),
        )
        .await,
        "CONFLICT",
    );
    assert_code(
        &app.gql(
            Some(token),
            "mutation($r: ID!) { completeRoute(routeId: $r) { id } }",
            json!({ "r": empty }),
        )
        .await,
        "CONFLICT",
    );
    app.ok(
        Some(token),
        "mutation($r: ID!) { cancelRoute(routeId: $r) { status } }",
        json!({ "r": empty }),
    )
    .await;
    assert_code(
        &app.gql(
            Some(token),
            "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
            json!({ "r": empty }),
        )
        .await,
        "CONFLICT",
    );
}

#[tokio::test]
async fn a_driver_starts_and_completes_its_own_route_but_not_another_drivers() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let mine = app.member(token, &["DRIVER"]).await;
    let theirs = app.member(token, &["DRIVER"]).await;
    let my_route = route_with(&app, token, &mine.driver_id).await;
    let their_route = route_with(&app, token, &theirs.driver_id).await;
    let start = "mutation($r: ID!) { startRoute(routeId: $r) { status } }";
    assert_code(
        &app.gql(
            Some(&mine.session.token),
            start,
            json!({ "r": their_route }),
        )
        .await,
        "FORBIDDEN",
    );
    app.ok(Some(&mine.session.token), start, json!({ "r": my_route }))
        .await;
    let done = app
        .ok(
            Some(&mine.session.token),
            "mutation($r: ID!) { completeRoute(routeId: $r) { status } }",
            json!({ "r": my_route }),
        )
        .await;
    assert_eq!(done["completeRoute"]["status"], "COMPLETED");
}

#[tokio::test]
async fn deleting_a_depot_unassigns_its_drivers_and_is_refused_while_it_has_planned_routes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let depot = app.depot(token, "North").await;
    let driver = app.member(token, &["DRIVER"]).await;
    app.ok(
        Some(token),
        EDIT,
        json!({ "u": driver.user_id, "i": { "depotId": depot } }),
    )
    .await;
    let route = app
        .ok(Some(token), "mutation($i: RouteInput!) { createRoute(input: $i) { id } }", json!({ "i": { "name": "From North", "plannedStart": "2030-01-01T08:00:00Z", "depotId": depot } }))
        .await["createRoute"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let delete_depot = "mutation($d: ID!) { deleteDepot(id: $d) { deletedId } }";
    assert_code(
        &app.gql(Some(token), delete_depot, json!({ "d": depot }))
            .await,
        "CONFLICT",
    );
    app.ok(
        Some(token),
        "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
        json!({ "r": route }),
    )
    .await;
    app.ok(Some(token), delete_depot, json!({ "d": depot }))
        .await;
    assert!(user(&app, token, &driver.user_id).await["driver"]["depot"].is_null());
}

#[tokio::test]
async fn a_driver_sees_only_itself_its_own_routes_and_all_depots() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    app.depot(token, "North").await;
    let me = app.member(token, &["DRIVER"]).await;
    let other = app.member(token, &["DRIVER"]).await;
    route_with(&app, token, &me.driver_id).await;
    route_with(&app, token, &other.driver_id).await;
    let data = app
        .ok(Some(&me.session.token), "{ organization { users { nodes { id } } drivers { nodes { id } } routes { totalCount } depots { totalCount } } }", json!({}))
        .await;
    let org_data = &data["organization"];
    assert_eq!(org_data["users"]["nodes"], json!([{ "id": me.user_id }]));
    assert_eq!(
        org_data["drivers"]["nodes"],
        json!([{ "id": me.driver_id }])
    );
    assert_eq!(org_data["routes"]["totalCount"], 1);
    assert_eq!(org_data["depots"]["totalCount"], 1);
    let peek = app
        .ok(
            Some(&me.session.token),
            "query($u: ID!) { user(id: $u) { id } }",
            json!({ "u": other.user_id }),
        )
        .await;
    assert!(peek["user"].is_null());
    // The other driver's card ID, retyped as a User ID, finds nothing either.
    let retyped = app
        .ok(
            Some(&me.session.token),
            "query($u: ID!) { user(id: $u) { id } }",
            json!({ "u": retype(&other.driver_id, "User") }),
        )
        .await;
    assert!(retyped["user"].is_null());
}

#[tokio::test]
async fn the_last_active_admin_who_also_drives_cannot_be_set_inactive() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    app.ok(
        Some(token),
        EDIT,
        json!({ "u": org.admin_user_id, "i": { "roles": ["ADMIN", "DRIVER"] } }),
    )
    .await;
    let body = app
        .gql(
            Some(token),
            INACTIVE,
            json!({ "d": driver_id_of(&org.admin_user_id) }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    app.member(token, &["ADMIN"]).await;
    app.ok(
        Some(token),
        INACTIVE,
        json!({ "d": driver_id_of(&org.admin_user_id) }),
    )
    .await;
}

const SIGN_IN: &str = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
    accessToken scoped organizations { name } } }";

/// Starts and completes `route` as `token`.
async fn drive(app: &TestApp, token: &str, route: &str) {
    for mutation in [
        "mutation($r: ID!) { startRoute(routeId: $r) { id } }",
        "mutation($r: ID!) { completeRoute(routeId: $r) { id } }",
    ] {
        app.ok(Some(token), mutation, json!({ "r": route })).await;
    }
}

#[tokio::test]
async fn the_driver_name_is_on_the_route_from_assignment_until_unassigned_and_after_deletion() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let driver = app.member(token, &["DRIVER"]).await;
    let route = route_with(&app, token, &driver.driver_id).await;
    let name = "query($r: ID!) { route(id: $r) { driverName driver { id } } }";
    let assigned = app.ok(Some(token), name, json!({ "r": route })).await;
    assert_eq!(assigned["route"]["driverName"], "Test Person");
    app.ok(
        Some(token),
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
        json!({ "r": route }),
    )
    .await;
    let unassigned = app.ok(Some(token), name, json!({ "r": route })).await;
    assert!(unassigned["route"]["driverName"].is_null(), "{unassigned}");
    app.ok(
        Some(token),
        ASSIGN,
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    drive(&app, token, &route).await;
    app.ok(Some(token), DELETE, json!({ "u": driver.user_id }))
        .await;
    let kept = app.ok(Some(token), name, json!({ "r": route })).await;
    assert_eq!(kept["route"]["driverName"], "Test Person");
    assert!(kept["route"]["driver"].is_null());
}

#[tokio::test]
async fn the_depot_name_and_address_stay_on_its_completed_routes_after_it_is_deleted() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let depot = app
        .ok(
            Some(token),
            "mutation($i: DepotInput!) { createDepot(input: $i) { id } }",
            json!({ "i": { "name": "Harbour", "address": "2 Quay Street", "timezone": "Europe/Berlin" } }),
        )
        .await["createDepot"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let route = app
        .ok(
            Some(token),
            "mutation($i: RouteInput!) { createRoute(input: $i) { id depotName depotAddress } }",
            json!({ "i": { "name": "From the harbour", "plannedStart": "2030-01-01T08:00:00Z", "depotId": depot } }),
        )
        .await["createRoute"]
        .clone();
    assert_eq!(route["depotName"], "Harbour");
    assert_eq!(route["depotAddress"], "2 Quay Street");
    let route = route["id"].as_str().unwrap_or_default().to_owned();
    let driver = app.member(token, &["DRIVER"]).await;
    app.ok(
        Some(token),
        ASSIGN,
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    drive(&app, token, &route).await;
    app.ok(
        Some(token),
        "mutation($d: ID!) { deleteDepot(id: $d) { deletedId } }",
        json!({ "d": depot }),
    )
    .await;
    let kept = app
        .ok(
            Some(token),
            "query($r: ID!) { route(id: $r) { depot { id } depotName depotAddress } }",
            json!({ "r": route }),
        )
        .await;
    assert!(kept["route"]["depot"].is_null(), "{kept}");
    assert_eq!(kept["route"]["depotName"], "Harbour");
    assert_eq!(kept["route"]["depotAddress"], "2 Quay Street");
}

#[tokio::test]
async fn assigning_an_inactive_driver_names_the_status_in_capitals_in_a_plain_sentence() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let driver = app.member(token, &["DRIVER"]).await;
    app.ok(Some(token), INACTIVE, json!({ "d": driver.driver_id }))
        .await;
    let route = app.route(token, "Open").await;
    let body = app
        .gql(
            Some(token),
            ASSIGN,
            json!({ "r": route, "d": driver.driver_id }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(
        body["errors"][0]["message"],
        "the driver is INACTIVE and cannot be assigned"
    );
}

#[tokio::test]
async fn an_inactive_driver_signs_in_and_reads_its_past_routes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let driver = app.member(token, &["DRIVER"]).await;
    let route = route_with(&app, token, &driver.driver_id).await;
    drive(&app, &driver.session.token, &route).await;
    app.ok(Some(token), INACTIVE, json!({ "d": driver.driver_id }))
        .await;
    let signed_in = app
        .ok(None, SIGN_IN, json!({ "e": driver.email, "p": PASSWORD }))
        .await;
    assert_eq!(signed_in["signIn"]["scoped"], true, "{signed_in}");
    assert_eq!(signed_in["signIn"]["organizations"][0]["name"], "Acme");
    let access = signed_in["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_default();
    let past = app
        .ok(
            Some(access),
            "query($d: ID!) { viewer { user { status } } driver(id: $d) { status available
                routes { nodes { id status driverName } } } }",
            json!({ "d": driver.driver_id }),
        )
        .await;
    assert_eq!(past["viewer"]["user"]["status"], "INACTIVE");
    assert_eq!(past["driver"]["available"], false);
    assert_eq!(past["driver"]["routes"]["nodes"][0]["id"], route.as_str());
    assert_eq!(past["driver"]["routes"]["nodes"][0]["status"], "COMPLETED");
    // Its session from before the change goes on too.
    app.ok(
        Some(&driver.session.token),
        "query($r: ID!) { route(id: $r) { id } }",
        json!({ "r": route }),
    )
    .await;
    // It is only unavailable for routes.
    let open = app.route(token, "Open").await;
    assert_code(
        &app.gql(
            Some(token),
            ASSIGN,
            json!({ "r": open, "d": driver.driver_id }),
        )
        .await,
        "CONFLICT",
    );
}

#[tokio::test]
async fn an_inactive_dispatcher_driver_keeps_the_dashboard_and_acts_with_its_roles() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let member = app.member(token, &["DISPATCHER", "DRIVER"]).await;
    app.ok(Some(token), INACTIVE, json!({ "d": member.driver_id }))
        .await;
    let own = member.session.token.as_str();
    let dashboard = app
        .ok(
            Some(own),
            "{ organization { users { totalCount } } }",
            json!({}),
        )
        .await;
    assert!(dashboard["organization"]["users"]["totalCount"].as_i64() >= Some(2));
    app.invite(own, "helper@example.test", &["DRIVER"]).await;
    let signed_in = app
        .ok(None, SIGN_IN, json!({ "e": member.email, "p": PASSWORD }))
        .await;
    assert_eq!(signed_in["signIn"]["scoped"], true, "{signed_in}");
    // Refreshing keeps working as well.
    app.ok(
        None,
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": member.session.refresh }),
    )
    .await;
}

#[tokio::test]
async fn an_invited_membership_still_cannot_be_selected() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let other = app.create_org("Other").await;
    // The admin of Acme is invited to Other but has not accepted.
    let user = app
        .invite(&other.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    assert!(!user.is_empty());
    let signed_in = app
        .ok(
            None,
            SIGN_IN,
            json!({ "e": acme.admin_email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in["signIn"]["scoped"], true, "{signed_in}");
    let body = app
        .gql(
            Some(&acme.admin.token),
            "mutation($o: ID!) { selectOrganization(organizationId: $o) { accessToken } }",
            json!({ "o": other.id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}

#[tokio::test]
async fn the_kept_names_migrations_roll_back_and_apply_again_filling_existing_routes() {
    use migration::{Migrator, MigratorTrait};
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let depot = app.depot(token, "Harbour").await;
    let route = app
        .ok(
            Some(token),
            "mutation($i: RouteInput!) { createRoute(input: $i) { id } }",
            json!({ "i": { "name": "Old run", "plannedStart": "2030-01-01T08:00:00Z", "depotId": depot } }),
        )
        .await["createRoute"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let driver = app.member(token, &["DRIVER"]).await;
    app.ok(
        Some(token),
        ASSIGN,
        json!({ "r": route, "d": driver.driver_id }),
    )
    .await;
    drive(&app, token, &route).await;

    let conn = &app.state.db.conn;
    // Back to before the kept-names columns, whatever came after them.
    let migrations: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let first = migrations
        .iter()
        .position(|m| m == "m20261201_000021_add_route_depot_name")
        .expect("the kept-names migration");
    let steps = (migrations.len() - first) as u32;
    Migrator::down(conn, Some(steps)).await.expect("roll back");
    Migrator::up(conn, None).await.expect("apply again");

    app.ok(Some(token), DELETE, json!({ "u": driver.user_id }))
        .await;
    app.ok(
        Some(token),
        "mutation($d: ID!) { deleteDepot(id: $d) { deletedId } }",
        json!({ "d": depot }),
    )
    .await;
    let kept = app
        .ok(
            Some(token),
            "query($r: ID!) { route(id: $r) { driverName depotName } }",
            json!({ "r": route }),
        )
        .await;
    assert_eq!(kept["route"]["driverName"], "Test Person");
    assert_eq!(kept["route"]["depotName"], "Harbour");
}
