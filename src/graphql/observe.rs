//! Records each operation's type, latency and outcome in the metrics, from the document
//! async-graphql parses anyway (no second parse at the edge).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType as AstOperation};
use async_graphql::{Request, Response, ServerResult, Variables};

use crate::metrics::OperationType;
use crate::state::AppState;

/// Counts queries and mutations (subscriptions are counted by their transport).
pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension::default())
    }
}

#[derive(Default)]
struct ObserveExtension {
    /// The operation the client named, if any.
    operation_name: Mutex<Option<String>>,
    /// The type of the operation that runs, once parsed.
    operation: Mutex<Option<OperationType>>,
}

#[async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        if let Some(state) = ctx.data_opt::<AppState>() {
            let op = self
                .operation
                .lock()
                .ok()
                .and_then(|o| *o)
                .unwrap_or(OperationType::Query);
            state
                .metrics
                .record_request(op, started.elapsed(), response.is_err());
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let name = self.operation_name.lock().ok().and_then(|n| n.clone());
        if let Ok(mut op) = self.operation.lock() {
            *op = operation_type(&document, name.as_deref());
        }
        Ok(document)
    }
}

/// The type of the operation `name` selects (or the only one) in `document`.
pub fn operation_type(document: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    let mut operations = document.operations.iter();
    let ty = match name {
        Some(name) => {
            operations
                .find(|(n, _)| n.map(|n| n.as_str()) == Some(name))?
                .1
                .node
                .ty
        }
        None => match (operations.next(), operations.next()) {
            (Some((_, op)), None) => op.node.ty,
            _ => return None,
        },
    };
    Some(match ty {
        AstOperation::Query => OperationType::Query,
        AstOperation::Mutation => OperationType::Mutation,
        AstOperation::Subscription => OperationType::Subscription,
    })
}
