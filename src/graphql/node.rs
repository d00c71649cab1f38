//! The Relay `Node` interface and `node(id:)`, which resolves any ID the viewer may see.

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::graphql::depot::Depot;
use crate::graphql::driver::Driver;
use crate::graphql::ids::{self, Kind};
use crate::graphql::organization::Organization;
use crate::graphql::route::Route;
use crate::graphql::share::SharedDriver;
use crate::graphql::user::User;
use crate::graphql::{Gql, actor, state};
use crate::service;

/// Anything with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    /// An organization.
    Organization(Organization),
    /// A user.
    User(User),
    /// A driver card.
    Driver(Driver),
    /// A depot.
    Depot(Depot),
    /// A share.
    SharedDriver(SharedDriver),
    /// A route.
    Route(Route),
}

/// `node(id:)`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any record the viewer may see, by ID; null otherwise.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let actor = actor(ctx)?;
        let Some((kind, uuid)) = ids::parse(&id) else {
            return Err(crate::error::AppError::bad_input("id", "is not a valid ID")).gql();
        };
        let conn = &state(ctx).db.conn;
        let node = match kind {
            Kind::Organization => service::organization::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|o| Node::Organization(Organization::from(o))),
            Kind::User => service::user::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|u| Node::User(User(u))),
            Kind::Driver => service::driver::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|d| Node::Driver(Driver(d))),
            Kind::Depot => service::depot::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|d| Node::Depot(Depot(d))),
            Kind::Route => service::route::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|r| Node::Route(Route(r))),
            Kind::SharedDriver => service::share::get(conn, &actor, uuid)
                .await
                .gql()?
                .map(|s| Node::SharedDriver(SharedDriver(s))),
        };
        Ok(node)
    }
}
