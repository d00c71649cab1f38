//! The GraphQL layer: thin resolvers that read the context, call a service and convert.
//! One module per domain; [`loaders`] batch every relation a list can reach; [`ids`] are the
//! Relay IDs; [`error`] is the one mapping of service errors to `extensions.code`.

pub mod account;
pub mod connection;
pub mod depot;
pub mod driver;
pub mod error;
pub mod events;
pub mod guard;
pub mod ids;
pub mod ingest;
pub mod loaders;
pub mod node;
pub mod order;
pub mod organization;
pub mod persisted;
pub mod prefetch;
pub mod route;
pub mod share;
pub mod user;
pub mod validated;

use async_graphql::{Context, MergedObject, Schema};

use crate::auth::{Actor, Auth, ClientAddr};
use crate::error::AppError;
use crate::state::AppState;

pub use error::Gql;

/// The root query.
#[derive(MergedObject, Default)]
pub struct Query(
    account::AccountQuery,
    organization::OrganizationQuery,
    node::NodeQuery,
    user::UserQuery,
    driver::DriverQuery,
    depot::DepotQuery,
    route::RouteQuery,
);

/// The root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    user::UserMutation,
    driver::DriverMutation,
    depot::DepotMutation,
    share::ShareMutation,
    route::RouteMutation,
);

/// The gateway's schema.
pub type AppSchema = Schema<Query, Mutation, events::Subscription>;

/// Limits applied to every operation.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 20_000;
const MAX_RECURSIVE_DEPTH: usize = 32;
const MAX_DIRECTIVES: usize = 10;

/// The schema every type registers in, with the limits that hold for every document.
fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, events::Subscription> {
    Schema::build(Query::default(), Mutation::default(), events::Subscription)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(MAX_DIRECTIVES)
        .register_output_type::<node::Node>()
}

/// Builds the schema; `state` is absent when only the SDL is wanted.
pub fn build(state: Option<AppState>) -> AppSchema {
    build_validating(state, async_graphql::ValidationMode::Strict)
}

/// The same schema for requests known to pass every validation rule ([`validated`]): it
/// checks only the bounds (depth, complexity, fragment cycles), a fraction of the rules' cost.
pub fn build_prevalidated(state: AppState) -> AppSchema {
    build_validating(Some(state), async_graphql::ValidationMode::Fast)
}

fn build_validating(state: Option<AppState>, mode: async_graphql::ValidationMode) -> AppSchema {
    let mut builder = builder()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .validation_mode(mode);
    if let Some(state) = state {
        if state.settings.production {
            builder = builder.disable_introspection().disable_suggestions();
        }
        builder = builder.data(state);
    }
    builder.finish()
}

/// The schema that answers introspection operations (only `__schema`, `__type` and
/// `__typename` at the root, as [`ingest`] tells): the depth and complexity of data queries
/// do not fit the standard introspection query, whose own bounds [`ingest`] checks.
pub fn build_introspection(state: AppState) -> AppSchema {
    let mut builder = builder();
    if state.settings.production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.data(state).finish()
}

/// The SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build(None).sdl()
}

/// The shared state.
pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The handles the services take.
pub fn services<'a>(ctx: &Context<'a>) -> &'a crate::service::Services {
    &state(ctx).services
}

/// The loaders of this execution (every execution is given its own: [`with_loaders`]).
pub fn loaders<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a loaders::Loaders> {
    match ctx.data_opt::<std::sync::Arc<loaders::Loaders>>() {
        Some(loaders) => Ok(loaders),
        None => Err(async_graphql::ErrorExtensions::extend(&AppError::Internal(
            anyhow::anyhow!("an execution without its loaders"),
        ))),
    }
}

/// Runs a resolver's `work` on the heap. async-graphql moves every field's future once per
/// field value, and a type's field future is as large as its largest resolver's: resolvers
/// that await loaders or services box their work, so a page of 100 drivers does not copy
/// kilobytes for each of its ~1,000 scalar fields.
pub fn boxed<'a, T>(
    work: impl std::future::Future<Output = T> + Send + 'a,
) -> futures_util::future::BoxFuture<'a, T> {
    Box::pin(work)
}

/// `request` with loaders of its own over `db`, to be executed once.
pub fn with_loaders(request: async_graphql::Request, db: &crate::db::Db) -> async_graphql::Request {
    request.data(std::sync::Arc::new(loaders::Loaders::new(db.clone())))
}

/// Counts one credential operation against the client's budget (RATE_LIMITED beyond it).
pub async fn client_attempt(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let Some(ClientAddr(ip)) = ctx.data_opt::<ClientAddr>() else {
        return Ok(());
    };
    state(ctx)
        .client_limiter
        .attempt(&format!("client:{ip}"))
        .await
        .gql()
}

/// What the edge found about the caller.
pub fn auth<'a>(ctx: &Context<'a>) -> &'a Auth {
    static ANONYMOUS: Auth = Auth::Anonymous;
    // Every edge attaches an `Auth`; a request without one (run in-process) is granted nothing.
    ctx.data_opt::<Auth>().unwrap_or(&ANONYMOUS)
}

/// The caller acting in its organization, or UNAUTHENTICATED / FORBIDDEN.
pub fn actor(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
    auth(ctx).actor().gql()
}

/// The actor when there is one; nested fields answer null for anything else.
pub fn actor_opt(ctx: &Context<'_>) -> Option<Actor> {
    auth(ctx).actor().ok()
}

/// Internal error for a failed loader.
pub fn loader_error(err: std::sync::Arc<AppError>) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    err.extend()
}
