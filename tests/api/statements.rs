//! The cost of a list is constant: the dashboard's 500-driver query runs the same number of
//! SQL statements for 5 drivers as for 500, at most one per relation level.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

const QUERY: &str = "{ organization { drivers(first: 500) { nodes { depot { name } user { email } currentRoute { name } organization { name } } } } }";

/// Invites `n` drivers spread over three depots and puts the first two ACTIVE ones on routes.
async fn fleet(app: &TestApp, token: &str, n: usize) {
    let mut depots = Vec::new();
    for i in 0..3 {
        depots.push(app.depot(token, &format!("Depot {i}")).await);
    }
    for i in 0..n {
        app.ok(
            Some(token),
            "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
            json!({ "i": { "firstName": "Driver", "lastName": format!("{i}"), "email": format!("driver{i}@fleet.test"), "roles": ["DRIVER"], "depotId": depots[i % 3] } }),
        )
        .await;
    }
    for i in 0..2 {
        let driver = app.member(token, &["DRIVER"]).await;
        let route = app.route(token, &format!("Route {i}")).await;
        app.ok(
            Some(token),
            "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
            json!({ "r": route, "d": driver.driver_id }),
        )
        .await;
    }
    // The mail worker's statements are not the query's: let it deliver every invitation first.
    for _ in 0..400 {
        if std::fs::read_dir(&app.mail_dir)
            .map(|d| d.count())
            .unwrap_or(0)
            >= n + 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Statements one run of the query costs; the least of several runs, so a background poll
/// (the event log is polled once a second) that happens to land inside one run is not counted.
async fn cost(app: &TestApp, token: &str, expected_nodes: usize) -> u64 {
    let mut least = u64::MAX;
    for _ in 0..5 {
        let before = app.statements();
        let data = app.ok(Some(token), QUERY, json!({})).await;
        let after = app.statements();
        assert_eq!(
            data["organization"]["drivers"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(expected_nodes)
        );
        least = least.min(after - before);
    }
    least
}

#[tokio::test]
async fn the_driver_list_costs_the_same_statements_for_5_and_for_500_drivers() {
    let small = spawn_app().await;
    let org = small.create_org("Small").await;
    fleet(&small, &org.admin.token, 5).await;
    let five = cost(&small, &org.admin.token, 7).await;

    let large = spawn_app().await;
    let org = large.create_org("Large").await;
    fleet(&large, &org.admin.token, 498).await;
    let five_hundred = cost(&large, &org.admin.token, 500).await;

    println!("statements per request: 5 drivers = {five}, 500 drivers = {five_hundred}");
    assert_eq!(five, five_hundred);
    // Session check, organization, the page, then one per relation: depot, current route, organization.
    assert!(five_hundred <= 6, "{five_hundred} statements");
}
