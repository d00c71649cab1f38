//! Demo data for `serve --demo`: two organizations, depots, dispatchers, 22 drivers, routes
//! and one share, loaded only into an empty database.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use uuid::Uuid;

use entity::route::RouteStatus;
use entity::user::UserStatus;
use entity::{account, depot, organization, route, share, user};

use crate::state::AppState;

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "lastmile-demo";

const DRIVER_NAMES: [(&str, &str); 22] = [
    ("Robin", "Andersson"),
    ("Mia", "Schneider"),
    ("Luca", "Rossi"),
    ("Noah", "Keller"),
    ("Emma", "Fischer"),
    ("Jonas", "Weber"),
    ("Lea", "Wagner"),
    ("Finn", "Becker"),
    ("Hanna", "Hoffmann"),
    ("Paul", "Schulz"),
    ("Sofia", "Koch"),
    ("Ben", "Richter"),
    ("Clara", "Wolf"),
    ("Elias", "Neumann"),
    ("Astrid", "Lindqvist"),
    ("Erik", "Nilsson"),
    ("Freja", "Berg"),
    ("Oskar", "Johansson"),
    ("Maja", "Karlsson"),
    ("Nils", "Eriksson"),
    ("Saga", "Persson"),
    ("Viktor", "Olsson"),
];

/// Which of the two demo organizations.
#[derive(Clone, Copy)]
enum Demo {
    /// Acme Parcel, in Berlin.
    Acme,
    /// Nordic Freight, in Stockholm.
    Nordic,
}

/// The demo's staff (not drivers): organization, email, name, role. Ada is in both, to show
/// organization selection.
const STAFF: [(Demo, &str, (&str, &str), Role); 6] = [
    (
        Demo::Acme,
        "ada@acme.example",
        ("Ada", "Admin"),
        Role::Admin,
    ),
    (
        Demo::Acme,
        "dana@acme.example",
        ("Dana", "Dispatch"),
        Role::Dispatcher,
    ),
    (
        Demo::Acme,
        "dirk@acme.example",
        ("Dirk", "Planer"),
        Role::Dispatcher,
    ),
    (
        Demo::Nordic,
        "nora@nordic.example",
        ("Nora", "Admin"),
        Role::Admin,
    ),
    (
        Demo::Nordic,
        "sven@nordic.example",
        ("Sven", "Dispatch"),
        Role::Dispatcher,
    ),
    (
        Demo::Nordic,
        "ada@acme.example",
        ("Ada", "Admin"),
        Role::Dispatcher,
    ),
];

/// The ids of what the demo created so far.
struct Ids {
    /// Acme Parcel.
    acme: Uuid,
    /// Nordic Freight.
    nordic: Uuid,
    /// Acme's two depots.
    berlin: [Uuid; 2],
    /// Nordic's depot.
    stockholm: Uuid,
}

impl Ids {
    fn org(&self, which: Demo) -> Uuid {
        match which {
            Demo::Acme => self.acme,
            Demo::Nordic => self.nordic,
        }
    }
}

/// Loads the demo unless the database already has organizations; prints how to sign in.
pub async fn load_if_empty(state: &AppState) -> anyhow::Result<()> {
    if organization::Entity::find().count(&state.db.conn).await? > 0 {
        tracing::info!("database is not empty; demo data not loaded");
        return Ok(());
    }
    let hash = state
        .hasher
        .hash(DEMO_PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow::anyhow!("Failed to hash the demo password: {}", e.code()))?;
    let txn = state.db.begin_write().await?;
    let ids = organizations(&*txn).await?;
    for (which, email, name, role) in STAFF {
        member(&*txn, &hash, ids.org(which), email, name, role, None).await?;
    }
    let drivers = drivers(&*txn, &hash, &ids).await?;
    routes(&*txn, &ids, &drivers).await?;
    share_one(&*txn, &ids, &drivers[2]).await?;
    txn.commit().await?;
    print_sign_in();
    Ok(())
}

/// The two organizations and their depots.
async fn organizations(conn: &impl ConnectionTrait) -> anyhow::Result<Ids> {
    let acme = org(conn, "Acme Parcel").await?;
    let nordic = org(conn, "Nordic Freight").await?;
    Ok(Ids {
        acme,
        nordic,
        berlin: [
            depot(conn, acme, "Berlin Nord", "Europe/Berlin").await?,
            depot(conn, acme, "Berlin Süd", "Europe/Berlin").await?,
        ],
        stockholm: depot(conn, nordic, "Stockholm Hub", "Europe/Stockholm").await?,
    })
}

/// The 22 drivers: the first 14 Acme's, alternating between its depots, the rest Nordic's;
/// two of them INACTIVE.
async fn drivers(
    conn: &impl ConnectionTrait,
    hash: &str,
    ids: &Ids,
) -> anyhow::Result<Vec<user::Model>> {
    let mut drivers = Vec::with_capacity(DRIVER_NAMES.len());
    for (i, (first, last)) in DRIVER_NAMES.iter().enumerate() {
        let (org_id, depot_id, domain) = match i {
            0..=13 => (ids.acme, ids.berlin[i % 2], "acme.example"),
            _ => (ids.nordic, ids.stockholm, "nordic.example"),
        };
        let email = format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase());
        let name = (*first, *last);
        let driver = member(
            conn,
            hash,
            org_id,
            &email,
            name,
            Role::Driver,
            Some(depot_id),
        )
        .await?;
        drivers.push(driver);
    }
    set_inactive(conn, &drivers[5]).await?;
    set_inactive(conn, &drivers[17]).await?;
    Ok(drivers)
}

/// Four routes for tomorrow, three with a driver.
async fn routes(
    conn: &impl ConnectionTrait,
    ids: &Ids,
    drivers: &[user::Model],
) -> anyhow::Result<()> {
    let tomorrow = Utc::now() + Duration::days(1);
    let [north, south] = ids.berlin;
    let plan = [
        (ids.acme, "Berlin Mitte AM", north, Some(drivers[0].id)),
        (ids.acme, "Kreuzberg PM", south, Some(drivers[1].id)),
        (ids.acme, "Spandau", north, None),
        (ids.nordic, "Södermalm", ids.stockholm, Some(drivers[14].id)),
    ];
    for (org_id, name, depot_id, driver_id) in plan {
        route_for(conn, org_id, name, tomorrow, depot_id, driver_id).await?;
    }
    Ok(())
}

/// Acme shares one driver with Nordic, for good.
async fn share_one(
    conn: &impl ConnectionTrait,
    ids: &Ids,
    driver: &user::Model,
) -> anyhow::Result<()> {
    share::ActiveModel {
        id: Set(Uuid::now_v7()),
        driver_id: Set(driver.id),
        owner_id: Set(ids.acme),
        partner_id: Set(ids.nordic),
        shared_by: Set(None),
        shared_at: Set(Utc::now()),
        expires_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// How to sign in to the demo.
fn print_sign_in() {
    println!("Demo data loaded. Sign in with password `{DEMO_PASSWORD}` as:");
    println!(
        "  ada@acme.example   ADMIN of Acme Parcel, DISPATCHER of Nordic Freight (selects an organization)"
    );
    println!("  dana@acme.example  DISPATCHER of Acme Parcel");
    println!(
        "  nora@nordic.example ADMIN of Nordic Freight (partner of Acme: sees one shared driver)"
    );
    println!("  robin.andersson@acme.example  DRIVER of Acme Parcel");
}

#[derive(Clone, Copy)]
enum Role {
    Admin,
    Dispatcher,
    Driver,
}

async fn org(conn: &impl ConnectionTrait, name: &str) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    organization::ActiveModel {
        id: Set(id),
        name: Set(name.into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

async fn depot(
    conn: &impl ConnectionTrait,
    org: Uuid,
    name: &str,
    tz: &str,
) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    depot::ActiveModel {
        id: Set(id),
        organization_id: Set(org),
        name: Set(name.into()),
        address: Set(None),
        timezone: Set(tz.into()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

async fn member(
    conn: &impl ConnectionTrait,
    hash: &str,
    org: Uuid,
    email: &str,
    (first, last): (&str, &str),
    role: Role,
    depot_id: Option<Uuid>,
) -> anyhow::Result<user::Model> {
    let now = Utc::now();
    let existing = account::Entity::find()
        .filter(account::Column::Email.eq(email))
        .one(conn)
        .await?;
    let account_id = match existing {
        Some(a) => a.id,
        None => {
            let id = Uuid::now_v7();
            account::ActiveModel {
                id: Set(id),
                email: Set(email.into()),
                password_hash: Set(hash.into()),
                timezone: Set("Europe/Berlin".into()),
                currency: Set("EUR".into()),
                csv_delimiter: Set(";".into()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(conn)
            .await?;
            id
        }
    };
    Ok(user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        account_id: Set(Some(account_id)),
        email: Set(email.into()),
        first_name: Set(first.into()),
        last_name: Set(last.into()),
        phone: Set(None),
        is_admin: Set(matches!(role, Role::Admin)),
        is_dispatcher: Set(matches!(role, Role::Dispatcher)),
        is_driver: Set(matches!(role, Role::Driver)),
        status: Set(UserStatus::Active),
        depot_id: Set(depot_id),
        invited_at: Set(now),
        activated_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

async fn set_inactive(conn: &impl ConnectionTrait, driver: &user::Model) -> anyhow::Result<()> {
    let mut active: user::ActiveModel = driver.clone().into();
    active.status = Set(UserStatus::Inactive);
    active.update(conn).await?;
    Ok(())
}

async fn route_for(
    conn: &impl ConnectionTrait,
    org: Uuid,
    name: &str,
    start: chrono::DateTime<Utc>,
    depot: Uuid,
    driver: Option<Uuid>,
) -> anyhow::Result<()> {
    let now = Utc::now();
    route::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(org),
        name: Set(name.into()),
        planned_start: Set(start),
        status: Set(RouteStatus::Planned),
        depot_id: Set(Some(depot)),
        driver_id: Set(driver),
        driver_name: Set(None),
        depot_name: Set(None),
        depot_address: Set(None),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}
