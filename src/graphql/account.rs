//! Accounts and sessions: `viewer`, sign-up, sign-in, organization selection, refresh,
//! sign-out, password reset and personal settings.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::account;

use crate::auth::Principal;
use crate::domain::{CsvDelimiter, Currency, Email, FieldResult, Name, Password, Timezone};
use crate::error::AppResult;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::{Organization, OrganizationMatch};
use crate::graphql::user::{Role, User, UserStatus, roles_of};
use crate::graphql::{Gql, auth, client_attempt, loader_error, loaders, services, state};
use crate::service::account::{self as service, NewOrganization, Session, SettingsChange};

/// Personal settings of the signed-in account.
#[derive(SimpleObject)]
pub struct UserSettings {
    /// IANA zone name, e.g. Europe/Berlin.
    timezone: String,
    /// ISO 4217 code, e.g. EUR.
    currency: String,
    /// One of , ; | or TAB.
    csv_delimiter: String,
}

impl From<account::Model> for UserSettings {
    fn from(a: account::Model) -> Self {
        Self {
            timezone: a.timezone,
            currency: a.currency,
            csv_delimiter: a.csv_delimiter,
        }
    }
}

/// The signed-in person: one account, possibly a member of several organizations. Its
/// account row is read once, however many of its fields a document selects.
pub struct Viewer(Principal, tokio::sync::OnceCell<account::Model>);

impl Viewer {
    fn new(principal: Principal) -> Self {
        Self(principal, tokio::sync::OnceCell::new())
    }

    async fn account(&self, ctx: &Context<'_>) -> Result<&account::Model> {
        self.1
            .get_or_try_init(|| async {
                service::get(&state(ctx).db.conn, self.0.account_id)
                    .await
                    .gql()
            })
            .await
    }
}

#[Object]
impl Viewer {
    async fn email(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.account(ctx).await?.email.clone())
    }

    async fn settings(&self, ctx: &Context<'_>) -> Result<UserSettings> {
        Ok(self.account(ctx).await?.clone().into())
    }

    /// Null when the token is not scoped to an organization yet.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(scope) = &self.0.scope else {
            return Ok(None);
        };
        let user = loaders(ctx)?
            .user()
            .load_one(scope.user_id)
            .await
            .map_err(loader_error)?;
        Ok(user.map(User))
    }

    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        let Some(scope) = &self.0.scope else {
            return Ok(None);
        };
        let org = loaders(ctx)?
            .organization()
            .load_one(scope.organization_id)
            .await
            .map_err(loader_error)?;
        Ok(org.map(Organization::from))
    }

    async fn memberships(&self, ctx: &Context<'_>) -> Result<Vec<Membership>> {
        let rows = service::memberships(&state(ctx).db.conn, self.0.account_id)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|(user, org)| Membership {
                organization: OrganizationMatch::from(org),
                user_id: ids::encode(Kind::User, user.id),
                roles: roles_of(&user),
                status: user.status.into(),
            })
            .collect())
    }
}

/// One of the viewer's memberships; cross-organization references carry id and name only.
#[derive(SimpleObject)]
pub struct Membership {
    organization: OrganizationMatch,
    user_id: ID,
    roles: Vec<Role>,
    status: UserStatus,
}

/// Tokens and the viewer they belong to.
pub struct AuthPayload(Session);

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self(s)
    }
}

#[Object]
impl AuthPayload {
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }
    /// Seconds until accessToken expires.
    async fn expires_in(&self) -> i64 {
        self.0.expires_in
    }
    async fn viewer(&self) -> Viewer {
        Viewer::new(self.0.principal.clone())
    }
}

/// When the account belongs to several organizations, the tokens are scoped to none and the client calls selectOrganization.
pub struct SignInPayload(service::SignIn);

#[Object]
impl SignInPayload {
    async fn access_token(&self) -> &str {
        &self.0.session.access_token
    }
    async fn refresh_token(&self) -> &str {
        &self.0.session.refresh_token
    }
    async fn expires_in(&self) -> i64 {
        self.0.session.expires_in
    }
    async fn organizations(&self) -> Vec<OrganizationMatch> {
        self.0
            .organizations
            .iter()
            .cloned()
            .map(OrganizationMatch::from)
            .collect()
    }
    /// True when the tokens are already scoped to the only organization.
    async fn scoped(&self) -> bool {
        self.0.session.principal.scope.is_some()
    }
    /// The signed-in person, as `viewer` answers with these tokens.
    async fn viewer(&self) -> Viewer {
        Viewer::new(self.0.session.principal.clone())
    }
}

/// Input of `createOrganization`.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    name: String,
    admin_first_name: String,
    admin_last_name: String,
    admin_email: String,
    admin_password: String,
}

/// Input of `updateSettings`.
#[derive(InputObject)]
pub struct SettingsInput {
    timezone: Option<String>,
    currency: Option<String>,
    csv_delimiter: Option<String>,
}

impl CreateOrganizationInput {
    /// The service's input, validated; a malformed field is BAD_USER_INPUT naming it.
    fn into_service(self) -> AppResult<NewOrganization> {
        Ok(NewOrganization {
            name: Name::parse(&self.name).field("input.name")?,
            first_name: Name::parse(&self.admin_first_name).field("input.adminFirstName")?,
            last_name: Name::parse(&self.admin_last_name).field("input.adminLastName")?,
            email: Email::parse(&self.admin_email).field("input.adminEmail")?,
            password: Password::parse(&self.admin_password).field("input.adminPassword")?,
        })
    }
}

impl SettingsInput {
    /// The service's change, every field validated before anything is written.
    fn into_service(self) -> AppResult<SettingsChange> {
        Ok(SettingsChange {
            timezone: self
                .timezone
                .as_deref()
                .map(Timezone::parse)
                .transpose()
                .field("input.timezone")?,
            currency: self
                .currency
                .as_deref()
                .map(Currency::parse)
                .transpose()
                .field("input.currency")?,
            csv_delimiter: self
                .csv_delimiter
                .as_deref()
                .map(CsvDelimiter::parse)
                .transpose()
                .field("input.csvDelimiter")?,
        })
    }
}

/// Account queries.
#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in person.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        Ok(Viewer::new(auth(ctx).principal().gql()?.clone()))
    }
}

/// Account and session mutations.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an organization and its first ADMIN (reusing the account when the email has one).
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> Result<AuthPayload> {
        client_attempt(ctx).await?;
        let input = input.into_service().gql()?;
        Ok(AuthPayload(
            service::create_organization(services(ctx), input)
                .await
                .gql()?,
        ))
    }

    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<SignInPayload> {
        client_attempt(ctx).await?;
        let Ok(email) = Email::parse(&email) else {
            return Err(service::invalid_credentials()).gql();
        };
        Ok(SignInPayload(
            service::sign_in(services(ctx), &email, &password)
                .await
                .gql()?,
        ))
    }

    async fn select_organization(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
    ) -> Result<AuthPayload> {
        let principal = auth(ctx).principal().gql()?;
        let org = ids::decode(&organization_id, Kind::Organization, "organizationId").gql()?;
        Ok(AuthPayload(
            service::select_organization(services(ctx), principal, org)
                .await
                .gql()?,
        ))
    }

    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        client_attempt(ctx).await?;
        Ok(AuthPayload(
            service::refresh(services(ctx), &refresh_token)
                .await
                .gql()?,
        ))
    }

    /// Ends the session of this refresh token; false when it was not a live token.
    async fn sign_out(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        service::sign_out(services(ctx), &refresh_token).await.gql()
    }

    /// Always true: whether the email has an account is not revealed.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        client_attempt(ctx).await?;
        let email = Email::parse(&email).field("email").gql()?;
        service::request_password_reset(services(ctx), &email)
            .await
            .gql()
    }

    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        client_attempt(ctx).await?;
        let new_password = Password::parse(&new_password).field("newPassword").gql()?;
        service::reset_password(services(ctx), &token, &new_password)
            .await
            .gql()
    }

    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        input: SettingsInput,
    ) -> Result<UserSettings> {
        let principal = auth(ctx).principal().gql()?;
        let change = input.into_service().gql()?;
        Ok(
            service::update_settings(services(ctx), principal.account_id, change)
                .await
                .gql()?
                .into(),
        )
    }
}
