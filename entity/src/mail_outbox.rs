//! `mail_outbox`: mail written with the change that causes it, delivered later.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Recipient address.
    pub to_address: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Not to be tried before this time.
    pub next_attempt_at: DateTimeUtc,
    /// When it was delivered.
    pub sent_at: Option<DateTimeUtc>,
    /// Last delivery error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
