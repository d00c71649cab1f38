//! `schema.graphql` is the generated SDL, and it contains the whole client contract.

use std::collections::HashMap;

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

/// Type name → field or value name → rendered signature.
fn signatures(sdl: &str) -> HashMap<String, HashMap<String, String>> {
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
                    members.insert(f.node.name.node.to_string(), field_sig(&f.node));
                }
            }
            TypeKind::Interface(i) => {
                for f in i.fields {
                    members.insert(f.node.name.node.to_string(), field_sig(&f.node));
                }
            }
            TypeKind::InputObject(i) => {
                for f in i.fields {
                    members.insert(f.node.name.node.to_string(), f.node.ty.node.to_string());
                }
            }
            TypeKind::Enum(e) => {
                for v in e.values {
                    members.insert(v.node.value.node.to_string(), String::new());
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
        types.insert(ty.name.node.to_string(), members);
    }
    types
}

fn field_sig(f: &async_graphql::parser::types::FieldDefinition) -> String {
    let mut args: Vec<String> = f
        .arguments
        .iter()
        .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
        .collect();
    args.sort();
    format!("({}) -> {}", args.join(", "), f.ty.node)
}

#[test]
fn every_contract_element_is_in_the_schema_with_the_same_nullability() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/api/contract.graphql"
    );
    let Ok(contract) = std::fs::read_to_string(path) else {
        eprintln!("no contract at {path}; skipped");
        return;
    };
    let expected = signatures(&contract);
    let actual = signatures(&lastmile::graphql::sdl());
    let mut missing = Vec::new();
    for (ty, members) in &expected {
        let Some(have) = actual.get(ty) else {
            missing.push(format!("type {ty}"));
            continue;
        };
        for (name, sig) in members {
            match have.get(name) {
                None => missing.push(format!("{ty}.{name}")),
                Some(s) if s != sig => {
                    missing.push(format!("{ty}.{name}: contract {sig}, schema {s}"))
                }
                _ => {}
            }
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "contract elements missing or different:\n{}",
        missing.join("\n")
    );
}
