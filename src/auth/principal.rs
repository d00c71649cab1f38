//! Who is asking: the verified token's account and organization scope, and role checks.

use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The roles of a membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// ADMIN
    pub admin: bool,
    /// DISPATCHER
    pub dispatcher: bool,
    /// DRIVER
    pub driver: bool,
}

impl Roles {
    /// The role names, in contract order.
    pub fn names(&self) -> Vec<String> {
        [
            (self.admin, "ADMIN"),
            (self.dispatcher, "DISPATCHER"),
            (self.driver, "DRIVER"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, name)| name.to_owned())
        .collect()
    }

    /// Roles from their names; unknown names are ignored.
    pub fn from_names(names: &[String]) -> Self {
        Self {
            admin: names.iter().any(|n| n == "ADMIN"),
            dispatcher: names.iter().any(|n| n == "DISPATCHER"),
            driver: names.iter().any(|n| n == "DRIVER"),
        }
    }

    /// ADMIN or DISPATCHER: the people who manage the organization.
    pub fn is_manager(&self) -> bool {
        self.admin || self.dispatcher
    }

    /// No role at all.
    pub fn is_empty(&self) -> bool {
        !(self.admin || self.dispatcher || self.driver)
    }
}

/// The organization a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The organization.
    pub organization_id: Uuid,
    /// The viewer's membership in it.
    pub user_id: Uuid,
    /// The membership's roles.
    pub roles: Roles,
}

/// A verified access token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The signed-in account.
    pub account_id: Uuid,
    /// The organization scope, when selected.
    pub scope: Option<Scope>,
    /// The session (refresh-token family) the token was issued in: it dies with it.
    pub session_id: Uuid,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

/// A principal scoped to an organization: what every organization operation acts as.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in account.
    pub account_id: Uuid,
    /// The organization acted in.
    pub organization_id: Uuid,
    /// The actor's own membership.
    pub user_id: Uuid,
    /// The actor's roles there.
    pub roles: Roles,
}

impl Actor {
    /// FORBIDDEN unless ADMIN or DISPATCHER.
    pub fn require_manager(&self) -> AppResult<()> {
        if self.roles.is_manager() {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }

    /// FORBIDDEN unless ADMIN.
    pub fn require_admin(&self) -> AppResult<()> {
        if self.roles.admin {
            Ok(())
        } else {
            Err(AppError::forbidden())
        }
    }
}

/// What the edge found in the request.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No token.
    Anonymous,
    /// A valid token.
    Signed(Principal),
    /// A token was present but is not valid: never treated as anonymous.
    Invalid(String),
}

impl Auth {
    /// The principal, or UNAUTHENTICATED.
    pub fn principal(&self) -> AppResult<&Principal> {
        match self {
            Self::Signed(p) => Ok(p),
            Self::Anonymous => Err(AppError::Unauthenticated("sign in first".into())),
            Self::Invalid(reason) => Err(AppError::Unauthenticated(reason.clone())),
        }
    }

    /// The scoped actor; FORBIDDEN when the token is not scoped to an organization.
    pub fn actor(&self) -> AppResult<Actor> {
        let principal = self.principal()?;
        let scope = principal.scope.as_ref().ok_or_else(|| {
            AppError::Forbidden("select an organization first (selectOrganization)".into())
        })?;
        Ok(Actor {
            account_id: principal.account_id,
            organization_id: scope.organization_id,
            user_id: scope.user_id,
            roles: scope.roles,
        })
    }
}
