//! Schema migrations, one per file, applied in order by [`Migrator`]; the same files run on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_account;
mod m20261123_000002_create_organization;
mod m20261123_000003_create_depot;
mod m20261123_000004_create_user;
mod m20261123_000005_create_route;
mod m20261123_000006_create_share;
mod m20261123_000007_create_invitation;
mod m20261123_000008_create_password_reset;
mod m20261123_000009_create_refresh_token;
mod m20261123_000010_create_status_event;
mod m20261123_000011_create_kv;
mod m20261123_000012_create_mail_outbox;
mod m20261201_000021_add_route_depot_name;
mod m20261201_000022_add_share_expiry;
mod m20261201_100001_create_order_indexes;
mod m20261201_100002_create_status_event_audit_indexes;
mod m20261201_100003_create_status_event_audience;
mod m20261202_000001_create_access_event;

/// Every migration of the gateway, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_account::Migration),
            Box::new(m20261123_000002_create_organization::Migration),
            Box::new(m20261123_000003_create_depot::Migration),
            Box::new(m20261123_000004_create_user::Migration),
            Box::new(m20261123_000005_create_route::Migration),
            Box::new(m20261123_000006_create_share::Migration),
            Box::new(m20261123_000007_create_invitation::Migration),
            Box::new(m20261123_000008_create_password_reset::Migration),
            Box::new(m20261123_000009_create_refresh_token::Migration),
            Box::new(m20261123_000010_create_status_event::Migration),
            Box::new(m20261123_000011_create_kv::Migration),
            Box::new(m20261123_000012_create_mail_outbox::Migration),
            Box::new(m20261201_000021_add_route_depot_name::Migration),
            Box::new(m20261201_000022_add_share_expiry::Migration),
            Box::new(m20261201_100001_create_order_indexes::Migration),
            Box::new(m20261201_100002_create_status_event_audit_indexes::Migration),
            Box::new(m20261201_100003_create_status_event_audience::Migration),
            Box::new(m20261202_000001_create_access_event::Migration),
        ]
    }
}
