//! Users: the `User` type, the users filter, invitations, editing and deletion.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use entity::user as users;

use crate::auth::Roles;
use crate::connection_type;
use crate::domain::{Email, FieldResult, Name, Phone, Search};
use crate::error::AppResult;
use crate::graphql::account::AuthPayload;
use crate::graphql::boxed;
use crate::graphql::driver::Driver;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::{Organization, OrganizationMatch};
use crate::graphql::{Gql, actor, loader_error, loaders, services, state};
use crate::service::user::{self as service, Edit, Invite};

/// A role in an organization.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Role {
    /// Manages everything, including sharing.
    Admin,
    /// Manages users, drivers, depots and routes.
    Dispatcher,
    /// Drives routes.
    Driver,
}

/// INVITED until the invitation is accepted; only drivers may be INACTIVE.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum UserStatus {
    /// Invitation not accepted yet.
    Invited,
    /// Usable.
    Active,
    /// A driver set unavailable.
    Inactive,
}

impl From<users::UserStatus> for UserStatus {
    fn from(s: users::UserStatus) -> Self {
        match s {
            users::UserStatus::Invited => Self::Invited,
            users::UserStatus::Active => Self::Active,
            users::UserStatus::Inactive => Self::Inactive,
        }
    }
}

impl From<UserStatus> for users::UserStatus {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Invited => Self::Invited,
            UserStatus::Active => Self::Active,
            UserStatus::Inactive => Self::Inactive,
        }
    }
}

/// The roles of a user, in contract order.
pub fn roles_of(user: &users::Model) -> Vec<Role> {
    let roles = service::roles_of(user);
    [
        (roles.admin, Role::Admin),
        (roles.dispatcher, Role::Dispatcher),
        (roles.driver, Role::Driver),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, r)| r)
    .collect()
}

/// Role list to service roles.
pub fn roles_from(roles: &[Role]) -> Roles {
    Roles {
        admin: roles.contains(&Role::Admin),
        dispatcher: roles.contains(&Role::Dispatcher),
        driver: roles.contains(&Role::Driver),
    }
}

/// A person's membership in one organization.
pub struct User(pub users::Model);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn roles(&self) -> Vec<Role> {
        roles_of(&self.0)
    }
    async fn status(&self) -> UserStatus {
        self.0.status.into()
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        boxed(async move {
            loaders(ctx)?
                .organization()
                .load_one(self.0.organization_id)
                .await
                .map_err(loader_error)?
                .map(Organization::from)
                .ok_or_else(|| "organization not found".into())
        })
        .await
    }
    /// Present when roles contains DRIVER.
    async fn driver(&self) -> Option<Driver> {
        self.0.is_driver.then(|| Driver(self.0.clone()))
    }
    async fn invited_at(&self) -> DateTime<Utc> {
        self.0.invited_at
    }
    /// When the pending invitation expires; null unless INVITED.
    async fn invitation_expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        boxed(async move {
            if self.0.status != users::UserStatus::Invited {
                return Ok(None);
            }
            Ok(loaders(ctx)?
                .invitation_expiry()
                .load_one(self.0.id)
                .await
                .map_err(loader_error)?
                .flatten())
        })
        .await
    }
    async fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.0.activated_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

connection_type!(UserConnection, UserEdge, User, users::Model);

/// Filters of `organization.users`.
#[derive(InputObject, Default)]
pub struct UserFilter {
    status: Option<Vec<UserStatus>>,
    roles: Option<Vec<Role>>,
    /// Case-insensitive substring of first name, last name or email.
    search: Option<String>,
}

impl UserFilter {
    /// The service's filter; an overlong search or one with control characters is BAD_USER_INPUT.
    pub fn into_service(self) -> AppResult<service::UserFilter> {
        Ok(service::UserFilter {
            status: self.status.map(|s| s.into_iter().map(Into::into).collect()),
            roles: self.roles.map(|r| roles_from(&r)),
            search: search(self.search.as_deref())?,
        })
    }
}

/// The `search` of a list filter, validated.
pub fn search(raw: Option<&str>) -> AppResult<Option<Search>> {
    Ok(raw
        .map(Search::parse)
        .transpose()
        .field("filter.search")?
        .flatten())
}

/// Input of `inviteUser`.
#[derive(InputObject)]
pub struct InviteUserInput {
    first_name: String,
    last_name: String,
    email: String,
    phone: Option<String>,
    /// At least one.
    roles: Vec<Role>,
    /// For drivers; null means no depot.
    depot_id: Option<ID>,
}

/// Every field optional; email cannot be changed.
#[derive(InputObject)]
pub struct EditUserInput {
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    roles: Option<Vec<Role>>,
    depot_id: Option<ID>,
    /// Set true to remove the depot.
    clear_depot: Option<bool>,
}

/// Input of `acceptInvitation`.
#[derive(InputObject)]
pub struct AcceptInvitationInput {
    token: String,
    /// Required when no account exists for the invited email yet; otherwise the existing account's password.
    password: String,
}

/// What a delete removed.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The ID of the removed record.
    pub deleted_id: ID,
}

/// What the Welcome page needs to know about an invitation before it is accepted.
#[derive(SimpleObject)]
pub struct InvitationPreview {
    organization: OrganizationMatch,
    email: String,
    first_name: String,
    /// True when an account exists for the email: the page asks for its password instead of a new one.
    account_exists: bool,
    expires_at: DateTime<Utc>,
}

impl From<service::InvitationPreview> for InvitationPreview {
    fn from(p: service::InvitationPreview) -> Self {
        Self {
            organization: OrganizationMatch::from(p.organization),
            email: p.email,
            first_name: p.first_name,
            account_exists: p.account_exists,
            expires_at: p.expires_at,
        }
    }
}

/// One item of a bulk operation that failed, with the code a single operation would have answered.
#[derive(SimpleObject)]
pub struct ItemError {
    code: String,
    message: String,
    /// The input field at fault, when there is one.
    field: Option<String>,
}

impl From<&crate::error::AppError> for ItemError {
    fn from(err: &crate::error::AppError) -> Self {
        let (code, message, field) = crate::graphql::error::item_parts(err);
        Self {
            code: code.to_owned(),
            message,
            field,
        }
    }
}

/// The outcome of one invitation of `inviteUsers`.
#[derive(SimpleObject)]
pub struct InviteUserResult {
    email: String,
    /// The invited user; null when this item failed.
    user: Option<User>,
    error: Option<ItemError>,
}

impl InviteUserInput {
    /// The service's input, validated; a malformed field is BAD_USER_INPUT naming it.
    fn into_service(self) -> AppResult<Invite> {
        Ok(Invite {
            first_name: Name::parse(&self.first_name).field("input.firstName")?,
            last_name: Name::parse(&self.last_name).field("input.lastName")?,
            email: Email::parse(&self.email).field("input.email")?,
            phone: self
                .phone
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(Phone::parse)
                .transpose()
                .field("input.phone")?,
            roles: roles_from(&self.roles),
            depot_id: depot_id(self.depot_id.as_ref())?,
        })
    }
}

impl EditUserInput {
    /// The service's input, validated; an empty phone removes it.
    fn into_service(self) -> AppResult<Edit> {
        let name = |raw: Option<String>, path: &str| {
            raw.as_deref().map(Name::parse).transpose().field(path)
        };
        let phone = match self.phone.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(p) => Some(Some(Phone::parse(p).field("input.phone")?)),
        };
        Ok(Edit {
            first_name: name(self.first_name, "input.firstName")?,
            last_name: name(self.last_name, "input.lastName")?,
            phone,
            roles: self.roles.map(|r| roles_from(&r)),
            depot_id: depot_id(self.depot_id.as_ref())?,
            clear_depot: self.clear_depot.unwrap_or(false),
        })
    }
}

/// The `input.depotId` of an invitation or edit, decoded.
fn depot_id(id: Option<&ID>) -> AppResult<Option<uuid::Uuid>> {
    id.map(|id| ids::decode(id, Kind::Depot, "input.depotId"))
        .transpose()
}

/// User queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// A user of the viewer's organization; null when not visible.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let actor = actor(ctx)?;
        let uuid = ids::decode(&id, Kind::User, "id").gql()?;
        Ok(service::get(&state(ctx).db.conn, &actor, uuid)
            .await
            .gql()?
            .map(User))
    }

    /// No token needed. Null for an unknown, used or expired invitation token.
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Option<InvitationPreview>> {
        crate::graphql::client_attempt(ctx).await?;
        Ok(service::preview_invitation(&state(ctx).db.conn, &token)
            .await
            .gql()?
            .map(InvitationPreview::from))
    }
}

/// Invitation and user mutations.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    async fn invite_user(&self, ctx: &Context<'_>, input: InviteUserInput) -> Result<User> {
        let actor = actor(ctx)?;
        let invite = input.into_service().gql()?;
        Ok(User(
            service::invite(services(ctx), &actor, invite).await.gql()?,
        ))
    }

    /// Up to 500 invitations, each applied on its own; results in input order.
    async fn invite_users(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<InviteUserInput>,
    ) -> Result<Vec<InviteUserResult>> {
        let actor = actor(ctx)?;
        let emails: Vec<String> = inputs.iter().map(|i| i.email.clone()).collect();
        let invites = inputs
            .into_iter()
            .map(InviteUserInput::into_service)
            .collect();
        let results = service::invite_many(services(ctx), &actor, invites)
            .await
            .gql()?;
        Ok(emails
            .into_iter()
            .zip(results)
            .map(|(email, result)| match result {
                Ok(user) => InviteUserResult {
                    email: user.email.clone(),
                    user: Some(User(user)),
                    error: None,
                },
                Err(err) => InviteUserResult {
                    email,
                    user: None,
                    error: Some(ItemError::from(&err)),
                },
            })
            .collect())
    }

    async fn resend_invitation(&self, ctx: &Context<'_>, user_id: ID) -> Result<User> {
        let actor = actor(ctx)?;
        let id = ids::decode(&user_id, Kind::User, "userId").gql()?;
        Ok(User(
            service::resend_invitation(services(ctx), &actor, id)
                .await
                .gql()?,
        ))
    }

    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> Result<AuthPayload> {
        crate::graphql::client_attempt(ctx).await?;
        let session = service::accept_invitation(services(ctx), &input.token, &input.password)
            .await
            .gql()?;
        Ok(AuthPayload::from(session))
    }

    async fn edit_user(&self, ctx: &Context<'_>, id: ID, input: EditUserInput) -> Result<User> {
        let actor = actor(ctx)?;
        let user_id = ids::decode(&id, Kind::User, "id").gql()?;
        let edit = input.into_service().gql()?;
        Ok(User(
            service::edit(services(ctx), &actor, user_id, edit)
                .await
                .gql()?,
        ))
    }

    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<DeletePayload> {
        let actor = actor(ctx)?;
        let user_id = ids::decode(&id, Kind::User, "id").gql()?;
        let deleted = service::delete(services(ctx), &actor, user_id)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(Kind::User, deleted),
        })
    }
}
