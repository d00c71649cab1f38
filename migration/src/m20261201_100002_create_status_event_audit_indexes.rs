//! Creates the indexes of the audit trail: an organization's own events by cursor, and one
//! subject's events by cursor. The same statements run on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS idx_status_events_organization ON status_events (organization_id, id)",
    "CREATE INDEX IF NOT EXISTS idx_status_events_subject ON status_events (user_id, id)",
];

const DROP: [&str; 2] = [
    "DROP INDEX IF EXISTS idx_status_events_organization",
    "DROP INDEX IF EXISTS idx_status_events_subject",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in CREATE {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DROP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
