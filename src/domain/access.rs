//! `AccessChange`: what a committed change did to who may act, handed to the live sessions.

use uuid::Uuid;

use crate::auth::principal::Scope;

/// A change to sessions or memberships that live connections must hear about once it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    /// One session ended: a sign-out, or a refresh family revoked on reuse.
    SessionEnded {
        /// The session (refresh family) that ended.
        session_id: Uuid,
    },
    /// Every session of an account ended (a password reset).
    AccountSessionsEnded {
        /// The account whose sessions ended.
        account_id: Uuid,
    },
    /// A membership's roles or status changed; sessions opened with another scope end.
    MembershipChanged {
        /// The membership (user id).
        user_id: Uuid,
        /// The scope it has now; `None` when it can no longer sign in.
        scope: Option<Scope>,
    },
    /// A membership was deleted.
    MembershipDeleted {
        /// The membership (user id) that is gone.
        user_id: Uuid,
    },
}
