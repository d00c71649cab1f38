//! The "Roles and permissions" table of the rules as data: every cell that says "no" is
//! called inside the caller's own organization, must answer FORBIDDEN and must change
//! nothing. Then the unscoped-token rule: only `viewer`, `selectOrganization`,
//! `updateSettings`, `refreshToken` and `signOut`.

use entity::{mail_outbox, status_event};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Member, Org, PASSWORD, TestApp, assert_code, spawn_app};

const INVITE: &str = "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }";
const RESEND: &str = "mutation($id: ID!) { resendInvitation(userId: $id) { id } }";
const EDIT: &str =
    "mutation($id: ID!, $input: EditUserInput!) { editUser(id: $id, input: $input) { id } }";
const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id) { deletedId } }";
const SET_INACTIVE: &str = "mutation($id: ID!) { setDriverInactive(driverId: $id) { id } }";
const SET_ACTIVE: &str = "mutation($id: ID!) { setDriverActive(driverId: $id) { id } }";
const CREATE_DEPOT: &str = "mutation($input: DepotInput!) { createDepot(input: $input) { id } }";
const UPDATE_DEPOT: &str =
    "mutation($id: ID!, $input: DepotInput!) { updateDepot(id: $id, input: $input) { id } }";
const DELETE_DEPOT: &str = "mutation($id: ID!) { deleteDepot(id: $id) { deletedId } }";
const CREATE_ROUTE: &str = "mutation($input: RouteInput!) { createRoute(input: $input) { id } }";
const ASSIGN: &str =
    "mutation($id: ID!, $d: ID!) { assignDriver(routeId: $id, driverId: $d) { id } }";
const UNASSIGN: &str = "mutation($id: ID!) { unassignDriver(routeId: $id) { id } }";
const START: &str = "mutation($id: ID!) { startRoute(routeId: $id) { id } }";
const COMPLETE: &str = "mutation($id: ID!) { completeRoute(routeId: $id) { id } }";
const CANCEL: &str = "mutation($id: ID!) { cancelRoute(routeId: $id) { id } }";
const FIND: &str = "query($n: String!) { findOrganization(name: $n) { id } }";
const SHARE: &str =
    "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }";
const UNSHARE: &str =
    "mutation($d: ID!, $p: ID!) { unshareDriver(driverId: $d, partnerId: $p) { id } }";
const SHARED_WITH_US: &str = "{ organization { sharedWithUs { totalCount } } }";
const SHARED_BY_US: &str = "{ organization { sharedByUs { totalCount } } }";

/// Everything an ADMIN can see of the organization, to prove a refused call changed nothing.
const SNAPSHOT: &str = "{ organization {
    users(first: 100) { totalCount nodes { id firstName lastName phone roles status invitedAt
        updatedAt driver { status depot { id } } } }
    depots(first: 100) { totalCount nodes { id name address timezone } }
    routes(first: 100) { totalCount nodes { id name status plannedStart driver { id } depot { id } } }
    sharedByUs(first: 100) { totalCount nodes { id driver { id } partner { id } } } } }";

/// One organization with every kind of record a forbidden call could touch, and a partner.
struct World {
    app: TestApp,
    org: Org,
    partner: Org,
    dispatcher: Member,
    driver: Member,
    /// Another ACTIVE driver, shared with the partner and on `busy_route`.
    other: Member,
    /// An INACTIVE driver.
    inactive: Member,
    /// A second ACTIVE ADMIN (so the last-admin rule is not what refuses).
    second_admin: Member,
    /// An INVITED driver.
    invited_driver: String,
    /// An INVITED admin.
    invited_admin: String,
    depot: String,
    /// PLANNED, no driver.
    free_route: String,
    /// PLANNED, `other` assigned.
    busy_route: String,
    /// PLANNED, `driver` assigned.
    own_route: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let org = app.create_org("Matrix Fleet").await;
    let partner = app.create_org("Matrix Partner").await;
    let admin = org.admin.token.clone();
    let dispatcher = app.member(&admin, &["DISPATCHER"]).await;
    let driver = app.member(&admin, &["DRIVER"]).await;
    let other = app.member(&admin, &["DRIVER"]).await;
    let inactive = app.member(&admin, &["DRIVER"]).await;
    app.ok(
        Some(&admin),
        SET_INACTIVE,
        json!({ "id": inactive.driver_id }),
    )
    .await;
    let second_admin = app.member(&admin, &["ADMIN"]).await;
    let invited_driver = app
        .invite(
            &admin,
            &format!("{}@example.test", Uuid::now_v7().simple()),
            &["DRIVER"],
        )
        .await;
    let invited_admin = app
        .invite(
            &admin,
            &format!("{}@example.test", Uuid::now_v7().simple()),
            &["ADMIN"],
        )
        .await;
    let depot = app.depot(&admin, "Central").await;
    let free_route = app.route(&admin, "Free").await;
    let busy_route = app.route(&admin, "Busy").await;
    app.ok(
        Some(&admin),
        ASSIGN,
        json!({ "id": busy_route, "d": other.driver_id }),
    )
    .await;
    let own_route = app.route(&admin, "Own").await;
    app.ok(
        Some(&admin),
        ASSIGN,
        json!({ "id": own_route, "d": driver.driver_id }),
    )
    .await;
    app.ok(
        Some(&admin),
        SHARE,
        json!({ "p": partner.id, "d": [other.driver_id] }),
    )
    .await;
    World {
        app,
        org,
        partner,
        dispatcher,
        driver,
        other,
        inactive,
        second_admin,
        invited_driver,
        invited_admin,
        depot,
        free_route,
        busy_route,
        own_route,
    }
}

impl World {
    /// The organization as its first ADMIN sees it, plus the partner's view, queued mail
    /// and the event log.
    async fn snapshot(&self) -> Value {
        let org = self
            .app
            .ok(Some(&self.org.admin.token), SNAPSHOT, json!({}))
            .await;
        let partner = self
            .app
            .ok(Some(&self.partner.admin.token), SHARED_WITH_US, json!({}))
            .await;
        let conn = &self.app.state.db.conn;
        let mails = mail_outbox::Entity::find().count(conn).await.unwrap();
        let events = status_event::Entity::find().count(conn).await.unwrap();
        json!({ "org": org, "partner": partner, "mails": mails, "events": events })
    }
}

/// One "no" cell of the table: who calls what, with which variables.
struct Cell {
    role: &'static str,
    operation: &'static str,
    query: &'static str,
    variables: Value,
}

fn cell(
    role: &'static str,
    operation: &'static str,
    query: &'static str,
    variables: Value,
) -> Cell {
    Cell {
        role,
        operation,
        query,
        variables,
    }
}

fn new_user(roles: &[&str]) -> Value {
    json!({ "input": { "firstName": "New", "lastName": "Person",
        "email": format!("{}@example.test", Uuid::now_v7().simple()), "roles": roles } })
}

/// Every (operation, role) cell of "Roles and permissions" that says "no".
fn forbidden_cells(w: &World) -> Vec<Cell> {
    let depot_input = json!({ "name": "Elsewhere", "timezone": "Europe/Paris" });
    let route_input = json!({ "name": "Sneaky", "plannedStart": "2030-01-01T08:00:00Z" });
    vec![
        // DRIVER: users.
        cell("DRIVER", "inviteUser", INVITE, new_user(&["DRIVER"])),
        cell(
            "DRIVER",
            "resendInvitation",
            RESEND,
            json!({ "id": w.invited_driver }),
        ),
        cell(
            "DRIVER",
            "editUser (another user)",
            EDIT,
            json!({ "id": w.other.user_id, "input": { "firstName": "Hacked" } }),
        ),
        cell(
            "DRIVER",
            "editUser (own roles)",
            EDIT,
            json!({ "id": w.driver.user_id, "input": { "roles": ["DISPATCHER"] } }),
        ),
        cell(
            "DRIVER",
            "editUser (own depot)",
            EDIT,
            json!({ "id": w.driver.user_id, "input": { "depotId": w.depot } }),
        ),
        cell(
            "DRIVER",
            "deleteUser (another user)",
            DELETE_USER,
            json!({ "id": w.other.user_id }),
        ),
        cell(
            "DRIVER",
            "deleteUser (an invited user)",
            DELETE_USER,
            json!({ "id": w.invited_driver }),
        ),
        cell(
            "DRIVER",
            "deleteUser (itself)",
            DELETE_USER,
            json!({ "id": w.driver.user_id }),
        ),
        // DRIVER: driver status.
        cell(
            "DRIVER",
            "setDriverInactive (another)",
            SET_INACTIVE,
            json!({ "id": w.other.driver_id }),
        ),
        cell(
            "DRIVER",
            "setDriverInactive (itself)",
            SET_INACTIVE,
            json!({ "id": w.driver.driver_id }),
        ),
        cell(
            "DRIVER",
            "setDriverActive",
            SET_ACTIVE,
            json!({ "id": w.inactive.driver_id }),
        ),
        // DRIVER: depots.
        cell(
            "DRIVER",
            "createDepot",
            CREATE_DEPOT,
            json!({ "input": depot_input }),
        ),
        cell(
            "DRIVER",
            "updateDepot",
            UPDATE_DEPOT,
            json!({ "id": w.depot, "input": depot_input }),
        ),
        cell(
            "DRIVER",
            "deleteDepot",
            DELETE_DEPOT,
            json!({ "id": w.depot }),
        ),
        // DRIVER: routes.
        cell(
            "DRIVER",
            "createRoute",
            CREATE_ROUTE,
            json!({ "input": route_input }),
        ),
        cell(
            "DRIVER",
            "assignDriver (itself)",
            ASSIGN,
            json!({ "id": w.free_route, "d": w.driver.driver_id }),
        ),
        cell(
            "DRIVER",
            "assignDriver (another)",
            ASSIGN,
            json!({ "id": w.free_route, "d": w.inactive.driver_id }),
        ),
        cell(
            "DRIVER",
            "unassignDriver (another's route)",
            UNASSIGN,
            json!({ "id": w.busy_route }),
        ),
        cell(
            "DRIVER",
            "unassignDriver (own route)",
            UNASSIGN,
            json!({ "id": w.own_route }),
        ),
        cell(
            "DRIVER",
            "cancelRoute (another's route)",
            CANCEL,
            json!({ "id": w.busy_route }),
        ),
        cell(
            "DRIVER",
            "cancelRoute (own route)",
            CANCEL,
            json!({ "id": w.own_route }),
        ),
        cell(
            "DRIVER",
            "cancelRoute (no driver)",
            CANCEL,
            json!({ "id": w.free_route }),
        ),
        cell(
            "DRIVER",
            "startRoute (another's route)",
            START,
            json!({ "id": w.busy_route }),
        ),
        cell(
            "DRIVER",
            "completeRoute (another's route)",
            COMPLETE,
            json!({ "id": w.busy_route }),
        ),
        // DRIVER: sharing.
        cell("DRIVER", "sharedWithUs", SHARED_WITH_US, json!({})),
        cell("DRIVER", "sharedByUs", SHARED_BY_US, json!({})),
        cell(
            "DRIVER",
            "findOrganization",
            FIND,
            json!({ "n": w.partner.name }),
        ),
        cell(
            "DRIVER",
            "shareDrivers",
            SHARE,
            json!({ "p": w.partner.id, "d": [w.driver.driver_id] }),
        ),
        cell(
            "DRIVER",
            "unshareDriver",
            UNSHARE,
            json!({ "d": w.other.driver_id, "p": w.partner.id }),
        ),
        // DISPATCHER: sharing.
        cell(
            "DISPATCHER",
            "findOrganization",
            FIND,
            json!({ "n": w.partner.name }),
        ),
        cell(
            "DISPATCHER",
            "shareDrivers",
            SHARE,
            json!({ "p": w.partner.id, "d": [w.driver.driver_id] }),
        ),
        cell(
            "DISPATCHER",
            "unshareDriver",
            UNSHARE,
            json!({ "d": w.other.driver_id, "p": w.partner.id }),
        ),
        // DISPATCHER: anything touching ADMIN.
        cell(
            "DISPATCHER",
            "inviteUser (ADMIN)",
            INVITE,
            new_user(&["ADMIN"]),
        ),
        cell(
            "DISPATCHER",
            "inviteUser (ADMIN and DRIVER)",
            INVITE,
            new_user(&["DRIVER", "ADMIN"]),
        ),
        cell(
            "DISPATCHER",
            "editUser (grant ADMIN to another)",
            EDIT,
            json!({ "id": w.driver.user_id, "input": { "roles": ["DRIVER", "ADMIN"] } }),
        ),
        cell(
            "DISPATCHER",
            "editUser (grant ADMIN to itself)",
            EDIT,
            json!({ "id": w.dispatcher.user_id, "input": { "roles": ["DISPATCHER", "ADMIN"] } }),
        ),
        cell(
            "DISPATCHER",
            "editUser (an ADMIN's names)",
            EDIT,
            json!({ "id": w.second_admin.user_id, "input": { "firstName": "Renamed" } }),
        ),
        cell(
            "DISPATCHER",
            "editUser (an ADMIN's roles)",
            EDIT,
            json!({ "id": w.org.admin_user_id, "input": { "roles": ["DISPATCHER"] } }),
        ),
        cell(
            "DISPATCHER",
            "deleteUser (an ADMIN)",
            DELETE_USER,
            json!({ "id": w.second_admin.user_id }),
        ),
        cell(
            "DISPATCHER",
            "deleteUser (an invited ADMIN)",
            DELETE_USER,
            json!({ "id": w.invited_admin }),
        ),
        cell(
            "DISPATCHER",
            "resendInvitation (an invited ADMIN)",
            RESEND,
            json!({ "id": w.invited_admin }),
        ),
    ]
}

#[tokio::test]
async fn every_no_in_the_permission_table_is_forbidden_and_changes_nothing() {
    let w = world().await;
    let before = w.snapshot().await;
    let cells = forbidden_cells(&w);
    let mut failures = Vec::new();
    for c in &cells {
        let token = match c.role {
            "DRIVER" => &w.driver.session.token,
            "DISPATCHER" => &w.dispatcher.session.token,
            other => panic!("no caller for role {other}"),
        };
        let body = w.app.gql(Some(token), c.query, c.variables.clone()).await;
        let code = crate::helpers::code(&body);
        if code.as_deref() != Some("FORBIDDEN") {
            failures.push(format!("{} as {}: {body}", c.operation, c.role));
        }
        let after = w.snapshot().await;
        if after != before {
            failures.push(format!("{} as {} changed the data", c.operation, c.role));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_cells_that_say_yes_are_allowed_to_the_same_callers() {
    // The other half of the table, so FORBIDDEN above is the role check and not a broken fixture.
    let w = world().await;
    let driver = w.driver.session.token.as_str();
    let dispatcher = w.dispatcher.session.token.as_str();
    let app = &w.app;
    app.ok(Some(dispatcher), SHARED_WITH_US, json!({})).await;
    app.ok(Some(dispatcher), INVITE, new_user(&["DRIVER"]))
        .await;
    app.ok(Some(dispatcher), RESEND, json!({ "id": w.invited_driver }))
        .await;
    app.ok(
        Some(dispatcher),
        EDIT,
        json!({ "id": w.other.user_id, "input": { "firstName": "Fine", "depotId": w.depot } }),
    )
    .await;
    app.ok(
        Some(dispatcher),
        SET_ACTIVE,
        json!({ "id": w.inactive.driver_id }),
    )
    .await;
    app.ok(
        Some(dispatcher),
        UPDATE_DEPOT,
        json!({ "id": w.depot, "input": { "name": "Renamed", "timezone": "Europe/Paris" } }),
    )
    .await;
    app.ok(
        Some(dispatcher),
        ASSIGN,
        json!({ "id": w.free_route, "d": w.inactive.driver_id }),
    )
    .await;
    app.ok(
        Some(driver),
        EDIT,
        json!({ "id": w.driver.user_id, "input": { "firstName": "Me", "phone": "+4930123456" } }),
    )
    .await;
    app.ok(Some(driver), START, json!({ "id": w.own_route }))
        .await;
    app.ok(Some(driver), COMPLETE, json!({ "id": w.own_route }))
        .await;
    app.ok(
        Some(driver),
        "mutation { updateSettings(input: { timezone: \"Europe/Paris\" }) { timezone } }",
        json!({}),
    )
    .await;
    app.ok(
        Some(&w.org.admin.token),
        FIND,
        json!({ "n": w.partner.name }),
    )
    .await;
    app.ok(
        Some(&w.org.admin.token),
        UNSHARE,
        json!({ "d": w.other.driver_id, "p": w.partner.id }),
    )
    .await;
    app.ok(
        Some(&w.org.admin.token),
        EDIT,
        json!({ "id": w.second_admin.user_id, "input": { "firstName": "Renamed" } }),
    )
    .await;
}

/// An account with ADMIN memberships in two organizations, signed in unscoped.
async fn unscoped() -> (TestApp, Org, Org, String, String) {
    let app = spawn_app().await;
    let first = app.create_org("Unscoped One").await;
    let second = app
        .ok(
            None,
            "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) {
                viewer { organization { id } } } }",
            json!({ "input": { "name": "Unscoped Two", "adminFirstName": "Ada",
                "adminLastName": "Admin", "adminEmail": first.admin_email,
                "adminPassword": PASSWORD } }),
        )
        .await["createOrganization"]["viewer"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let signed_in = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
                accessToken refreshToken scoped organizations { id } } }",
            json!({ "e": first.admin_email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(signed_in["signIn"]["scoped"], false, "{signed_in}");
    assert_eq!(
        signed_in["signIn"]["organizations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let access = signed_in["signIn"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = signed_in["signIn"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_org = Org {
        id: second,
        name: "Unscoped Two".into(),
        ..first.clone()
    };
    (app, first, second_org, access, refresh)
}

#[tokio::test]
async fn an_unscoped_token_is_forbidden_everything_but_viewer_select_settings_refresh_and_sign_out()
{
    let (app, first, _second, access, _refresh) = unscoped().await;
    let member = app.member(&first.admin.token, &["DRIVER"]).await;
    let depot = app.depot(&first.admin.token, "Depot").await;
    let route = app.route(&first.admin.token, "Route").await;
    let snapshot = || async {
        let org = app.ok(Some(&first.admin.token), SNAPSHOT, json!({})).await;
        let conn = &app.state.db.conn;
        let mails = mail_outbox::Entity::find().count(conn).await.unwrap();
        let events = status_event::Entity::find().count(conn).await.unwrap();
        json!({ "org": org, "mails": mails, "events": events })
    };
    let before = snapshot().await;

    let calls: Vec<(&str, &str, Value)> = vec![
        ("organization", "{ organization { name } }", json!({})),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": first.id }),
        ),
        (
            "user",
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": member.user_id }),
        ),
        (
            "driver",
            "query($id: ID!) { driver(id: $id) { id } }",
            json!({ "id": member.driver_id }),
        ),
        (
            "depot",
            "query($id: ID!) { depot(id: $id) { id } }",
            json!({ "id": depot }),
        ),
        (
            "route",
            "query($id: ID!) { route(id: $id) { id } }",
            json!({ "id": route }),
        ),
        ("findOrganization", FIND, json!({ "n": "Unscoped Two" })),
        ("inviteUser", INVITE, new_user(&["DRIVER"])),
        (
            "editUser",
            EDIT,
            json!({ "id": member.user_id, "input": { "firstName": "X" } }),
        ),
        ("deleteUser", DELETE_USER, json!({ "id": member.user_id })),
        ("resendInvitation", RESEND, json!({ "id": member.user_id })),
        (
            "setDriverInactive",
            SET_INACTIVE,
            json!({ "id": member.driver_id }),
        ),
        (
            "setDriverActive",
            SET_ACTIVE,
            json!({ "id": member.driver_id }),
        ),
        (
            "createDepot",
            CREATE_DEPOT,
            json!({ "input": { "name": "D", "timezone": "Europe/Paris" } }),
        ),
        (
            "updateDepot",
            UPDATE_DEPOT,
            json!({ "id": depot, "input": { "name": "D", "timezone": "Europe/Paris" } }),
        ),
        ("deleteDepot", DELETE_DEPOT, json!({ "id": depot })),
        (
            "createRoute",
            CREATE_ROUTE,
            json!({ "input": { "name": "R", "plannedStart": "2030-01-01T08:00:00Z" } }),
        ),
        (
            "assignDriver",
            ASSIGN,
            json!({ "id": route, "d": member.driver_id }),
        ),
        ("unassignDriver", UNASSIGN, json!({ "id": route })),
        ("startRoute", START, json!({ "id": route })),
        ("completeRoute", COMPLETE, json!({ "id": route })),
        ("cancelRoute", CANCEL, json!({ "id": route })),
        (
            "shareDrivers",
            SHARE,
            json!({ "p": first.id, "d": [member.driver_id] }),
        ),
        (
            "unshareDriver",
            UNSHARE,
            json!({ "d": member.driver_id, "p": first.id }),
        ),
    ];
    let mut failures = Vec::new();
    for (name, query, variables) in &calls {
        let body = app.gql(Some(&access), query, variables.clone()).await;
        if crate::helpers::code(&body).as_deref() != Some("FORBIDDEN") {
            failures.push(format!("{name}: {body}"));
        }
    }
    assert!(
        failures.is_empty(),
        "not FORBIDDEN:\n{}",
        failures.join("\n")
    );
    assert_eq!(snapshot().await, before);
}

#[tokio::test]
async fn an_unscoped_token_may_read_the_viewer_update_settings_refresh_select_and_sign_out() {
    let (app, first, second, access, refresh) = unscoped().await;
    let viewer = app
        .ok(
            Some(&access),
            "{ viewer { email user { id } organization { id } settings { timezone }
                memberships { organization { id } roles status } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["email"], first.admin_email.as_str());
    assert!(viewer["viewer"]["user"].is_null());
    assert!(viewer["viewer"]["organization"].is_null());
    assert_eq!(viewer["viewer"]["memberships"].as_array().unwrap().len(), 2);

    let settings = app
        .ok(
            Some(&access),
            "mutation { updateSettings(input: { timezone: \"Asia/Tokyo\", currency: \"jpy\" }) {
                timezone currency } }",
            json!({}),
        )
        .await;
    assert_eq!(settings["updateSettings"]["timezone"], "Asia/Tokyo");
    assert_eq!(settings["updateSettings"]["currency"], "JPY");

    let refreshed = app
        .ok(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken
                viewer { organization { id } } } }",
            json!({ "t": refresh }),
        )
        .await;
    assert!(refreshed["refreshToken"]["viewer"]["organization"].is_null());
    let access = refreshed["refreshToken"]["accessToken"].as_str().unwrap();
    let refresh = refreshed["refreshToken"]["refreshToken"].as_str().unwrap();

    let selected = app
        .ok(
            Some(access),
            "mutation($o: ID!) { selectOrganization(organizationId: $o) { accessToken
                viewer { organization { id } } } }",
            json!({ "o": second.id }),
        )
        .await;
    assert_eq!(
        selected["selectOrganization"]["viewer"]["organization"]["id"],
        second.id.as_str()
    );
    let scoped = selected["selectOrganization"]["accessToken"]
        .as_str()
        .unwrap();
    app.ok(Some(scoped), "{ organization { name } }", json!({}))
        .await;

    let signed_out = app
        .ok(
            Some(access),
            "mutation($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(signed_out["signOut"], true);
    let dead = app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_code(&dead, "UNAUTHENTICATED");
}
