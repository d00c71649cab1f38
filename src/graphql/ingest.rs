//! The one door every document passes on its way to execution, whatever brought it (POST,
//! batch, GET, SSE, both WebSocket protocols): the [`guard`](super::guard) scan, parsing, and
//! the bounds on work measured on the parsed operation (selections after fragment expansion,
//! aliases, credential operations, introspection), each refusal with its `extensions.code`.
//! Nothing refused here reaches a resolver, so a refused document runs no SQL.
//!
//! It also finishes responses: request errors get the codes clients know, and a response
//! carries at most [`MAX_ERRORS`] errors.

use std::collections::HashMap;

use async_graphql::parser::types::Field;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Request, Response, ServerError, Value};
use async_graphql_value::Value as DocumentValue;

use super::guard::{self, Bounds};
use super::validated::{Signature, Validated};

/// Most errors one response carries; the rest are replaced by one error saying so.
pub const MAX_ERRORS: usize = 100;
/// Most aliases one document may use.
pub const MAX_ALIASES: usize = 30;
/// Most nested introspection lists (`fields`, `interfaces`, `possibleTypes`, `inputFields`)
/// on one path: each multiplies the answer by the size of the schema.
pub const MAX_INTROSPECTION_LISTS: usize = 2;
/// Most field selections, after fragment expansion, of an introspection operation.
pub const MAX_INTROSPECTION_SELECTIONS: usize = 1_000;

/// The credential operations: each checks a password or a token, so a request may hold one.
const CREDENTIAL_FIELDS: [&str; 6] = [
    "signIn",
    "createOrganization",
    "acceptInvitation",
    "resetPassword",
    "refreshToken",
    "requestPasswordReset",
];
const INTROSPECTION_LISTS: [&str; 4] = ["fields", "interfaces", "possibleTypes", "inputFields"];

/// The codes of request errors (nothing ran), as Apollo Server names them.
pub mod code {
    /// The document could not be read, or is refused before parsing.
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document is not valid against the schema, or asks for too much work.
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// A variable's value does not fit its type.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The operation to run cannot be told.
    pub const OPERATION_RESOLUTION_FAILURE: &str = "OPERATION_RESOLUTION_FAILURE";
    /// `__schema` or `__type` where introspection is turned off.
    pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";
}

/// The bounds of the door; defaults come from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nesting and tokens, checked before parsing.
    pub guard: Bounds,
    /// Most field selections of a data operation after fragment expansion, duplicates included.
    pub selections: usize,
    /// Whether `__schema` and `__type` are refused.
    pub production: bool,
}

impl Limits {
    /// The limits the settings ask for.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            guard: Bounds {
                nesting: settings.graphql_max_nesting,
                tokens: settings.graphql_max_tokens,
            },
            selections: settings.graphql_max_selections,
            production: settings.production,
        }
    }
}

/// A document let in: parsed once, with what the edge needs to know about it.
pub struct Admitted {
    /// The request, its parsed document attached (execution does not parse again).
    pub request: Request,
    /// What the door found.
    pub findings: Findings,
    /// The door's memory of the document, once it remembers it.
    memory: Option<std::sync::Arc<Remembered>>,
}

/// What the door finds about a document, besides the document itself.
#[derive(Clone)]
pub struct Findings {
    /// The type of the operation that will run.
    pub operation: OperationType,
    /// Only `__schema`, `__type` and `__typename` at its root: runs on the introspection schema.
    pub introspection: bool,
    /// How many credential operations it runs.
    pub credential_operations: usize,
    /// How its responses are finished.
    pub finish: Finish,
}

impl Admitted {
    /// The operation's type as the metrics count it.
    pub fn metric_type(&self) -> crate::metrics::OperationType {
        match self.findings.operation {
            OperationType::Query => crate::metrics::OperationType::Query,
            OperationType::Mutation => crate::metrics::OperationType::Mutation,
            OperationType::Subscription => crate::metrics::OperationType::Subscription,
        }
    }

    /// The request, for execution.
    pub fn take_request(&mut self) -> Request {
        std::mem::replace(&mut self.request, Request::new(""))
    }

    /// What lets this request skip validation when an earlier one vouched for its kinds, and
    /// vouch for later ones once fully validated ([`super::validated`]): `None` when its
    /// variables have no kinds or the door does not remember its document.
    pub fn validation_witness(&self) -> Option<Witness> {
        let known = self.memory.as_ref()?;
        let signature = known.validated.signature(&self.request.variables)?;
        Some(Witness(known.clone(), signature))
    }
}

/// A request's document and the kinds of its variables, as validation's memory knows them.
pub struct Witness(std::sync::Arc<Remembered>, Signature);

impl Witness {
    /// Whether the same document, under the same operation name, passed every validation rule
    /// with variables of the same kinds.
    pub fn vouched(&self) -> bool {
        self.0.validated.passes(&self.1)
    }

    /// Records that the rules passed when `response` (from the full validation) says so.
    pub fn passed(self, response: &Response) {
        self.0.validated.record(self.1, response);
    }
}

/// Finishes responses for the client: codes on request errors, errors capped.
#[derive(Clone, Default)]
pub struct Finish {
    /// Where arguments take variables: a validation error there is a variable's bad value.
    variable_arguments: Vec<Pos>,
}

impl Finish {
    /// `response`, ready for the client.
    pub fn apply(&self, mut response: Response) -> Response {
        if is_request_error(&response) {
            for error in &mut response.errors {
                let code = classify(error, &self.variable_arguments);
                set_code(error, code);
            }
        }
        cap_errors(&mut response);
        response
    }
}

/// The door with a memory: documents let in before (the same text and operation name) are not
/// scanned, parsed and measured again; dashboards send the same few documents all day.
pub struct Ingest {
    /// The bounds.
    pub limits: Limits,
    known: std::sync::Mutex<Known>,
}

/// Documents let in, by text and operation name; bounded in count and bytes, emptied when full.
#[derive(Default)]
struct Known {
    /// By document text, then operation name.
    entries: HashMap<String, Vec<ByName>>,
    count: usize,
    bytes: usize,
}

/// A remembered document under one operation name.
type ByName = (Option<String>, std::sync::Arc<Remembered>);

/// What the door found about one document.
struct Remembered {
    document: ExecutableDocument,
    findings: Findings,
    /// The kinds of variables it passed every validation rule with.
    validated: Validated,
}

impl Known {
    fn find(&self, text: &str, name: Option<&str>) -> Option<std::sync::Arc<Remembered>> {
        self.entries
            .get(text)?
            .iter()
            .find(|(n, _)| n.as_deref() == name)
            .map(|(_, known)| known.clone())
    }

    fn remember(&mut self, text: String, name: Option<String>, known: std::sync::Arc<Remembered>) {
        if self.count >= KNOWN_DOCUMENTS || self.bytes + text.len() > KNOWN_BYTES {
            *self = Known::default();
        }
        self.count += 1;
        self.bytes += text.len();
        self.entries.entry(text).or_default().push((name, known));
    }
}

/// Most documents remembered.
const KNOWN_DOCUMENTS: usize = 512;
/// Most bytes of document text remembered.
const KNOWN_BYTES: usize = 8 * 1024 * 1024;

impl Ingest {
    /// A door with `limits` and an empty memory.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            known: Default::default(),
        }
    }

    /// Lets `request` in (from memory when its document was let in before), or answers why not.
    pub fn admit(&self, mut request: Request) -> Result<Admitted, Box<Response>> {
        let known = self
            .lock()
            .find(&request.query, request.operation_name.as_deref());
        if let Some(known) = known {
            request.set_parsed_query(known.document.clone());
            return Ok(Admitted {
                request,
                findings: known.findings.clone(),
                memory: Some(known),
            });
        }
        let mut admitted = admit(request, &self.limits)?;
        if let Ok(document) = admitted.request.parsed_query() {
            let known = std::sync::Arc::new(Remembered {
                document: document.clone(),
                findings: admitted.findings.clone(),
                validated: Validated::new(document),
            });
            let text = admitted.request.query.clone();
            let name = admitted.request.operation_name.clone();
            self.lock().remember(text, name, known.clone());
            admitted.memory = Some(known);
        }
        Ok(admitted)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // A cache: after a panic mid-update its worst is an entry too many or a count off.
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lets `request` in, or answers why not (a response with one coded error).
pub fn admit(mut request: Request, limits: &Limits) -> Result<Admitted, Box<Response>> {
    guard::check(&request.query, limits.guard)
        .map_err(|refusal| refuse(code::PARSE_FAILED, refusal.to_string(), None))?;
    let document = async_graphql::parser::parse_query(&request.query).map_err(|e| {
        let error = ServerError::from(e);
        refuse(
            code::PARSE_FAILED,
            error.message,
            error.locations.first().copied(),
        )
    })?;
    let operation = select(&document, request.operation_name.as_deref())?;
    let shape = Shape::of(&document, operation, limits.guard.nesting)?;
    check(&shape, operation.ty, limits)?;
    let (operation, introspection) = (operation.ty, shape.introspection_only());
    request.set_parsed_query(document);
    Ok(Admitted {
        request,
        findings: Findings {
            operation,
            introspection,
            credential_operations: shape.credential_operations,
            finish: Finish {
                variable_arguments: shape.variable_arguments,
            },
        },
        memory: None,
    })
}

/// The bounds measured on the operation's shape.
fn check(shape: &Shape, ty: OperationType, limits: &Limits) -> Result<(), Box<Response>> {
    let invalid = |message: String| Err(refuse(code::VALIDATION_FAILED, message, None));
    if shape.introspects && limits.production {
        return Err(refuse(
            code::INTROSPECTION_DISABLED,
            "introspection is disabled on this server".into(),
            None,
        ));
    }
    let selections = if shape.introspection_only() {
        MAX_INTROSPECTION_SELECTIONS
    } else {
        limits.selections
    };
    if shape.selections > selections {
        return invalid(format!(
            "the operation selects more than {selections} fields (fragments expanded, duplicates included)"
        ));
    }
    if shape.aliases > MAX_ALIASES {
        return invalid(format!(
            "too many aliases: {} (at most {MAX_ALIASES})",
            shape.aliases
        ));
    }
    if shape.introspection_lists > MAX_INTROSPECTION_LISTS {
        return invalid(format!(
            "introspection nests more than {MAX_INTROSPECTION_LISTS} of fields, interfaces, possibleTypes and inputFields"
        ));
    }
    if ty == OperationType::Mutation && shape.credential_operations > 1 {
        return invalid(one_credential_operation());
    }
    Ok(())
}

/// The message for more than one credential operation in a request.
pub fn one_credential_operation() -> String {
    format!(
        "at most one credential operation ({}) per request",
        CREDENTIAL_FIELDS.join(", ")
    )
}

/// The operation `name` picks, or the only one.
fn select<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Result<&'a OperationDefinition, Box<Response>> {
    let found = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => {
            return Err(refuse(
                code::OPERATION_RESOLUTION_FAILURE,
                "the document has several operations: operationName is required".into(),
                None,
            ));
        }
    };
    found.ok_or_else(|| {
        refuse(
            code::OPERATION_RESOLUTION_FAILURE,
            // Only a named operation can be missing here; the default is never shown.
            format!(r#"unknown operation named "{}""#, name.unwrap_or_default()),
            None,
        )
    })
}

/// What the walk of one operation found.
#[derive(Default)]
struct Shape {
    selections: usize,
    aliases: usize,
    introspection_lists: usize,
    /// Root fields other than `__schema`, `__type` and `__typename`.
    data_roots: usize,
    /// `__schema` or `__type` at the root.
    introspects: bool,
    credential_operations: usize,
    variable_arguments: Vec<Pos>,
}

impl Shape {
    fn introspection_only(&self) -> bool {
        self.introspects && self.data_roots == 0
    }

    fn of(
        document: &ExecutableDocument,
        operation: &OperationDefinition,
        max_depth: usize,
    ) -> Result<Self, Box<Response>> {
        let mut walk = Walk {
            fragments: &document.fragments,
            done: HashMap::new(),
            active: Vec::new(),
            max_depth,
            variable_arguments: Vec::new(),
        };
        let mut shape = Shape::default();
        walk.roots(&operation.selection_set.node, &mut shape, 0)?;
        let root = walk.set(&operation.selection_set.node, 0)?;
        shape.selections = root.selections;
        shape.aliases = root.aliases;
        shape.introspection_lists = root.lists;
        shape.variable_arguments = walk.variable_arguments;
        Ok(shape)
    }
}

/// What a selection set costs once expanded.
#[derive(Clone, Copy, Default)]
struct Cost {
    selections: usize,
    aliases: usize,
    /// Deepest nesting of selection sets and fragment spreads below it.
    depth: usize,
    /// Deepest nesting of introspection lists below it.
    lists: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.selections = self.selections.saturating_add(other.selections);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.depth = self.depth.max(other.depth);
        self.lists = self.lists.max(other.lists);
    }
}

/// The walk: each fragment is measured once (so expansion costs linear time), cycles and
/// nesting beyond the bound are refused (so nothing downstream recurses without end).
struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    done: HashMap<&'a str, Cost>,
    active: Vec<&'a str>,
    max_depth: usize,
    variable_arguments: Vec<Pos>,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Cost, Box<Response>> {
        if depth > self.max_depth {
            return Err(self.too_deep());
        }
        let mut cost = Cost::default();
        for item in &set.items {
            let item_cost = match &item.node {
                Selection::Field(field) => self.field(&field.node, depth)?,
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.spread(spread.node.fragment_name.node.as_str(), depth)?
                }
            };
            cost.add(item_cost);
        }
        cost.depth = cost.depth.max(depth);
        Ok(cost)
    }

    fn field(&mut self, field: &'a Field, depth: usize) -> Result<Cost, Box<Response>> {
        for (name, value) in &field.arguments {
            if has_variable(&value.node) {
                self.variable_arguments.push(name.pos);
            }
        }
        let mut cost = self.set(&field.selection_set.node, depth + 1)?;
        cost.selections = cost.selections.saturating_add(1);
        cost.aliases = cost
            .aliases
            .saturating_add(usize::from(field.alias.is_some()));
        if INTROSPECTION_LISTS.contains(&field.name.node.as_str()) {
            cost.lists += 1;
        }
        Ok(cost)
    }

    fn spread(&mut self, name: &'a str, depth: usize) -> Result<Cost, Box<Response>> {
        if self.active.contains(&name) {
            return Err(refuse(
                code::VALIDATION_FAILED,
                format!(r#"fragment "{name}" spreads itself"#),
                None,
            ));
        }
        let cost = match self.done.get(name) {
            Some(cost) => *cost,
            // Unknown fragments are left to validation, which names them.
            None => match self.fragments.get(name) {
                None => return Ok(Cost::default()),
                Some(fragment) => {
                    self.active.push(name);
                    let cost = self.set(&fragment.node.selection_set.node, 0);
                    self.active.pop();
                    let cost = cost?;
                    self.done.insert(name, cost);
                    cost
                }
            },
        };
        // Measured from its own top: placed here, it reaches this much deeper.
        let reach = depth.saturating_add(1).saturating_add(cost.depth);
        if reach > self.max_depth {
            return Err(self.too_deep());
        }
        Ok(Cost {
            depth: reach,
            ..cost
        })
    }

    fn too_deep(&self) -> Box<Response> {
        refuse(
            code::VALIDATION_FAILED,
            format!(
                "the operation nests deeper than {} levels (fragments expanded)",
                self.max_depth
            ),
            None,
        )
    }

    /// Classifies the root fields, looking through fragments at the root.
    fn roots(
        &mut self,
        set: &'a SelectionSet,
        shape: &mut Shape,
        depth: usize,
    ) -> Result<(), Box<Response>> {
        if depth > self.max_depth {
            return Ok(());
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => match field.node.name.node.as_str() {
                    "__schema" | "__type" => shape.introspects = true,
                    "__typename" => {}
                    name => {
                        shape.data_roots += 1;
                        if CREDENTIAL_FIELDS.contains(&name) {
                            shape.credential_operations += 1;
                        }
                    }
                },
                Selection::InlineFragment(inline) => {
                    self.roots(&inline.node.selection_set.node, shape, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.active.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(name) {
                        self.active.push(name);
                        let found = self.roots(&fragment.node.selection_set.node, shape, depth + 1);
                        self.active.pop();
                        found?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn has_variable(value: &DocumentValue) -> bool {
    match value {
        DocumentValue::Variable(_) => true,
        DocumentValue::List(items) => items.iter().any(has_variable),
        DocumentValue::Object(fields) => fields.values().any(has_variable),
        _ => false,
    }
}

/// A response with one error coded `code`.
pub fn refuse(code: &str, message: String, pos: Option<Pos>) -> Box<Response> {
    let mut error = ServerError::new(message, pos);
    set_code(&mut error, code);
    Box::new(Response::from_errors(vec![error]))
}

fn set_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

/// A request error: nothing ran (parse, validation or variable errors carry no path).
pub fn is_request_error(response: &Response) -> bool {
    matches!(response.data, Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The code of a request error the executor raised.
fn classify(error: &ServerError, variable_arguments: &[Pos]) -> &'static str {
    let message = error.message.as_str();
    if message.starts_with("Unknown operation named")
        || message.starts_with("Operation name required")
    {
        return code::OPERATION_RESOLUTION_FAILURE;
    }
    let at_variable = error
        .locations
        .iter()
        .any(|pos| variable_arguments.contains(pos));
    if at_variable && message.starts_with("Invalid value for argument") {
        return code::BAD_USER_INPUT;
    }
    code::VALIDATION_FAILED
}

/// Keeps the first [`MAX_ERRORS`] errors and says how many were left out.
pub fn cap_errors(response: &mut Response) {
    if response.errors.len() <= MAX_ERRORS {
        return;
    }
    let left_out = response.errors.len() - (MAX_ERRORS - 1);
    response.errors.truncate(MAX_ERRORS - 1);
    let mut error = ServerError::new(format!("{left_out} more errors were left out"), None);
    set_code(&mut error, "TOO_MANY_ERRORS");
    response.errors.push(error);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest() -> Ingest {
        Ingest::new(Limits {
            guard: Bounds {
                nesting: 64,
                tokens: 4_000,
            },
            selections: 500,
            production: false,
        })
    }

    #[test]
    fn a_document_let_in_again_comes_from_memory_with_the_same_findings() {
        let door = ingest();
        let text = "mutation A { signIn(email: \"a@b.c\", password: \"x\") { accessToken } }";
        let first = door.admit(Request::new(text)).expect("let in");
        let mut again = door.admit(Request::new(text)).expect("let in");
        assert_eq!(door.lock().count, 1);
        assert_eq!(again.findings.operation, first.findings.operation);
        assert_eq!(again.findings.credential_operations, 1);
        assert!(again.take_request().parsed_query().is_ok());
    }

    #[test]
    fn operation_names_are_remembered_apart_and_refusals_not_at_all() {
        let door = ingest();
        let text = "query A { __typename } mutation B { __typename }";
        let a = door
            .admit(Request::new(text).operation_name("A"))
            .expect("A");
        let b = door
            .admit(Request::new(text).operation_name("B"))
            .expect("B");
        assert_eq!(
            (a.findings.operation, b.findings.operation),
            (OperationType::Query, OperationType::Mutation)
        );
        assert!(door.admit(Request::new(text)).is_err());
        assert_eq!(door.lock().count, 2);
    }

    #[test]
    fn the_memory_is_emptied_when_full() {
        let door = ingest();
        for i in 0..=KNOWN_DOCUMENTS {
            door.admit(Request::new(format!("{{ a{i}: __typename }}")))
                .expect("let in");
        }
        assert!(door.lock().count <= KNOWN_DOCUMENTS);
    }
}
