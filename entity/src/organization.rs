//! `organizations`: a fleet operator, the tenant every other record belongs to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique, case-sensitive name partners search for.
    #[sea_orm(unique)]
    pub name: String,
    /// When the organization was created.
    pub created_at: DateTimeUtc,
    /// When the organization last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
