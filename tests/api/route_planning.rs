//! Route planning's one list: `drivers(filter: {includeShared: true})` with every filter and
//! order, shared drivers in the partner view; `sharedWithUs(filter:)`.

use serde_json::{Value, json};

use crate::helpers::{Org, PASSWORD, TestApp, assert_code, driver_id_of, spawn_app};

/// An ACTIVE driver with these names in the organization of `token`; returns its Driver ID.
async fn driver(app: &TestApp, token: &str, first: &str, last: &str) -> String {
    let email = format!("{}@example.test", uuid::Uuid::now_v7().simple());
    let data = app
        .ok(
            Some(token),
            "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }",
            json!({ "input": { "firstName": first, "lastName": last, "email": email, "roles": ["DRIVER"] } }),
        )
        .await;
    let user_id = data["inviteUser"]["id"].as_str().unwrap().to_owned();
    let invitation = app.token_from_mail(&email, "/accept-invitation").await;
    app.ok(
        None,
        "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken } }",
        json!({ "input": { "token": invitation, "password": PASSWORD } }),
    )
    .await;
    driver_id_of(&user_id)
}

/// Owner with three drivers shared with the partner (one INACTIVE, one at the owner's depot),
/// one driver not shared; the partner with two drivers of its own (one at its depot).
struct Planning {
    app: TestApp,
    owner: Org,
    partner: Org,
    owner_depot: String,
    partner_depot: String,
    shared: [String; 3],
    not_shared: String,
    own: [String; 2],
}

async fn planning() -> Planning {
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let owner_depot = app.depot(&owner.admin.token, "Owner Hub").await;
    let partner_depot = app.depot(&partner.admin.token, "Partner Hub").await;
    let ot = owner.admin.token.clone();
    let shared = [
        driver(&app, &ot, "Sam", "Carter").await,
        driver(&app, &ot, "Sue", "Abbott").await,
        driver(&app, &ot, "Sid", "Evans").await,
    ];
    let not_shared = driver(&app, &ot, "Nora", "Baker").await;
    app.ok(
        Some(&ot),
        "mutation($id: ID!, $d: ID!) { editUser(id: $id, input: { depotId: $d }) { id } }",
        json!({ "id": crate::helpers::retype(&shared[0], "User"), "d": owner_depot }),
    )
    .await;
    app.ok(
        Some(&ot),
        "mutation($d: ID!) { setDriverInactive(driverId: $d) { id } }",
        json!({ "d": shared[2] }),
    )
    .await;
    app.ok(
        Some(&ot),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner.id, "d": shared }),
    )
    .await;
    let pt = partner.admin.token.clone();
    let own = [
        driver(&app, &pt, "Pia", "Dalton").await,
        driver(&app, &pt, "Pete", "Fisher").await,
    ];
    app.ok(
        Some(&pt),
        "mutation($id: ID!, $d: ID!) { editUser(id: $id, input: { depotId: $d }) { id } }",
        json!({ "id": crate::helpers::retype(&own[0], "User"), "d": partner_depot }),
    )
    .await;
    Planning {
        app,
        owner,
        partner,
        owner_depot,
        partner_depot,
        shared,
        not_shared,
        own,
    }
}

const DRIVERS: &str = "query($f: DriverFilter, $o: UserOrder, $first: Int, $after: String) {
    organization { drivers(filter: $f, orderBy: $o, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { id lastName status owner { name } organization { id } user { id }
            depot { id } sharedWith { id } } } } }";

async fn drivers(app: &TestApp, token: &str, filter: Value) -> Value {
    app.ok(Some(token), DRIVERS, json!({ "f": filter })).await["organization"]["drivers"].clone()
}

fn ids_of(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn include_shared_lists_own_and_shared_drivers_together_with_shared_ones_in_the_partner_view()
{
    let p = planning().await;
    let token = &p.partner.admin.token;
    let page = drivers(&p.app, token, json!({ "includeShared": true })).await;
    let all: Vec<&String> = p.own.iter().chain(p.shared.iter()).collect();
    assert_eq!(ids_of(&page), sorted(&all));
    assert_eq!(page["totalCount"], 5);
    for node in page["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap().to_owned();
        if p.shared.contains(&id) {
            assert_eq!(node["owner"]["name"], "Owner Fleet");
            for hidden in ["organization", "user", "depot", "sharedWith"] {
                assert_eq!(
                    node[hidden],
                    Value::Null,
                    "{hidden} of a shared driver: {node}"
                );
            }
        } else {
            assert_eq!(node["owner"]["name"], "Partner Fleet");
            assert_eq!(node["organization"]["id"], p.partner.id.as_str());
            assert!(node["user"]["id"].is_string());
        }
    }
    assert!(!ids_of(&page).contains(&p.not_shared));
    // Without the flag, and for the owner, nothing changes.
    let plain = drivers(&p.app, token, json!({})).await;
    assert_eq!(ids_of(&plain), sorted(&p.own.iter().collect::<Vec<_>>()));
    let owners = drivers(
        &p.app,
        &p.owner.admin.token,
        json!({ "includeShared": true }),
    )
    .await;
    assert_eq!(owners["totalCount"], 4);
}

#[tokio::test]
async fn every_driver_filter_applies_to_shared_drivers_as_to_own_ones() {
    let p = planning().await;
    let token = &p.partner.admin.token;
    let active = drivers(
        &p.app,
        token,
        json!({ "includeShared": true, "status": ["ACTIVE"] }),
    )
    .await;
    let want: Vec<&String> = p.own.iter().chain(p.shared[..2].iter()).collect();
    assert_eq!(ids_of(&active), sorted(&want));
    assert_eq!(active["totalCount"], 4);

    let inactive = drivers(
        &p.app,
        token,
        json!({ "includeShared": true, "available": false }),
    )
    .await;
    assert_eq!(ids_of(&inactive), sorted(&[&p.shared[2]]));

    let search = drivers(
        &p.app,
        token,
        json!({ "includeShared": true, "search": "ABBO" }),
    )
    .await;
    assert_eq!(ids_of(&search), sorted(&[&p.shared[1]]));

    // A depot filter names the partner's own depot; the owner's depot stays invisible to it.
    let own_depot = drivers(
        &p.app,
        token,
        json!({ "includeShared": true, "depotId": p.partner_depot }),
    )
    .await;
    assert_eq!(ids_of(&own_depot), sorted(&[&p.own[0]]));
    let foreign_depot = drivers(
        &p.app,
        token,
        json!({ "includeShared": true, "depotId": p.owner_depot }),
    )
    .await;
    assert_eq!(ids_of(&foreign_depot), Vec::<String>::new());
    assert_eq!(foreign_depot["totalCount"], 0);
}

#[tokio::test]
async fn an_ordered_include_shared_list_pages_own_and_shared_drivers_in_one_order() {
    let p = planning().await;
    let token = &p.partner.admin.token;
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = p
            .app
            .ok(
                Some(token),
                DRIVERS,
                json!({ "f": { "includeShared": true }, "o": { "field": "LAST_NAME" },
                        "first": 2, "after": after }),
            )
            .await;
        let page = &data["organization"]["drivers"];
        for node in page["nodes"].as_array().unwrap() {
            seen.push(node["lastName"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["Abbott", "Carter", "Dalton", "Evans", "Fisher"]);
}

#[tokio::test]
async fn an_unshared_driver_leaves_the_list_and_a_driver_role_sees_only_itself() {
    let p = planning().await;
    p.app
        .ok(
            Some(&p.owner.admin.token),
            "mutation($d: ID!, $p: ID!) { unshareDriver(driverId: $d, partnerId: $p) { id } }",
            json!({ "d": p.shared[0], "p": p.partner.id }),
        )
        .await;
    let page = drivers(
        &p.app,
        &p.partner.admin.token,
        json!({ "includeShared": true }),
    )
    .await;
    assert!(!ids_of(&page).contains(&p.shared[0]));
    assert_eq!(page["totalCount"], 4);

    let member = p.app.member(&p.partner.admin.token, &["DRIVER"]).await;
    let page = drivers(
        &p.app,
        &member.session.token,
        json!({ "includeShared": true }),
    )
    .await;
    assert_eq!(ids_of(&page), vec![member.driver_id]);
}

#[tokio::test]
async fn shared_with_us_takes_the_driver_filter() {
    let p = planning().await;
    let query = "query($f: DriverFilter) { organization { sharedWithUs(filter: $f) {
        totalCount nodes { driver { id } } } } }";
    let shared = async |filter: Value| -> Vec<String> {
        let data = p
            .app
            .ok(Some(&p.partner.admin.token), query, json!({ "f": filter }))
            .await;
        let mut ids: Vec<String> = data["organization"]["sharedWithUs"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["driver"]["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        shared(json!({})).await,
        sorted(&p.shared.iter().collect::<Vec<_>>())
    );
    assert_eq!(
        shared(json!({ "status": ["INACTIVE"] })).await,
        sorted(&[&p.shared[2]])
    );
    assert_eq!(
        shared(json!({ "search": "carter" })).await,
        sorted(&[&p.shared[0]])
    );
    assert_eq!(
        shared(json!({ "depotId": p.owner_depot })).await,
        Vec::<String>::new()
    );
    let bad = p
        .app
        .gql(
            Some(&p.partner.admin.token),
            query,
            json!({ "f": { "depotId": "nonsense" } }),
        )
        .await;
    assert_code(&bad, "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_include_shared_list_in_the_default_order_pages_forward_and_backward_exactly() {
    let p = planning().await;
    let token = &p.partner.admin.token;
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
        organization { drivers(filter: { includeShared: true }, first: $first, after: $after,
            last: $last, before: $before) {
            nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";
    let whole = p.app.ok(Some(token), query, json!({ "first": 50 })).await;
    let all: Vec<String> = whole["organization"]["drivers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 5);
    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = p
            .app
            .ok(Some(token), query, json!({ "first": 2, "after": after }))
            .await;
        let page = &data["organization"]["drivers"];
        for n in page["nodes"].as_array().unwrap() {
            forward.push(n["id"].as_str().unwrap().to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(forward, all);
    let mut backward: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = p
            .app
            .ok(Some(token), query, json!({ "last": 2, "before": before }))
            .await;
        let page = &data["organization"]["drivers"];
        let mut chunk: Vec<String> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        chunk.extend(backward);
        backward = chunk;
        if page["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(backward, all);
}
