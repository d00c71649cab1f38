//! Rules that read then write hold when requests race: assignment against deactivation and
//! deletion, and the last ACTIVE ADMIN against concurrent demotions.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Member, TestApp, code, spawn_app};

const ASSIGN: &str =
    "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }";
const DEACTIVATE: &str = "mutation($d: ID!) { setDriverInactive(driverId: $d) { id } }";
const DELETE: &str = "mutation($u: ID!) { deleteUser(id: $u) { deletedId } }";

async fn drivers_and_routes(app: &TestApp, token: &str, n: usize) -> Vec<(Member, String)> {
    let mut pairs = Vec::new();
    for i in 0..n {
        let driver = app.member(token, &["DRIVER"]).await;
        let route = app.route(token, &format!("Route {i}")).await;
        pairs.push((driver, route));
    }
    pairs
}

/// "ok", or the error code.
fn outcome(body: &Value) -> String {
    code(body).unwrap_or_else(|| "ok".into())
}

#[tokio::test]
async fn racing_assignments_and_deactivations_never_leave_an_inactive_driver_on_a_route() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = org.admin.token.clone();
    let pairs = drivers_and_routes(&app, &token, 50).await;
    let calls = pairs.iter().flat_map(|(driver, route)| {
        [
            app.gql(
                Some(&token),
                ASSIGN,
                json!({ "r": route, "d": driver.driver_id }),
            ),
            app.gql(Some(&token), DEACTIVATE, json!({ "d": driver.driver_id })),
        ]
    });
    let results = join_all(calls).await;
    for body in &results {
        let outcome = outcome(body);
        assert!(
            outcome == "ok" || outcome == "CONFLICT",
            "unexpected answer: {body}"
        );
    }
    let data = app
        .ok(
            Some(&token),
            "{ organization { drivers(first: 500) { nodes { id status currentRoute { id } } } } }",
            json!({}),
        )
        .await;
    let nodes = data["organization"]["drivers"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes.len(), 50);
    for node in nodes {
        assert!(
            node["status"] != "INACTIVE" || node["currentRoute"].is_null(),
            "INACTIVE driver on a route: {node}"
        );
    }
}

#[tokio::test]
async fn racing_assignments_and_deletions_never_both_succeed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let token = org.admin.token.clone();
    let pairs = drivers_and_routes(&app, &token, 20).await;
    let calls = pairs.iter().map(|(driver, route)| {
        let token = token.clone();
        let app = &app;
        async move {
            let (assign, delete) = tokio::join!(
                app.gql(
                    Some(&token),
                    ASSIGN,
                    json!({ "r": route, "d": driver.driver_id })
                ),
                app.gql(Some(&token), DELETE, json!({ "u": driver.user_id })),
            );
            (outcome(&assign), outcome(&delete))
        }
    });
    for (assign, delete) in join_all(calls).await {
        assert!(
            ["ok", "CONFLICT", "NOT_FOUND"].contains(&assign.as_str()),
            "assign answered {assign}"
        );
        assert!(
            ["ok", "CONFLICT"].contains(&delete.as_str()),
            "delete answered {delete}"
        );
        assert!(
            !(assign == "ok" && delete == "ok"),
            "a deleted driver was assigned"
        );
        assert!(
            assign == "ok" || delete == "ok",
            "neither won: assign {assign}, delete {delete}"
        );
    }
    let routes = app
        .ok(Some(&token), "{ organization { routes(first: 500, filter: { status: [PLANNED] }) { nodes { driver { id } } } } }", json!({}))
        .await;
    let assigned = routes["organization"]["routes"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter(|r| !r["driver"].is_null()).count());
    let drivers = app
        .ok(
            Some(&token),
            "{ organization { drivers { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        assigned.map(|n| n as i64),
        drivers["organization"]["drivers"]["totalCount"].as_i64(),
        "every surviving driver is the one assigned"
    );
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_active_admin() {
    for _ in 0..5 {
        let app = spawn_app().await;
        let org = app.create_org("Acme").await;
        let second = app.member(&org.admin.token, &["ADMIN"]).await;
        let demote =
            "mutation($u: ID!) { editUser(id: $u, input: { roles: [DISPATCHER] }) { id } }";
        let (a, b) = tokio::join!(
            app.gql(
                Some(&org.admin.token),
                demote,
                json!({ "u": second.user_id })
            ),
            app.gql(
                Some(&second.session.token),
                demote,
                json!({ "u": org.admin_user_id })
            ),
        );
        let outcomes = [outcome(&a), outcome(&b)];
        assert!(outcomes.contains(&"ok".to_owned()), "{a} {b}");
        assert!(
            // FORBIDDEN: the other demotion committed first, so this caller is no longer an ADMIN.
            outcomes
                .iter()
                .all(|o| o == "ok" || o == "CONFLICT" || o == "FORBIDDEN"),
            "{a} {b}"
        );
        let admins = app
            .ok(Some(if outcomes[0] == "ok" { &org.admin.token } else { &second.session.token }),
                "{ organization { users(filter: { roles: [ADMIN], status: [ACTIVE] }) { totalCount } } }", json!({}))
            .await;
        assert_eq!(admins["organization"]["users"]["totalCount"], 1);
    }
}
