//! What async-graphql's executor alone costs per request: a small in-memory schema shaped like
//! the gateway's (organization → 100 drivers → depot and shares; one driver by id) runs the
//! peer benchmark's Q1 and Q3 on one thread and prints CPU time, allocations and bytes
//! allocated per execution, beside the floor of writing the same JSON with serde alone.
//!
//! No gateway code, DataLoader, database, HTTP or authentication is involved: the figures are
//! what any request of that shape pays in parsing, validation, execution and serialization.
//! Allocations are counted on top of the system allocator, or of the gateway's mimalloc with
//! `EXECUTOR_ALLOCATOR=mimalloc`. `EXECUTOR_SECONDS` (default 1.5) sets how long each line
//! is measured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, Enum, ID, Object, ObjectType, Request, Schema,
    SchemaBuilder, SimpleObject, ValidationMode, Variables,
};
use base64::Engine;
use mimalloc::MiMalloc;
use serde::Serialize;

/// The peer benchmark's Q1 (its queries/lastmile/Q1.graphql, without the comments).
const Q1: &str = "query Q1 {
  organization {
    id
    name
    drivers(first: 100) {
      nodes {
        id
        firstName
        lastName
        email
        phone
        status
        depot {
          id
          name
        }
        sharedWith {
          sharedAt
          partner {
            id
            name
          }
        }
      }
    }
  }
}";

/// The peer benchmark's Q3 (its queries/lastmile/Q3.graphql, without the comments).
const Q3: &str = "query Q3($id: ID!) {
  driver(id: $id) {
    id
    firstName
    lastName
    email
    phone
    status
  }
}";

/// Drivers in the organization (Q1 pages all of them).
const DRIVERS: usize = 100;
/// Depots the drivers are spread over.
const DEPOTS: usize = 10;
/// Drivers shared with a partner, one share each (5 %, as in the benchmark's data).
const SHARES: usize = 5;
/// Time each line runs before it is measured.
const WARM_UP: Duration = Duration::from_millis(250);
/// Executions between two looks at the clock.
const BATCH: u64 = 16;

/// Counts every allocation (and reallocation) and the bytes it asks for, then hands it to
/// the system allocator or, with `EXECUTOR_ALLOCATOR=mimalloc`, to the gateway's.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// 0 until the first allocation decides, then 1 (system) or 2 (mimalloc) for the whole run.
static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Whether allocations go to mimalloc; read once, without allocating, at the first allocation
/// (before `main`, on the only thread), so every block is freed by the allocator it came from.
fn mimalloc() -> bool {
    let mut backend = BACKEND.load(Relaxed);
    if backend == 0 {
        // SAFETY: getenv reads the environment without allocating; nothing here sets it.
        let value = unsafe { libc::getenv(c"EXECUTOR_ALLOCATOR".as_ptr()) };
        // SAFETY: a non-null result of getenv is a NUL-terminated string.
        let wanted = !value.is_null() && unsafe { std::ffi::CStr::from_ptr(value) } == c"mimalloc";
        backend = if wanted { 2 } else { 1 };
        BACKEND.store(backend, Relaxed);
    }
    backend == 2
}

fn count(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    BYTES.fetch_add(bytes as u64, Relaxed);
}

// SAFETY: every call is forwarded unchanged to one allocator, the same for the whole run;
// only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe {
            if mimalloc() {
                MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        unsafe {
            if mimalloc() {
                MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe {
            if mimalloc() {
                MiMalloc.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe {
            if mimalloc() {
                MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// The data: rows as a database would hand them over, built once.

#[derive(Enum, Serialize, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "DriverStatus")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Status {
    Active,
    Inactive,
}

struct OrgRow {
    id: ID,
    name: String,
    /// The organization's drivers, as indices into `Store::drivers`.
    drivers: std::ops::Range<usize>,
}

struct DepotRow {
    id: ID,
    name: String,
}

struct ShareRow {
    shared_at: String,
    /// Index into `Store::partners`.
    partner: usize,
}

struct DriverRow {
    id: ID,
    first_name: String,
    last_name: String,
    email: String,
    phone: Option<String>,
    status: Status,
    /// Index into `Store::depots`.
    depot: usize,
    shares: Vec<ShareRow>,
}

struct Store {
    org: OrgRow,
    partners: Vec<OrgRow>,
    depots: Vec<DepotRow>,
    drivers: Vec<DriverRow>,
    by_id: HashMap<String, usize>,
}

/// A Relay id as the gateway writes them: base64 of "Kind:<uuid>".
fn relay(kind: &str) -> ID {
    let raw = format!("{kind}:{}", uuid::Uuid::now_v7());
    ID(base64::engine::general_purpose::STANDARD.encode(raw))
}

fn org(name: String, drivers: std::ops::Range<usize>) -> OrgRow {
    OrgRow {
        id: relay("Organization"),
        name,
        drivers,
    }
}

fn driver(i: usize) -> DriverRow {
    let shared = i.is_multiple_of(DRIVERS / SHARES);
    DriverRow {
        id: relay("Driver"),
        first_name: format!("Firstname{i}"),
        last_name: format!("Lastname{i}"),
        email: format!("driver{i}@bench-fleet.example"),
        phone: Some(format!("+1555{:07}", i)),
        status: if i.is_multiple_of(7) {
            Status::Inactive
        } else {
            Status::Active
        },
        depot: i % DEPOTS,
        shares: shared
            .then(|| ShareRow {
                shared_at: "2026-11-02T09:30:00+00:00".to_owned(),
                partner: i / (DRIVERS / SHARES),
            })
            .into_iter()
            .collect(),
    }
}

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let drivers: Vec<DriverRow> = (0..DRIVERS).map(driver).collect();
        let by_id = drivers
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.to_string(), i))
            .collect();
        Store {
            org: org("Bench Fleet".to_owned(), 0..DRIVERS),
            partners: (0..SHARES)
                .map(|i| org(format!("Partner {i}"), 0..0))
                .collect(),
            depots: (0..DEPOTS)
                .map(|i| DepotRow {
                    id: relay("Depot"),
                    name: format!("Depot {i}"),
                })
                .collect(),
            drivers,
            by_id,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Schema 1, "plain": the object graph is built once and every field but the two that take
// arguments is a struct field (SimpleObject), resolved without a resolver of its own.

mod plain {
    use super::*;

    #[derive(SimpleObject)]
    #[graphql(complex, name = "Organization")]
    pub struct Org {
        id: ID,
        name: String,
        #[graphql(skip)]
        drivers: &'static [Driver],
    }

    #[ComplexObject]
    impl Org {
        async fn drivers(&self, first: i32) -> Connection {
            let first = usize::try_from(first).unwrap_or(0).min(self.drivers.len());
            Connection {
                nodes: &self.drivers[..first],
            }
        }
    }

    #[derive(SimpleObject)]
    #[graphql(name = "DriverConnection")]
    pub struct Connection {
        nodes: &'static [Driver],
    }

    #[derive(SimpleObject)]
    #[graphql(name = "Depot")]
    pub struct Depot {
        id: ID,
        name: String,
    }

    #[derive(SimpleObject)]
    #[graphql(name = "Share")]
    pub struct Share {
        shared_at: String,
        partner: &'static Org,
    }

    #[derive(SimpleObject)]
    #[graphql(name = "Driver")]
    pub struct Driver {
        id: ID,
        first_name: String,
        last_name: String,
        email: String,
        phone: Option<String>,
        status: Status,
        depot: &'static Depot,
        shared_with: Vec<Share>,
    }

    #[derive(Clone, Copy)]
    pub struct Query {
        org: &'static Org,
        by_id: &'static HashMap<ID, &'static Driver>,
    }

    #[Object]
    impl Query {
        async fn organization(&self) -> &Org {
            self.org
        }
        async fn driver(&self, id: ID) -> Option<&Driver> {
            self.by_id.get(&id).copied()
        }
    }

    fn leak<T>(value: T) -> &'static T {
        Box::leak(Box::new(value))
    }

    fn to_org(row: &OrgRow, drivers: &'static [Driver]) -> Org {
        Org {
            id: row.id.clone(),
            name: row.name.clone(),
            drivers,
        }
    }

    fn to_driver(row: &DriverRow, depots: &'static [Depot], partners: &'static [Org]) -> Driver {
        Driver {
            id: row.id.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            email: row.email.clone(),
            phone: row.phone.clone(),
            status: row.status,
            depot: &depots[row.depot],
            shared_with: row
                .shares
                .iter()
                .map(|s| Share {
                    shared_at: s.shared_at.clone(),
                    partner: &partners[s.partner],
                })
                .collect(),
        }
    }

    /// The root over the object graph, built (and leaked) on the first call.
    pub fn query() -> Query {
        static QUERY: OnceLock<Query> = OnceLock::new();
        *QUERY.get_or_init(build)
    }

    fn build() -> Query {
        let s = store();
        let depots: &'static [Depot] = Vec::leak(
            s.depots
                .iter()
                .map(|d| Depot {
                    id: d.id.clone(),
                    name: d.name.clone(),
                })
                .collect(),
        );
        let partners: &'static [Org] =
            Vec::leak(s.partners.iter().map(|p| to_org(p, &[])).collect());
        let drivers: &'static [Driver] = Vec::leak(
            s.drivers
                .iter()
                .map(|d| to_driver(d, depots, partners))
                .collect(),
        );
        Query {
            org: leak(to_org(&s.org, &drivers[s.org.drivers.clone()])),
            by_id: leak(drivers.iter().map(|d| (d.id.clone(), d)).collect()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema 2, "async": every field is an `async fn` over a row, relations looked up by index,
// as the gateway's resolvers read their rows.

mod resolved {
    use super::*;

    pub struct Org(&'static OrgRow);

    #[Object(name = "Organization")]
    impl Org {
        async fn id(&self) -> &ID {
            &self.0.id
        }
        async fn name(&self) -> &str {
            &self.0.name
        }
        async fn drivers(&self, first: i32) -> Connection {
            let range = self.0.drivers.clone();
            let first = usize::try_from(first).unwrap_or(0).min(range.len());
            Connection(&store().drivers[range.start..range.start + first])
        }
    }

    pub struct Connection(&'static [DriverRow]);

    #[Object(name = "DriverConnection")]
    impl Connection {
        async fn nodes(&self) -> Vec<Driver> {
            self.0.iter().map(Driver).collect()
        }
    }

    pub struct Depot(&'static DepotRow);

    #[Object(name = "Depot")]
    impl Depot {
        async fn id(&self) -> &ID {
            &self.0.id
        }
        async fn name(&self) -> &str {
            &self.0.name
        }
    }

    pub struct Share(&'static ShareRow);

    #[Object(name = "Share")]
    impl Share {
        async fn shared_at(&self) -> &str {
            &self.0.shared_at
        }
        async fn partner(&self) -> Org {
            Org(&store().partners[self.0.partner])
        }
    }

    pub struct Driver(&'static DriverRow);

    #[Object(name = "Driver")]
    impl Driver {
        async fn id(&self) -> &ID {
            &self.0.id
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
        async fn status(&self) -> Status {
            self.0.status
        }
        async fn depot(&self) -> Depot {
            Depot(&store().depots[self.0.depot])
        }
        async fn shared_with(&self) -> Vec<Share> {
            self.0.shares.iter().map(Share).collect()
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn organization(&self) -> Org {
            Org(&store().org)
        }
        async fn driver(&self, id: ID) -> Option<Driver> {
            let s = store();
            s.by_id.get(id.as_str()).map(|&i| Driver(&s.drivers[i]))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: the same response written with serde alone.

mod by_hand {
    use super::*;

    #[derive(Serialize)]
    pub struct Body<T> {
        data: T,
    }

    #[derive(Serialize)]
    pub struct Q1Data<'a> {
        organization: Org<'a>,
    }

    #[derive(Serialize)]
    struct Org<'a> {
        id: &'a str,
        name: &'a str,
        drivers: Connection<'a>,
    }

    #[derive(Serialize)]
    struct Connection<'a> {
        nodes: Vec<Driver<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Driver<'a> {
        id: &'a str,
        first_name: &'a str,
        last_name: &'a str,
        email: &'a str,
        phone: Option<&'a str>,
        status: Status,
        depot: IdName<'a>,
        shared_with: Vec<Share<'a>>,
    }

    #[derive(Serialize)]
    struct IdName<'a> {
        id: &'a str,
        name: &'a str,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Share<'a> {
        shared_at: &'a str,
        partner: IdName<'a>,
    }

    #[derive(Serialize)]
    pub struct Q3Data<'a> {
        driver: Option<Card<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Card<'a> {
        id: &'a str,
        first_name: &'a str,
        last_name: &'a str,
        email: &'a str,
        phone: Option<&'a str>,
        status: Status,
    }

    fn driver<'a>(s: &'a Store, d: &'a DriverRow) -> Driver<'a> {
        let depot = &s.depots[d.depot];
        Driver {
            id: &d.id,
            first_name: &d.first_name,
            last_name: &d.last_name,
            email: &d.email,
            phone: d.phone.as_deref(),
            status: d.status,
            depot: IdName {
                id: &depot.id,
                name: &depot.name,
            },
            shared_with: d
                .shares
                .iter()
                .map(|sh| {
                    let p = &s.partners[sh.partner];
                    Share {
                        shared_at: &sh.shared_at,
                        partner: IdName {
                            id: &p.id,
                            name: &p.name,
                        },
                    }
                })
                .collect(),
        }
    }

    /// Q1 as borrowed structs serialized by serde's derive.
    pub fn q1(first: usize) -> Vec<u8> {
        let s = store();
        let drivers = &s.drivers[s.org.drivers.clone()];
        let body = Body {
            data: Q1Data {
                organization: Org {
                    id: &s.org.id,
                    name: &s.org.name,
                    drivers: Connection {
                        nodes: drivers[..first].iter().map(|d| driver(s, d)).collect(),
                    },
                },
            },
        };
        serde_json::to_vec(&body).unwrap()
    }

    /// Q3 as borrowed structs serialized by serde's derive.
    pub fn q3(id: &str) -> Vec<u8> {
        let s = store();
        let card = s.by_id.get(id).map(|&i| {
            let d = &s.drivers[i];
            Card {
                id: &d.id,
                first_name: &d.first_name,
                last_name: &d.last_name,
                email: &d.email,
                phone: d.phone.as_deref(),
                status: d.status,
            }
        });
        serde_json::to_vec(&Body {
            data: Q3Data { driver: card },
        })
        .unwrap()
    }

    /// Q1 as an owned `serde_json::Value` tree, then serialized: the shape of the executor's
    /// own work (a tree of owned values, then bytes) without the executor.
    pub fn q1_tree(first: usize) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::to_value(Body {
                data: tree_data(first),
            })
            .unwrap(),
        )
        .unwrap()
    }

    fn tree_data(first: usize) -> serde_json::Value {
        let s = store();
        let nodes: Vec<serde_json::Value> = s.drivers[s.org.drivers.clone()][..first]
            .iter()
            .map(|d| serde_json::to_value(driver(s, d)).unwrap())
            .collect();
        serde_json::json!({ "organization": {
            "id": s.org.id.as_str(), "name": s.org.name, "drivers": { "nodes": nodes } } })
    }

    /// Q3 as an owned `serde_json::Value` tree, then serialized.
    pub fn q3_tree(id: &str) -> Vec<u8> {
        let s = store();
        let d = &s.drivers[s.by_id[id]];
        let value = serde_json::json!({ "data": { "driver": {
            "id": d.id.as_str(), "firstName": d.first_name, "lastName": d.last_name,
            "email": d.email, "phone": d.phone, "status": d.status } } });
        serde_json::to_vec(&value).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// Per-execution figures of one line.
struct Sample {
    cpu_us: f64,
    wall_us: f64,
    allocations: f64,
    bytes: f64,
}

/// User plus system CPU time of the process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn budget() -> Duration {
    let seconds = std::env::var("EXECUTOR_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.5);
    Duration::from_secs_f64(seconds)
}

/// Runs `run` for [`WARM_UP`], then for `budget`, and divides what it cost by the executions.
async fn measure<F, Fut>(budget: Duration, mut run: F) -> Sample
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    let warm = Instant::now();
    while warm.elapsed() < WARM_UP {
        black_box(run().await);
    }
    let (allocations, bytes) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
    let (cpu, wall) = (cpu_time(), Instant::now());
    let mut executions = 0u64;
    while wall.elapsed() < budget {
        for _ in 0..BATCH {
            black_box(run().await);
        }
        executions += BATCH;
    }
    let n = executions as f64;
    Sample {
        cpu_us: (cpu_time() - cpu).as_secs_f64() * 1e6 / n,
        wall_us: wall.elapsed().as_secs_f64() * 1e6 / n,
        allocations: (ALLOCATIONS.load(Relaxed) - allocations) as f64 / n,
        bytes: (BYTES.load(Relaxed) - bytes) as f64 / n,
    }
}

/// Field values in a response: every key of every object under `data`.
fn field_values(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => map.len() + map.values().map(field_values).sum::<usize>(),
        serde_json::Value::Array(items) => items.iter().map(field_values).sum(),
        _ => 0,
    }
}

fn print_header(query: &str, fields: usize, response_bytes: usize) {
    println!();
    println!("{query}: {fields} field values, {response_bytes} response bytes");
    println!(
        "  {:<52} {:>9} {:>9} {:>10} {:>9} {:>10}",
        "variant", "µs CPU", "µs wall", "µs/field", "allocs", "bytes"
    );
}

fn print_line(label: &str, fields: usize, s: &Sample) {
    println!(
        "  {:<52} {:>9.1} {:>9.1} {:>10.3} {:>9.0} {:>10.0}",
        label,
        s.cpu_us,
        s.wall_us,
        s.cpu_us / fields as f64,
        s.allocations,
        s.bytes
    );
}

/// The gateway's own bounds (src/graphql/mod.rs), so a)–c) validate as it does.
fn gateway_like<Q: ObjectType + 'static>(
    b: SchemaBuilder<Q, EmptyMutation, EmptySubscription>,
) -> Schema<Q, EmptyMutation, EmptySubscription> {
    b.limit_recursive_depth(32)
        .limit_directives(10)
        .limit_depth(12)
        .limit_complexity(20_000)
        .finish()
}

/// The least per-request work the builder allows: only the validation rules
/// `ValidationMode::Fast` keeps, no depth, complexity or directive limits (async-graphql still
/// computes depth and complexity), no introspection, no suggestions.
fn lean<Q: ObjectType + 'static>(
    b: SchemaBuilder<Q, EmptyMutation, EmptySubscription>,
) -> Schema<Q, EmptyMutation, EmptySubscription> {
    b.validation_mode(ValidationMode::Fast)
        .disable_introspection()
        .disable_suggestions()
        .finish()
}

/// One query as every variant runs it.
struct Case {
    name: &'static str,
    text: &'static str,
    document: ExecutableDocument,
    variables: Variables,
    expected: serde_json::Value,
    fields: usize,
}

impl Case {
    fn request(&self) -> Request {
        Request::new(self.text).variables(self.variables.clone())
    }
    fn parsed(&self) -> Request {
        let mut request = Request::new(self.text).variables(self.variables.clone());
        request.set_parsed_query(self.document.clone());
        request
    }
}

/// Fails loudly when a schema does not answer `case` with the hand-written JSON.
async fn check<Q: ObjectType + 'static>(
    schema: &Schema<Q, EmptyMutation, EmptySubscription>,
    case: &Case,
) {
    let response = schema.execute(case.request()).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let got: serde_json::Value = serde_json::to_value(&response).unwrap();
    assert_eq!(
        got, case.expected,
        "{} differs from the hand-written JSON",
        case.name
    );
}

/// Lines a)–d) for one schema.
async fn schema_lines<Q: ObjectType + 'static>(
    style: &str,
    case: &Case,
    build: impl Fn() -> SchemaBuilder<Q, EmptyMutation, EmptySubscription>,
    budget: Duration,
) {
    let full = gateway_like(build());
    let lean = lean(build());
    check(&full, case).await;
    check(&lean, case).await;
    let line = |variant: &str| format!("{style}: {variant}");
    let s = measure(budget, || async {
        full.execute(case.request()).await.errors.len()
    })
    .await;
    print_line(&line("a) execute(text)"), case.fields, &s);
    let s = measure(budget, || async {
        full.execute(case.parsed()).await.errors.len()
    })
    .await;
    print_line(&line("b) execute(parsed)"), case.fields, &s);
    let s = measure(budget, || async {
        serde_json::to_vec(&full.execute(case.parsed()).await)
            .unwrap()
            .len()
    })
    .await;
    print_line(&line("c) b + to_vec"), case.fields, &s);
    let s = measure(budget, || async {
        serde_json::to_vec(&lean.execute(case.parsed()).await)
            .unwrap()
            .len()
    })
    .await;
    print_line(
        &line("d) c on a lean schema (Fast, no limits)"),
        case.fields,
        &s,
    );
}

async fn run_case(
    case: &Case,
    hand: impl Fn() -> Vec<u8>,
    tree: impl Fn() -> Vec<u8>,
    budget: Duration,
) {
    print_header(case.name, case.fields, hand().len());
    schema_lines(
        "plain",
        case,
        || Schema::build(plain::query(), EmptyMutation, EmptySubscription),
        budget,
    )
    .await;
    schema_lines(
        "async",
        case,
        || Schema::build(resolved::Query, EmptyMutation, EmptySubscription),
        budget,
    )
    .await;
    let s = measure(budget, || async {
        case.document.clone().operations.iter().count()
    })
    .await;
    print_line(
        "   (b's clone of the parsed document, alone)",
        case.fields,
        &s,
    );
    let s = measure(budget, || async { hand().len() }).await;
    print_line(
        "e) serde derive, borrowed structs → to_vec",
        case.fields,
        &s,
    );
    let s = measure(budget, || async { tree().len() }).await;
    print_line("   serde_json::Value tree → to_vec", case.fields, &s);
}

fn case(
    name: &'static str,
    text: &'static str,
    variables: serde_json::Value,
    expected: &[u8],
) -> Case {
    let expected: serde_json::Value = serde_json::from_slice(expected).unwrap();
    Case {
        name,
        text,
        document: parse_query(text).unwrap(),
        variables: Variables::from_json(variables),
        fields: field_values(&expected["data"]),
        expected,
    }
}

fn main() {
    let budget = budget();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let id = store().drivers[DRIVERS / 2].id.to_string();
    let q1 = case("Q1", Q1, serde_json::json!({}), &by_hand::q1(DRIVERS));
    let q3 = case("Q3", Q3, serde_json::json!({ "id": id }), &by_hand::q3(&id));
    println!(
        "async-graphql executor, one thread, {} allocator, {} s per line after {} ms of \
         warm-up; per execution (CPU = user + system time of the process)",
        if mimalloc() { "mimalloc" } else { "system" },
        budget.as_secs_f64(),
        WARM_UP.as_millis()
    );
    runtime.block_on(async {
        run_case(
            &q1,
            || by_hand::q1(DRIVERS),
            || by_hand::q1_tree(DRIVERS),
            budget,
        )
        .await;
        run_case(&q3, || by_hand::q3(&id), || by_hand::q3_tree(&id), budget).await;
    });
}
