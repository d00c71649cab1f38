//! `status_event_audience`: one row per partner organization an event names in its audience,
//! kept by the database from `status_events.audience`, so a partner's events are read by index.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_event_audience")]
pub struct Model {
    /// The partner organization, as the audience names it (hyphenated lower-case UUID text).
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: String,
    /// The event.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The event this row indexes.
    #[sea_orm(
        belongs_to = "super::status_event::Entity",
        from = "Column::EventId",
        to = "super::status_event::Column::Id"
    )]
    Event,
}

impl ActiveModelBehavior for ActiveModel {}
