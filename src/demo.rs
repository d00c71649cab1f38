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

/// Loads the demo unless the database already has organizations; prints how to sign in.
pub async fn load_if_empty(state: &AppState) -> anyhow::Result<()> {
    let conn = &state.db.conn;
    if organization::Entity::find().count(conn).await? > 0 {
        tracing::info!("database is not empty; demo data not loaded");
        return Ok(());
    }
    let hash = state
        .hasher
        .hash(DEMO_PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow::anyhow!("Failed to hash the demo password: {}", e.code()))?;
    let txn = state.db.begin_write().await?;
    let acme = org(&*txn, "Acme Parcel").await?;
    let nordic = org(&*txn, "Nordic Freight").await?;
    let berlin_north = depot(&*txn, acme, "Berlin Nord", "Europe/Berlin").await?;
    let berlin_south = depot(&*txn, acme, "Berlin Süd", "Europe/Berlin").await?;
    let stockholm = depot(&*txn, nordic, "Stockholm Hub", "Europe/Stockholm").await?;

    member(
        &*txn,
        &hash,
        acme,
        "ada@acme.example",
        ("Ada", "Admin"),
        Role::Admin,
        None,
    )
    .await?;
    member(
        &*txn,
        &hash,
        acme,
        "dana@acme.example",
        ("Dana", "Dispatch"),
        Role::Dispatcher,
        None,
    )
    .await?;
    member(
        &*txn,
        &hash,
        acme,
        "dirk@acme.example",
        ("Dirk", "Planer"),
        Role::Dispatcher,
        None,
    )
    .await?;
    member(
        &*txn,
        &hash,
        nordic,
        "nora@nordic.example",
        ("Nora", "Admin"),
        Role::Admin,
        None,
    )
    .await?;
    member(
        &*txn,
        &hash,
        nordic,
        "sven@nordic.example",
        ("Sven", "Dispatch"),
        Role::Dispatcher,
        None,
    )
    .await?;
    // One account in both organizations, to show organization selection.
    member(
        &*txn,
        &hash,
        nordic,
        "ada@acme.example",
        ("Ada", "Admin"),
        Role::Dispatcher,
        None,
    )
    .await?;

    let mut drivers = Vec::new();
    for (i, (first, last)) in DRIVER_NAMES.iter().enumerate() {
        let (org_id, depot_id, domain) = match i {
            0..=13 => (
                acme,
                if i % 2 == 0 {
                    berlin_north
                } else {
                    berlin_south
                },
                "acme.example",
            ),
            _ => (nordic, stockholm, "nordic.example"),
        };
        let email = format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase());
        drivers.push(
            member(
                &*txn,
                &hash,
                org_id,
                &email,
                (first, last),
                Role::Driver,
                Some(depot_id),
            )
            .await?,
        );
    }
    set_inactive(&*txn, &drivers[5]).await?;
    set_inactive(&*txn, &drivers[17]).await?;

    let tomorrow = Utc::now() + Duration::days(1);
    route_for(
        &*txn,
        acme,
        "Berlin Mitte AM",
        tomorrow,
        berlin_north,
        Some(drivers[0].id),
    )
    .await?;
    route_for(
        &*txn,
        acme,
        "Kreuzberg PM",
        tomorrow,
        berlin_south,
        Some(drivers[1].id),
    )
    .await?;
    route_for(&*txn, acme, "Spandau", tomorrow, berlin_north, None).await?;
    route_for(
        &*txn,
        nordic,
        "Södermalm",
        tomorrow,
        stockholm,
        Some(drivers[14].id),
    )
    .await?;
    share::ActiveModel {
        id: Set(Uuid::now_v7()),
        driver_id: Set(drivers[2].id),
        owner_id: Set(acme),
        partner_id: Set(nordic),
        shared_by: Set(None),
        shared_at: Set(Utc::now()),
        expires_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    txn.commit().await?;

    println!("Demo data loaded. Sign in with password `{DEMO_PASSWORD}` as:");
    println!(
        "  ada@acme.example   ADMIN of Acme Parcel, DISPATCHER of Nordic Freight (selects an organization)"
    );
    println!("  dana@acme.example  DISPATCHER of Acme Parcel");
    println!(
        "  nora@nordic.example ADMIN of Nordic Freight (partner of Acme: sees one shared driver)"
    );
    println!("  robin.andersson@acme.example  DRIVER of Acme Parcel");
    Ok(())
}

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
