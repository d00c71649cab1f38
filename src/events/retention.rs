//! Removes events older than the retention period, remembering the highest cursor removed
//! so that a resume from before it is refused clearly instead of silently missing events.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use tokio_util::sync::CancellationToken;

use entity::{kv, status_event};

use crate::db::Db;
use crate::events::stream::PRUNED_THROUGH;

/// Prunes once now, then every `every`, until `stop`.
pub async fn run(db: Db, retention_days: u32, every: Duration, stop: CancellationToken) {
    loop {
        if let Err(e) = prune(&db, retention_days).await {
            tracing::warn!(error = %e, "event pruning failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Deletes events older than `retention_days`; returns how many.
pub async fn prune(db: &Db, retention_days: u32) -> Result<u64, sea_orm::DbErr> {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(retention_days));
    let newest_old: Option<i64> = status_event::Entity::find()
        .select_only()
        .column_as(status_event::Column::Id.max(), "max")
        .filter(status_event::Column::At.lt(cutoff))
        .into_tuple::<Option<i64>>()
        .one(&db.conn)
        .await?
        .flatten();
    let Some(through) = newest_old else {
        return Ok(0);
    };
    let txn = db.begin_write().await?;
    kv::Entity::insert(kv::ActiveModel {
        key: Set(PRUNED_THROUGH.to_owned()),
        value: Set(through.to_string()),
    })
    .on_conflict(
        OnConflict::column(kv::Column::Key)
            .update_column(kv::Column::Value)
            .to_owned(),
    )
    .exec(&*txn)
    .await?;
    let deleted = status_event::Entity::delete_many()
        .filter(status_event::Column::Id.lte(through))
        .exec(&*txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(deleted)
}
