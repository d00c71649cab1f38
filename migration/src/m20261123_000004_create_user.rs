//! Creates `users`, the memberships (and driver cards) of accounts in organizations.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_account::Accounts;
use crate::m20261123_000002_create_organization::Organizations;
use crate::m20261123_000003_create_depot::Depots;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::OrganizationId))
                    .col(uuid_null(Users::AccountId))
                    .col(string_len(Users::Email, 320))
                    .col(string_len(Users::FirstName, 100))
                    .col(string_len(Users::LastName, 100))
                    .col(string_len_null(Users::Phone, 16))
                    .col(boolean(Users::IsAdmin))
                    .col(boolean(Users::IsDispatcher))
                    .col(boolean(Users::IsDriver))
                    .col(string_len(Users::Status, 16))
                    .col(uuid_null(Users::DepotId))
                    .col(timestamp_with_time_zone(Users::InvitedAt))
                    .col(timestamp_with_time_zone_null(Users::ActivatedAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_organization")
                            .from(Users::Table, Users::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_account")
                            .from(Users::Table, Users::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_depot")
                            .from(Users::Table, Users::DepotId)
                            .to(Depots::Table, Depots::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("uq_users_organization_email")
                .table(Users::Table)
                .col(Users::OrganizationId)
                .col(Users::Email)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_users_organization_id")
                .table(Users::Table)
                .col(Users::OrganizationId)
                .col(Users::Id)
                .to_owned(),
            Index::create()
                .name("idx_users_account")
                .table(Users::Table)
                .col(Users::AccountId)
                .to_owned(),
            Index::create()
                .name("idx_users_depot")
                .table(Users::Table)
                .col(Users::DepotId)
                .to_owned(),
            Index::create()
                .name("idx_users_email")
                .table(Users::Table)
                .col(Users::Email)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    OrganizationId,
    AccountId,
    Email,
    FirstName,
    LastName,
    Phone,
    IsAdmin,
    IsDispatcher,
    IsDriver,
    Status,
    DepotId,
    InvitedAt,
    ActivatedAt,
    CreatedAt,
    UpdatedAt,
}
