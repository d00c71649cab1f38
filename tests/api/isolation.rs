//! The tenant isolation matrix: every query and mutation taking an ID, called by each kind of
//! viewer on each kind of the owner's records, answers exactly what rules.md says, and no
//! answer across organizations carries the owner's data. A new operation is one table row.

use serde_json::{Value, json};

use crate::helpers::{Member, Org, TestApp, code, retype, spawn_app};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    OwnerAdmin,
    OwnerDispatcher,
    /// The owner's DRIVER; the owner's route record is assigned to it.
    OwnerDriver,
    /// ADMIN of an organization the owner shared one driver with.
    PartnerAdmin,
    /// ADMIN of an organization with no tie to the owner.
    StrangerAdmin,
    /// A DRIVER of another organization that shared it with the owner; the owner's lent route
    /// record is assigned to it.
    LentDriver,
}

const WHO: [Who; 6] = [
    Who::OwnerAdmin,
    Who::OwnerDispatcher,
    Who::OwnerDriver,
    Who::PartnerAdmin,
    Who::StrangerAdmin,
    Who::LentDriver,
];

/// Which of the owner's records the ID names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rec {
    /// An ACTIVE DISPATCHER (INVITED for resendInvitation).
    User,
    /// An ACTIVE driver shared with the partner.
    SharedDriver,
    /// An ACTIVE driver shared with nobody.
    UnsharedDriver,
    Depot,
    /// A PLANNED route assigned to the owner's DRIVER caller (IN_PROGRESS for completeRoute).
    Route,
    /// The owner organization itself.
    Organization,
    /// The grant sharing the shared driver with the partner.
    Share,
    /// A PLANNED route from the owner's depot assigned to the lent driver (IN_PROGRESS for
    /// completeRoute).
    LentRoute,
}

const RECORD_KINDS: usize = 8;
const ROUTES: &[Rec] = &[Rec::Route, Rec::LentRoute];

const USERS: &[Rec] = &[Rec::User, Rec::SharedDriver, Rec::UnsharedDriver];
const DRIVERS: &[Rec] = &[Rec::SharedDriver, Rec::UnsharedDriver];
const ALL: &[Rec] = &[
    Rec::User,
    Rec::SharedDriver,
    Rec::UnsharedDriver,
    Rec::Depot,
    Rec::Route,
    Rec::Organization,
    Rec::Share,
    Rec::LentRoute,
];

/// What the answer must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A query answering the record.
    Data,
    /// A query answering null, no error.
    Null,
    /// A mutation succeeding.
    Ok,
    Forbidden,
    NotFound,
}

/// Which roles of the owner's organization may do it (rules.md, "Roles and permissions").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Reading: managers everything; a DRIVER depots, its own routes and its organization.
    Read,
    /// ADMIN or DISPATCHER.
    Manager,
    /// ADMIN.
    Admin,
    /// Managers, and the route's own DRIVER.
    Driving,
    /// Any ACTIVE member.
    Member,
}

/// The state the record must be in for the operation to succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    None,
    InvitedUser,
    StartedRoute,
}

/// One operation taking an ID.
struct Op {
    name: &'static str,
    query: &'static str,
    mutation: bool,
    need: Need,
    records: &'static [Rec],
    /// Whether the partner may use the shared driver's ID here.
    partner_uses_shared: bool,
    /// The Relay type the ID is presented as (`None`: the record's own type).
    id_as: Option<&'static str>,
    setup: Setup,
    vars: fn(&Cell<'_>) -> Value,
}

const CARD: &str = "id email owner { id name } organization { id name users { nodes { email } } }
    user { id email } depot { id name } sharedWith { id partner { name } } currentRoute { id name }";

fn ops() -> Vec<Op> {
    let id = |c: &Cell<'_>| json!({ "id": c.id });
    vec![
        Op {
            name: "user",
            query: "query($id: ID!) { user(id: $id) { id email organization { id name }
                driver { id depot { name } } } }",
            mutation: false,
            need: Need::Read,
            records: USERS,
            partner_uses_shared: false,
            id_as: Some("User"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "driver",
            query: joined(&["query($id: ID!) { driver(id: $id) { ", CARD, " } }"]),
            mutation: false,
            need: Need::Read,
            records: DRIVERS,
            partner_uses_shared: true,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "depot",
            query: "query($id: ID!) { depot(id: $id) { id name organization { id name }
                drivers { nodes { email } } } }",
            mutation: false,
            need: Need::Read,
            records: &[Rec::Depot],
            partner_uses_shared: false,
            id_as: Some("Depot"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "route",
            query: "query($id: ID!) { route(id: $id) { id name organization { id name }
                driver { id email } depot { name } } }",
            mutation: false,
            need: Need::Read,
            records: ROUTES,
            partner_uses_shared: false,
            id_as: Some("Route"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "node",
            query: joined(&[
                "query($id: ID!) { node(id: $id) { id ... on User { email } ... on Driver { ",
                CARD,
                " } ... on Depot { name } ... on Route { name driver { email }
                    organization { name } depot { name } }
                ... on Organization { name users { nodes { email } } }
                ... on SharedDriver { owner { name } partner { name } sharedBy { email }
                    driver { ",
                CARD,
                " } } } }",
            ]),
            mutation: false,
            need: Need::Read,
            records: ALL,
            partner_uses_shared: true,
            id_as: None,
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "resendInvitation",
            query: "mutation($id: ID!) { resendInvitation(userId: $id) { id email } }",
            mutation: true,
            need: Need::Manager,
            records: &[Rec::User],
            partner_uses_shared: false,
            id_as: Some("User"),
            setup: Setup::InvitedUser,
            vars: id,
        },
        Op {
            name: "editUser",
            query: "mutation($id: ID!) { editUser(id: $id, input: { firstName: \"Renamed\" }) { id email } }",
            mutation: true,
            need: Need::Manager,
            records: USERS,
            partner_uses_shared: false,
            id_as: Some("User"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "setDriverActive",
            query: "mutation($id: ID!) { setDriverActive(driverId: $id) { id status email } }",
            mutation: true,
            need: Need::Manager,
            records: DRIVERS,
            partner_uses_shared: false,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "setDriverInactive",
            query: "mutation($id: ID!) { setDriverInactive(driverId: $id) { id status email } }",
            mutation: true,
            need: Need::Manager,
            records: DRIVERS,
            partner_uses_shared: false,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "deleteUser",
            query: "mutation($id: ID!) { deleteUser(id: $id) { deletedId } }",
            mutation: true,
            need: Need::Manager,
            records: USERS,
            partner_uses_shared: false,
            id_as: Some("User"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "updateDepot",
            query: "mutation($id: ID!) { updateDepot(id: $id, input: { name: \"Renamed depot\", timezone: \"Europe/Paris\" }) { id name } }",
            mutation: true,
            need: Need::Manager,
            records: &[Rec::Depot],
            partner_uses_shared: false,
            id_as: Some("Depot"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "deleteDepot",
            query: "mutation($id: ID!) { deleteDepot(id: $id) { deletedId } }",
            mutation: true,
            need: Need::Manager,
            records: &[Rec::Depot],
            partner_uses_shared: false,
            id_as: Some("Depot"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "assignDriver",
            query: "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) {
                id driver { id email } } }",
            mutation: true,
            need: Need::Manager,
            records: &[
                Rec::Route,
                Rec::LentRoute,
                Rec::SharedDriver,
                Rec::UnsharedDriver,
            ],
            partner_uses_shared: true,
            id_as: None,
            setup: Setup::None,
            // A route record gets a driver the caller could use; a driver record a route of the
            // caller's own organization: so the record under test is the only foreign thing.
            vars: |c| match c.rec {
                Rec::Route | Rec::LentRoute => json!({ "r": c.id, "d": c.fix.shared.driver_id }),
                _ => json!({ "r": c.own_route, "d": c.id }),
            },
        },
        Op {
            name: "unassignDriver",
            query: "mutation($id: ID!) { unassignDriver(routeId: $id) { id status } }",
            mutation: true,
            need: Need::Manager,
            records: ROUTES,
            partner_uses_shared: false,
            id_as: Some("Route"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "startRoute",
            query: "mutation($id: ID!) { startRoute(routeId: $id) { id status } }",
            mutation: true,
            need: Need::Driving,
            records: ROUTES,
            partner_uses_shared: false,
            id_as: Some("Route"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "completeRoute",
            query: "mutation($id: ID!) { completeRoute(routeId: $id) { id status driverName } }",
            mutation: true,
            need: Need::Driving,
            records: ROUTES,
            partner_uses_shared: false,
            id_as: Some("Route"),
            setup: Setup::StartedRoute,
            vars: id,
        },
        Op {
            name: "cancelRoute",
            query: "mutation($id: ID!) { cancelRoute(routeId: $id) { id status } }",
            mutation: true,
            need: Need::Manager,
            records: ROUTES,
            partner_uses_shared: false,
            id_as: Some("Route"),
            setup: Setup::None,
            vars: id,
        },
        Op {
            name: "shareDrivers",
            query: "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) {
                id driver { email } } }",
            mutation: true,
            need: Need::Admin,
            records: DRIVERS,
            partner_uses_shared: false,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: |c| json!({ "p": c.share_target, "d": [c.id] }),
        },
        Op {
            name: "unshareDriver",
            query: "mutation($d: ID!, $p: ID!) { unshareDriver(driverId: $d, partnerId: $p) { id email } }",
            mutation: true,
            need: Need::Admin,
            records: DRIVERS,
            partner_uses_shared: false,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: |c| json!({ "d": c.id, "p": c.world.partner.id }),
        },
        Op {
            name: "releaseSharedDriver",
            query: "mutation($d: ID!) { releaseSharedDriver(driverId: $d) { deletedId } }",
            mutation: true,
            need: Need::Admin,
            records: DRIVERS,
            partner_uses_shared: true,
            id_as: Some("Driver"),
            setup: Setup::None,
            vars: |c| json!({ "d": c.id }),
        },
        Op {
            name: "createRoute",
            query: "mutation($input: RouteInput!) { createRoute(input: $input) { id depot { name } } }",
            mutation: true,
            need: Need::Manager,
            records: &[Rec::Depot],
            partner_uses_shared: false,
            id_as: Some("Depot"),
            setup: Setup::None,
            vars: |c| {
                json!({ "input": { "name": "Cell run", "plannedStart": "2030-01-01T08:00:00Z",
                    "depotId": c.id } })
            },
        },
        Op {
            name: "inviteUser",
            query: "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id driver { depot { name } } } }",
            mutation: true,
            need: Need::Manager,
            records: &[Rec::Depot],
            partner_uses_shared: false,
            id_as: Some("Depot"),
            setup: Setup::None,
            vars: |c| {
                let email = format!("cell-{}@example.test", uuid::Uuid::now_v7().simple());
                json!({ "input": { "firstName": "Cell", "lastName": "Invitee", "email": email,
                    "roles": ["DRIVER"], "depotId": c.id } })
            },
        },
        Op {
            name: "selectOrganization",
            query: "mutation($id: ID!) { selectOrganization(organizationId: $id) {
                accessToken viewer { organization { id name } } } }",
            mutation: true,
            need: Need::Member,
            records: &[Rec::Organization],
            partner_uses_shared: false,
            id_as: None,
            setup: Setup::None,
            vars: id,
        },
    ]
}

/// A query built from shared fragments (leaked: a few short strings per test run).
fn joined(parts: &[&str]) -> &'static str {
    Box::leak(parts.concat().into_boxed_str())
}

/// Whether a DRIVER of another organization is refused by its role in its own organization
/// before the ID is looked at: the same answer for every ID, so nothing about the record leaks
/// (assignDriver on a driver record gets a route of the caller's own organization).
fn refused_by_role_first(op: &Op, rec: Rec) -> bool {
    match op.name {
        "shareDrivers" | "createRoute" | "inviteUser" => true,
        "assignDriver" => !matches!(rec, Rec::Route | Rec::LentRoute),
        _ => false,
    }
}

/// The rule, as a function: what `who` gets from `op` on the owner's `rec`.
fn expected(op: &Op, who: Who, rec: Rec) -> Expect {
    let success = if op.mutation {
        Expect::Ok
    } else {
        Expect::Data
    };
    let unseen = if op.mutation {
        Expect::NotFound
    } else {
        Expect::Null
    };
    // Only a partner releases a share: none is granted to the owner's own organization.
    if op.name == "releaseSharedDriver"
        && matches!(
            who,
            Who::OwnerAdmin | Who::OwnerDispatcher | Who::OwnerDriver
        )
    {
        return Expect::NotFound;
    }
    let own_role_may = match who {
        // Across organizations a record exists only when it is a driver shared with the viewer.
        Who::PartnerAdmin
            if matches!(rec, Rec::SharedDriver | Rec::Share) && op.partner_uses_shared =>
        {
            return success;
        }
        // A lent driver sees and drives the owner's route assigned to it, nothing else.
        Who::LentDriver => {
            let its_route = rec == Rec::LentRoute && matches!(op.need, Need::Read | Need::Driving);
            return if its_route {
                success
            } else if refused_by_role_first(op, rec) {
                Expect::Forbidden
            } else {
                unseen
            };
        }
        Who::PartnerAdmin | Who::StrangerAdmin => return unseen,
        Who::OwnerAdmin => true,
        Who::OwnerDispatcher => op.need != Need::Admin,
        Who::OwnerDriver => match op.need {
            Need::Read => matches!(rec, Rec::Depot | Rec::Route | Rec::Organization),
            Need::Driving => rec != Rec::LentRoute,
            Need::Member => true,
            Need::Manager | Need::Admin => false,
        },
    };
    match (own_role_may, op.mutation) {
        (false, true) => Expect::Forbidden,
        (false, false) => Expect::Null,
        // Nothing to unshare: the driver is shared with nobody.
        (true, _) if op.name == "unshareDriver" && rec == Rec::UnsharedDriver => Expect::NotFound,
        (true, _) => success,
    }
}

/// The owner's records one cell works on.
#[derive(Clone)]
struct Fixture {
    user: String,
    user_email: String,
    shared: Member,
    unshared: Member,
    depot: String,
    route: String,
    /// The SharedDriver grant of `shared`.
    share: String,
    /// The DRIVER the route is assigned to; calls as `Who::OwnerDriver`.
    route_driver: Member,
    /// The owner's route assigned to `lent_driver`.
    lent_route: String,
    /// The lender's DRIVER shared with the owner; calls as `Who::LentDriver`.
    lent_driver: Member,
}

impl Fixture {
    fn id(&self, rec: Rec, world: &World) -> String {
        match rec {
            Rec::User => self.user.clone(),
            Rec::SharedDriver => self.shared.driver_id.clone(),
            Rec::UnsharedDriver => self.unshared.driver_id.clone(),
            Rec::Depot => self.depot.clone(),
            Rec::Route => self.route.clone(),
            Rec::Organization => world.owner.id.clone(),
            Rec::Share => self.share.clone(),
            Rec::LentRoute => self.lent_route.clone(),
        }
    }
}

const DEPOT_NAME: &str = "Owner Depot Zephyr";
const ROUTE_NAME: &str = "Owner Route Quokka";
const LENT_ROUTE_NAME: &str = "Owner Route Ibis";

struct World {
    app: TestApp,
    owner: Org,
    partner: Org,
    stranger: Org,
    /// An organization that shared one of its drivers with the owner.
    lender: Org,
    dispatcher: Member,
    base: Fixture,
}

/// What one call sees.
struct Cell<'a> {
    world: &'a World,
    fix: &'a Fixture,
    rec: Rec,
    id: String,
    /// A PLANNED route of the caller's own organization.
    own_route: String,
    /// An organization to share with, other than the caller's.
    share_target: String,
}

const ASSIGN: &str =
    "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }";
const SHARE: &str =
    "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }";

async fn world() -> World {
    let app = spawn_app().await;
    let owner = app.create_org("Owner Fleet").await;
    let partner = app.create_org("Partner Fleet").await;
    let stranger = app.create_org("Stranger Fleet").await;
    let lender = app.create_org("Lender Fleet").await;
    let lent_driver = app.member(&lender.admin.token, &["DRIVER"]).await;
    let dispatcher = app.member(&owner.admin.token, &["DISPATCHER"]).await;
    let user = app.member(&owner.admin.token, &["DISPATCHER"]).await;
    let shared = app.member(&owner.admin.token, &["DRIVER"]).await;
    let unshared = app.member(&owner.admin.token, &["DRIVER"]).await;
    let route_driver = app.member(&owner.admin.token, &["DRIVER"]).await;
    let mut w = World {
        base: Fixture {
            user: user.user_id,
            user_email: user.email,
            shared,
            unshared,
            depot: String::new(),
            route: String::new(),
            share: String::new(),
            route_driver,
            lent_route: String::new(),
            lent_driver,
        },
        app,
        owner,
        partner,
        stranger,
        lender,
        dispatcher,
    };
    w.base.depot = w.app.depot(&w.owner.admin.token, DEPOT_NAME).await;
    // The shared driver has a depot, so a leak of it through the card would show.
    w.app
        .ok(
            Some(&w.owner.admin.token),
            "mutation($id: ID!, $d: ID!) { editUser(id: $id, input: { depotId: $d }) { id } }",
            json!({ "id": w.base.shared.user_id, "d": w.base.depot }),
        )
        .await;
    w.base.share = w.share(&w.base.shared.driver_id).await;
    w.base.route = w.assigned_route(&w.base.route_driver, Setup::None).await;
    w.base.lent_route = w.lent_route(&w.base.lent_driver, Setup::None).await;
    w
}

impl World {
    /// Shares `driver` with the partner; returns the SharedDriver ID.
    async fn share(&self, driver: &str) -> String {
        let data = self
            .app
            .ok(
                Some(&self.owner.admin.token),
                SHARE,
                json!({ "p": self.partner.id, "d": [driver] }),
            )
            .await;
        data["shareDrivers"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn assigned_route(&self, driver: &Member, setup: Setup) -> String {
        let token = &self.owner.admin.token;
        let route = self.app.route(token, ROUTE_NAME).await;
        self.app
            .ok(
                Some(token),
                ASSIGN,
                json!({ "r": route, "d": driver.driver_id }),
            )
            .await;
        if setup == Setup::StartedRoute {
            self.app
                .ok(
                    Some(token),
                    "mutation($r: ID!) { startRoute(routeId: $r) { id } }",
                    json!({ "r": route }),
                )
                .await;
        }
        route
    }

    /// Lends `driver` of the lender to the owner and assigns it a route from the owner's depot.
    async fn lent_route(&self, driver: &Member, setup: Setup) -> String {
        self.app
            .ok(
                Some(&self.lender.admin.token),
                SHARE,
                json!({ "p": self.owner.id, "d": [driver.driver_id] }),
            )
            .await;
        let token = &self.owner.admin.token;
        let route = self
            .app
            .ok(
                Some(token),
                "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
                json!({ "input": { "name": LENT_ROUTE_NAME,
                    "plannedStart": "2030-01-01T08:00:00Z", "depotId": self.base.depot } }),
            )
            .await["createRoute"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.app
            .ok(
                Some(token),
                ASSIGN,
                json!({ "r": route, "d": driver.driver_id }),
            )
            .await;
        if setup == Setup::StartedRoute {
            self.app
                .ok(
                    Some(&driver.session.token),
                    "mutation($r: ID!) { startRoute(routeId: $r) { id } }",
                    json!({ "r": route }),
                )
                .await;
        }
        route
    }

    /// New records of kind `rec` (the rest from the base fixture), for a cell that changes them.
    async fn fresh(&self, rec: Rec, setup: Setup) -> Fixture {
        let token = &self.owner.admin.token;
        let mut fix = self.base.clone();
        match rec {
            Rec::User if setup == Setup::InvitedUser => {
                let email = format!("invited-{}@example.test", uuid::Uuid::now_v7().simple());
                fix.user = self.app.invite(token, &email, &["DISPATCHER"]).await;
                fix.user_email = email;
            }
            Rec::User => {
                let user = self.app.member(token, &["DISPATCHER"]).await;
                fix.user = user.user_id;
                fix.user_email = user.email;
            }
            Rec::SharedDriver | Rec::Share => {
                fix.shared = self.app.member(token, &["DRIVER"]).await;
                fix.share = self.share(&fix.shared.driver_id).await;
            }
            Rec::UnsharedDriver => fix.unshared = self.app.member(token, &["DRIVER"]).await,
            Rec::Depot => fix.depot = self.app.depot(token, DEPOT_NAME).await,
            Rec::Route => {
                fix.route_driver = self.app.member(token, &["DRIVER"]).await;
                fix.route = self.assigned_route(&fix.route_driver, setup).await;
            }
            Rec::LentRoute => {
                fix.lent_driver = self.app.member(&self.lender.admin.token, &["DRIVER"]).await;
                fix.lent_route = self.lent_route(&fix.lent_driver, setup).await;
            }
            Rec::Organization => {}
        }
        fix
    }

    fn token<'a>(&'a self, who: Who, fix: &'a Fixture) -> &'a str {
        match who {
            Who::OwnerAdmin => &self.owner.admin.token,
            Who::OwnerDispatcher => &self.dispatcher.session.token,
            Who::OwnerDriver => &fix.route_driver.session.token,
            Who::PartnerAdmin => &self.partner.admin.token,
            Who::StrangerAdmin => &self.stranger.admin.token,
            Who::LentDriver => &fix.lent_driver.session.token,
        }
    }

    fn org_admin(&self, who: Who) -> &str {
        match who {
            Who::PartnerAdmin => &self.partner.admin.token,
            Who::StrangerAdmin => &self.stranger.admin.token,
            Who::LentDriver => &self.lender.admin.token,
            _ => &self.owner.admin.token,
        }
    }

    /// Strings of the owner's that `who` must never receive.
    fn secrets(&self, who: Who, fix: &Fixture) -> Vec<String> {
        let mut secrets = vec![
            self.owner.admin_email.clone(),
            self.dispatcher.email.clone(),
            fix.user_email.clone(),
            fix.unshared.email.clone(),
            fix.route_driver.email.clone(),
            self.base.user_email.clone(),
            self.base.unshared.email.clone(),
            self.base.route_driver.email.clone(),
            DEPOT_NAME.to_owned(),
            ROUTE_NAME.to_owned(),
        ];
        if who == Who::StrangerAdmin {
            secrets.extend([
                fix.shared.email.clone(),
                self.base.shared.email.clone(),
                self.owner.name.clone(),
                self.owner.id.clone(),
            ]);
        }
        secrets
    }
}

/// Checks one answer; `Err` describes the mismatch.
fn check(op: &Op, cell: &Cell<'_>, who: Who, want: Expect, body: &Value) -> Result<(), String> {
    let field = &body["data"][op.name];
    let got = match code(body) {
        Some(c) if c == "FORBIDDEN" => Expect::Forbidden,
        Some(c) if c == "NOT_FOUND" => Expect::NotFound,
        Some(c) => return Err(format!("unexpected {c}: {body}")),
        None if field.is_null() => Expect::Null,
        None if op.mutation => Expect::Ok,
        None => Expect::Data,
    };
    if got != want {
        return Err(format!("expected {want:?}, got {got:?}: {body}"));
    }
    if matches!(want, Expect::Forbidden | Expect::NotFound) && !body["data"].is_null() {
        return Err(format!("an error with data: {body}"));
    }
    if want == Expect::Data && field["id"] != cell.id.as_str() {
        return Err(format!("answered another record: {body}"));
    }
    if who == Who::LentDriver && want == Expect::Data {
        // Its route as a partner's: the owner's organization and depot records stay hidden.
        for hidden in ["organization", "depot"] {
            if !field[hidden].is_null() {
                return Err(format!("{hidden} shown to the lent driver: {body}"));
            }
        }
    }
    if who == Who::PartnerAdmin && want == Expect::Data {
        for hidden in [
            "organization",
            "user",
            "depot",
            "sharedWith",
            "currentRoute",
        ] {
            if !field[hidden].is_null() {
                return Err(format!("{hidden} shown to the partner: {body}"));
            }
        }
    }
    Ok(())
}

async fn run_cell(w: &World, op: &Op, who: Who, rec: Rec) -> Result<(), String> {
    let want = expected(op, who, rec);
    let changes = want == Expect::Ok && op.name != "selectOrganization";
    let fix = if changes {
        w.fresh(rec, op.setup).await
    } else {
        w.base.clone()
    };
    let native = fix.id(rec, w);
    let id = match op.id_as {
        Some(kind) => retype(&native, kind),
        None => native,
    };
    let own_route = if op.name == "assignDriver" {
        w.app.route(w.org_admin(who), "Own run").await
    } else {
        String::new()
    };
    let share_target = if who == Who::PartnerAdmin {
        w.stranger.id.clone()
    } else {
        w.partner.id.clone()
    };
    let cell = Cell {
        world: w,
        fix: &fix,
        rec,
        id,
        own_route,
        share_target,
    };
    let body = w
        .app
        .gql(Some(w.token(who, &fix)), op.query, (op.vars)(&cell))
        .await;
    let mut result = check(op, &cell, who, want, &body);
    if matches!(
        who,
        Who::PartnerAdmin | Who::StrangerAdmin | Who::LentDriver
    ) {
        let text = body.to_string();
        if let Some(leak) = w
            .secrets(who, &fix)
            .iter()
            .find(|s| text.contains(s.as_str()))
        {
            result = Err(format!("leaked {leak:?}: {text}"));
        }
    }
    // Free the drivers a successful change left on a route, for the cells that follow.
    let fresh_route = match rec {
        Rec::Route => Some(&fix.route),
        Rec::LentRoute => Some(&fix.lent_route),
        _ => None,
    };
    let routes = [
        (w.org_admin(who), Some(&cell.own_route)),
        (w.owner.admin.token.as_str(), fresh_route),
    ];
    for (token, route) in routes {
        if let Some(route) = route.filter(|r| changes && !r.is_empty()) {
            w.app
                .gql(
                    Some(token),
                    "mutation($r: ID!) { cancelRoute(routeId: $r) { id } }",
                    json!({ "r": route }),
                )
                .await;
        }
    }
    result
}

/// Runs every applicable cell of the operations `pick` selects; fails listing every mismatch.
async fn run_matrix(pick: fn(&Op) -> bool) {
    let w = world().await;
    let all = ops();
    let ops: Vec<&Op> = all.iter().filter(|o| pick(o)).collect();
    let applicable: usize = ops.iter().map(|o| o.records.len() * WHO.len()).sum();
    println!(
        "isolation matrix: {} operations × {} roles × {} record kinds ({} applicable cells)",
        ops.len(),
        WHO.len(),
        RECORD_KINDS,
        applicable
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in &ops {
        for &rec in op.records {
            for who in WHO {
                checked += 1;
                if let Err(why) = run_cell(&w, op, who, rec).await {
                    failures.push(format!("{} as {who:?} on {rec:?}: {why}", op.name));
                }
            }
        }
    }
    assert_eq!(checked, applicable);
    assert!(
        failures.is_empty(),
        "{} of {checked} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The partner was shared exactly one driver by the base fixture, and still sees it.
    let partner_sees = w
        .app
        .ok(
            Some(&w.partner.admin.token),
            "query($id: ID!) { driver(id: $id) { id } }",
            json!({ "id": w.base.shared.driver_id }),
        )
        .await;
    assert_eq!(
        partner_sees["driver"]["id"],
        w.base.shared.driver_id.as_str()
    );
}

#[tokio::test]
async fn every_query_by_id_answers_only_what_the_viewer_may_see() {
    run_matrix(|op| !op.mutation).await;
}

#[tokio::test]
async fn every_mutation_by_id_is_forbidden_in_the_own_organization_and_not_found_across() {
    run_matrix(|op| op.mutation).await;
}

#[test]
fn the_expectation_function_follows_the_rules_table() {
    let all = ops();
    let op = |name: &str| all.iter().find(|o| o.name == name).expect("op");
    assert_eq!(
        expected(op("driver"), Who::PartnerAdmin, Rec::SharedDriver),
        Expect::Data
    );
    assert_eq!(
        expected(op("driver"), Who::PartnerAdmin, Rec::UnsharedDriver),
        Expect::Null
    );
    assert_eq!(
        expected(op("user"), Who::PartnerAdmin, Rec::SharedDriver),
        Expect::Null
    );
    assert_eq!(
        expected(op("deleteUser"), Who::StrangerAdmin, Rec::User),
        Expect::NotFound
    );
    assert_eq!(
        expected(op("deleteUser"), Who::OwnerDriver, Rec::User),
        Expect::Forbidden
    );
    assert_eq!(
        expected(op("shareDrivers"), Who::OwnerDispatcher, Rec::SharedDriver),
        Expect::Forbidden
    );
    assert_eq!(
        expected(op("startRoute"), Who::OwnerDriver, Rec::Route),
        Expect::Ok
    );
    assert_eq!(
        expected(op("route"), Who::OwnerDriver, Rec::Route),
        Expect::Data
    );
    assert_eq!(
        expected(op("assignDriver"), Who::PartnerAdmin, Rec::SharedDriver),
        Expect::Ok
    );
    assert_eq!(
        expected(op("assignDriver"), Who::PartnerAdmin, Rec::Route),
        Expect::NotFound
    );
    assert_eq!(
        expected(op("route"), Who::LentDriver, Rec::LentRoute),
        Expect::Data
    );
    assert_eq!(
        expected(op("completeRoute"), Who::LentDriver, Rec::LentRoute),
        Expect::Ok
    );
    assert_eq!(
        expected(op("cancelRoute"), Who::LentDriver, Rec::LentRoute),
        Expect::NotFound
    );
    assert_eq!(
        expected(op("route"), Who::LentDriver, Rec::Route),
        Expect::Null
    );
    assert_eq!(
        expected(op("startRoute"), Who::OwnerDriver, Rec::LentRoute),
        Expect::Forbidden
    );
    assert_eq!(
        expected(op("route"), Who::OwnerAdmin, Rec::LentRoute),
        Expect::Data
    );
}
