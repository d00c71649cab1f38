//! Changes to who may do what: the facts a session check depends on.

use uuid::Uuid;

/// A change to sessions or memberships that every instance must apply at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessChange {
    /// One session (refresh-token family) ended: sign-out, or a replayed refresh token.
    SessionEnded {
        /// The session.
        session_id: Uuid,
    },
    /// Every session of an account ended: a password reset.
    AccountSessionsEnded {
        /// The account.
        account_id: Uuid,
    },
    /// A membership's roles or status changed: sessions re-read it.
    MembershipChanged {
        /// The membership (user id).
        user_id: Uuid,
    },
    /// A membership was deleted.
    MembershipDeleted {
        /// The membership (user id).
        user_id: Uuid,
    },
}

impl AccessChange {
    /// Whether a session of `account_id` named `session_id`, scoped to membership `user_id`
    /// (when scoped), is touched by this change.
    pub fn touches(&self, session_id: Uuid, account_id: Uuid, user_id: Option<Uuid>) -> bool {
        match *self {
            Self::SessionEnded { session_id: s } => s == session_id,
            Self::AccountSessionsEnded { account_id: a } => a == account_id,
            Self::MembershipChanged { user_id: u } | Self::MembershipDeleted { user_id: u } => {
                user_id == Some(u)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_change_touches_only_sessions_scoped_to_that_membership() {
        let (session, account, user) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let change = AccessChange::MembershipChanged { user_id: user };
        assert!(change.touches(session, account, Some(user)));
        assert!(!change.touches(session, account, None));
        assert!(!change.touches(session, account, Some(Uuid::now_v7())));
    }

    #[test]
    fn an_account_wide_end_touches_every_session_of_the_account() {
        let (account, user) = (Uuid::now_v7(), Uuid::now_v7());
        let change = AccessChange::AccountSessionsEnded {
            account_id: account,
        };
        assert!(change.touches(Uuid::now_v7(), account, None));
        assert!(change.touches(Uuid::now_v7(), account, Some(user)));
        assert!(!change.touches(Uuid::now_v7(), Uuid::now_v7(), Some(user)));
    }
}
