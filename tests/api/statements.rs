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
    settle_mail(app, n + 2).await;
}

/// Waits until `count` mails were delivered: the mail worker's statements are not the query's.
async fn settle_mail(app: &TestApp, count: usize) {
    for _ in 0..400 {
        if app.mails() >= count {
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
        let nodes = data["organization"]["drivers"]["nodes"]
            .as_array()
            .expect("drivers");
        assert_eq!(nodes.len(), expected_nodes);
        // Each driver's own depot, and none for those without one.
        let depots: Vec<Option<&str>> = nodes.iter().map(|n| n["depot"]["name"].as_str()).collect();
        assert!(
            depots.iter().flatten().all(|n| n.starts_with("Depot ")),
            "{data}"
        );
        assert!(
            depots.iter().any(Option::is_some) && depots.iter().any(Option::is_none),
            "{data}"
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
    // The page, then one per relation: depot, current route, organization.
    assert!(five_hundred <= 4, "{five_hundred} statements");
}

const SHARED_QUERY: &str = "{ organization { name drivers(first: 100) { nodes { firstName depot { name } sharedWith { sharedAt partner { id name } } } } } }";

#[tokio::test]
async fn the_driver_list_with_its_shares_and_their_partners_costs_one_statement_per_level() {
    let app = spawn_app().await;
    let org = app.create_org("Owner").await;
    fleet(&app, &org.admin.token, 6).await;
    let mut partners = Vec::new();
    for name in ["Partner A", "Partner B"] {
        partners.push(app.create_org(name).await.id);
    }
    // Two drivers shared with both partners, one with the first only.
    let mut shared = 0;
    for i in 0..3 {
        let driver = app.member(&org.admin.token, &["DRIVER"]).await;
        let with = if i < 2 { &partners[..] } else { &partners[..1] };
        for partner in with {
            app.ok(
                Some(&org.admin.token),
                "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
                json!({ "p": partner, "d": [driver.driver_id] }),
            )
            .await;
            shared += 1;
        }
    }
    let (least, data) = least_statements(&app, &org.admin.token, SHARED_QUERY, json!({})).await;
    let nodes = data["organization"]["drivers"]["nodes"]
        .as_array()
        .expect("drivers");
    let shares: usize = nodes
        .iter()
        .map(|n| n["sharedWith"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(shares, shared, "{data}");
    assert!(
        nodes
            .iter()
            .flat_map(|n| n["sharedWith"].as_array().into_iter().flatten())
            .all(|s| s["partner"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Partner "))),
        "{data}"
    );
    // The organization, the page, its depots, and its shares joined with their partners.
    assert_eq!(least, 4, "{least} statements");
}

const DEPOTS_QUERY: &str = "query($last: Int) { organization { depots(first: 50) { nodes { name drivers(last: $last) { totalCount pageInfo { hasPreviousPage hasNextPage } nodes { lastName depot { name } currentRoute { name } } } } } } }";

/// `depots` depots named "Depot i", the i-th with `i % 4` drivers named "i.j" in order.
async fn depots_with_drivers(app: &TestApp, token: &str, depots: usize) {
    let mails = app.mails();
    for i in 0..depots {
        let depot = app.depot(token, &format!("Depot {i}")).await;
        for j in 0..i % 4 {
            app.ok(
                Some(token),
                "mutation($i: InviteUserInput!) { inviteUser(input: $i) { id } }",
                json!({ "i": { "firstName": "Driver", "lastName": format!("{i}.{j}"), "email": format!("d{i}-{j}@fleet.test"), "roles": ["DRIVER"], "depotId": depot } }),
            )
            .await;
        }
    }
    settle_mail(app, mails + (0..depots).map(|i| i % 4).sum::<usize>()).await;
}

/// The least statements of several runs of `query`, and its data.
async fn least_statements(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> (u64, serde_json::Value) {
    let mut least = u64::MAX;
    let mut data = serde_json::Value::Null;
    for _ in 0..5 {
        let before = app.statements();
        data = app.ok(Some(token), query, variables.clone()).await;
        least = least.min(app.statements() - before);
    }
    (least, data)
}

/// Each depot's page as (depot name, driver last names, totalCount, hasPreviousPage, hasNextPage).
fn depot_pages(data: &serde_json::Value) -> Vec<(String, Vec<String>, i64, bool, bool)> {
    data["organization"]["depots"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|depot| {
            let drivers = &depot["drivers"];
            let names = drivers["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    assert_eq!(d["depot"]["name"], depot["name"]);
                    d["lastName"].as_str().unwrap().to_owned()
                })
                .collect();
            (
                depot["name"].as_str().unwrap().to_owned(),
                names,
                drivers["totalCount"].as_i64().unwrap(),
                drivers["pageInfo"]["hasPreviousPage"].as_bool().unwrap(),
                drivers["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_depot_gets_its_own_page_of_drivers_at_the_same_cost_for_2_and_for_12_depots() {
    let small = spawn_app().await;
    let org = small.create_org("Few depots").await;
    depots_with_drivers(&small, &org.admin.token, 2).await;
    let (two, _) =
        least_statements(&small, &org.admin.token, DEPOTS_QUERY, json!({ "last": 2 })).await;

    let large = spawn_app().await;
    let org = large.create_org("Many depots").await;
    depots_with_drivers(&large, &org.admin.token, 12).await;
    let (twelve, data) =
        least_statements(&large, &org.admin.token, DEPOTS_QUERY, json!({ "last": 2 })).await;

    println!("statements per request: 2 depots = {two}, 12 depots = {twelve}");
    assert_eq!(two, twelve);

    // The last two drivers of each depot, in order, with that depot's own count.
    let pages = depot_pages(&data);
    assert_eq!(pages.len(), 12);
    for (i, (name, drivers, total, has_previous, has_next)) in pages.into_iter().enumerate() {
        let all: Vec<String> = (0..i % 4).map(|j| format!("{i}.{j}")).collect();
        let expected = all[all.len().saturating_sub(2)..].to_vec();
        assert_eq!(name, format!("Depot {i}"));
        assert_eq!(drivers, expected, "drivers of {name}");
        assert_eq!(total, all.len() as i64, "totalCount of {name}");
        assert_eq!(has_previous, all.len() > 2, "hasPreviousPage of {name}");
        assert!(!has_next, "hasNextPage of {name}");
    }

    // Forward from a cursor, with a filter, still depot by depot.
    let forward = "{ organization { depots(first: 50) { nodes { name drivers(first: 1, filter: { search: \"Driver\" }) { totalCount pageInfo { hasPreviousPage hasNextPage } nodes { lastName depot { name } currentRoute { name } } } } } } }";
    let data = large.ok(Some(&org.admin.token), forward, json!({})).await;
    for (i, (name, drivers, total, has_previous, has_next)) in
        depot_pages(&data).into_iter().enumerate()
    {
        let expected: Vec<String> = (0..(i % 4).min(1)).map(|j| format!("{i}.{j}")).collect();
        assert_eq!(drivers, expected, "drivers of {name}");
        assert_eq!(total, (i % 4) as i64, "totalCount of {name}");
        assert!(!has_previous, "hasPreviousPage of {name}");
        assert_eq!(has_next, i % 4 > 1, "hasNextPage of {name}");
    }
}

const DRIVER_ROUTES_QUERY: &str = "{ organization { drivers(first: 50) { nodes { id
    routes(last: 2) { totalCount pageInfo { hasPreviousPage } nodes { name status depotName owner { name } } } } } } }";

/// `drivers` ACTIVE drivers, the i-th with `i % 3` cancelled routes named "i.j" in order;
/// returns their Driver IDs.
async fn drivers_with_routes(app: &TestApp, token: &str, drivers: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..drivers {
        let driver = app.member(token, &["DRIVER"]).await;
        for j in 0..i % 3 {
            let route = app.route(token, &format!("{i}.{j}")).await;
            app.ok(
                Some(token),
                "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
                json!({ "r": route, "d": driver.driver_id }),
            )
            .await;
            app.ok(
                Some(token),
                "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
                json!({ "r": route }),
            )
            .await;
        }
        ids.push(driver.driver_id);
    }
    settle_mail(app, drivers).await;
    ids
}

#[tokio::test]
async fn each_driver_gets_its_own_page_of_routes_at_the_same_cost_for_2_and_for_9_drivers() {
    let small = spawn_app().await;
    let org = small.create_org("Few drivers").await;
    drivers_with_routes(&small, &org.admin.token, 2).await;
    let (two, _) = least_statements(&small, &org.admin.token, DRIVER_ROUTES_QUERY, json!({})).await;

    let large = spawn_app().await;
    let org = large.create_org("Many drivers").await;
    let ids = drivers_with_routes(&large, &org.admin.token, 9).await;
    let (nine, data) =
        least_statements(&large, &org.admin.token, DRIVER_ROUTES_QUERY, json!({})).await;

    println!("statements per request: 2 drivers = {two}, 9 drivers = {nine}");
    assert_eq!(two, nine);
    let nodes = data["organization"]["drivers"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 9);
    for node in nodes {
        let i = ids.iter().position(|id| node["id"] == id.as_str()).unwrap();
        let routes = &node["routes"];
        let names: Vec<&str> = routes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["status"], "CANCELLED");
                assert_eq!(r["owner"]["name"], "Many drivers");
                r["name"].as_str().unwrap()
            })
            .collect();
        let all: Vec<String> = (0..i % 3).map(|j| format!("{i}.{j}")).collect();
        assert_eq!(names, all, "routes of driver {i}");
        assert_eq!(routes["totalCount"], (i % 3) as i64);
        assert_eq!(routes["pageInfo"]["hasPreviousPage"], false);
    }
}

#[tokio::test]
async fn a_filtered_driver_list_shows_each_drivers_own_depot() {
    let app = spawn_app().await;
    let org = app.create_org("Filtered").await;
    let token = &org.admin.token;
    fleet(&app, token, 6).await;
    let depots = app
        .ok(
            Some(token),
            "{ organization { depots(first: 10) { nodes { id name } } } }",
            json!({}),
        )
        .await;
    let depot = &depots["organization"]["depots"]["nodes"][1];
    // Every filter at once.
    let query = "query($d: ID!) { organization { drivers(first: 50, filter: { depotId: $d, search: \"DRIVER\", status: [INVITED], available: false }) { nodes { lastName status depot { id name } } } } }";
    let (least, data) = least_statements(&app, token, query, json!({ "d": depot["id"] })).await;
    let nodes = data["organization"]["drivers"]["nodes"]
        .as_array()
        .expect("drivers");
    // Drivers 1 and 4 of the six were invited to the second depot.
    let names: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["lastName"].as_str())
        .collect();
    assert_eq!(names, ["1", "4"], "{data}");
    for node in nodes {
        assert_eq!(node["status"], "INVITED", "{data}");
        assert_eq!(node["depot"], *depot, "{data}");
    }
    // The page and its depots (no field of the organization's own row is asked).
    assert_eq!(least, 2, "{least} statements");
}
