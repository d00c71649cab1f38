//! `accounts`: one person who signs in, with a password and personal settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// UUID v7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lower-case email, unique across the gateway.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// IANA zone name.
    pub timezone: String,
    /// ISO 4217 code, upper-case.
    pub currency: String,
    /// One of `,` `;` `|` or TAB.
    pub csv_delimiter: String,
    /// When the account was created.
    pub created_at: DateTimeUtc,
    /// When the account last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
