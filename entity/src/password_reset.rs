//! `password_resets`: single-use, hashed password reset tokens.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_resets")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account whose password may be reset.
    pub account_id: Uuid,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When the token stops working.
    pub expires_at: DateTimeUtc,
    /// When the token was used.
    pub used_at: Option<DateTimeUtc>,
    /// When it was issued.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
