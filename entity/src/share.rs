//! `shares`: driver D of organization O may be seen and assigned by partner P.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shares")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The shared driver (a user id).
    pub driver_id: Uuid,
    /// The organization owning the driver.
    pub owner_id: Uuid,
    /// The organization the driver is shared with.
    pub partner_id: Uuid,
    /// The user who shared it.
    pub shared_by: Option<Uuid>,
    /// When it was shared.
    pub shared_at: DateTimeUtc,
    /// When the share ends by itself; `None` for no end.
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
