//! Organizations: the viewer's own, in full; others only as id and name.

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use entity::organization;

use crate::auth::Actor;
use crate::error::{AppError, AppResult};

/// The actor's organization.
pub async fn own(conn: &impl ConnectionTrait, actor: &Actor) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(actor.organization_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("organization"))
}

/// An organization by id, when it is the actor's own.
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Option<organization::Model>> {
    if id != actor.organization_id {
        return Ok(None);
    }
    Ok(Some(own(conn, actor).await?))
}
