//! Creates `status_event_audience`, one row per partner an event's `audience` names, kept by
//! the database itself and filled from the log.

// A trigger on insert and a cascade on delete keep it, so every way a row reaches the log (the
// gateway's writer or a direct load) is indexed the same; rows already there are indexed here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS status_event_audience (
    organization_id VARCHAR(36) NOT NULL,
    event_id BIGINT NOT NULL REFERENCES status_events (id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, event_id))";

const EVENT_INDEX: &str = "CREATE INDEX IF NOT EXISTS idx_status_event_audience_event ON status_event_audience (event_id)";

const POSTGRES: [&str; 3] = [
    "CREATE OR REPLACE FUNCTION status_event_audience_fill() RETURNS trigger AS $$
     BEGIN
       INSERT INTO status_event_audience (organization_id, event_id)
       SELECT DISTINCT p, NEW.id FROM unnest(string_to_array(NEW.audience, ',')) AS p WHERE p <> ''
       ON CONFLICT DO NOTHING;
       RETURN NULL;
     END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER trg_status_event_audience AFTER INSERT ON status_events
     FOR EACH ROW WHEN (NEW.audience <> '') EXECUTE FUNCTION status_event_audience_fill()",
    "INSERT INTO status_event_audience (organization_id, event_id)
     SELECT DISTINCT p, e.id FROM status_events e, unnest(string_to_array(e.audience, ',')) AS p
     WHERE e.audience <> '' AND p <> '' ON CONFLICT DO NOTHING",
];

/// SQLite has no array split; `json_each` over the list written as a JSON array does it.
const SQLITE: [&str; 2] = [
    "CREATE TRIGGER IF NOT EXISTS trg_status_event_audience AFTER INSERT ON status_events
     WHEN NEW.audience <> ''
     BEGIN
       INSERT OR IGNORE INTO status_event_audience (organization_id, event_id)
       SELECT value, NEW.id FROM json_each('[\"' || replace(NEW.audience, ',', '\",\"') || '\"]')
       WHERE value <> '';
     END",
    "INSERT OR IGNORE INTO status_event_audience (organization_id, event_id)
     SELECT j.value, e.id FROM status_events e,
       json_each('[\"' || replace(e.audience, ',', '\",\"') || '\"]') AS j
     WHERE e.audience <> '' AND j.value <> ''",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(TABLE).await?;
        db.execute_unprepared(EVENT_INDEX).await?;
        let statements: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Postgres => &POSTGRES,
            _ => &SQLITE,
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS trg_status_event_audience ON status_events",
            )
            .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS status_event_audience_fill()")
                .await?;
        } else {
            db.execute_unprepared("DROP TRIGGER IF EXISTS trg_status_event_audience")
                .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS status_event_audience")
            .await?;
        Ok(())
    }
}
