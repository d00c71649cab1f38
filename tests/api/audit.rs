//! The audit trail: `organization.statusEvents` holds exactly what the organization's live
//! stream received, newest first, filtered and paged, for `EVENT_RETENTION_DAYS`.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;
use sea_orm::sea_query::Expr;
use serde_json::{Value, json};

use crate::helpers::{Member, Org, TestApp, assert_code, spawn_app};
use crate::live::{Proto, Ws};

/// The fields of an event that do not depend on when they are read.
const FIELDS: &str =
    "cursor kind at userId driverId previousStatus status partner { id name } route { id }";

fn trail_query() -> String {
    format!(
        "query($first: Int, $after: String, $last: Int, $before: String, $f: StatusEventFilter) {{
            organization {{ statusEvents(first: $first, after: $after, last: $last, before: $before, filter: $f) {{
                totalCount edges {{ cursor }} nodes {{ {FIELDS} }}
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
    )
}

async fn trail(app: &TestApp, token: &str, vars: Value) -> Value {
    app.ok(Some(token), &trail_query(), vars).await["organization"]["statusEvents"].clone()
}

/// The stable fields of a live event.
fn stable(event: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "cursor",
        "kind",
        "at",
        "userId",
        "driverId",
        "previousStatus",
        "status",
        "partner",
    ] {
        out.insert(key.into(), event[key].clone());
    }
    out.insert(
        "route".into(),
        match &event["route"] {
            Value::Null => Value::Null,
            r => json!({ "id": r["id"] }),
        },
    );
    Value::Object(out)
}

/// Everything a socket receives up to and including the event with `last` cursor.
async fn received_until(ws: &mut Ws, last: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = ws.event().await;
        let cursor = event["cursor"].as_str().unwrap_or_default().to_owned();
        seen.push(stable(&event));
        if cursor == last {
            return seen;
        }
    }
}

struct Story {
    app: TestApp,
    owner: Org,
    partner: Org,
    drivers: [Member; 2],
    owner_seen: Vec<Value>,
    partner_seen: Vec<Value>,
}

const SET_INACTIVE: &str = "mutation($d: ID!) { setDriverInactive(driverId: $d) { id } }";
const SET_ACTIVE: &str = "mutation($d: ID!) { setDriverActive(driverId: $d) { id } }";

/// Owner and partner watch live while drivers are invited, shared, set INACTIVE and back,
/// assigned to a partner's route and unassigned, one unshared and then changed again; a third
/// organization's changes go on beside them. Ends with a change both receive.
async fn story() -> Story {
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let other = app.create_org("Other Fleet").await;
    let mut owner_ws = Ws::connect(&app, Proto::Transport, &owner.admin.token).await;
    owner_ws.subscribe("o", None).await;
    let mut partner_ws = Ws::connect(&app, Proto::Legacy, &partner.admin.token).await;
    partner_ws.subscribe("p", None).await;

    let ot = owner.admin.token.clone();
    let pt = partner.admin.token.clone();
    let drivers = [
        app.member(&ot, &["DRIVER"]).await,
        app.member(&ot, &["DRIVER"]).await,
    ];
    app.member(&other.admin.token, &["DRIVER"]).await;
    app.ok(
        Some(&ot),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner.id, "d": [drivers[0].driver_id, drivers[1].driver_id] }),
    )
    .await;
    app.ok(
        Some(&ot),
        SET_INACTIVE,
        json!({ "d": drivers[0].driver_id }),
    )
    .await;
    app.ok(Some(&ot), SET_ACTIVE, json!({ "d": drivers[0].driver_id }))
        .await;
    let route = app.route(&pt, "Partner run").await;
    app.ok(
        Some(&pt),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": route, "d": drivers[1].driver_id }),
    )
    .await;
    app.ok(
        Some(&pt),
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
        json!({ "r": route }),
    )
    .await;
    let own_route = app.route(&ot, "Own run").await;
    app.ok(
        Some(&ot),
        "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
        json!({ "r": own_route, "d": drivers[0].driver_id }),
    )
    .await;
    app.ok(
        Some(&ot),
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
        json!({ "r": own_route }),
    )
    .await;
    app.ok(
        Some(&ot),
        "mutation($d: ID!, $p: ID!) { unshareDriver(driverId: $d, partnerId: $p) { id } }",
        json!({ "d": drivers[1].driver_id, "p": partner.id }),
    )
    .await;
    app.ok(
        Some(&ot),
        SET_INACTIVE,
        json!({ "d": drivers[1].driver_id }),
    )
    .await;
    // The last change, which both receive.
    app.ok(
        Some(&ot),
        SET_INACTIVE,
        json!({ "d": drivers[0].driver_id }),
    )
    .await;
    let newest = trail(&app, &ot, json!({ "first": 1 })).await["nodes"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let owner_seen = received_until(&mut owner_ws, &newest).await;
    let partner_seen = received_until(&mut partner_ws, &newest).await;
    Story {
        app,
        owner,
        partner,
        drivers,
        owner_seen,
        partner_seen,
    }
}

fn nodes(page: &Value) -> Vec<Value> {
    page["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_owners_and_the_partners_audit_trails_hold_exactly_what_their_live_streams_received() {
    let s = story().await;
    for (token, seen, who) in [
        (&s.owner.admin.token, &s.owner_seen, "owner"),
        (&s.partner.admin.token, &s.partner_seen, "partner"),
    ] {
        let page = trail(&s.app, token, json!({ "first": 500 })).await;
        let mut listed = nodes(&page);
        listed.reverse();
        assert_eq!(&listed, seen, "{who}");
        assert_eq!(page["totalCount"], seen.len(), "{who}");
        let cursors: Vec<&Value> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect();
        let own: Vec<&Value> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["cursor"])
            .collect();
        assert_eq!(cursors, own, "{who}: an edge's cursor is its event's");
    }
    // The partner saw some events, in the partner view, and fewer than the owner.
    assert!(!s.partner_seen.is_empty());
    assert!(s.partner_seen.len() < s.owner_seen.len());
    assert!(s.partner_seen.iter().all(|e| e["userId"].is_null()));
    let kinds: Vec<&str> = s
        .partner_seen
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"INVITED") && !kinds.contains(&"ACTIVATED"));
    assert!(kinds.contains(&"ASSIGNED") && kinds.contains(&"UNSHARED"));
}

#[tokio::test]
async fn the_audit_trail_is_newest_first_and_pages_forward_and_backward_without_skips_or_repeats() {
    let s = story().await;
    let token = &s.owner.admin.token;
    let mut expected = s.owner_seen.clone();
    expected.reverse();
    let mut seen: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = trail(&s.app, token, json!({ "first": 3, "after": after })).await;
        seen.extend(nodes(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
    let mut back: Vec<Value> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = trail(&s.app, token, json!({ "last": 4, "before": before })).await;
        let mut chunk = nodes(&page);
        chunk.extend(back);
        back = chunk;
        if page["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(back, expected);
    let bad = s
        .app
        .gql(
            Some(token),
            &trail_query(),
            json!({ "after": "not-a-cursor" }),
        )
        .await;
    assert_code(&bad, "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_audit_trail_filters_by_kinds_driver_user_and_time_range_for_owner_and_partner() {
    let s = story().await;
    let (ot, pt) = (&s.owner.admin.token, &s.partner.admin.token);
    let newest_first = |seen: &Vec<Value>, keep: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        let mut v: Vec<Value> = seen.iter().filter(|e| keep(e)).cloned().collect();
        v.reverse();
        v
    };
    let f = |filter: Value| json!({ "first": 500, "f": filter });

    let kinds = json!({ "kinds": ["DEACTIVATED", "SHARED"] });
    let is_kind = |e: &Value| e["kind"] == "DEACTIVATED" || e["kind"] == "SHARED";
    for (token, seen) in [(ot, &s.owner_seen), (pt, &s.partner_seen)] {
        let page = trail(&s.app, token, f(kinds.clone())).await;
        let want = newest_first(seen, &is_kind);
        assert!(!want.is_empty());
        assert_eq!(nodes(&page), want);
        assert_eq!(page["totalCount"], want.len());
    }

    let d = s.drivers[1].driver_id.clone();
    let of_driver = |e: &Value| e["driverId"] == d.as_str();
    for (token, seen) in [(ot, &s.owner_seen), (pt, &s.partner_seen)] {
        let page = trail(&s.app, token, f(json!({ "driverId": d }))).await;
        assert_eq!(nodes(&page), newest_first(seen, &of_driver));
    }

    let u = s.drivers[0].user_id.clone();
    let page = trail(&s.app, ot, f(json!({ "userId": u }))).await;
    let want = newest_first(&s.owner_seen, &|e: &Value| e["userId"] == u.as_str());
    assert!(!want.is_empty());
    assert_eq!(nodes(&page), want);
    // Partners never see users: a user filter finds nothing for them.
    let page = trail(&s.app, pt, f(json!({ "userId": u }))).await;
    assert_eq!(nodes(&page), Vec::<Value>::new());

    // `from` is inclusive, `to` exclusive.
    let all = &s.owner_seen;
    let (from, to) = (&all[2]["at"], &all[all.len() - 2]["at"]);
    let page = trail(&s.app, ot, f(json!({ "from": from, "to": to }))).await;
    let want = newest_first(all, &|e: &Value| {
        e["at"].as_str() >= from.as_str() && e["at"].as_str() < to.as_str()
    });
    assert!(!want.is_empty());
    assert_eq!(nodes(&page), want);
}

#[tokio::test]
async fn a_driver_may_not_read_the_audit_trail() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    let body = app
        .gql(Some(&driver.session.token), &trail_query(), json!({}))
        .await;
    assert_code(&body, "FORBIDDEN");
}

#[tokio::test]
async fn the_audit_trail_costs_the_same_statements_for_a_page_of_5_as_for_a_page_of_190() {
    let app = spawn_app().await;
    let org = app.create_org("Acme").await;
    let partner = app.create_org("Partner").await;
    let mut drivers = Vec::new();
    for _ in 0..6 {
        drivers.push(app.member(&org.admin.token, &["DRIVER"]).await.driver_id);
    }
    app.ok(
        Some(&org.admin.token),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner.id, "d": drivers }),
    )
    .await;
    for _ in 0..16 {
        for d in &drivers {
            app.ok(Some(&org.admin.token), SET_INACTIVE, json!({ "d": d }))
                .await;
            app.ok(Some(&org.admin.token), SET_ACTIVE, json!({ "d": d }))
                .await;
        }
    }
    let query = "query($n: Int) { organization { statusEvents(first: $n) { totalCount
        nodes { cursor kind driver { id firstName owner { name } } user { id email }
        partner { name } route { name } } } } }";
    let cost = async |token: &str, n: usize| -> u64 {
        let mut least = u64::MAX;
        for _ in 0..5 {
            let before = app.statements();
            let data = app.ok(Some(token), query, json!({ "n": n })).await;
            least = least.min(app.statements() - before);
            assert_eq!(
                data["organization"]["statusEvents"]["nodes"]
                    .as_array()
                    .map(Vec::len),
                Some(n)
            );
        }
        least
    };
    for token in [&org.admin.token, &partner.admin.token] {
        let small = cost(token, 5).await;
        let large = cost(token, 190).await;
        println!("audit trail statements: page of 5 = {small}, page of 190 = {large}");
        assert_eq!(small, large);
    }
}

#[tokio::test]
async fn events_are_kept_400_days_by_default_and_a_replay_accepts_any_cursor_still_kept() {
    let app = spawn_app().await;
    assert_eq!(app.state.settings.event_retention_days, 400);
    let org = app.create_org("Acme").await;
    let driver = app.member(&org.admin.token, &["DRIVER"]).await;
    app.ok(
        Some(&org.admin.token),
        SET_INACTIVE,
        json!({ "d": driver.driver_id }),
    )
    .await;
    // Every event so far happened a month ago: older than the old 7-day window.
    entity::status_event::Entity::update_many()
        .col_expr(
            entity::status_event::Column::At,
            Expr::value(Utc::now() - Duration::days(30)),
        )
        .exec(&app.state.db.conn)
        .await
        .unwrap();
    let removed = lastmile::events::retention::prune(&app.state.db, 400)
        .await
        .unwrap();
    assert_eq!(removed, 0);
    let page = trail(&app, &org.admin.token, json!({ "last": 1 })).await;
    let oldest = page["nodes"][0]["cursor"].as_str().unwrap().to_owned();
    let total = page["totalCount"].as_i64().unwrap();
    assert!(total >= 3, "{page}");
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("r", Some(&oldest)).await;
    for _ in 1..total {
        assert!(ws.event().await["kind"].is_string());
    }
    // A shorter retention removes them: the audit trail is empty and the cursor refused.
    lastmile::events::retention::prune(&app.state.db, 7)
        .await
        .unwrap();
    let page = trail(&app, &org.admin.token, json!({})).await;
    assert_eq!(page["totalCount"], 0);
    let mut ws = Ws::connect(&app, Proto::Transport, &org.admin.token).await;
    ws.subscribe("late", Some(&oldest)).await;
    let refused = ws.recv().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
}

#[tokio::test]
async fn an_event_row_loaded_straight_into_the_log_reaches_the_partners_audit_trail_as_its_stream()
{
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    let uuid_of = |id: &str| -> uuid::Uuid {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(id)
            .unwrap();
        let text = String::from_utf8(raw).unwrap();
        text.split_once(':').unwrap().1.parse().unwrap()
    };
    let other = uuid::Uuid::now_v7();
    let row = entity::status_event::ActiveModel {
        kind: Set(entity::status_event::EventKind::Deactivated),
        organization_id: Set(uuid_of(&owner.id)),
        user_id: Set(uuid_of(&driver.user_id)),
        is_driver: Set(true),
        partner_id: Set(None),
        route_id: Set(None),
        route_organization_id: Set(None),
        previous_status: Set(Some(entity::user::UserStatus::Active)),
        status: Set(Some(entity::user::UserStatus::Inactive)),
        audience: Set(format!("{other},{}", uuid_of(&partner.id))),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.state.db.conn)
    .await
    .unwrap();
    let page = trail(&app, &partner.admin.token, json!({})).await;
    assert_eq!(page["totalCount"], 1, "{page}");
    assert_eq!(page["nodes"][0]["cursor"], row.id.to_string());
    assert_eq!(page["nodes"][0]["userId"], Value::Null);
    let owners = trail(&app, &owner.admin.token, json!({ "first": 1 })).await;
    assert_eq!(owners["nodes"][0]["cursor"], row.id.to_string());
}

#[tokio::test]
async fn the_dashboard_migrations_roll_back_and_apply_again_with_events_in_the_log() {
    use migration::{Migrator, MigratorTrait};
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    app.ok(
        Some(&owner.admin.token),
        "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
        json!({ "p": partner.id, "d": [driver.driver_id] }),
    )
    .await;
    app.ok(
        Some(&owner.admin.token),
        SET_INACTIVE,
        json!({ "d": driver.driver_id }),
    )
    .await;
    let before = trail(&app, &partner.admin.token, json!({})).await;
    assert_eq!(before["totalCount"], 2);
    let conn = &app.state.db.conn;
    Migrator::down(conn, Some(3)).await.unwrap();
    Migrator::up(conn, None).await.unwrap();
    // The audience index was rebuilt from the log.
    let after = trail(&app, &partner.admin.token, json!({})).await;
    assert_eq!(after, before);
}
