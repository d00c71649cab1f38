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

/// Runs every row; returns what went wrong, one line per failed row.
async fn failures(w: &World, rows: &[Row]) -> Vec<String> {
    let before = w.snapshot().await;
    let mut failures = Vec::new();
    for row in rows {
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
    failures
}

fn assert_no_failures(failures: &[String], rows: usize) {
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_bad_input_is_bad_user_input_naming_the_field_and_writes_nothing() {
    let w = world().await;
    let rows = rows(&w);
    assert_no_failures(&failures(&w, &rows).await, rows.len());
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

const USERS_SEARCH: &str =
    "query($s: String) { organization { users(filter: { search: $s }) { totalCount } } }";
const DRIVERS_SEARCH: &str =
    "query($s: String) { organization { drivers(filter: { search: $s }) { totalCount } } }";
const DEPOT_DRIVERS_SEARCH: &str = "query($id: ID!, $s: String) {
    depot(id: $id) { drivers(filter: { search: $s }) { totalCount } } }";
const FIND_ORG: &str = "query($s: String!) { findOrganization(name: $s) { id } }";
const CREATE_ORG: &str = "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { expiresIn } }";
const RESET: &str =
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";

/// The control characters a hostile client tries first.
const CONTROLS: [(&str, char); 5] = [
    ("NUL", '\u{0}'),
    ("CR", '\r'),
    ("LF", '\n'),
    ("DEL", '\u{7f}'),
    ("ESC", '\u{1b}'),
];

/// One free-text input: how to send a text in it, the field that names it, a valid sample,
/// and its cap in characters where the test of caps covers it.
struct TextInput<'a> {
    name: &'static str,
    query: &'static str,
    send: Box<dyn Fn(&str) -> Value + 'a>,
    field: &'static str,
    sample: &'static str,
    cap: Option<usize>,
}

impl TextInput<'_> {
    fn row(&self, text: &str) -> Row {
        Row {
            name: self.name,
            query: self.query,
            variables: (self.send)(text),
            expect: Expect::Field(self.field),
        }
    }
}

fn fresh_email() -> String {
    format!("{}@example.test", Uuid::now_v7().simple())
}

/// The key of `field` inside `input`.
fn key(field: &str) -> &str {
    field.trim_start_matches("input.")
}

/// Every free-text input of the API.
fn text_inputs(w: &World) -> Vec<TextInput<'_>> {
    // One builder per operation: (row name, field, a valid sample, cap).
    fn with<'a>(
        query: &'static str,
        send: impl Fn(&'static str, &str) -> Value + Copy + 'a,
    ) -> impl Fn(&'static str, &'static str, &'static str, Option<usize>) -> TextInput<'a> {
        move |name, field, sample, cap| TextInput {
            name,
            query,
            send: Box::new(move |t| send(field, t)),
            field,
            sample,
            cap,
        }
    }
    let depot = || json!({ "name": "Main", "timezone": "Europe/Berlin" });
    let create_depot = with(
        CREATE_DEPOT,
        move |f, t| json!({ "input": patched(&depot(), json!({ key(f): t })) }),
    );
    let update_depot = with(
        UPDATE_DEPOT,
        move |f, t| json!({ "id": w.depot, "input": patched(&depot(), json!({ key(f): t })) }),
    );
    let invite = with(INVITE, |f, t| {
        let valid = json!({ "firstName": "Val", "lastName": "Id", "email": fresh_email(),
            "roles": ["DRIVER"] });
        json!({ "input": patched(&valid, json!({ key(f): t })) })
    });
    let edit = with(
        EDIT,
        |f, t| json!({ "id": w.driver.user_id, "input": { key(f): t } }),
    );
    let route = with(
        CREATE_ROUTE,
        |f, t| json!({ "input": { key(f): t, "plannedStart": "2030-01-01T08:00:00Z" } }),
    );
    let sign_up = with(CREATE_ORG, |f, t| {
        let valid = json!({ "name": format!("Org {}", Uuid::now_v7()), "adminFirstName": "Ada",
            "adminLastName": "Admin", "adminEmail": fresh_email(), "adminPassword": PASSWORD });
        json!({ "input": patched(&valid, json!({ key(f): t })) })
    });
    let settings = with(SETTINGS, |f, t| json!({ "input": { key(f): t } }));
    let users = with(USERS_SEARCH, |_, t| json!({ "s": t }));
    let drivers = with(DRIVERS_SEARCH, |_, t| json!({ "s": t }));
    let depot_drivers = with(
        DEPOT_DRIVERS_SEARCH,
        |_, t| json!({ "id": w.depot, "s": t }),
    );
    let find = with(FIND_ORG, |_, t| json!({ "s": t }));
    let reset = with(RESET, |_, t| json!({ "t": "no-such-token", "p": t }));
    let request_reset = with(REQUEST_RESET, |_, t| json!({ "e": t }));
    vec![
        create_depot(
            "createDepot address",
            "input.address",
            "Hafenstraße 1",
            Some(500),
        ),
        create_depot("createDepot name", "input.name", "Main", Some(100)),
        create_depot(
            "createDepot timezone",
            "input.timezone",
            "Europe/Berlin",
            None,
        ),
        update_depot(
            "updateDepot address",
            "input.address",
            "Hafenstraße 1",
            None,
        ),
        invite("inviteUser firstName", "input.firstName", "Zoë", Some(100)),
        invite("inviteUser lastName", "input.lastName", "Łódź", Some(100)),
        invite("inviteUser email", "input.email", "ana@example.test", None),
        invite("inviteUser phone", "input.phone", "+4915112345678", None),
        edit("editUser lastName", "input.lastName", "Driver", Some(100)),
        route("createRoute name", "input.name", "Morning run", Some(100)),
        sign_up("createOrganization name", "input.name", "Acme", Some(100)),
        sign_up(
            "createOrganization adminFirstName",
            "input.adminFirstName",
            "Ada",
            None,
        ),
        sign_up(
            "createOrganization adminEmail",
            "input.adminEmail",
            "a@b.test",
            None,
        ),
        sign_up(
            "createOrganization adminPassword",
            "input.adminPassword",
            PASSWORD,
            None,
        ),
        settings(
            "updateSettings timezone",
            "input.timezone",
            "Europe/Berlin",
            None,
        ),
        settings("updateSettings currency", "input.currency", "EUR", None),
        settings(
            "updateSettings csvDelimiter",
            "input.csvDelimiter",
            ";",
            None,
        ),
        users("users search", "filter.search", "Driver", Some(200)),
        drivers("drivers search", "filter.search", "Driver", Some(200)),
        depot_drivers("depot drivers search", "filter.search", "Driver", Some(200)),
        find(
            "findOrganization name",
            "name",
            "Validation Fleet",
            Some(100),
        ),
        reset("resetPassword newPassword", "newPassword", PASSWORD, None),
        request_reset(
            "requestPasswordReset email",
            "email",
            "ana@example.test",
            None,
        ),
    ]
}

/// `sample` with `c` after its first character.
fn spoiled(sample: &str, c: char) -> String {
    let mut chars = sample.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    format!("{first}{c}{}", chars.as_str())
}

#[tokio::test]
async fn a_nul_cr_lf_del_or_esc_in_any_free_text_input_is_bad_user_input_naming_the_field() {
    let w = world().await;
    let inputs = text_inputs(&w);
    let mut failed = Vec::new();
    for (control, c) in CONTROLS {
        let rows: Vec<Row> = inputs
            .iter()
            .map(|i| i.row(&spoiled(i.sample, c)))
            .collect();
        failed.extend(
            failures(&w, &rows)
                .await
                .into_iter()
                .map(|f| format!("{control} in {f}")),
        );
    }
    assert_no_failures(&failed, inputs.len() * CONTROLS.len());
    w.app
        .ok(Some(&w.org.admin.token), SNAPSHOT, json!({}))
        .await;
}

#[tokio::test]
async fn free_text_just_at_its_cap_is_accepted_and_one_character_over_is_refused() {
    // Two-byte characters: the cap counts characters, and PostgreSQL's varchar holds them.
    let w = world().await;
    for input in text_inputs(&w) {
        let Some(cap) = input.cap else { continue };
        let at_cap = w
            .app
            .gql(
                Some(&w.org.admin.token),
                input.query,
                (input.send)(&"é".repeat(cap)),
            )
            .await;
        assert!(
            at_cap.get("errors").is_none(),
            "{} at {cap}: {at_cap}",
            input.name
        );
        let over = w
            .app
            .gql(
                Some(&w.org.admin.token),
                input.query,
                (input.send)(&"é".repeat(cap + 1)),
            )
            .await;
        assert_code(&over, "BAD_USER_INPUT");
        assert_eq!(
            over["errors"][0]["extensions"]["field"], input.field,
            "{}: {over}",
            input.name
        );
    }
}

#[tokio::test]
async fn a_search_of_fifty_thousand_bytes_is_bad_user_input_and_the_server_answers_afterwards() {
    let w = world().await;
    let huge = "x".repeat(50_000);
    let rows: Vec<Row> = text_inputs(&w)
        .iter()
        .filter(|i| i.field == "filter.search" || i.query == FIND_ORG)
        .map(|i| i.row(&huge))
        .collect();
    assert_eq!(rows.len(), 4);
    assert_no_failures(&failures(&w, &rows).await, rows.len());
    let after = w
        .app
        .ok(
            Some(&w.org.admin.token),
            USERS_SEARCH,
            json!({ "s": "Driver" }),
        )
        .await;
    assert_eq!(after["organization"]["users"]["totalCount"], 0);
}

#[tokio::test]
async fn a_token_or_sign_in_with_control_characters_is_the_usual_invalid_answer() {
    let w = world().await;
    let token = format!("{}\u{0}", w.org.admin.refresh);
    let refresh = w
        .app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { expiresIn } }",
            json!({ "t": token }),
        )
        .await;
    assert_code(&refresh, "UNAUTHENTICATED");
    let signed_out = w
        .app
        .ok(
            None,
            "mutation($t: String!) { signOut(refreshToken: $t) }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(signed_out["signOut"], false);
    let reset = w
        .app
        .gql(None, RESET, json!({ "t": "a\r\nb", "p": PASSWORD }))
        .await;
    assert_code(&reset, "BAD_USER_INPUT");
    assert_eq!(reset["errors"][0]["extensions"]["field"], "token");
    let accept = w
        .app
        .gql(
            None,
            "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { expiresIn } }",
            json!({ "input": { "token": "\u{1b}\u{7f}", "password": PASSWORD } }),
        )
        .await;
    assert_code(&accept, "BAD_USER_INPUT");
    assert_eq!(accept["errors"][0]["extensions"]["field"], "input.token");
    let sign_in =
        "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { scoped } }";
    for (email, password) in [
        (format!("{}\u{0}", w.org.admin_email), PASSWORD.to_owned()),
        (w.org.admin_email.clone(), format!("{PASSWORD}\u{0}")),
    ] {
        let body = w
            .app
            .gql(None, sign_in, json!({ "e": email, "p": password }))
            .await;
        assert_code(&body, "UNAUTHENTICATED");
    }
    // The refresh token itself still works: the spoiled copy did not touch its session.
    w.app
        .ok(
            None,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { expiresIn } }",
            json!({ "t": w.org.admin.refresh }),
        )
        .await;
}
