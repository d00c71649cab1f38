//! Creates `access_events`: the log of changes to who may do what (a session ended, every
//! session of an account ended, a membership changed or was deleted), written in the
//! transaction of the change, so every instance learns it even when a message is lost.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AccessEvents::Id))
                    .col(string_len(AccessEvents::Kind, 24))
                    .col(uuid(AccessEvents::Subject))
                    .col(timestamp_with_time_zone(AccessEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_events_at")
                    .table(AccessEvents::Table)
                    .col(AccessEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AccessEvents {
    Table,
    Id,
    Kind,
    Subject,
    At,
}
