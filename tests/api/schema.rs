//! `schema.graphql` is the generated SDL, and it contains the whole client contract.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

#[test]
fn schema_graphql_equals_the_generated_sdl() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .unwrap_or_default();
    let generated = lastmile::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

/// One member of a type: a field's type (or an input field's, or "" for an enum value) and
/// its arguments by name.
#[derive(Debug, PartialEq)]
struct Member {
    ty: String,
    args: HashMap<String, String>,
}

/// Type name → member name → signature.
fn signatures(sdl: &str) -> HashMap<String, HashMap<String, Member>> {
    let doc = parse_schema(sdl).unwrap_or_else(|e| panic!("SDL does not parse: {e}"));
    let mut types = HashMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = ty.node;
        let mut members = HashMap::new();
        match ty.kind {
            TypeKind::Object(o) => {
                for f in o.fields {
                    members.insert(f.node.name.node.to_string(), field(&f.node));
                }
            }
            TypeKind::Interface(i) => {
                for f in i.fields {
                    members.insert(f.node.name.node.to_string(), field(&f.node));
                }
            }
            TypeKind::InputObject(i) => {
                for f in i.fields {
                    let member = Member {
                        ty: f.node.ty.node.to_string(),
                        args: HashMap::new(),
                    };
                    members.insert(f.node.name.node.to_string(), member);
                }
            }
            TypeKind::Enum(e) => {
                for v in e.values {
                    let member = Member {
                        ty: String::new(),
                        args: HashMap::new(),
                    };
                    members.insert(v.node.value.node.to_string(), member);
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
        types.insert(ty.name.node.to_string(), members);
    }
    types
}

fn field(f: &async_graphql::parser::types::FieldDefinition) -> Member {
    Member {
        ty: f.ty.node.to_string(),
        args: f
            .arguments
            .iter()
            .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
            .collect(),
    }
}

/// The contract elements not built yet, one a line (`Type`, `Type.field`,
/// `Type.field(argument)`, `Enum.VALUE`); none when the file is absent.
fn pending(path: &str) -> HashSet<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// Every difference between `expected` and `actual`, less the `pending` elements.
fn differences(
    expected: &HashMap<String, HashMap<String, Member>>,
    actual: &HashMap<String, HashMap<String, Member>>,
    pending: &HashSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (ty, members) in expected {
        if pending.contains(ty) {
            continue;
        }
        let Some(have) = actual.get(ty) else {
            found.push(format!("type {ty}"));
            continue;
        };
        for (name, member) in members {
            let element = format!("{ty}.{name}");
            let Some(built) = have.get(name) else {
                if !pending.contains(&element) {
                    found.push(element);
                }
                continue;
            };
            if built.ty != member.ty && !pending.contains(&element) {
                found.push(format!(
                    "{element}: contract {}, schema {}",
                    member.ty, built.ty
                ));
            }
            for (arg, arg_ty) in &member.args {
                let element = format!("{ty}.{name}({arg})");
                if pending.contains(&element) {
                    continue;
                }
                match built.args.get(arg) {
                    None => found.push(element),
                    Some(t) if t != arg_ty => {
                        found.push(format!("{element}: contract {arg_ty}, schema {t}"))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_contract_element_not_listed_as_pending_is_in_the_schema_with_the_same_nullability() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/api");
    let path = format!("{shared}/contract.graphql");
    let contract = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the client contract {path} cannot be read: {e}"));
    let pending = pending(&format!("{shared}/pending.txt"));
    let missing = differences(
        &signatures(&contract),
        &signatures(&lastmile::graphql::sdl()),
        &pending,
    );
    assert!(
        missing.is_empty(),
        "contract elements missing or different:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_pending_element_is_skipped_and_nothing_else_is() {
    let contract = signatures(
        "type Query { a(x: Int, y: Int): Int! b: String } enum E { ONE TWO } type T { f: Int }",
    );
    let built = signatures("type Query { a(x: Int): Int! } enum E { ONE }");
    let pending: HashSet<String> = ["Query.a(y)", "E.TWO", "T"].map(String::from).into();
    assert_eq!(differences(&contract, &built, &pending), ["Query.b"]);
    assert_eq!(
        differences(&contract, &built, &HashSet::new()),
        ["E.TWO", "Query.a(y)", "Query.b", "type T"]
    );
}
