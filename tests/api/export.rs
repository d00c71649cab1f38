//! CSV exports: delimiter, time zone, quoting, defused formulas, the attachment's name,
//! streaming in pages, and the JSON errors.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn settings(app: &TestApp, token: &str, delimiter: &str, timezone: &str) {
    app.ok(
        Some(token),
        "mutation($i: SettingsInput!) { updateSettings(input: $i) { csvDelimiter } }",
        json!({ "i": { "csvDelimiter": delimiter, "timezone": timezone } }),
    )
    .await;
}

async fn invite(app: &TestApp, token: &str, first: &str, last: &str, email: &str) -> String {
    let data = app
        .ok(
            Some(token),
            "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }",
            json!({ "input": { "firstName": first, "lastName": last, "email": email, "roles": ["DRIVER"] } }),
        )
        .await;
    data["inviteUser"]["id"].as_str().unwrap().to_owned()
}

/// Rows of a CSV body split naively (the tests' cells hold no line breaks).
fn rows(body: &str, delimiter: char) -> Vec<Vec<String>> {
    body.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(delimiter).map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn the_drivers_export_uses_the_viewers_delimiter_quotes_and_defuses_cells_and_names_the_file()
{
    let app = spawn_app().await;
    let org = app.create_org("Acme Parcel").await;
    settings(&app, &org.admin.token, ";", "Europe/Berlin").await;
    invite(
        &app,
        &org.admin.token,
        "=HYPERLINK(1)",
        "Plain",
        "formula@example.test",
    )
    .await;
    invite(
        &app,
        &org.admin.token,
        "Semi",
        "Colon;Name",
        "semi@example.test",
    )
    .await;
    invite(
        &app,
        &org.admin.token,
        "Quote",
        "Say \"hi\"",
        "quote@example.test",
    )
    .await;
    let response = get(&app, Some(&org.admin.token), "/export/drivers.csv").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = headers["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains("Acme-Parcel"), "{disposition}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y-%m-%d")
        .to_string();
    assert!(disposition.contains(&today), "{disposition}");
    let bytes = response.bytes().await.unwrap();
    assert!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "First name;Last name;Email;Phone;Status;Available;Depot"
    );
    assert!(lines.contains(&"'=HYPERLINK(1);Plain;formula@example.test;;INVITED;false;"));
    assert!(lines.contains(&"Semi;\"Colon;Name\";semi@example.test;;INVITED;false;"));
    assert!(lines.contains(&"Quote;\"Say \"\"hi\"\"\";quote@example.test;;INVITED;false;"));
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn the_routes_export_writes_times_in_the_viewers_zone_and_keeps_to_the_range() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    settings(&app, &org.admin.token, "\t", "America/New_York").await;
    for (name, start) in [
        ("Early", "2030-01-01T08:00:00Z"),
        ("Inside", "2030-01-02T08:00:00Z"),
        ("Edge", "2030-01-03T00:00:00Z"),
    ] {
        app.ok(
            Some(&org.admin.token),
            "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
            json!({ "input": { "name": name, "plannedStart": start } }),
        )
        .await;
    }
    let response = get(
        &app,
        Some(&org.admin.token),
        "/export/routes.csv?from=2030-01-02T00:00:00Z&to=2030-01-03T00:00:00Z",
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let rows = rows(&body, '\t');
    assert_eq!(rows[0][0], "Name");
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(rows[1][0], "Inside");
    assert_eq!(rows[1][1], "2030-01-02T03:00:00-05:00");
    assert_eq!(rows[1][2], "PLANNED");
}

#[tokio::test]
async fn a_partners_routes_export_names_the_shared_driver_as_the_partner_view_does() {
    let app = spawn_app().await;
    let owner = app.create_org("Owner").await;
    let partner = app.create_org("Partner").await;
    let email = "shared@example.test";
    let user = invite(&app, &owner.admin.token, "Sam", "Shared", email).await;
    let token = app.token_from_mail(email, "/accept-invitation").await;
    app.ok(
        None,
        "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }",
        json!({ "input": { "token": token, "password": PASSWORD } }),
    )
    .await;
    let driver = crate::helpers::driver_id_of(&user);
    app.ok(
        Some(&owner.admin.token),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner.id, "d": [driver] }),
    )
    .await;
    let route = app.route(&partner.admin.token, "Partner run").await;
    app.ok(
        Some(&partner.admin.token),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": route, "d": driver }),
    )
    .await;
    let body = get(&app, Some(&partner.admin.token), "/export/routes.csv")
        .await
        .text()
        .await
        .unwrap();
    let rows = rows(&body, ',');
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(rows[1][0], "Partner run");
    assert_eq!(rows[1][5], "Sam Shared");
    // The owner's export does not list the partner's route.
    let owners = get(&app, Some(&owner.admin.token), "/export/routes.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(owners.split("\r\n").filter(|l| !l.is_empty()).count(), 1);
}

#[tokio::test]
async fn an_export_larger_than_one_page_streams_every_row_once() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for batch in 0..3 {
        let inputs: Vec<Value> = (0..400)
            .map(|i| {
                json!({ "firstName": "D", "lastName": format!("{batch}-{i}"),
                "email": format!("d{batch}-{i}@example.test"), "roles": ["DRIVER"] })
            })
            .collect();
        app.ok(
            Some(&org.admin.token),
            "mutation($inputs: [InviteUserInput!]!) { inviteUsers(inputs: $inputs) { email } }",
            json!({ "inputs": inputs }),
        )
        .await;
    }
    let body = get(&app, Some(&org.admin.token), "/export/drivers.csv")
        .await
        .text()
        .await
        .unwrap();
    let mut emails: Vec<String> = rows(&body, ',')
        .into_iter()
        .skip(1)
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(emails.len(), 1200);
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 1200);
}

#[tokio::test]
async fn exports_answer_401_403_and_400_with_a_json_error_body() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme").await;
    let globex = app.create_org("Globex").await;
    for (token, path, status, code) in [
        (None, "/export/drivers.csv", 401, "UNAUTHENTICATED"),
        (
            Some("not-a-token"),
            "/export/routes.csv",
            401,
            "UNAUTHENTICATED",
        ),
        (
            Some(acme.admin.token.as_str()),
            "/export/routes.csv?from=yesterday",
            400,
            "BAD_USER_INPUT",
        ),
        (
            Some(acme.admin.token.as_str()),
            "/export/routes.csv?from=2030-02-01T00:00:00Z&to=2030-01-01T00:00:00Z",
            400,
            "BAD_USER_INPUT",
        ),
    ] {
        let response = get(&app, token, path).await;
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    }
    // An account in two organizations signs in unscoped: 403 until it selects one.
    app.invite(&globex.admin.token, &acme.admin_email, &["DISPATCHER"])
        .await;
    let invitation = app
        .token_from_mail(&acme.admin_email, "/accept-invitation")
        .await;
    app.ok(
        None,
        "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }",
        json!({ "input": { "token": invitation, "password": PASSWORD } }),
    )
    .await;
    let data = app
        .ok(
            None,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken scoped } }",
            json!({ "e": acme.admin_email, "p": PASSWORD }),
        )
        .await;
    assert_eq!(data["signIn"]["scoped"], false);
    let unscoped = data["signIn"]["accessToken"].as_str().unwrap();
    let response = get(&app, Some(unscoped), "/export/drivers.csv").await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}
