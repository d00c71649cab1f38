//! Creates the indexes behind every `orderBy`: (organization, sort column, id) on users,
//! routes and depots.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index name, table, sort column) of every order.
const ORDERS: [(&str, &str, &str); 9] = [
    ("idx_users_order_last_name", "users", "last_name"),
    ("idx_users_order_first_name", "users", "first_name"),
    ("idx_users_order_email", "users", "email"),
    ("idx_users_order_status", "users", "status"),
    ("idx_users_order_invited_at", "users", "invited_at"),
    ("idx_routes_order_planned_start", "routes", "planned_start"),
    ("idx_routes_order_name", "routes", "name"),
    ("idx_routes_order_status", "routes", "status"),
    ("idx_depots_order_name", "depots", "name"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in ORDERS {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new(table))
                        .col(Alias::new("organization_id"))
                        .col(Alias::new(column))
                        .col(Alias::new("id"))
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in ORDERS {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
