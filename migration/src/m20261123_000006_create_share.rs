//! Creates `shares`: which driver is shared with which partner organization.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000002_create_organization::Organizations;
use crate::m20261123_000004_create_user::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Shares::Table)
                    .if_not_exists()
                    .col(pk_uuid(Shares::Id))
                    .col(uuid(Shares::DriverId))
                    .col(uuid(Shares::OwnerId))
                    .col(uuid(Shares::PartnerId))
                    .col(uuid_null(Shares::SharedBy))
                    .col(timestamp_with_time_zone(Shares::SharedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_shares_driver")
                            .from(Shares::Table, Shares::DriverId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_shares_owner")
                            .from(Shares::Table, Shares::OwnerId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_shares_partner")
                            .from(Shares::Table, Shares::PartnerId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_shares_shared_by")
                            .from(Shares::Table, Shares::SharedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("uq_shares_driver_partner")
                .table(Shares::Table)
                .col(Shares::DriverId)
                .col(Shares::PartnerId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_shares_partner")
                .table(Shares::Table)
                .col(Shares::PartnerId)
                .col(Shares::Id)
                .to_owned(),
            Index::create()
                .name("idx_shares_owner")
                .table(Shares::Table)
                .col(Shares::OwnerId)
                .col(Shares::Id)
                .to_owned(),
            Index::create()
                .name("idx_shares_shared_by")
                .table(Shares::Table)
                .col(Shares::SharedBy)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Shares::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Shares {
    Table,
    Id,
    DriverId,
    OwnerId,
    PartnerId,
    SharedBy,
    SharedAt,
}
