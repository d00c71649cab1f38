//! `refresh_tokens`: hashed, rotating refresh tokens grouped in families.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account signed in.
    pub account_id: Uuid,
    /// All tokens rotated from one sign-in share a family.
    pub family_id: Uuid,
    /// The organization the session is scoped to, if any.
    pub organization_id: Option<Uuid>,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When the token stops working.
    pub expires_at: DateTimeUtc,
    /// When it was rotated (used).
    pub used_at: Option<DateTimeUtc>,
    /// When it was revoked (sign-out or reuse detected).
    pub revoked_at: Option<DateTimeUtc>,
    /// When it was issued.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
