//! Creates `status_events`, the append-only event log whose key is the global cursor.
//!
//! No foreign keys: an event outlives the user, route or share it describes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StatusEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StatusEvents::Id))
                    .col(string_len(StatusEvents::Kind, 16))
                    .col(uuid(StatusEvents::OrganizationId))
                    .col(uuid(StatusEvents::UserId))
                    .col(boolean(StatusEvents::IsDriver))
                    .col(uuid_null(StatusEvents::PartnerId))
                    .col(uuid_null(StatusEvents::RouteId))
                    .col(uuid_null(StatusEvents::RouteOrganizationId))
                    .col(string_len_null(StatusEvents::PreviousStatus, 16))
                    .col(string_len_null(StatusEvents::Status, 16))
                    .col(text(StatusEvents::Audience))
                    .col(timestamp_with_time_zone(StatusEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_status_events_at")
                    .table(StatusEvents::Table)
                    .col(StatusEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StatusEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum StatusEvents {
    Table,
    Id,
    Kind,
    OrganizationId,
    UserId,
    IsDriver,
    PartnerId,
    RouteId,
    RouteOrganizationId,
    PreviousStatus,
    Status,
    Audience,
    At,
}
