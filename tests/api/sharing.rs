//! Sharing drivers with partner organizations: finding a partner, sharing and unsharing,
//! the owner's and the partner's views of a shared driver, and a full round trip.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use entity::status_event::{self, EventKind};

use crate::helpers::{Member, Org, TestApp, assert_code, driver_id_of, spawn_app};

const FIND: &str = "query($n: String!) { findOrganization(name: $n) { id name } }";
const SHARE: &str = "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) {
    id driver { id } owner { id name } partner { id name } } }";
const UNSHARE: &str =
    "mutation($d: ID!, $p: ID!) { unshareDriver(driverId: $d, partnerId: $p) { id } }";
const ASSIGN: &str = "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) {
    id driver { id firstName } } }";
const SHARED_BY_US: &str = "{ organization { sharedByUs { totalCount nodes { id
    driver { id } partner { id name } owner { id name } sharedBy { id } } } } }";
const SHARED_WITH_US: &str = "{ organization { sharedWithUs { totalCount nodes { id
    driver { id } partner { id name } owner { id name } sharedBy { id } } } } }";
const CARD_FIELDS: &str = "id firstName lastName email phone status available owner { id name }
    organization { id name } user { id email } depot { id name } sharedWith { id partner { name } }
    currentRoute { id name }";
const SET_INACTIVE: &str = "mutation($d: ID!) { setDriverInactive(driverId: $d) { id status } }";
const SET_ACTIVE: &str = "mutation($d: ID!) { setDriverActive(driverId: $d) { id status } }";
const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id) { deletedId } }";
const START: &str = "mutation($r: ID!) { startRoute(routeId: $r) { id status } }";
const COMPLETE: &str = "mutation($r: ID!) { completeRoute(routeId: $r) { id status } }";
const CANCEL: &str = "mutation($r: ID!) { cancelRoute(routeId: $r) { id status } }";

/// An owner with one ACTIVE driver, and a partner organization.
struct Fleet {
    app: TestApp,
    owner: Org,
    partner: Org,
    driver: Member,
}

async fn fleet() -> Fleet {
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    Fleet {
        app,
        owner,
        partner,
        driver,
    }
}

impl Fleet {
    /// Shares `drivers` with the partner as the owner's admin; returns the raw response.
    async fn share(&self, drivers: &[&str]) -> Value {
        self.app
            .gql(
                Some(&self.owner.admin.token),
                SHARE,
                json!({ "p": self.partner.id, "d": drivers }),
            )
            .await
    }

    async fn unshare(&self, driver: &str) -> Value {
        self.app
            .gql(
                Some(&self.owner.admin.token),
                UNSHARE,
                json!({ "d": driver, "p": self.partner.id }),
            )
            .await
    }

    /// The driver card as `token` sees it (`null` when not visible).
    async fn card(&self, token: &str, driver: &str) -> Value {
        let query = format!("query($id: ID!) {{ driver(id: $id) {{ {CARD_FIELDS} }} }}");
        self.app
            .ok(Some(token), &query, json!({ "id": driver }))
            .await["driver"]
            .clone()
    }

    /// A PLANNED route of the partner with the shared driver assigned.
    async fn partner_route_with(&self, driver: &str) -> String {
        let route = self
            .app
            .route(&self.partner.admin.token, "Partner run")
            .await;
        self.app
            .ok(
                Some(&self.partner.admin.token),
                ASSIGN,
                json!({ "r": route, "d": driver }),
            )
            .await;
        route
    }
}

async fn count(app: &TestApp, token: &str, query: &str, list: &str) -> i64 {
    app.ok(Some(token), query, json!({})).await["organization"][list]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

fn uuid_of(id: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(id)
        .expect("base64 ID");
    let text = String::from_utf8(raw).expect("utf8 ID");
    text.split_once(':')
        .and_then(|(_, u)| u.parse().ok())
        .expect("typed ID")
}

async fn events_of(app: &TestApp, driver: &str, kind: EventKind) -> u64 {
    status_event::Entity::find()
        .filter(status_event::Column::UserId.eq(uuid_of(driver)))
        .filter(status_event::Column::Kind.eq(kind))
        .count(&app.state.db.conn)
        .await
        .expect("count events")
}

// ---------------------------------------------------------------------------------------
// findOrganization
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn find_organization_matches_the_exact_case_sensitive_name_only() {
    let f = fleet().await;
    let token = &f.owner.admin.token;
    let found = f
        .app
        .ok(Some(token), FIND, json!({ "n": "Partner Fleet" }))
        .await;
    assert_eq!(
        found["findOrganization"],
        json!({ "id": f.partner.id, "name": "Partner Fleet" })
    );
    for near_miss in [
        "partner fleet",
        "PARTNER FLEET",
        "Partner",
        "Partner Flee",
        "Partner Fleet ",
        " Partner Fleet",
        "Partner%",
        "",
    ] {
        let data = f.app.ok(Some(token), FIND, json!({ "n": near_miss })).await;
        assert!(
            data["findOrganization"].is_null(),
            "{near_miss:?} matched: {data}"
        );
    }
}

#[tokio::test]
async fn find_organization_reveals_only_id_and_name() {
    let f = fleet().await;
    let token = &f.owner.admin.token;
    let ty = f
        .app
        .ok(
            Some(token),
            "{ __type(name: \"OrganizationMatch\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ty["__type"]["fields"],
        json!([{ "name": "id" }, { "name": "name" }])
    );
    let body = f
        .app
        .gql(
            Some(token),
            "{ findOrganization(name: \"Partner Fleet\") { id drivers { totalCount } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
    assert!(body["data"].is_null(), "{body}");
}

#[tokio::test]
async fn only_an_admin_may_find_an_organization() {
    let f = fleet().await;
    let dispatcher = f.app.member(&f.owner.admin.token, &["DISPATCHER"]).await;
    for token in [&dispatcher.session.token, &f.driver.session.token] {
        let body = f
            .app
            .gql(Some(token), FIND, json!({ "n": "Partner Fleet" }))
            .await;
        assert_code(&body, "FORBIDDEN");
        assert!(!body.to_string().contains(&f.partner.id), "{body}");
    }
}

// ---------------------------------------------------------------------------------------
// shareDrivers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn share_drivers_shares_several_drivers_at_once() {
    let f = fleet().await;
    let second = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    let third = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    let body = f
        .share(&[&f.driver.driver_id, &second.driver_id, &third.driver_id])
        .await;
    let shares = body["data"]["shareDrivers"].as_array().expect("shares");
    assert_eq!(shares.len(), 3, "{body}");
    for share in shares {
        assert_eq!(
            share["owner"],
            json!({ "id": f.owner.id, "name": "Owner Fleet" })
        );
        assert_eq!(
            share["partner"],
            json!({ "id": f.partner.id, "name": "Partner Fleet" })
        );
    }
    let mut shared: Vec<&str> = shares
        .iter()
        .filter_map(|s| s["driver"]["id"].as_str())
        .collect();
    shared.sort_unstable();
    let mut expected = vec![
        f.driver.driver_id.as_str(),
        second.driver_id.as_str(),
        third.driver_id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(shared, expected);
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        3
    );
    assert_eq!(
        count(
            &f.app,
            &f.partner.admin.token,
            SHARED_WITH_US,
            "sharedWithUs"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn share_drivers_is_all_or_nothing() {
    let f = fleet().await;
    let second = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    let foreign = f.app.member(&f.partner.admin.token, &["DRIVER"]).await;
    let never_existed = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("Driver:{}", Uuid::now_v7()))
    };
    let strangers = [
        foreign.driver_id.clone(),
        driver_id_of(&f.partner.admin_user_id),
        driver_id_of(&f.owner.admin_user_id),
        never_existed,
    ];
    for stranger in &strangers {
        let body = f
            .share(&[&f.driver.driver_id, stranger, &second.driver_id])
            .await;
        assert_code(&body, "NOT_FOUND");
    }
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
    assert_eq!(
        count(
            &f.app,
            &f.partner.admin.token,
            SHARED_WITH_US,
            "sharedWithUs"
        )
        .await,
        0
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Shared).await,
        0
    );
}

#[tokio::test]
async fn sharing_an_already_shared_driver_is_a_no_op() {
    let f = fleet().await;
    let second = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    let first = f.share(&[&f.driver.driver_id]).await;
    let first_share = first["data"]["shareDrivers"][0]["id"].clone();
    let again = f
        .share(&[&f.driver.driver_id, &second.driver_id, &f.driver.driver_id])
        .await;
    assert!(again.get("errors").is_none(), "{again}");
    let shares = again["data"]["shareDrivers"].as_array().expect("shares");
    assert_eq!(shares.len(), 2, "{again}");
    assert!(shares.iter().any(|s| s["id"] == first_share), "{again}");
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        2
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Shared).await,
        1
    );
    assert_eq!(
        events_of(&f.app, &second.driver_id, EventKind::Shared).await,
        1
    );
}

#[tokio::test]
async fn drivers_cannot_be_shared_with_their_own_organization() {
    let f = fleet().await;
    let body = f
        .app
        .gql(
            Some(&f.owner.admin.token),
            SHARE,
            json!({ "p": f.owner.id, "d": [f.driver.driver_id] }),
        )
        .await;
    assert_code(&body, "BAD_USER_INPUT");
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
}

#[tokio::test]
async fn sharing_an_invited_driver_is_a_conflict() {
    let f = fleet().await;
    let invited = f
        .app
        .invite(&f.owner.admin.token, "invited@example.test", &["DRIVER"])
        .await;
    let body = f
        .share(&[&f.driver.driver_id, &driver_id_of(&invited)])
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
}

#[tokio::test]
async fn only_own_drivers_can_be_shared() {
    let f = fleet().await;
    let foreign = f.app.member(&f.partner.admin.token, &["DRIVER"]).await;
    let body = f.share(&[&foreign.driver_id]).await;
    assert_code(&body, "NOT_FOUND");
    // A driver shared with us is not ours to share on.
    let third = f.app.create_org("Third Fleet").await;
    assert!(
        f.share(&[&f.driver.driver_id])
            .await
            .get("errors")
            .is_none()
    );
    let body = f
        .app
        .gql(
            Some(&f.partner.admin.token),
            SHARE,
            json!({ "p": third.id, "d": [f.driver.driver_id] }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    assert_eq!(
        count(&f.app, &third.admin.token, SHARED_WITH_US, "sharedWithUs").await,
        0
    );
}

#[tokio::test]
async fn only_an_admin_may_share_and_unshare() {
    let f = fleet().await;
    let dispatcher = f.app.member(&f.owner.admin.token, &["DISPATCHER"]).await;
    for token in [&dispatcher.session.token, &f.driver.session.token] {
        let body = f
            .app
            .gql(
                Some(token),
                SHARE,
                json!({ "p": f.partner.id, "d": [f.driver.driver_id] }),
            )
            .await;
        assert_code(&body, "FORBIDDEN");
    }
    assert!(
        f.share(&[&f.driver.driver_id])
            .await
            .get("errors")
            .is_none()
    );
    for token in [&dispatcher.session.token, &f.driver.session.token] {
        let body = f
            .app
            .gql(
                Some(token),
                UNSHARE,
                json!({ "d": f.driver.driver_id, "p": f.partner.id }),
            )
            .await;
        assert_code(&body, "FORBIDDEN");
    }
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        1
    );
}

// ---------------------------------------------------------------------------------------
// unshareDriver
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unshare_driver_removes_one_share_instantly() {
    let f = fleet().await;
    let second = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    f.share(&[&f.driver.driver_id, &second.driver_id]).await;
    let body = f.unshare(&f.driver.driver_id).await;
    assert_eq!(
        body["data"]["unshareDriver"]["id"], f.driver.driver_id,
        "{body}"
    );
    let with_us = f
        .app
        .ok(Some(&f.partner.admin.token), SHARED_WITH_US, json!({}))
        .await;
    assert_eq!(with_us["organization"]["sharedWithUs"]["totalCount"], 1);
    assert_eq!(
        with_us["organization"]["sharedWithUs"]["nodes"][0]["driver"]["id"],
        second.driver_id
    );
    assert!(
        f.card(&f.partner.admin.token, &f.driver.driver_id)
            .await
            .is_null()
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
    // Unsharing what is not shared is NOT_FOUND and writes nothing.
    assert_code(&f.unshare(&f.driver.driver_id).await, "NOT_FOUND");
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
}

#[tokio::test]
async fn unshare_is_refused_while_the_driver_is_on_a_planned_or_in_progress_partner_route() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    assert_code(&f.unshare(&f.driver.driver_id).await, "CONFLICT");
    f.app
        .ok(Some(&f.partner.admin.token), START, json!({ "r": route }))
        .await;
    assert_code(&f.unshare(&f.driver.driver_id).await, "CONFLICT");
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        1
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        0
    );
    f.app
        .ok(
            Some(&f.partner.admin.token),
            COMPLETE,
            json!({ "r": route }),
        )
        .await;
    assert!(f.unshare(&f.driver.driver_id).await.get("errors").is_none());
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
}

#[tokio::test]
async fn a_driver_on_the_owners_own_route_can_still_be_unshared() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.app.route(&f.owner.admin.token, "Own run").await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            ASSIGN,
            json!({ "r": route, "d": f.driver.driver_id }),
        )
        .await;
    assert!(f.unshare(&f.driver.driver_id).await.get("errors").is_none());
}

// ---------------------------------------------------------------------------------------
// The owner's lists and the driver card
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_driver_card_lists_its_shares_for_the_owners_managers_only() {
    let f = fleet().await;
    let third = f.app.create_org("Third Fleet").await;
    f.share(&[&f.driver.driver_id]).await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            SHARE,
            json!({ "p": third.id, "d": [f.driver.driver_id] }),
        )
        .await;
    let dispatcher = f.app.member(&f.owner.admin.token, &["DISPATCHER"]).await;
    for token in [&f.owner.admin.token, &dispatcher.session.token] {
        let card = f.card(token, &f.driver.driver_id).await;
        let mut partners: Vec<&str> = card["sharedWith"]
            .as_array()
            .expect("sharedWith for the owner")
            .iter()
            .filter_map(|s| s["partner"]["name"].as_str())
            .collect();
        partners.sort_unstable();
        assert_eq!(partners, ["Partner Fleet", "Third Fleet"]);
    }
    // The driver itself sees its own card, but not its shares.
    let own = f.card(&f.driver.session.token, &f.driver.driver_id).await;
    assert_eq!(own["id"], f.driver.driver_id);
    assert!(own["sharedWith"].is_null(), "{own}");
    // A partner sees the card, never the other shares.
    for token in [&f.partner.admin.token, &third.admin.token] {
        let card = f.card(token, &f.driver.driver_id).await;
        assert_eq!(card["id"], f.driver.driver_id);
        assert!(card["sharedWith"].is_null(), "{card}");
    }
}

#[tokio::test]
async fn shared_with_us_and_shared_by_us_name_the_other_side_as_an_organization_match() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let by_us = f
        .app
        .ok(Some(&f.owner.admin.token), SHARED_BY_US, json!({}))
        .await;
    let share = &by_us["organization"]["sharedByUs"]["nodes"][0];
    assert_eq!(share["driver"]["id"], f.driver.driver_id);
    assert_eq!(
        share["partner"],
        json!({ "id": f.partner.id, "name": "Partner Fleet" })
    );
    assert_eq!(
        share["owner"],
        json!({ "id": f.owner.id, "name": "Owner Fleet" })
    );
    assert_eq!(share["sharedBy"]["id"], f.owner.admin_user_id);

    let with_us = f
        .app
        .ok(Some(&f.partner.admin.token), SHARED_WITH_US, json!({}))
        .await;
    let seen = &with_us["organization"]["sharedWithUs"]["nodes"][0];
    assert_eq!(seen["id"], share["id"]);
    assert_eq!(seen["driver"]["id"], f.driver.driver_id);
    assert_eq!(
        seen["owner"],
        json!({ "id": f.owner.id, "name": "Owner Fleet" })
    );
    assert_eq!(
        seen["partner"],
        json!({ "id": f.partner.id, "name": "Partner Fleet" })
    );
    assert!(
        seen["sharedBy"].is_null(),
        "the owner's user leaked: {seen}"
    );
    // Each side sees only its own direction.
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_WITH_US, "sharedWithUs").await,
        0
    );
    assert_eq!(
        count(&f.app, &f.partner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
}

#[tokio::test]
async fn deleting_a_driver_ends_its_shares() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            DELETE_USER,
            json!({ "id": f.driver.user_id }),
        )
        .await;
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
    assert_eq!(
        count(
            &f.app,
            &f.partner.admin.token,
            SHARED_WITH_US,
            "sharedWithUs"
        )
        .await,
        0
    );
    assert!(
        f.card(&f.partner.admin.token, &f.driver.driver_id)
            .await
            .is_null()
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
}

// ---------------------------------------------------------------------------------------
// The partner's view
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_partner_manager_sees_the_shared_driver_card_and_nothing_of_the_owner() {
    let f = fleet().await;
    let depot = f.app.depot(&f.owner.admin.token, "Owner North Depot").await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            "mutation($id: ID!, $i: EditUserInput!) { editUser(id: $id, input: $i) { id } }",
            json!({ "id": f.driver.user_id, "i": { "depotId": depot, "phone": "+4915112345678" } }),
        )
        .await;
    f.share(&[&f.driver.driver_id]).await;
    let partner_dispatcher = f.app.member(&f.partner.admin.token, &["DISPATCHER"]).await;
    for token in [&f.partner.admin.token, &partner_dispatcher.session.token] {
        let card = f.card(token, &f.driver.driver_id).await;
        assert_eq!(card["id"], f.driver.driver_id);
        assert_eq!(card["email"], f.driver.email.as_str());
        assert_eq!(card["phone"], "+4915112345678");
        assert_eq!(card["status"], "ACTIVE");
        assert_eq!(card["available"], true);
        assert_eq!(
            card["owner"],
            json!({ "id": f.owner.id, "name": "Owner Fleet" })
        );
        for hidden in [
            "organization",
            "user",
            "depot",
            "sharedWith",
            "currentRoute",
        ] {
            assert!(
                card[hidden].is_null(),
                "{hidden} visible to the partner: {card}"
            );
        }
        let node = f
            .app
            .ok(
                Some(token),
                &format!(
                    "query($id: ID!) {{ node(id: $id) {{ ... on Driver {{ {CARD_FIELDS} }} }} }}"
                ),
                json!({ "id": f.driver.driver_id }),
            )
            .await;
        assert_eq!(node["node"], card);
        // The same record as a User, and the owner's depot, stay invisible.
        let user = f
            .app
            .ok(
                Some(token),
                "query($id: ID!, $d: ID!) { user(id: $id) { id } depot(id: $d) { id } }",
                json!({ "id": f.driver.user_id, "d": depot }),
            )
            .await;
        assert!(user["user"].is_null() && user["depot"].is_null(), "{user}");
    }
}

#[tokio::test]
async fn a_partner_sees_the_current_route_only_when_it_is_its_own() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let own_route = f.app.route(&f.owner.admin.token, "Owner secret run").await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            ASSIGN,
            json!({ "r": own_route, "d": f.driver.driver_id }),
        )
        .await;
    let card = f.card(&f.partner.admin.token, &f.driver.driver_id).await;
    assert!(card["currentRoute"].is_null(), "{card}");
    assert_eq!(card["available"], false);
    assert!(!card.to_string().contains("Owner secret run"));
    f.app
        .ok(
            Some(&f.owner.admin.token),
            CANCEL,
            json!({ "r": own_route }),
        )
        .await;

    let route = f.partner_route_with(&f.driver.driver_id).await;
    let card = f.card(&f.partner.admin.token, &f.driver.driver_id).await;
    assert_eq!(
        card["currentRoute"],
        json!({ "id": route, "name": "Partner run" })
    );
    assert_eq!(card["available"], false);
    // The owner sees its driver busy, but not the partner's route.
    let owner_card = f.card(&f.owner.admin.token, &f.driver.driver_id).await;
    assert_eq!(owner_card["available"], false);
    assert!(owner_card["currentRoute"].is_null(), "{owner_card}");
}

#[tokio::test]
async fn a_partner_filters_shared_drivers_on_availability() {
    let f = fleet().await;
    let second = f.app.member(&f.owner.admin.token, &["DRIVER"]).await;
    f.share(&[&f.driver.driver_id, &second.driver_id]).await;
    f.partner_route_with(&f.driver.driver_id).await;
    let data = f
        .app
        .ok(
            Some(&f.partner.admin.token),
            "{ organization { sharedWithUs { nodes { driver { id available } } } } }",
            json!({}),
        )
        .await;
    let mut availability: Vec<(String, bool)> = data["organization"]["sharedWithUs"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["driver"]["id"].as_str().unwrap_or_default().to_owned(),
                n["driver"]["available"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    availability.sort();
    let mut expected = vec![
        (f.driver.driver_id.clone(), false),
        (second.driver_id.clone(), true),
    ];
    expected.sort();
    assert_eq!(availability, expected);
    // The DriverFilter lists the organization's own drivers: shared ones never appear there.
    let own = f
        .app
        .ok(
            Some(&f.partner.admin.token),
            "{ all: organization { drivers { totalCount } } free: organization { drivers(filter: { available: true }) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(own["all"]["drivers"]["totalCount"], 0);
    assert_eq!(own["free"]["drivers"]["totalCount"], 0);
    // The owner's filter counts the driver on the partner's route as unavailable.
    let owner = f
        .app
        .ok(
            Some(&f.owner.admin.token),
            "{ free: organization { drivers(filter: { available: true }) { nodes { id } } } busy: organization { drivers(filter: { available: false }) { nodes { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        owner["free"]["drivers"]["nodes"],
        json!([{ "id": second.driver_id }])
    );
    assert_eq!(
        owner["busy"]["drivers"]["nodes"],
        json!([{ "id": f.driver.driver_id }])
    );
}

#[tokio::test]
async fn a_partner_assigns_a_shared_driver_only_while_it_is_active() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.app.route(&f.partner.admin.token, "Partner run").await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            SET_INACTIVE,
            json!({ "d": f.driver.driver_id }),
        )
        .await;
    let body = f
        .app
        .gql(
            Some(&f.partner.admin.token),
            ASSIGN,
            json!({ "r": route, "d": f.driver.driver_id }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    f.app
        .ok(
            Some(&f.owner.admin.token),
            SET_ACTIVE,
            json!({ "d": f.driver.driver_id }),
        )
        .await;
    let partner_dispatcher = f.app.member(&f.partner.admin.token, &["DISPATCHER"]).await;
    let assigned = f
        .app
        .ok(
            Some(&partner_dispatcher.session.token),
            ASSIGN,
            json!({ "r": route, "d": f.driver.driver_id }),
        )
        .await;
    assert_eq!(assigned["assignDriver"]["driver"]["id"], f.driver.driver_id);
    assert_eq!(assigned["assignDriver"]["driver"]["firstName"], "Test");
}

#[tokio::test]
async fn the_owner_cannot_deactivate_or_delete_a_driver_on_a_partner_route() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    let refused = |body: Value| assert_code(&body, "CONFLICT");
    for step in ["PLANNED", "IN_PROGRESS"] {
        if step == "IN_PROGRESS" {
            f.app
                .ok(Some(&f.partner.admin.token), START, json!({ "r": route }))
                .await;
        }
        refused(
            f.app
                .gql(
                    Some(&f.owner.admin.token),
                    SET_INACTIVE,
                    json!({ "d": f.driver.driver_id }),
                )
                .await,
        );
        refused(
            f.app
                .gql(
                    Some(&f.owner.admin.token),
                    DELETE_USER,
                    json!({ "id": f.driver.user_id }),
                )
                .await,
        );
    }
    let card = f.card(&f.owner.admin.token, &f.driver.driver_id).await;
    assert_eq!(card["status"], "ACTIVE");
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Deactivated).await,
        0
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Deleted).await,
        0
    );
}

#[tokio::test]
async fn a_partner_driver_sees_none_of_the_shared_drivers() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let partner_driver = f.app.member(&f.partner.admin.token, &["DRIVER"]).await;
    let token = &partner_driver.session.token;
    assert!(f.card(token, &f.driver.driver_id).await.is_null());
    let node = f
        .app
        .ok(
            Some(token),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": f.driver.driver_id }),
        )
        .await;
    assert!(node["node"].is_null());
    let listed = f.app.gql(Some(token), SHARED_WITH_US, json!({})).await;
    assert_code(&listed, "FORBIDDEN");
    assert!(
        !listed.to_string().contains(&f.driver.driver_id),
        "{listed}"
    );
    let route = f.app.route(&f.partner.admin.token, "Partner run").await;
    let body = f
        .app
        .gql(
            Some(token),
            ASSIGN,
            json!({ "r": route, "d": f.driver.driver_id }),
        )
        .await;
    assert_code(&body, "FORBIDDEN");
}

// ---------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn share_assign_cancel_unshare_round_trip() {
    let f = fleet().await;
    let shared = f.share(&[&f.driver.driver_id]).await;
    assert!(shared.get("errors").is_none(), "{shared}");

    let route = f.partner_route_with(&f.driver.driver_id).await;
    let partner_card = f.card(&f.partner.admin.token, &f.driver.driver_id).await;
    assert_eq!(partner_card["currentRoute"]["id"], route.as_str());

    assert_code(&f.unshare(&f.driver.driver_id).await, "CONFLICT");
    let body = f
        .app
        .gql(
            Some(&f.owner.admin.token),
            SET_INACTIVE,
            json!({ "d": f.driver.driver_id }),
        )
        .await;
    assert_code(&body, "CONFLICT");

    f.app
        .ok(Some(&f.partner.admin.token), CANCEL, json!({ "r": route }))
        .await;
    let unshared = f.unshare(&f.driver.driver_id).await;
    assert!(unshared.get("errors").is_none(), "{unshared}");

    assert!(
        f.card(&f.partner.admin.token, &f.driver.driver_id)
            .await
            .is_null()
    );
    assert_eq!(
        count(
            &f.app,
            &f.partner.admin.token,
            SHARED_WITH_US,
            "sharedWithUs"
        )
        .await,
        0
    );
    let next = f
        .app
        .route(&f.partner.admin.token, "Partner second run")
        .await;
    let body = f
        .app
        .gql(
            Some(&f.partner.admin.token),
            ASSIGN,
            json!({ "r": next, "d": f.driver.driver_id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
    // The cancelled route keeps no visible trace of the driver for the partner.
    let old = f
        .app
        .ok(
            Some(&f.partner.admin.token),
            "query($id: ID!) { route(id: $id) { status driver { id } } }",
            json!({ "id": route }),
        )
        .await;
    assert_eq!(old["route"]["status"], "CANCELLED");
    assert!(old["route"]["driver"].is_null(), "{old}");
}

#[tokio::test]
async fn find_organization_tells_apart_names_that_differ_only_in_case() {
    let f = fleet().await;
    let shouting = f.app.create_org("PARTNER FLEET").await;
    let token = &f.owner.admin.token;
    for (name, id) in [
        ("Partner Fleet", &f.partner.id),
        ("PARTNER FLEET", &shouting.id),
    ] {
        let data = f.app.ok(Some(token), FIND, json!({ "n": name })).await;
        assert_eq!(data["findOrganization"], json!({ "id": id, "name": name }));
    }
}

#[tokio::test]
async fn removing_the_driver_role_ends_the_shares_but_not_while_on_a_partner_route() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    let demote =
        "mutation($id: ID!) { editUser(id: $id, input: { roles: [DISPATCHER] }) { roles } }";
    let body = f
        .app
        .gql(
            Some(&f.owner.admin.token),
            demote,
            json!({ "id": f.driver.user_id }),
        )
        .await;
    assert_code(&body, "CONFLICT");
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        1
    );
    f.app
        .ok(Some(&f.partner.admin.token), CANCEL, json!({ "r": route }))
        .await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            demote,
            json!({ "id": f.driver.user_id }),
        )
        .await;
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
    assert!(
        f.card(&f.partner.admin.token, &f.driver.driver_id)
            .await
            .is_null()
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
}

// The partner workflow end to end: the shared driver drives, the owner sees who holds it.

const PARTNER_DEPOT: &str = "Partner Depot Kestrel";
const PARTNER_ADDRESS: &str = "1 Kestrel Way";
const DRIVER_ROUTES: &str = "query($id: ID!) { driver(id: $id) {
    routes { totalCount nodes { id name plannedStart status owner { id name }
        organization { id name } depot { id name } depotName depotAddress driverName } }
    currentRoute { id status organization { id } depot { id } } } }";
const PARTNER_ROUTE_FIELDS: &str = "id name status owner { name } organization { id name }
    depot { id name } depotName depotAddress";

impl Fleet {
    /// A PLANNED route of the partner from a depot with an address, assigned to `driver`.
    async fn partner_route_from_depot(&self, driver: &str) -> String {
        let token = &self.partner.admin.token;
        let depot = self
            .app
            .ok(
                Some(token),
                "mutation($input: DepotInput!) { createDepot(input: $input) { id } }",
                json!({ "input": { "name": PARTNER_DEPOT, "address": PARTNER_ADDRESS,
                    "timezone": "Europe/Berlin" } }),
            )
            .await["createDepot"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let route = self
            .app
            .ok(
                Some(token),
                "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
                json!({ "input": { "name": "Partner depot run",
                    "plannedStart": "2030-01-01T08:00:00Z", "depotId": depot } }),
            )
            .await["createRoute"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.app
            .ok(Some(token), ASSIGN, json!({ "r": route, "d": driver }))
            .await;
        route
    }
}

/// Asserts that `route`, as the shared driver sees it, shows what it needs and nothing else of
/// the partner.
fn assert_partner_route_view(route: &Value, route_id: &str) {
    assert_eq!(route["id"], route_id, "{route}");
    assert_eq!(route["owner"]["name"], "Partner Fleet", "{route}");
    assert!(route["organization"].is_null(), "{route}");
    assert!(route["depot"].is_null(), "{route}");
    assert_eq!(route["depotName"], PARTNER_DEPOT, "{route}");
    assert_eq!(route["depotAddress"], PARTNER_ADDRESS, "{route}");
}

#[tokio::test]
async fn a_shared_driver_lists_opens_starts_and_completes_the_partners_route() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_from_depot(&f.driver.driver_id).await;
    let token = f.driver.session.token.as_str();

    let mine = f
        .app
        .ok(
            Some(token),
            DRIVER_ROUTES,
            json!({ "id": f.driver.driver_id }),
        )
        .await;
    let routes = &mine["driver"]["routes"];
    assert_eq!(routes["totalCount"], 1, "{mine}");
    assert_partner_route_view(&routes["nodes"][0], &route);
    assert_eq!(routes["nodes"][0]["status"], "PLANNED");
    assert_eq!(routes["nodes"][0]["name"], "Partner depot run");
    assert_eq!(routes["nodes"][0]["driverName"], "Test Person");
    assert_eq!(mine["driver"]["currentRoute"]["id"], route.as_str());
    assert!(mine["driver"]["currentRoute"]["organization"].is_null());

    let query = format!("query($id: ID!) {{ route(id: $id) {{ {PARTNER_ROUTE_FIELDS} }} }}");
    let opened = f.app.ok(Some(token), &query, json!({ "id": route })).await;
    assert_partner_route_view(&opened["route"], &route);
    let query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Route {{ {PARTNER_ROUTE_FIELDS} }} }} }}"
    );
    let node = f.app.ok(Some(token), &query, json!({ "id": route })).await;
    assert_partner_route_view(&node["node"], &route);

    let started = f.app.ok(Some(token), START, json!({ "r": route })).await;
    assert_eq!(started["startRoute"]["status"], "IN_PROGRESS");
    let completed = f.app.ok(Some(token), COMPLETE, json!({ "r": route })).await;
    assert_eq!(completed["completeRoute"]["status"], "COMPLETED");
    // The partner sees its route done by the shared driver.
    let seen = f
        .app
        .ok(
            Some(&f.partner.admin.token),
            "query($id: ID!) { route(id: $id) { status driverName organization { name } depot { name } } }",
            json!({ "id": route }),
        )
        .await;
    assert_eq!(seen["route"]["status"], "COMPLETED");
    assert_eq!(seen["route"]["driverName"], "Test Person");
    assert_eq!(seen["route"]["organization"]["name"], "Partner Fleet");
    assert_eq!(seen["route"]["depot"]["name"], PARTNER_DEPOT);
}

#[tokio::test]
async fn a_shared_driver_reads_nothing_else_of_the_partner() {
    let f = fleet().await;
    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_from_depot(&f.driver.driver_id).await;
    let other = f
        .app
        .route(&f.partner.admin.token, "Partner other run")
        .await;
    let token = f.driver.session.token.as_str();
    let body = f
        .app
        .gql(
            Some(token),
            "query($r: ID!, $o: ID!) { mine: route(id: $r) { organization { users { nodes { email } } } }
                other: route(id: $o) { id } organization { routes { totalCount } } }",
            json!({ "r": route, "o": other }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["mine"]["organization"].is_null(), "{body}");
    assert!(body["data"]["other"].is_null(), "{body}");
    // Its own organization's routes list is its own organization's.
    assert_eq!(body["data"]["organization"]["routes"]["totalCount"], 0);
    // And it cannot cancel or unassign the partner's route: that is not its organization's.
    for mutation in [
        CANCEL,
        "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
    ] {
        let body = f
            .app
            .gql(Some(token), mutation, json!({ "r": route }))
            .await;
        assert_code(&body, "NOT_FOUND");
    }
}

#[tokio::test]
async fn the_owner_sees_which_partner_holds_its_driver_and_the_conflicts_name_it() {
    let f = fleet().await;
    let query = "query($id: ID!) { driver(id: $id) { available currentRoute { id }
        busyWith { organization { id name } routeStatus plannedStart }
        routes { totalCount } } }";
    let owner = f.owner.admin.token.as_str();
    let free = f
        .app
        .ok(Some(owner), query, json!({ "id": f.driver.driver_id }))
        .await;
    assert!(free["driver"]["busyWith"].is_null(), "{free}");

    f.share(&[&f.driver.driver_id]).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    let busy = f
        .app
        .ok(Some(owner), query, json!({ "id": f.driver.driver_id }))
        .await;
    let card = &busy["driver"];
    assert_eq!(card["available"], false);
    assert!(card["currentRoute"].is_null(), "{busy}");
    // Never the partner's route itself.
    assert_eq!(card["routes"]["totalCount"], 0, "{busy}");
    assert_eq!(card["busyWith"]["organization"]["name"], "Partner Fleet");
    assert_eq!(
        card["busyWith"]["organization"]["id"],
        f.partner.id.as_str()
    );
    assert_eq!(card["busyWith"]["routeStatus"], "PLANNED");
    assert_eq!(
        card["busyWith"]["plannedStart"],
        "2030-01-01T08:00:00+00:00"
    );
    // The partner holding it sees the same; the shared driver too.
    for token in [&f.partner.admin.token, &f.driver.session.token] {
        let seen = f
            .app
            .ok(Some(token), query, json!({ "id": f.driver.driver_id }))
            .await;
        assert_eq!(
            seen["driver"]["busyWith"]["organization"]["name"],
            "Partner Fleet"
        );
    }

    let refusals = [
        f.app
            .gql(
                Some(owner),
                SET_INACTIVE,
                json!({ "d": f.driver.driver_id }),
            )
            .await,
        f.app
            .gql(Some(owner), DELETE_USER, json!({ "id": f.driver.user_id }))
            .await,
        f.unshare(&f.driver.driver_id).await,
    ];
    for body in refusals {
        assert_code(&body, "CONFLICT");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Partner Fleet"), "{body}");
        assert!(!message.contains(&route), "{body}");
    }
}

#[tokio::test]
async fn a_third_organization_the_driver_is_shared_with_does_not_see_who_holds_it() {
    let f = fleet().await;
    let third = f.app.create_org("Third Fleet").await;
    f.share(&[&f.driver.driver_id]).await;
    f.app
        .ok(
            Some(&f.owner.admin.token),
            SHARE,
            json!({ "p": third.id, "d": [f.driver.driver_id] }),
        )
        .await;
    f.partner_route_with(&f.driver.driver_id).await;
    let seen = f
        .app
        .ok(
            Some(&third.admin.token),
            "query($id: ID!) { driver(id: $id) { available busyWith { organization { name } } } }",
            json!({ "id": f.driver.driver_id }),
        )
        .await;
    assert_eq!(seen["driver"]["available"], false);
    assert!(seen["driver"]["busyWith"].is_null(), "{seen}");
}

// Shares that end: an expiry, the partner letting go.

const SHARE_UNTIL: &str = "mutation($p: ID!, $d: [ID!]!, $at: DateTime) {
    shareDrivers(partnerId: $p, driverIds: $d, expiresAt: $at) { id expiresAt } }";
const RELEASE: &str = "mutation($d: ID!) { releaseSharedDriver(driverId: $d) { deletedId } }";

/// `seconds` from now, as RFC 3339.
fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// A fleet whose gateway sweeps expired shares every second.
async fn sweeping_fleet() -> Fleet {
    let app = crate::helpers::spawn_with(crate::helpers::Options {
        extra: vec![("--share-expiry-interval".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    Fleet {
        app,
        owner,
        partner,
        driver,
    }
}

impl Fleet {
    async fn share_until(&self, at: &str) -> Value {
        self.app
            .gql(
                Some(&self.owner.admin.token),
                SHARE_UNTIL,
                json!({ "p": self.partner.id, "d": [self.driver.driver_id], "at": at }),
            )
            .await
    }

    /// Whether the partner sees the driver now.
    async fn partner_sees_driver(&self) -> bool {
        !self
            .card(&self.partner.admin.token, &self.driver.driver_id)
            .await
            .is_null()
    }
}

#[tokio::test]
async fn an_expiry_must_be_in_the_future_and_sharing_again_changes_it() {
    let f = fleet().await;
    let body = f.share_until(&in_seconds(-60)).await;
    assert_code(&body, "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "expiresAt");
    assert!(!f.partner_sees_driver().await);

    let first = in_seconds(3600);
    let shared = f.share_until(&first).await;
    let at = |body: &Value| {
        chrono::DateTime::parse_from_rfc3339(
            body["data"]["shareDrivers"][0]["expiresAt"]
                .as_str()
                .unwrap_or_default(),
        )
        .map(|t| t.timestamp())
        .ok()
    };
    let first_at = chrono::DateTime::parse_from_rfc3339(&first)
        .ok()
        .map(|t| t.timestamp());
    assert_eq!(at(&shared), first_at, "{shared}");
    let later = in_seconds(7200);
    let again = f.share_until(&later).await;
    assert_eq!(
        again["data"]["shareDrivers"][0]["id"],
        shared["data"]["shareDrivers"][0]["id"]
    );
    let later_at = chrono::DateTime::parse_from_rfc3339(&later)
        .ok()
        .map(|t| t.timestamp());
    assert_eq!(at(&again), later_at, "{again}");
    // Sharing again without an expiry shares for good; one SHARED event in all.
    let forever = f.share(&[&f.driver.driver_id]).await;
    assert!(forever.get("errors").is_none(), "{forever}");
    let listed = f
        .app
        .ok(
            Some(&f.owner.admin.token),
            "{ organization { sharedByUs { nodes { expiresAt } } } }",
            json!({}),
        )
        .await;
    assert!(listed["organization"]["sharedByUs"]["nodes"][0]["expiresAt"].is_null());
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Shared).await,
        1
    );
}

/// Waits until the partner no longer sees the driver; fails after `seconds`.
async fn until_unshared(f: &Fleet, seconds: u64) {
    for _ in 0..seconds * 10 {
        if !f.partner_sees_driver().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the share did not end within {seconds} s");
}

#[tokio::test]
async fn a_share_ends_by_itself_at_its_expiry_with_one_unshared_event() {
    let f = sweeping_fleet().await;
    let shared = f.share_until(&in_seconds(2)).await;
    assert!(shared.get("errors").is_none(), "{shared}");
    assert!(f.partner_sees_driver().await);
    until_unshared(&f, 8).await;
    // A few more sweeps change nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
}

#[tokio::test]
async fn an_expired_share_lasts_while_the_driver_is_on_the_partners_route_and_ends_with_it() {
    let f = sweeping_fleet().await;
    f.share_until(&in_seconds(2)).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert!(
        f.partner_sees_driver().await,
        "the share ended under a route"
    );
    let token = f.driver.session.token.as_str();
    f.app.ok(Some(token), START, json!({ "r": route })).await;
    assert!(f.partner_sees_driver().await);
    f.app.ok(Some(token), COMPLETE, json!({ "r": route })).await;
    // Ended with the route, in the same transaction: at once.
    assert!(!f.partner_sees_driver().await);
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
    // The driver still reads the route it drove.
    let past = f
        .app
        .ok(
            Some(token),
            "query($r: ID!) { route(id: $r) { status } }",
            json!({ "r": route }),
        )
        .await;
    assert_eq!(past["route"]["status"], "COMPLETED");
}

#[tokio::test]
async fn the_partner_releases_a_shared_driver_but_not_while_it_drives_for_it() {
    let f = fleet().await;
    let stranger = f.app.create_org("Stranger Fleet").await;
    let dispatcher = f.app.member(&f.partner.admin.token, &["DISPATCHER"]).await;
    let release = |token: &str| {
        let token = token.to_owned();
        let app = &f.app;
        let driver = f.driver.driver_id.clone();
        async move { app.gql(Some(&token), RELEASE, json!({ "d": driver })).await }
    };
    assert_code(&release(&f.partner.admin.token).await, "NOT_FOUND");
    let shared = f.share(&[&f.driver.driver_id]).await;
    let share_id = shared["data"]["shareDrivers"][0]["id"].clone();
    let route = f.partner_route_with(&f.driver.driver_id).await;

    let busy = release(&f.partner.admin.token).await;
    assert_code(&busy, "CONFLICT");
    assert!(
        busy["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Partner Fleet"))
    );
    assert_code(&release(&dispatcher.session.token).await, "FORBIDDEN");
    assert_code(&release(&stranger.admin.token).await, "NOT_FOUND");
    assert_code(&release(&f.owner.admin.token).await, "NOT_FOUND");

    f.app
        .ok(Some(&f.partner.admin.token), CANCEL, json!({ "r": route }))
        .await;
    let released = f
        .app
        .ok(
            Some(&f.partner.admin.token),
            RELEASE,
            json!({ "d": f.driver.driver_id }),
        )
        .await;
    assert_eq!(released["releaseSharedDriver"]["deletedId"], share_id);
    assert!(!f.partner_sees_driver().await);
    assert_eq!(
        count(&f.app, &f.owner.admin.token, SHARED_BY_US, "sharedByUs").await,
        0
    );
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
    assert_code(&release(&f.partner.admin.token).await, "NOT_FOUND");
}

#[tokio::test]
async fn an_expired_share_ends_when_the_partner_takes_the_driver_off_its_route() {
    let f = sweeping_fleet().await;
    f.share_until(&in_seconds(2)).await;
    let route = f.partner_route_with(&f.driver.driver_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    assert!(
        f.partner_sees_driver().await,
        "the share ended under a route"
    );
    f.app
        .ok(
            Some(&f.partner.admin.token),
            "mutation($r: ID!) { unassignDriver(routeId: $r) { id } }",
            json!({ "r": route }),
        )
        .await;
    assert!(!f.partner_sees_driver().await);
    assert_eq!(
        events_of(&f.app, &f.driver.driver_id, EventKind::Unshared).await,
        1
    );
}

#[tokio::test]
async fn an_expired_share_takes_no_new_assignment_even_before_it_is_swept() {
    // The default sweep runs every 10 s, the first one 10 s after start: not within this test.
    let f = fleet().await;
    f.share_until(&in_seconds(1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let route = f.app.route(&f.partner.admin.token, "Too late").await;
    let body = f
        .app
        .gql(
            Some(&f.partner.admin.token),
            ASSIGN,
            json!({ "r": route, "d": f.driver.driver_id }),
        )
        .await;
    assert_code(&body, "NOT_FOUND");
}
