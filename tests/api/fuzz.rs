//! Property-based fuzzing of the document ingest path: the guard, parsing, the bounds on the
//! parsed operation, and validation against the real schema. Generated documents mix the
//! schema's own names with brackets, strings, block strings, comments, fragments, spreads,
//! directives and variables; mutations of the regression corpus (`tests/corpus/`) add byte
//! noise. Whatever comes in, nothing panics and every refusal carries a code.
//!
//! `FUZZ_CASES` sets the number of generated cases (default 400); CI runs more.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Response, Schema};
use lastmile::graphql::events::Subscription;
use lastmile::graphql::ingest::{self, Limits};
use lastmile::graphql::{AppSchema, Mutation, Query, guard::Bounds};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Stops every operation after validation: the resolvers need a running gateway.
struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnlyExtension)
    }
}

struct ValidateOnlyExtension;

#[async_trait::async_trait]
impl Extension for ValidateOnlyExtension {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::new(async_graphql::Value::Null)
    }
}

fn schema() -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(12)
        .limit_complexity(20_000)
        .limit_recursive_depth(32)
        .extension(ValidateOnly)
        .finish()
}

const LIMITS: Limits = Limits {
    guard: Bounds {
        nesting: 64,
        tokens: 4_000,
    },
    selections: 500,
    production: false,
};

/// Runs `document` through the door and, when let in, through validation.
fn ingest(runtime: &tokio::runtime::Runtime, schema: &AppSchema, document: &str) {
    match ingest::admit(async_graphql::Request::new(document), &LIMITS) {
        Err(refused) => {
            let error = &refused.errors[0];
            let code = error.extensions.as_ref().and_then(|e| e.get("code"));
            assert!(code.is_some(), "a refusal without a code: {error:?}");
        }
        Ok(mut admitted) => {
            let request = admitted.take_request();
            let response = admitted
                .findings
                .finish
                .apply(runtime.block_on(schema.execute(request)));
            assert!(response.errors.len() <= ingest::MAX_ERRORS);
        }
    }
}

/// Pieces documents are made of: the schema's names, punctuation and the lexical corners.
fn atom() -> impl Strategy<Value = String> {
    let names = prop::sample::select(vec![
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "viewer",
        "organization",
        "drivers",
        "users",
        "node",
        "id",
        "email",
        "name",
        "edges",
        "nodes",
        "totalCount",
        "signIn",
        "statusChanged",
        "__schema",
        "__type",
        "__typename",
        "types",
        "fields",
        "ofType",
        "Driver",
        "Viewer",
        "first",
        "after",
        "filter",
        "search",
        "input",
        "true",
        "null",
        "skip",
        "include",
        "if",
    ]);
    prop_oneof![
        names.prop_map(str::to_owned),
        prop::sample::select(vec![
            "{", "}", "(", ")", "[", "]", ":", "$", "@", "!", "=", "|", "&", "...", ",", "\n",
            "\"", "\"\"\"", "\\", "#", "-1.5e+3", "0x", "\u{0}", "\u{feff}", "é",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
        "\"[^\"\\\\]{0,6}\"",
        "#[^\n]{0,6}\n",
        (1usize..200).prop_map(|n| "[".repeat(n)),
        (1usize..200).prop_map(|n| "{".repeat(n)),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(atom(), 0..120).prop_map(|atoms| atoms.join(" "))
}

/// Well-formed operations with random shape: nesting, fragments, aliases, duplicates.
fn operation() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["id", "email", "name", "__typename", "totalCount"])
        .prop_map(str::to_owned);
    let selection = leaf.prop_recursive(8, 64, 6, |inner| {
        (
            prop::sample::select(vec!["viewer", "organization", "drivers", "nodes", "user"]),
            prop::collection::vec(inner, 1..6),
            prop::option::of("[a-z]{1,4}"),
        )
            .prop_map(|(field, children, alias)| {
                let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
                format!("{alias}{field} {{ {} }}", children.join(" "))
            })
    });
    prop::collection::vec(selection, 1..8).prop_map(|fields| format!("{{ {} }}", fields.join(" ")))
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

fn corpus() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the regression corpus {dir} cannot be read: {e}"))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("corpus file");
            (path.display().to_string(), text)
        })
        .collect()
}

#[test]
fn every_document_of_the_regression_corpus_is_ingested_without_a_panic() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let schema = schema();
    let corpus = corpus();
    assert!(!corpus.is_empty(), "the regression corpus is empty");
    for (_, text) in &corpus {
        ingest(&runtime, &schema, text);
    }
}

#[test]
fn generated_documents_never_panic_the_ingest_path_and_every_refusal_has_a_code() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let schema = schema();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop_oneof![document(), operation()], |text| {
            ingest(&runtime, &schema, &text);
            Ok(())
        })
        .expect("no generated document breaks the ingest path");
}

#[test]
fn mutated_corpus_documents_never_panic_the_ingest_path() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let schema = schema();
    let corpus: Vec<String> = corpus().into_iter().map(|(_, text)| text).collect();
    let mutation = (
        prop::sample::select(corpus),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    );
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&mutation, |(text, edits)| {
            let mut bytes = text.into_bytes();
            for (at, byte) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            ingest(&runtime, &schema, &String::from_utf8_lossy(&bytes));
            Ok(())
        })
        .expect("no mutated document breaks the ingest path");
}
