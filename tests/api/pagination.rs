//! Relay pagination (forward, backward, inserts between pages, limits) and the list filters.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_code, spawn_app};

const USERS_PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
    organization { users(first: $first, after: $after, last: $last, before: $before) {
        totalCount edges { cursor node { id } } nodes { id }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";

async fn invite_many(app: &TestApp, token: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.invite(token, &format!("{prefix}{i}@example.test"), &["DISPATCHER"])
                .await,
        );
    }
    ids
}

fn ids(page: &Value) -> Vec<String> {
    page["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_forward_walk_with_inserts_between_pages_skips_and_repeats_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut expected = vec![org.admin_user_id.clone()];
    expected.extend(invite_many(&app, &org.admin.token, "a", 7).await);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app
            .ok(
                Some(&org.admin.token),
                USERS_PAGE,
                json!({ "first": 3, "after": after }),
            )
            .await;
        let page = &data["organization"]["users"];
        seen.extend(ids(page));
        assert_eq!(page["edges"][0]["node"]["id"], page["nodes"][0]["id"]);
        pages += 1;
        if pages == 1 {
            assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
            // New users arrive while the client is paging.
            expected.extend(invite_many(&app, &org.admin.token, "late", 2).await);
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 4);
}

#[tokio::test]
async fn a_backward_walk_returns_pages_in_order_from_the_end() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let mut expected = vec![org.admin_user_id.clone()];
    expected.extend(invite_many(&app, &org.admin.token, "b", 6).await);
    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = app
            .ok(
                Some(&org.admin.token),
                USERS_PAGE,
                json!({ "last": 3, "before": before }),
            )
            .await;
        let page = &data["organization"]["users"];
        let mut chunk = ids(page);
        chunk.extend(seen);
        seen = chunk;
        if page["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_default_page_is_fifty_and_total_count_counts_all() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    invite_many(&app, &org.admin.token, "c", 51).await;
    let data = app.ok(Some(&org.admin.token), USERS_PAGE, json!({})).await;
    let page = &data["organization"]["users"];
    assert_eq!(page["nodes"].as_array().map(Vec::len), Some(50));
    assert_eq!(page["totalCount"], 52);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn page_sizes_over_500_both_directions_at_once_and_foreign_cursors_are_bad_input() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    for vars in [
        json!({ "first": 501 }),
        json!({ "last": 501 }),
        json!({ "first": -1 }),
        json!({ "first": 2, "last": 2 }),
        json!({ "after": "not-a-cursor" }),
    ] {
        let body = app
            .gql(Some(&org.admin.token), USERS_PAGE, vars.clone())
            .await;
        assert_code(&body, "BAD_USER_INPUT");
        assert!(
            body["data"].is_null() || body["data"]["organization"].is_null(),
            "{vars}: {body}"
        );
    }
    let max = app
        .gql(Some(&org.admin.token), USERS_PAGE, json!({ "first": 500 }))
        .await;
    assert!(max.get("errors").is_none(), "{max}");
}

#[tokio::test]
async fn user_filters_match_status_roles_and_case_insensitive_search() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    app.invite(&org.admin.token, "Zora.Quill@Example.test", &["DISPATCHER"])
        .await;
    let query = "query($f: UserFilter) { organization { users(filter: $f) { totalCount nodes { id email } } } }";
    let count = |data: &Value| data["organization"]["users"]["totalCount"].as_i64();
    let invited = app
        .ok(
            Some(&org.admin.token),
            query,
            json!({ "f": { "status": ["INVITED"] } }),
        )
        .await;
    assert_eq!(count(&invited), Some(1));
    let drivers = app
        .ok(
            Some(&org.admin.token),
            query,
            json!({ "f": { "roles": ["DRIVER"] } }),
        )
        .await;
    assert_eq!(
        drivers["organization"]["users"]["nodes"][0]["id"],
        driver.user_id.as_str()
    );
    let managers = app
        .ok(
            Some(&org.admin.token),
            query,
            json!({ "f": { "roles": ["ADMIN", "DISPATCHER"] } }),
        )
        .await;
    assert_eq!(count(&managers), Some(2));
    let search = app
        .ok(
            Some(&org.admin.token),
            query,
            json!({ "f": { "search": "ZORA.q" } }),
        )
        .await;
    assert_eq!(count(&search), Some(1));
    let wildcard = app
        .ok(
            Some(&org.admin.token),
            query,
            json!({ "f": { "search": "%" } }),
        )
        .await;
    assert_eq!(
        count(&wildcard),
        Some(0),
        "a % in search is a literal, not a wildcard"
    );
}

#[tokio::test]
async fn driver_filters_match_status_depot_availability_and_search() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let depot = app.depot(&org.admin.token, "North").await;
    let free = app.member(&org.admin.token, &["DRIVER"]).await;
    let busy = app.member(&org.admin.token, &["DRIVER"]).await;
    let off = app.member(&org.admin.token, &["DRIVER"]).await;
    app.invite(&org.admin.token, "pending@example.test", &["DRIVER"])
        .await;
    let token = &org.admin.token;
    app.ok(
        Some(token),
        "mutation($u: ID!, $i: EditUserInput!) { editUser(id: $u, input: $i) { id } }",
        json!({ "u": free.user_id, "i": { "depotId": depot } }),
    )
    .await;
    let route = app.route(token, "R").await;
    app.ok(
        Some(token),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": route, "d": busy.driver_id }),
    )
    .await;
    app.ok(
        Some(token),
        "mutation($d: ID!) { setDriverInactive(driverId: $d) { id } }",
        json!({ "d": off.driver_id }),
    )
    .await;

    let query = "query($f: DriverFilter) { organization { drivers(filter: $f) { totalCount nodes { id available } } } }";
    let found = |data: &Value| -> Vec<String> {
        data["organization"]["drivers"]["nodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|n| n["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let available = app
        .ok(Some(token), query, json!({ "f": { "available": true } }))
        .await;
    assert_eq!(found(&available), vec![free.driver_id.clone()]);
    let unavailable = app
        .ok(Some(token), query, json!({ "f": { "available": false } }))
        .await;
    assert_eq!(unavailable["organization"]["drivers"]["totalCount"], 3);
    let by_depot = app
        .ok(Some(token), query, json!({ "f": { "depotId": depot } }))
        .await;
    assert_eq!(found(&by_depot), vec![free.driver_id.clone()]);
    let inactive = app
        .ok(
            Some(token),
            query,
            json!({ "f": { "status": ["INACTIVE"] } }),
        )
        .await;
    assert_eq!(found(&inactive), vec![off.driver_id.clone()]);
    let search = app
        .ok(Some(token), query, json!({ "f": { "search": "PENDING@" } }))
        .await;
    assert_eq!(search["organization"]["drivers"]["totalCount"], 1);
    let wrong = app
        .gql(
            Some(token),
            query,
            json!({ "f": { "depotId": free.user_id } }),
        )
        .await;
    assert_code(&wrong, "BAD_USER_INPUT");
}

#[tokio::test]
async fn route_filters_match_status_driver_and_depot() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = &org.admin.token;
    let depot = app.depot(token, "North").await;
    let driver = app.member(token, &["DRIVER"]).await;
    let assigned = app.route(token, "Assigned").await;
    app.route(token, "Open").await;
    let at_depot = app
        .ok(Some(token), "mutation($i: RouteInput!) { createRoute(input: $i) { id } }", json!({ "i": { "name": "Depot route", "plannedStart": "2030-01-01T08:00:00Z", "depotId": depot } }))
        .await["createRoute"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.ok(
        Some(token),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": assigned, "d": driver.driver_id }),
    )
    .await;
    app.ok(
        Some(token),
        "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
        json!({ "r": at_depot }),
    )
    .await;

    let query = "query($f: RouteFilter) { organization { routes(filter: $f) { totalCount nodes { id } } } }";
    let first_id = |data: &Value| {
        data["organization"]["routes"]["nodes"][0]["id"]
            .as_str()
            .map(str::to_owned)
    };
    let by_driver = app
        .ok(
            Some(token),
            query,
            json!({ "f": { "driverId": driver.driver_id } }),
        )
        .await;
    assert_eq!(first_id(&by_driver), Some(assigned.clone()));
    let by_depot = app
        .ok(Some(token), query, json!({ "f": { "depotId": depot } }))
        .await;
    assert_eq!(first_id(&by_depot), Some(at_depot.clone()));
    let cancelled = app
        .ok(
            Some(token),
            query,
            json!({ "f": { "status": ["CANCELLED"] } }),
        )
        .await;
    assert_eq!(first_id(&cancelled), Some(at_depot));
    let planned = app
        .ok(
            Some(token),
            query,
            json!({ "f": { "status": ["PLANNED"] } }),
        )
        .await;
    assert_eq!(planned["organization"]["routes"]["totalCount"], 2);
}

#[tokio::test]
async fn users_rows_decoded_by_position_equal_the_same_rows_decoded_by_name() {
    use entity::user;
    use lastmile::service::rows;
    use sea_orm::sea_query::{Alias, Asterisk, Expr, Order, Query};
    use sea_orm::{EntityTrait, QueryOrder, QueryTrait};

    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    app.invite(&org.admin.token, "invited@example.test", &["DRIVER"])
        .await;
    app.member(&org.admin.token, &["DRIVER"]).await;
    app.member(&org.admin.token, &["DISPATCHER", "DRIVER"])
        .await;
    let conn = &app.state.db.conn;
    let by_name = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await
        .expect("read by name");
    // Invited and active rows, with and without an account and an activation time.
    assert_eq!(by_name.len(), 4);
    assert!(by_name.iter().any(|u| u.account_id.is_none()));
    assert!(by_name.iter().any(|u| u.activated_at.is_some()));
    let by_position = rows::all(conn, user::Entity::find().order_by_asc(user::Column::Id))
        .await
        .expect("read by position");
    assert_eq!(by_position, by_name);
    // A statement over the entity's columns with more after them, as unions and windows are.
    let wider = Query::select()
        .column(Asterisk)
        .expr_as(Expr::val(1), Alias::new("extra"))
        .from_subquery(user::Entity::find().into_query(), Alias::new("part"))
        .order_by(Alias::new("id"), Order::Asc)
        .to_owned();
    let statement = conn.get_database_backend().build(&wider);
    let wide = rows::all_raw::<user::Entity>(conn, statement)
        .await
        .expect("read a wider statement");
    assert_eq!(wide, by_name);
}
