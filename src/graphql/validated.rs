//! What a remembered document is known to pass: validation's rules read the document, the
//! schema and, in one rule only (arguments of the correct type), the values of variables.
//! A document that passed every rule with variables of given kinds passes them again with
//! any variables of the same kinds, so its later runs may skip the rules
//! ([`crate::graphql::build_prevalidated`]) and check only the bounds.
//!
//! A kind is what a built-in scalar's validity reads of a value: null, a boolean, a string,
//! or a number with how it is held (any value of one kind is valid for `ID`, `String`, `Int`,
//! `Float` or `Boolean` exactly when every other value of that kind is). Variables of other
//! types (enums, input objects, custom scalars) and list or object values have no kind: a
//! request holding one is validated in full.

use std::sync::Mutex;

use async_graphql::parser::types::{BaseType, ExecutableDocument, Type};
use async_graphql::{Name, Response, Variables};
use async_graphql_value::ConstValue;

use super::ingest::is_request_error;

/// The built-in scalars, whose validity reads only a value's kind.
const BUILT_IN: [&str; 5] = ["ID", "String", "Int", "Float", "Boolean"];
/// Most variable kinds remembered as passing for one document.
const MAX_SIGNATURES: usize = 16;

/// What validation can tell of one variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Absent,
    Null,
    Boolean,
    String,
    Number { i64: bool, u64: bool, f64: bool },
}

impl Kind {
    fn of(value: Option<&ConstValue>) -> Option<Self> {
        Some(match value {
            None => Kind::Absent,
            Some(ConstValue::Null) => Kind::Null,
            Some(ConstValue::Boolean(_)) => Kind::Boolean,
            Some(ConstValue::String(_)) => Kind::String,
            Some(ConstValue::Number(n)) => Kind::Number {
                i64: n.is_i64(),
                u64: n.is_u64(),
                f64: n.is_f64(),
            },
            Some(_) => return None,
        })
    }
}

/// The kinds of a request's variables, in the order the document declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(Vec<Kind>);

/// What one remembered document passed.
pub struct Validated {
    /// Every variable the document declares (all its operations), when all are of built-in
    /// scalar types; `None` when one is not (its requests are always validated in full).
    declared: Option<Vec<Name>>,
    passed: Mutex<Vec<Signature>>,
}

impl Validated {
    /// Nothing passed yet for `document`.
    pub fn new(document: &ExecutableDocument) -> Self {
        let mut declared = Some(Vec::new());
        for (_, operation) in document.operations.iter() {
            for definition in &operation.node.variable_definitions {
                let definition = &definition.node;
                match (&mut declared, built_in(&definition.var_type.node)) {
                    (Some(names), true) => names.push(definition.name.node.clone()),
                    _ => declared = None,
                }
            }
        }
        Self {
            declared,
            passed: Mutex::new(Vec::new()),
        }
    }

    /// The kinds of `variables`, when the document's requests with them can be remembered.
    pub fn signature(&self, variables: &Variables) -> Option<Signature> {
        let declared = self.declared.as_ref()?;
        declared
            .iter()
            .map(|name| Kind::of(variables.get(name)))
            .collect::<Option<Vec<_>>>()
            .map(Signature)
    }

    /// Whether requests of `signature` passed every rule before.
    pub fn passes(&self, signature: &Signature) -> bool {
        self.lock().contains(signature)
    }

    /// Records that a request of `signature` passed every rule, when `response` (from the
    /// full validation) is not a request error: failed rules make one; data or a field error
    /// means they passed.
    pub fn record(&self, signature: Signature, response: &Response) {
        if is_request_error(response) {
            return;
        }
        let mut passed = self.lock();
        if passed.len() < MAX_SIGNATURES && !passed.contains(&signature) {
            passed.push(signature);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Signature>> {
        // A list only ever appended to: after a panic its worst is a signature too few.
        self.passed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `ty` holds a built-in scalar (at any depth of lists).
fn built_in(ty: &Type) -> bool {
    match &ty.base {
        BaseType::Named(name) => BUILT_IN.contains(&name.as_str()),
        BaseType::List(inner) => built_in(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(text: &str) -> Validated {
        Validated::new(&async_graphql::parser::parse_query(text).expect("parses"))
    }

    fn variables(json: serde_json::Value) -> Variables {
        Variables::from_json(json)
    }

    fn ok() -> Response {
        Response::new(async_graphql::Value::from_json(serde_json::json!({"a": 1})).unwrap())
    }

    #[test]
    fn a_request_of_the_kinds_that_passed_is_known_to_pass() {
        let memory = validated("query($id: ID!, $n: Int) { a(id: $id, n: $n) }");
        let first = memory
            .signature(&variables(serde_json::json!({"id": "x", "n": 3})))
            .expect("built-in scalars");
        assert!(!memory.passes(&first));
        memory.record(first, &ok());
        let other_values = memory
            .signature(&variables(serde_json::json!({"id": "y", "n": 9})))
            .unwrap();
        assert!(memory.passes(&other_values));
    }

    #[test]
    fn values_of_another_kind_are_validated_again() {
        let memory = validated("query($id: ID!, $n: Int) { a(id: $id, n: $n) }");
        let first = memory
            .signature(&variables(serde_json::json!({"id": "x", "n": 3})))
            .unwrap();
        memory.record(first, &ok());
        for other in [
            serde_json::json!({"id": null, "n": 3}),
            serde_json::json!({"id": "x"}),
            serde_json::json!({"id": "x", "n": 3.5}),
            serde_json::json!({"id": "x", "n": "3"}),
            serde_json::json!({"id": 7, "n": 3}),
            serde_json::json!({"id": "x", "n": -3}),
        ] {
            let signature = memory.signature(&variables(other.clone())).unwrap();
            assert!(!memory.passes(&signature), "{other}");
        }
    }

    #[test]
    fn a_request_error_is_not_remembered_as_passing() {
        let memory = validated("{ a }");
        let signature = memory.signature(&Variables::default()).unwrap();
        let refused = Response::from_errors(vec![async_graphql::ServerError::new("no", None)]);
        memory.record(signature.clone(), &refused);
        assert!(!memory.passes(&signature));
    }

    #[test]
    fn variables_of_other_types_or_of_composite_values_are_never_remembered() {
        let memory = validated("query($s: DriverStatus) { a(s: $s) }");
        assert!(
            memory
                .signature(&variables(serde_json::json!({"s": "ACTIVE"})))
                .is_none()
        );
        let memory = validated("query($ids: [ID!]) { a(ids: $ids) }");
        assert!(
            memory
                .signature(&variables(serde_json::json!({"ids": ["x"]})))
                .is_none()
        );
        assert!(
            memory
                .signature(&variables(serde_json::json!({"ids": null})))
                .is_some()
        );
    }

    #[test]
    fn at_most_a_bounded_number_of_signatures_is_kept() {
        let memory = validated("query($a: Int, $b: Int, $c: Int, $d: Int, $e: Int) { a }");
        let kinds = [
            serde_json::Value::Null,
            serde_json::json!(1),
            serde_json::json!(1.5),
        ];
        let mut all = Vec::new();
        for a in &kinds {
            for b in &kinds {
                for c in &kinds {
                    let json = serde_json::json!({"a": a, "b": b, "c": c});
                    all.push(memory.signature(&variables(json)).unwrap());
                }
            }
        }
        for signature in &all {
            memory.record(signature.clone(), &ok());
        }
        assert_eq!(memory.lock().len(), MAX_SIGNATURES);
        assert!(memory.passes(&all[0]));
        assert!(!memory.passes(&all[all.len() - 1]));
    }
}
