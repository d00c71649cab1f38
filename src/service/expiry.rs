//! Shares that end by themselves: at their expiry, or with the partner's route they outlived.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use entity::share;
use entity::status_event::{self, EventKind};
use entity::user;

use crate::db::Db;
use crate::error::AppResult;
use crate::events::{self, NewEvent};
use crate::service::{Outlets, Work, active_route_of, lock_user};

/// Shares read per sweep statement.
const BATCH: u64 = 500;

/// Ends expired shares every `every`, until `stop`.
pub async fn run(db: Db, outlets: Outlets, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(error) = end_expired(&db, &outlets).await {
            tracing::warn!(?error, "could not end expired shares");
        }
    }
}

/// Ends every share whose expiry has passed, except those whose driver is on a PLANNED or
/// IN_PROGRESS route of the partner (they end with the route); returns how many ended here.
pub async fn end_expired(db: &Db, outlets: &Outlets) -> AppResult<usize> {
    let mut ended = 0;
    let mut after = Uuid::nil();
    loop {
        let due = share::Entity::find()
            .filter(share::Column::ExpiresAt.lte(Utc::now()))
            .filter(share::Column::Id.gt(after))
            .order_by_asc(share::Column::Id)
            .limit(BATCH)
            .all(&db.conn)
            .await?;
        for share in &due {
            if end_one(db, outlets, share).await? {
                ended += 1;
            }
        }
        match due.last() {
            Some(last) if due.len() as u64 == BATCH => after = last.id,
            _ => return Ok(ended),
        }
    }
}

/// Ends one expired share in its own transaction, unless its driver is on a route of the
/// partner or another instance ended it first; whether it ended here.
async fn end_one(db: &Db, outlets: &Outlets, share: &share::Model) -> AppResult<bool> {
    let mut work = Work::begin(db).await?;
    // The driver's row lock orders instances ending the same share one after the other.
    let Some(driver) = lock_user(&*work, share.driver_id).await? else {
        return Ok(false);
    };
    if active_route_of(&*work, driver.id)
        .await?
        .is_some_and(|r| r.organization_id == share.partner_id)
    {
        return Ok(false);
    }
    let Some(event) = end_if_expired(&*work, &driver, share.partner_id).await? else {
        return Ok(false);
    };
    work.event(event);
    work.commit(outlets).await?;
    Ok(true)
}

/// Ends the share of `driver` with `partner_id` if it has expired, with its UNSHARED event;
/// the conditional delete lets exactly one of concurrent callers write the event. Call inside
/// the transaction that frees the driver from the partner's route (or checked it is free).
pub async fn end_if_expired(
    conn: &impl ConnectionTrait,
    driver: &user::Model,
    partner_id: Uuid,
) -> AppResult<Option<status_event::Model>> {
    let deleted = share::Entity::delete_many()
        .filter(share::Column::DriverId.eq(driver.id))
        .filter(share::Column::PartnerId.eq(partner_id))
        .filter(share::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Ok(None);
    }
    let mut event = NewEvent::same_status(EventKind::Unshared, driver);
    event.partner_id = Some(partner_id);
    Ok(Some(events::append(conn, driver, event).await?))
}
