//! `orderBy` on users, drivers, routes and depots: the key, ties broken by id, keyset pages
//! that neither skip nor repeat rows across inserts, and cursors that belong to their order.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_code, spawn_app};

/// Invites a user with these names (a driver when `driver`); returns its ID.
async fn invite_named(app: &TestApp, token: &str, first: &str, last: &str, driver: bool) -> String {
    let email = format!(
        "{}-{}@example.test",
        last.to_lowercase(),
        uuid::Uuid::now_v7().simple()
    );
    let roles = if driver {
        json!(["DRIVER"])
    } else {
        json!(["DISPATCHER"])
    };
    let data = app
        .ok(
            Some(token),
            "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }",
            json!({ "input": { "firstName": first, "lastName": last, "email": email, "roles": roles } }),
        )
        .await;
    data["inviteUser"]["id"].as_str().unwrap().to_owned()
}

/// Walks a whole list forward (`first`) or backward (`last`) by pages of `size`, calling
/// `between` after the first page; returns every node in list order.
async fn walk(
    app: &TestApp,
    token: &str,
    list: &str,
    order: Value,
    size: i64,
    backward: bool,
    mut between: impl AsyncFnMut(),
) -> Vec<Value> {
    let query = format!(
        "query($order: {ty}, $first: Int, $after: String, $last: Int, $before: String) {{
            organization {{ {list}(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {{
                totalCount edges {{ cursor node {{ id }} }} nodes {{ id {fields} }}
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}",
        ty = match list {
            "routes" => "RouteOrder",
            "depots" => "DepotOrder",
            _ => "UserOrder",
        },
        fields = match list {
            "routes" => "name plannedStart status",
            "depots" => "name",
            "users" => "firstName lastName email status invitedAt",
            _ => "firstName lastName email status",
        },
    );
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let vars = if backward {
            json!({ "order": order, "last": size, "before": cursor })
        } else {
            json!({ "order": order, "first": size, "after": cursor })
        };
        let data = app.ok(Some(token), &query, vars).await;
        let page = &data["organization"][list];
        let mut nodes = page["nodes"].as_array().unwrap().clone();
        assert!(nodes.len() as i64 <= size);
        assert_eq!(page["edges"].as_array().unwrap().len(), nodes.len());
        if backward {
            nodes.extend(seen);
            seen = nodes;
        } else {
            seen.extend(nodes);
        }
        pages += 1;
        if pages == 1 {
            between().await;
        }
        let (more, next) = if backward {
            (
                &page["pageInfo"]["hasPreviousPage"],
                &page["pageInfo"]["startCursor"],
            )
        } else {
            (
                &page["pageInfo"]["hasNextPage"],
                &page["pageInfo"]["endCursor"],
            )
        };
        if *more != true {
            break;
        }
        cursor = next.as_str().map(str::to_owned);
        assert!(pages < 100, "the walk does not end");
    }
    seen
}

/// The key of `node` under `field`, with the id that breaks ties.
fn key(node: &Value, field: &str) -> (String, String) {
    (
        node[field].as_str().unwrap_or_default().to_owned(),
        node["id"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Asserts the walk saw exactly `expected` (by id) in `field` order, ties by id.
fn assert_ordered(seen: &[Value], field: &str, descending: bool, expected_ids: &[String]) {
    let keys: Vec<(String, String)> = seen.iter().map(|n| key(n, field)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    if descending {
        sorted.reverse();
    }
    assert_eq!(keys, sorted, "not in {field} order");
    let mut ids: Vec<String> = keys.into_iter().map(|k| k.1).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "a row was repeated");
    let mut expected = expected_ids.to_vec();
    expected.sort();
    assert_eq!(ids, expected, "rows were skipped or foreign");
}

/// Raw ids sort like the UUIDs inside them only within one type; compare Relay IDs decoded.
fn uuid_of(id: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(id)
        .unwrap();
    String::from_utf8(raw).unwrap()
}

fn with_raw_ids(nodes: Vec<Value>) -> Vec<Value> {
    nodes
        .into_iter()
        .map(|mut n| {
            let raw = uuid_of(n["id"].as_str().unwrap());
            n["id"] = Value::String(raw);
            n
        })
        .collect()
}

fn raw_ids(ids: &[String]) -> Vec<String> {
    ids.iter().map(|i| uuid_of(i)).collect()
}

const LAST_NAMES: [&str; 7] = ["Zeta", "Alpha", "Mu", "Mu", "Beta", "Mu", "Omega"];

#[tokio::test]
async fn users_in_every_order_and_direction_page_forward_and_backward_across_inserts_without_skips_or_repeats()
 {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = org.admin.token.clone();
    let mut expected = vec![org.admin_user_id.clone()];
    for (i, last) in LAST_NAMES.iter().enumerate() {
        expected.push(invite_named(&app, &token, &format!("F{}", i % 3), last, i % 2 == 0).await);
    }
    let fields = [
        ("LAST_NAME", "lastName"),
        ("FIRST_NAME", "firstName"),
        ("EMAIL", "email"),
        ("STATUS", "status"),
        ("INVITED_AT", "invitedAt"),
    ];
    for (field, json_field) in fields {
        for (direction, descending) in [("ASC", false), ("DESC", true)] {
            for backward in [false, true] {
                let mut late: Vec<String> = Vec::new();
                let seen = walk(
                    &app,
                    &token,
                    "users",
                    json!({ "field": field, "direction": direction }),
                    3,
                    backward,
                    async || {
                        // Rows land before and after the cursor while the client pages.
                        late.push(invite_named(&app, &token, "Aa", "Aardvark", false).await);
                        late.push(invite_named(&app, &token, "Zz", "Zzyzx", true).await);
                    },
                )
                .await;
                let seen = with_raw_ids(seen);
                let keys: Vec<(String, String)> = seen.iter().map(|n| key(n, json_field)).collect();
                let mut sorted = keys.clone();
                sorted.sort();
                if descending {
                    sorted.reverse();
                }
                assert_eq!(keys, sorted, "{field} {direction} backward={backward}");
                let ids: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
                let mut unique = ids.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(
                    unique.len(),
                    ids.len(),
                    "{field} {direction}: a row repeated"
                );
                for id in raw_ids(&expected) {
                    assert!(ids.contains(&id), "{field} {direction}: {id} skipped");
                }
                expected.extend(late);
            }
        }
    }
}

#[tokio::test]
async fn ties_are_broken_by_id_in_the_direction_of_the_order() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut mus = Vec::new();
    for _ in 0..4 {
        mus.push(invite_named(&app, &org.admin.token, "Same", "Mu", false).await);
    }
    for (direction, reverse) in [("ASC", false), ("DESC", true)] {
        let seen = walk(
            &app,
            &org.admin.token,
            "users",
            json!({ "field": "LAST_NAME", "direction": direction }),
            1,
            false,
            async || {},
        )
        .await;
        let got: Vec<String> = seen
            .iter()
            .filter(|n| n["lastName"] == "Mu")
            .map(|n| uuid_of(n["id"].as_str().unwrap()))
            .collect();
        let mut want = raw_ids(&mus);
        want.sort();
        if reverse {
            want.reverse();
        }
        assert_eq!(got, want, "{direction}");
    }
}

#[tokio::test]
async fn drivers_ordered_by_last_name_keep_their_filter_and_page_exactly() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut drivers = Vec::new();
    for last in LAST_NAMES {
        drivers.push(crate::helpers::driver_id_of(
            &invite_named(&app, &org.admin.token, "D", last, true).await,
        ));
        invite_named(&app, &org.admin.token, "N", last, false).await;
    }
    let seen = walk(
        &app,
        &org.admin.token,
        "drivers",
        json!({ "field": "LAST_NAME" }),
        2,
        false,
        async || {},
    )
    .await;
    assert_ordered(&with_raw_ids(seen), "lastName", false, &raw_ids(&drivers));
}

#[tokio::test]
async fn routes_in_every_order_page_exactly_across_inserts() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = org.admin.token.clone();
    let create = async |name: &str, start: &str| -> String {
        let data = app
            .ok(
                Some(&token),
                "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
                json!({ "input": { "name": name, "plannedStart": start } }),
            )
            .await;
        data["createRoute"]["id"].as_str().unwrap().to_owned()
    };
    let mut expected = Vec::new();
    for (i, name) in ["North", "East", "North", "South", "West", "Alpha"]
        .iter()
        .enumerate()
    {
        let start = format!("2030-01-0{}T08:00:00Z", 1 + i % 3);
        expected.push(create(name, &start).await);
    }
    let cancelled = expected[1].clone();
    app.ok(
        Some(&token),
        "mutation($id: ID!) { cancelRoute(routeId: $id) { id } }",
        json!({ "id": cancelled }),
    )
    .await;
    for (field, json_field) in [
        ("PLANNED_START", "plannedStart"),
        ("NAME", "name"),
        ("STATUS", "status"),
    ] {
        for (direction, descending) in [("ASC", false), ("DESC", true)] {
            let mut late = Vec::new();
            let seen = walk(
                &app,
                &token,
                "routes",
                json!({ "field": field, "direction": direction }),
                2,
                false,
                async || {
                    late.push(create("Aaa", "2029-12-31T08:00:00Z").await);
                    late.push(create("Zzz", "2031-01-01T08:00:00Z").await);
                },
            )
            .await;
            let seen = with_raw_ids(seen);
            let keys: Vec<(String, String)> = seen.iter().map(|n| key(n, json_field)).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            if descending {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{field} {direction}");
            let ids: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
            for id in raw_ids(&expected) {
                assert!(ids.contains(&id), "{field} {direction}: {id} skipped");
            }
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                ids.len(),
                "{field} {direction}: a row repeated"
            );
            expected.extend(late);
        }
    }
}

#[tokio::test]
async fn depots_ordered_by_name_page_forward_and_backward() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut expected = Vec::new();
    for name in ["Hub", "Airport", "Hub", "Dock", "Yard"] {
        expected.push(app.depot(&org.admin.token, name).await);
    }
    for backward in [false, true] {
        let seen = walk(
            &app,
            &org.admin.token,
            "depots",
            json!({ "field": "NAME", "direction": "DESC" }),
            2,
            backward,
            async || {},
        )
        .await;
        assert_ordered(&with_raw_ids(seen), "name", true, &raw_ids(&expected));
    }
}

#[tokio::test]
async fn a_cursor_from_another_order_list_or_direction_is_bad_user_input() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for last in ["A", "B", "C"] {
        invite_named(&app, &org.admin.token, "X", last, true).await;
    }
    let page = |list: &str, order: Value, after: Option<String>| {
        let query = format!(
            "query($order: UserOrder, $after: String) {{ organization {{
                {list}(first: 1, after: $after, orderBy: $order) {{ pageInfo {{ endCursor }} }} }} }}"
        );
        let app = &app;
        let token = org.admin.token.clone();
        async move {
            app.gql(
                Some(&token),
                &query,
                json!({ "order": order, "after": after }),
            )
            .await
        }
    };
    let by_last = json!({ "field": "LAST_NAME" });
    let body = page("users", by_last.clone(), None).await;
    let cursor = body["data"]["organization"]["users"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        page("users", by_last.clone(), Some(cursor.clone()))
            .await
            .get("errors")
            .is_none()
    );
    for (list, order) in [
        ("users", json!({ "field": "FIRST_NAME" })),
        (
            "users",
            json!({ "field": "LAST_NAME", "direction": "DESC" }),
        ),
        ("users", Value::Null),
        ("drivers", by_last.clone()),
    ] {
        let body = page(list, order.clone(), Some(cursor.clone())).await;
        assert_code(&body, "BAD_USER_INPUT");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "after",
            "{list} {order}"
        );
    }
    // A cursor of the default order is refused by an ordered list too.
    let body = page("users", Value::Null, None).await;
    let plain = body["data"]["organization"]["users"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_code(&page("users", by_last, Some(plain)).await, "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_ordered_page_with_shared_drivers_costs_the_same_statements_for_5_and_for_300_rows() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let owner = app.create_org("Owner").await;
    let depot = app.depot(&org.admin.token, "Hub").await;
    for batch in 0..2 {
        let inputs: Vec<Value> = (0..200)
            .map(|i| json!({ "firstName": "D", "lastName": format!("L{batch}{i:03}"),
                "email": format!("d{batch}-{i}@example.test"), "roles": ["DRIVER"], "depotId": depot }))
            .collect();
        app.ok(
            Some(&org.admin.token),
            "mutation($inputs: [InviteUserInput!]!) { inviteUsers(inputs: $inputs) { email } }",
            json!({ "inputs": inputs }),
        )
        .await;
    }
    let mut shared = Vec::new();
    for _ in 0..3 {
        shared.push(app.member(&owner.admin.token, &["DRIVER"]).await.driver_id);
    }
    app.ok(
        Some(&owner.admin.token),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": org.id, "d": shared }),
    )
    .await;
    let query = "query($n: Int) { organization { drivers(first: $n, orderBy: { field: LAST_NAME, direction: DESC },
        filter: { includeShared: true }) { totalCount nodes { id owner { name } depot { name }
        user { email invitationExpiresAt } organization { name } available currentRoute { name } } } } }";
    let mut costs = Vec::new();
    for n in [5, 300] {
        let mut least = u64::MAX;
        for _ in 0..5 {
            let before = app.statements();
            let data = app
                .ok(Some(&org.admin.token), query, json!({ "n": n }))
                .await;
            least = least.min(app.statements() - before);
            let nodes = data["organization"]["drivers"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), n);
        }
        costs.push(least);
    }
    println!(
        "ordered includeShared page statements: 5 rows = {}, 300 rows = {}",
        costs[0], costs[1]
    );
    assert_eq!(costs[0], costs[1]);
}

#[tokio::test]
async fn each_drivers_routes_in_an_order_page_exactly_and_refuse_a_cursor_of_another_order() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = org.admin.token.clone();
    let busy = app.member(&token, &["DRIVER"]).await;
    let other = app.member(&token, &["DRIVER"]).await;
    for (driver, names) in [
        (&busy, &["Delta", "Alpha", "Echo", "Bravo", "Charlie"][..]),
        (&other, &["Zulu", "Yankee"][..]),
    ] {
        for name in names {
            let data = app
                .ok(
                    Some(&token),
                    "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
                    json!({ "input": { "name": name, "plannedStart": "2030-01-01T08:00:00Z" } }),
                )
                .await;
            let route = data["createRoute"]["id"].as_str().unwrap().to_owned();
            app.ok(
                Some(&token),
                "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
                json!({ "r": route, "d": driver.driver_id }),
            )
            .await;
            // One active route at a time: each is driven to its end before the next.
            for step in ["startRoute", "completeRoute"] {
                app.ok(
                    Some(&driver.session.token),
                    &format!("mutation($r: ID!) {{ {step}(routeId: $r) {{ id }} }}"),
                    json!({ "r": route }),
                )
                .await;
            }
        }
    }
    let page = "query($id: ID!, $after: String) { driver(id: $id) {
        routes(first: 2, after: $after, orderBy: { field: NAME, direction: DESC }) {
            nodes { name } pageInfo { hasNextPage endCursor } } } }";
    let mut names = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .ok(
                Some(&token),
                page,
                json!({ "id": busy.driver_id, "after": after }),
            )
            .await;
        let routes = &data["driver"]["routes"];
        for node in routes["nodes"].as_array().unwrap() {
            names.push(node["name"].as_str().unwrap().to_owned());
        }
        if routes["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = routes["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(names, ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]);
    // In a list of drivers each gets its own ordered page.
    let both = app
        .ok(
            Some(&token),
            "{ organization { drivers { nodes { id
                routes(first: 1, orderBy: { field: NAME }) { nodes { name } } } } } }",
            json!({}),
        )
        .await;
    let firsts: Vec<&str> = both["organization"]["drivers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["routes"]["nodes"][0]["name"].as_str())
        .collect();
    assert!(
        firsts.contains(&"Alpha") && firsts.contains(&"Yankee"),
        "{both}"
    );
    let unordered = app
        .ok(
            Some(&token),
            "query($id: ID!) { driver(id: $id) { routes(first: 1) { pageInfo { endCursor } } } }",
            json!({ "id": busy.driver_id }),
        )
        .await;
    let foreign = unordered["driver"]["routes"]["pageInfo"]["endCursor"].clone();
    let refused = app
        .gql(
            Some(&token),
            page,
            json!({ "id": busy.driver_id, "after": foreign }),
        )
        .await;
    assert_code(&refused, "BAD_USER_INPUT");
}
