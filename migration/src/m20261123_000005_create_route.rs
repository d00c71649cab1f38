//! Creates `routes`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000002_create_organization::Organizations;
use crate::m20261123_000003_create_depot::Depots;
use crate::m20261123_000004_create_user::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Routes::Table)
                    .if_not_exists()
                    .col(pk_uuid(Routes::Id))
                    .col(uuid(Routes::OrganizationId))
                    .col(string_len(Routes::Name, 100))
                    .col(timestamp_with_time_zone(Routes::PlannedStart))
                    .col(string_len(Routes::Status, 16))
                    .col(uuid_null(Routes::DepotId))
                    .col(uuid_null(Routes::DriverId))
                    .col(string_len_null(Routes::DriverName, 201))
                    .col(timestamp_with_time_zone_null(Routes::CompletedAt))
                    .col(timestamp_with_time_zone(Routes::CreatedAt))
                    .col(timestamp_with_time_zone(Routes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_routes_organization")
                            .from(Routes::Table, Routes::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_routes_depot")
                            .from(Routes::Table, Routes::DepotId)
                            .to(Depots::Table, Depots::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_routes_driver")
                            .from(Routes::Table, Routes::DriverId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("idx_routes_organization")
                .table(Routes::Table)
                .col(Routes::OrganizationId)
                .col(Routes::Id)
                .to_owned(),
            Index::create()
                .name("idx_routes_depot")
                .table(Routes::Table)
                .col(Routes::DepotId)
                .to_owned(),
            Index::create()
                .name("idx_routes_driver_status")
                .table(Routes::Table)
                .col(Routes::DriverId)
                .col(Routes::Status)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Routes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Routes {
    Table,
    Id,
    OrganizationId,
    Name,
    PlannedStart,
    Status,
    DepotId,
    DriverId,
    DriverName,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}
