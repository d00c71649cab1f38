//! Bad input as a table: every validated field of every input, refused with BAD_USER_INPUT
//! naming the field, and nothing written (the organization, the settings, the mail outbox
//! and the event log look the same afterwards).

use entity::{mail_outbox, status_event};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Member, Org, PASSWORD, TestApp, assert_code, retype, spawn_app};

const INVITE: &str = "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }";
const EDIT: &str =
    "mutation($id: ID!, $input: EditUserInput!) { editUser(id: $id, input: $input) { id } }";
const CREATE_DEPOT: &str = "mutation($input: DepotInput!) { createDepot(input: $input) { id } }";
const UPDATE_DEPOT: &str =
    "mutation($id: ID!, $input: DepotInput!) { updateDepot(id: $id, input: $input) { id } }";
const CREATE_ROUTE: &str = "mutation($input: RouteInput!) { createRoute(input: $input) { id } }";
const SETTINGS: &str =
    "mutation($input: SettingsInput!) { updateSettings(input: $input) { timezone } }";
const USERS_PAGE: &str = "query($first: Int, $last: Int) { organization {
    users(first: $first, last: $last) { totalCount } } }";
const DRIVERS_PAGE: &str =
    "query($first: Int) { organization { drivers(first: $first) { totalCount } } }";

/// Everything a bad input could have written to.
const SNAPSHOT: &str = "{
    viewer { settings { timezone currency csvDelimiter } }
    organization {
        users(first: 100) { totalCount nodes { id firstName lastName phone roles status updatedAt
            driver { depot { id } } } }
        depots(first: 100) { totalCount nodes { id name address timezone } }
        routes(first: 100) { totalCount nodes { id name plannedStart depot { id } } } } }";

struct World {
    app: TestApp,
    org: Org,
    driver: Member,
    depot: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let org = app.create_org("Validation Fleet").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let depot = app.depot(&org.admin.token, "Main").await;
    app.route(&org.admin.token, "Existing").await;
    World {
        app,
        org,
        driver,
        depot,
    }
}

impl World {
    async fn snapshot(&self) -> Value {
        let org = self
            .app
            .ok(Some(&self.org.admin.token), SNAPSHOT, json!({}))
            .await;
        let conn = &self.app.state.db.conn;
        let mails = mail_outbox::Entity::find().count(conn).await.unwrap();
        let events = status_event::Entity::find().count(conn).await.unwrap();
        json!({ "data": org, "mails": mails, "events": events })
    }
}

/// What a row expects back.
enum Expect {
    /// BAD_USER_INPUT with `extensions.field` equal to this.
    Field(&'static str),
    /// Refused by GraphQL itself before our code runs: an error and no data.
    GraphqlError,
}

/// One row of the table.
struct Row {
    name: &'static str,
    query: &'static str,
    variables: Value,
    expect: Expect,
}

/// `base` with the keys of `patch` replaced.
fn patched(base: &Value, patch: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Some(patch)) = (out.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn rows(w: &World) -> Vec<Row> {
    use Expect::{Field, GraphqlError};
    let invite = json!({ "firstName": "Val", "lastName": "Id",
        "email": format!("{}@example.test", Uuid::now_v7().simple()), "roles": ["DRIVER"] });
    let inv = |name, patch, field| Row {
        name,
        query: INVITE,
        variables: json!({ "input": patched(&invite, patch) }),
        expect: Field(field),
    };
    let edit = |name, input: Value, field| Row {
        name,
        query: EDIT,
        variables: json!({ "id": w.driver.user_id, "input": input }),
        expect: Field(field),
    };
    let depot = json!({ "name": "Depot", "timezone": "Europe/Berlin" });
    let new_depot = |name, patch, field| Row {
        name,
        query: CREATE_DEPOT,
        variables: json!({ "input": patched(&depot, patch) }),
        expect: Field(field),
    };
    let upd_depot = |name, patch, field| Row {
        name,
        query: UPDATE_DEPOT,
        variables: json!({ "id": w.depot, "input": patched(&depot, patch) }),
        expect: Field(field),
    };
    let route = json!({ "name": "Route", "plannedStart": "2030-01-01T08:00:00Z" });
    let new_route = |name, patch, expect| Row {
        name,
        query: CREATE_ROUTE,
        variables: json!({ "input": patched(&route, patch) }),
        expect,
    };
    let settings = |name, input, field| Row {
        name,
        query: SETTINGS,
        variables: json!({ "input": input }),
        expect: Field(field),
    };
    let a_user_id = w.driver.user_id.clone();
    vec![
        // inviteUser
        inv(
            "invite: email without @",
            json!({ "email": "not-an-email" }),
            "input.email",
        ),
        inv("invite: email empty", json!({ "email": "" }), "input.email"),
        inv(
            "invite: email with spaces",
            json!({ "email": "a b@example.test" }),
            "input.email",
        ),
        inv(
            "invite: firstName empty",
            json!({ "firstName": "" }),
            "input.firstName",
        ),
        inv(
            "invite: firstName blank",
            json!({ "firstName": "   " }),
            "input.firstName",
        ),
        inv(
            "invite: firstName 101 chars",
            json!({ "firstName": long(101) }),
            "input.firstName",
        ),
        inv(
            "invite: lastName empty",
            json!({ "lastName": "" }),
            "input.lastName",
        ),
        inv(
            "invite: lastName 101 chars",
            json!({ "lastName": long(101) }),
            "input.lastName",
        ),
        inv(
            "invite: phone not E.164",
            json!({ "phone": "030 1234567" }),
            "input.phone",
        ),
        inv(
            "invite: phone letters",
            json!({ "phone": "+49abc" }),
            "input.phone",
        ),
        inv(
            "invite: phone leading 0",
            json!({ "phone": "+0301234567" }),
            "input.phone",
        ),
        inv("invite: roles empty", json!({ "roles": [] }), "input.roles"),
        inv(
            "invite: depotId is a User ID",
            json!({ "depotId": a_user_id }),
            "input.depotId",
        ),
        inv(
            "invite: depotId is garbage",
            json!({ "depotId": "garbage" }),
            "input.depotId",
        ),
        // editUser
        edit(
            "edit: firstName empty",
            json!({ "firstName": "" }),
            "input.firstName",
        ),
        edit(
            "edit: firstName 101 chars",
            json!({ "firstName": long(101) }),
            "input.firstName",
        ),
        edit(
            "edit: lastName empty",
            json!({ "lastName": "" }),
            "input.lastName",
        ),
        edit(
            "edit: lastName 101 chars",
            json!({ "lastName": long(101) }),
            "input.lastName",
        ),
        edit(
            "edit: phone not E.164",
            json!({ "phone": "12345" }),
            "input.phone",
        ),
        edit("edit: roles empty", json!({ "roles": [] }), "input.roles"),
        edit(
            "edit: depotId is a User ID",
            json!({ "depotId": a_user_id }),
            "input.depotId",
        ),
        Row {
            name: "edit: id is a Driver ID",
            query: EDIT,
            variables: json!({ "id": w.driver.driver_id, "input": { "firstName": "Ok" } }),
            expect: Field("id"),
        },
        // createDepot / updateDepot
        new_depot(
            "createDepot: name empty",
            json!({ "name": "" }),
            "input.name",
        ),
        new_depot(
            "createDepot: name 101 chars",
            json!({ "name": long(101) }),
            "input.name",
        ),
        new_depot(
            "createDepot: timezone unknown",
            json!({ "timezone": "Mars/Olympus" }),
            "input.timezone",
        ),
        new_depot(
            "createDepot: timezone empty",
            json!({ "timezone": "" }),
            "input.timezone",
        ),
        new_depot(
            "createDepot: timezone an offset",
            json!({ "timezone": "+02:00" }),
            "input.timezone",
        ),
        upd_depot(
            "updateDepot: name empty",
            json!({ "name": "" }),
            "input.name",
        ),
        upd_depot(
            "updateDepot: timezone unknown",
            json!({ "timezone": "Europe/Atlantis" }),
            "input.timezone",
        ),
        Row {
            name: "updateDepot: id is a Route ID",
            query: UPDATE_DEPOT,
            variables: json!({ "id": retype(&w.depot, "Route"), "input": depot }),
            expect: Field("id"),
        },
        // createRoute
        new_route(
            "createRoute: name empty",
            json!({ "name": "" }),
            Field("input.name"),
        ),
        new_route(
            "createRoute: name 101 chars",
            json!({ "name": long(101) }),
            Field("input.name"),
        ),
        new_route(
            "createRoute: plannedStart not a DateTime",
            json!({ "plannedStart": "tomorrow" }),
            GraphqlError,
        ),
        new_route(
            "createRoute: plannedStart a number",
            json!({ "plannedStart": 1_700_000_000 }),
            GraphqlError,
        ),
        new_route(
            "createRoute: depotId is a User ID",
            json!({ "depotId": a_user_id }),
            Field("input.depotId"),
        ),
        // updateSettings
        settings(
            "settings: timezone unknown",
            json!({ "timezone": "Nowhere/Land" }),
            "input.timezone",
        ),
        settings(
            "settings: currency not ISO 4217",
            json!({ "currency": "EURO" }),
            "input.currency",
        ),
        settings(
            "settings: currency unknown",
            json!({ "currency": "XYZ" }),
            "input.currency",
        ),
        settings(
            "settings: csvDelimiter colon",
            json!({ "csvDelimiter": ":" }),
            "input.csvDelimiter",
        ),
        settings(
            "settings: csvDelimiter two chars",
            json!({ "csvDelimiter": ",;" }),
            "input.csvDelimiter",
        ),
        // Page sizes
        Row {
            name: "users: first 501",
            query: USERS_PAGE,
            variables: json!({ "first": 501 }),
            expect: Field("first"),
        },
        Row {
            name: "users: last 501",
            query: USERS_PAGE,
            variables: json!({ "last": 501 }),
            expect: Field("last"),
        },
        Row {
            name: "users: first -1",
            query: USERS_PAGE,
            variables: json!({ "first": -1 }),
            expect: Field("first"),
        },
        Row {
            name: "drivers: first 501",
            query: DRIVERS_PAGE,
            variables: json!({ "first": 501 }),
            expect: Field("first"),
        },
    ]
}

#[tokio::test]
async fn every_bad_input_is_bad_user_input_naming_the_field_and_writes_nothing() {
    let w = world().await;
    let before = w.snapshot().await;
    let rows = rows(&w);
    let mut failures = Vec::new();
    for row in &rows {
        let body = w
            .app
            .gql(Some(&w.org.admin.token), row.query, row.variables.clone())
            .await;
        let error = &body["errors"][0];
        match row.expect {
            Expect::Field(field) => {
                let code = error["extensions"]["code"].as_str();
                let named = error["extensions"]["field"].as_str();
                if code != Some("BAD_USER_INPUT") || named != Some(field) {
                    failures.push(format!(
                        "{}: expected BAD_USER_INPUT on {field}: {body}",
                        row.name
                    ));
                }
            }
            Expect::GraphqlError => {
                if error.is_null() || !body["data"].is_null() {
                    failures.push(format!(
                        "{}: expected an error and no data: {body}",
                        row.name
                    ));
                }
            }
        }
        let message = error["message"].as_str().unwrap_or_default().to_lowercase();
        if ["panicked", "sql", "select ", "insert ", "backtrace"]
            .iter()
            .any(|leak| message.contains(leak))
        {
            failures.push(format!("{}: the message leaks internals: {body}", row.name));
        }
        if w.snapshot().await != before {
            failures.push(format!("{}: something was written", row.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_boundaries_of_the_table_are_accepted() {
    // 100 characters, an E.164 phone, a lower-case currency and TAB are all fine.
    let w = world().await;
    let token = w.org.admin.token.as_str();
    let invited = w
        .app
        .ok(
            Some(token),
            "mutation($input: InviteUserInput!) { inviteUser(input: $input) { firstName lastName phone } }",
            json!({ "input": { "firstName": long(100), "lastName": "L", "phone": "+14155552671",
                "email": format!("{}@example.test", Uuid::now_v7().simple()), "roles": ["DRIVER"],
                "depotId": w.depot } }),
        )
        .await;
    assert_eq!(invited["inviteUser"]["firstName"], long(100));
    assert_eq!(invited["inviteUser"]["phone"], "+14155552671");
    let depot = w
        .app
        .ok(
            Some(token),
            "mutation($input: DepotInput!) { createDepot(input: $input) { name timezone } }",
            json!({ "input": { "name": long(100), "timezone": "America/Argentina/Buenos_Aires" } }),
        )
        .await;
    assert_eq!(
        depot["createDepot"]["timezone"],
        "America/Argentina/Buenos_Aires"
    );
    let settings = w
        .app
        .ok(
            Some(token),
            "mutation($input: SettingsInput!) { updateSettings(input: $input) { currency csvDelimiter } }",
            json!({ "input": { "currency": "chf", "csvDelimiter": "\t" } }),
        )
        .await;
    assert_eq!(settings["updateSettings"]["currency"], "CHF");
    assert_eq!(settings["updateSettings"]["csvDelimiter"], "\t");
    let page = w
        .app
        .ok(Some(token), USERS_PAGE, json!({ "first": 500 }))
        .await;
    assert_eq!(page["organization"]["users"]["totalCount"], 3);
}

#[tokio::test]
async fn a_short_password_on_accepting_an_invitation_is_bad_user_input_and_the_invitation_stays_usable()
 {
    let w = world().await;
    let email = format!("{}@example.test", Uuid::now_v7().simple());
    let user_id = w.app.invite(&w.org.admin.token, &email, &["DRIVER"]).await;
    let token = w.app.token_from_mail(&email, "/accept-invitation").await;
    let accept = "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }";
    let short = w
        .app
        .gql(
            None,
            accept,
            json!({ "input": { "token": token, "password": "short" } }),
        )
        .await;
    assert_code(&short, "BAD_USER_INPUT");
    assert_eq!(short["errors"][0]["extensions"]["field"], "input.password");
    let status = w
        .app
        .ok(
            Some(&w.org.admin.token),
            "query($id: ID!) { user(id: $id) { status } }",
            json!({ "id": user_id }),
        )
        .await;
    assert_eq!(status["user"]["status"], "INVITED");
    w.app
        .ok(
            None,
            accept,
            json!({ "input": { "token": token, "password": PASSWORD } }),
        )
        .await;
}
