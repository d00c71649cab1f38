//! Creates `kv`, small gateway-wide values such as the generated JWT secret.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Kv::Table)
                    .if_not_exists()
                    .col(string_len(Kv::Key, 100).primary_key())
                    .col(text(Kv::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Kv::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Kv {
    Table,
    Key,
    Value,
}
