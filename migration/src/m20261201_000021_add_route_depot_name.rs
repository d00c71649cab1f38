//! Adds `routes.depot_name`/`depot_address` and fills them, and `driver_name`, for existing routes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            string_len_null(Routes::DepotName, 100),
            string_len_null(Routes::DepotAddress, 500),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Routes::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE routes SET \
             depot_name = (SELECT name FROM depots WHERE depots.id = routes.depot_id), \
             depot_address = (SELECT address FROM depots WHERE depots.id = routes.depot_id) \
             WHERE depot_id IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE routes SET driver_name = \
             (SELECT first_name || ' ' || last_name FROM users WHERE users.id = routes.driver_id) \
             WHERE driver_id IS NOT NULL AND driver_name IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Routes::DepotAddress, Routes::DepotName] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Routes::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Routes {
    Table,
    DepotName,
    DepotAddress,
}
