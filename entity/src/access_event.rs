//! `access_events`: the append-only log of changes to sessions and memberships that every
//! instance applies to what it remembers about sessions.

use sea_orm::entity::prelude::*;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
pub enum AccessKind {
    /// One session (refresh-token family) ended; the subject is the session.
    #[sea_orm(string_value = "SESSION_ENDED")]
    SessionEnded,
    /// Every session of an account ended; the subject is the account.
    #[sea_orm(string_value = "ACCOUNT_SESSIONS_ENDED")]
    AccountSessionsEnded,
    /// A membership's roles or status changed; the subject is the membership (user id).
    #[sea_orm(string_value = "MEMBERSHIP_CHANGED")]
    MembershipChanged,
    /// A membership was deleted; the subject is the membership (user id).
    #[sea_orm(string_value = "MEMBERSHIP_DELETED")]
    MembershipDeleted,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_events")]
pub struct Model {
    /// Global sequence.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What changed.
    pub kind: AccessKind,
    /// The session, account or membership it changed for (see [`AccessKind`]).
    pub subject: Uuid,
    /// When.
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
