//! `Input`: which input a service refused, by what it means; the edge names where it was sent.

/// An input that breaks a rule only a service can check (against the current state or the
/// other inputs). The GraphQL layer maps each to the path the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The roles of an invitation or an edit.
    Roles,
    /// The depot of an invitation or an edit.
    DepotId,
    /// Removing the depot in an edit.
    ClearDepot,
    /// The token of an invitation being accepted.
    InvitationToken,
    /// The password given when accepting an invitation.
    InvitationPassword,
    /// The token of a password reset link.
    ResetToken,
    /// When a share ends.
    ExpiresAt,
    /// The organization drivers are shared with.
    PartnerId,
    /// The drivers being shared.
    DriverIds,
    /// The exact name of an organization looked up.
    OrganizationName,
    /// The items of a bulk operation.
    Batch,
    /// A page's `first` count.
    First,
    /// A page's `last` count.
    Last,
    /// A page's `after` cursor.
    After,
    /// A page's `before` cursor.
    Before,
    /// The start of an export's range.
    From,
    /// The end of an export's range.
    To,
}
