//! Creates `depots`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000002_create_organization::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Depots::Table)
                    .if_not_exists()
                    .col(pk_uuid(Depots::Id))
                    .col(uuid(Depots::OrganizationId))
                    .col(string_len(Depots::Name, 100))
                    .col(string_len_null(Depots::Address, 500))
                    .col(string_len(Depots::Timezone, 64))
                    .col(timestamp_with_time_zone(Depots::CreatedAt))
                    .col(timestamp_with_time_zone(Depots::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_depots_organization")
                            .from(Depots::Table, Depots::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_depots_organization")
                    .table(Depots::Table)
                    .col(Depots::OrganizationId)
                    .col(Depots::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Depots::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Depots {
    Table,
    Id,
    OrganizationId,
    Name,
    Address,
    Timezone,
    CreatedAt,
    UpdatedAt,
}
