//! Creates `accounts`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Accounts::Id))
                    .col(string_len_uniq(Accounts::Email, 320))
                    .col(string(Accounts::PasswordHash))
                    .col(string_len(Accounts::Timezone, 64))
                    .col(string_len(Accounts::Currency, 3))
                    .col(string_len(Accounts::CsvDelimiter, 1))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Accounts {
    Table,
    Id,
    Email,
    PasswordHash,
    Timezone,
    Currency,
    CsvDelimiter,
    CreatedAt,
    UpdatedAt,
}
