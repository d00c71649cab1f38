//! Automatic persisted queries as Apollo's `createPersistedQueryLink` speaks them: a request
//! naming a document by its SHA-256 runs the document stored under it, or is answered
//! `PERSISTED_QUERY_NOT_FOUND` so the client sends it again with its text; a document sent
//! with its hash is checked against it, let in by the [`Ingest`] door and only then stored.
//!
//! Documents are kept in Redis when configured (every instance shares them, each expiring
//! after `PERSISTED_QUERY_TTL`) and in this instance's memory otherwise, or while Redis does
//! not answer. Either store holds only documents the door let in, each at most
//! [`MAX_STORED_BYTES`], so a client can neither store more than it could send nor store what
//! the bounds refuse.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_graphql::{Request, Response, Value};
use sha2::{Digest, Sha256};

use super::ingest::{self, Admitted, Ingest};

/// The protocol version Apollo's link sends.
const VERSION: i64 = 1;
/// The longest document stored; longer ones run but are not stored, so the client keeps
/// sending their text.
pub const MAX_STORED_BYTES: usize = 64 * 1024;
/// The most documents one instance keeps in memory.
const LOCAL_DOCUMENTS: usize = 2_048;
/// The most bytes of document text one instance keeps in memory.
const LOCAL_BYTES: usize = 16 * 1024 * 1024;
/// How long one Redis round trip may take before the local store answers instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// The codes of persisted-query errors, as Apollo Server names them.
pub mod code {
    /// The hash names no stored document: the client sends the document again.
    pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// The hash is not the SHA-256 of the document sent with it.
    pub const HASH_MISMATCH: &str = "BAD_USER_INPUT";
    /// The `persistedQuery` extension is not one this server reads.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
}

/// The message Apollo's link recognises (besides the code).
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// The stores of persisted documents.
pub struct Persisted {
    /// This instance's documents: the only store without Redis, the fallback while it is away.
    local: Mutex<Local>,
    /// The documents every instance shares, when Redis is configured.
    shared: Option<Shared>,
}

impl Persisted {
    /// Documents kept in this instance's memory only.
    pub fn local() -> Self {
        Self {
            local: Mutex::new(Local::default()),
            shared: None,
        }
    }

    /// Documents kept in Redis under `{namespace}:apq:` for `ttl`, and in memory while Redis
    /// does not answer.
    pub fn shared(client: redis::Client, namespace: &str, ttl: Duration) -> Self {
        Self {
            local: Mutex::new(Local::default()),
            shared: Some(Shared {
                client,
                connection: tokio::sync::Mutex::new(None),
                prefix: format!("{namespace}:apq:"),
                ttl,
            }),
        }
    }

    /// Lets `request` in through `door`: its document looked up by hash when it names one,
    /// checked against the hash when it sends both, and stored once the door admits it.
    pub async fn admit(
        &self,
        door: &Ingest,
        mut request: Request,
    ) -> Result<Admitted, Box<Response>> {
        let Some(hash) = persisted_hash(&request)? else {
            return door.admit(request);
        };
        if request.query.is_empty() {
            request.query = self.find(&hash).await.ok_or_else(not_found)?;
            return door.admit(request);
        }
        if hex::encode(Sha256::digest(request.query.as_bytes())) != hash {
            return Err(ingest::refuse(
                code::HASH_MISMATCH,
                "provided sha does not match query".into(),
                None,
            ));
        }
        let admitted = door.admit(request)?;
        self.store(hash, &admitted.request.query).await;
        Ok(admitted)
    }

    async fn find(&self, hash: &str) -> Option<String> {
        if let Some(shared) = &self.shared {
            match shared.get(hash).await {
                Ok(found) => return found,
                Err(error) => {
                    tracing::warn!(%error, "persisted queries: Redis unavailable, looking up locally")
                }
            }
        }
        self.lock().get(hash)
    }

    async fn store(&self, hash: String, text: &str) {
        if text.len() > MAX_STORED_BYTES {
            return;
        }
        if let Some(shared) = &self.shared {
            match shared.set(&hash, text).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "persisted queries: Redis unavailable, storing locally")
                }
            }
        }
        self.lock().insert(hash, text.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        // A cache: after a panic mid-update its worst is an entry too many or a byte count off.
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `request` carries a `persistedQuery` extension (then it needs no `query`).
pub fn is_persisted(request: &Request) -> bool {
    request.extensions.contains_key("persistedQuery")
}

/// The lower-case hash `request` names, if it names one; refused when the extension is not
/// version 1 with 64 hexadecimal digits.
fn persisted_hash(request: &Request) -> Result<Option<String>, Box<Response>> {
    let Some(extension) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let bad = |message: &str| ingest::refuse(code::BAD_REQUEST, message.into(), None);
    let Value::Object(fields) = extension else {
        return Err(bad("extensions.persistedQuery must be an object"));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_i64() == Some(VERSION) => {}
        _ => return Err(bad("Unsupported persisted query version")),
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(bad(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
        )),
    }
}

fn not_found() -> Box<Response> {
    ingest::refuse(code::NOT_FOUND, NOT_FOUND_MESSAGE.into(), None)
}

/// Documents in memory by hash, bounded in count and bytes; the oldest leave first.
#[derive(Default)]
struct Local {
    /// By hash.
    documents: HashMap<String, String>,
    /// Hashes in the order they were stored.
    order: VecDeque<String>,
    /// Bytes of document text held.
    bytes: usize,
}

impl Local {
    fn get(&self, hash: &str) -> Option<String> {
        self.documents.get(hash).cloned()
    }

    fn insert(&mut self, hash: String, text: String) {
        if self.documents.contains_key(&hash) {
            return;
        }
        while self.order.len() >= LOCAL_DOCUMENTS || self.bytes + text.len() > LOCAL_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(removed) = self.documents.remove(&oldest) {
                self.bytes -= removed.len();
            }
        }
        self.bytes += text.len();
        self.order.push_back(hash.clone());
        self.documents.insert(hash, text);
    }
}

/// Documents in Redis: one key per hash, each expiring after the TTL.
struct Shared {
    /// Where to connect.
    client: redis::Client,
    /// The open connection, if any; cleared after a failure so the next call reconnects.
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// `{namespace}:apq:`, before each hash.
    prefix: String,
    /// How long a stored document lives.
    ttl: Duration,
}

impl Shared {
    async fn get(&self, hash: &str) -> anyhow::Result<Option<String>> {
        let mut command = redis::cmd("GET");
        command.arg(format!("{}{hash}", self.prefix));
        self.run(command).await
    }

    async fn set(&self, hash: &str, text: &str) -> anyhow::Result<()> {
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{hash}", self.prefix))
            .arg(text)
            .arg("EX")
            .arg(self.ttl.as_secs().max(1));
        self.run(command).await
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> anyhow::Result<T> {
        let mut connection = self.connection().await?;
        let result =
            tokio::time::timeout(REDIS_TIMEOUT, command.query_async(&mut connection)).await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                *self.connection.lock().await = None;
                Err(error.into())
            }
            Err(elapsed) => {
                *self.connection.lock().await = None;
                Err(elapsed.into())
            }
        }
    }

    async fn connection(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = tokio::time::timeout(
            REDIS_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await??;
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door() -> Ingest {
        Ingest::new(ingest::Limits {
            guard: super::super::guard::Bounds {
                nesting: 8,
                tokens: 100,
            },
            selections: 50,
            production: false,
        })
    }

    fn hashed(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        let extension = serde_json::json!({ "version": 1, "sha256Hash": hash });
        request.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(extension).unwrap_or_default(),
        );
        request
    }

    fn sha(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    fn code_of(response: &Response) -> Option<String> {
        let extensions = response.errors.first()?.extensions.as_ref()?;
        match extensions.get("code")? {
            Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_hash_is_found_once_its_document_was_sent_with_it() {
        let (store, door) = (Persisted::local(), door());
        let text = "{ __typename }";
        let missing = store
            .admit(&door, hashed("", &sha(text)))
            .await
            .err()
            .expect("refused");
        assert_eq!(code_of(&missing).as_deref(), Some(code::NOT_FOUND));
        assert_eq!(missing.errors[0].message, NOT_FOUND_MESSAGE);
        let stored = store.admit(&door, hashed(text, &sha(text))).await;
        assert!(stored.is_ok(), "let in");
        let Ok(found) = store.admit(&door, hashed("", &sha(text))).await else {
            panic!("the stored document is found");
        };
        assert_eq!(found.request.query, text);
    }

    #[tokio::test]
    async fn a_document_the_door_refuses_is_not_stored() {
        let (store, door) = (Persisted::local(), door());
        let deep = format!("{}{}", "{ a ".repeat(20), "}".repeat(20));
        let refused = store
            .admit(&door, hashed(&deep, &sha(&deep)))
            .await
            .err()
            .expect("refused");
        assert_eq!(
            code_of(&refused).as_deref(),
            Some(ingest::code::PARSE_FAILED)
        );
        assert!(store.lock().documents.is_empty());
    }

    #[tokio::test]
    async fn a_wrong_hash_or_version_is_refused() {
        let (store, door) = (Persisted::local(), door());
        let wrong = store
            .admit(&door, hashed("{ __typename }", &sha("{ other }")))
            .await
            .err()
            .expect("refused");
        assert_eq!(wrong.errors[0].message, "provided sha does not match query");
        let short = store
            .admit(&door, hashed("", "abc"))
            .await
            .err()
            .expect("refused");
        assert_eq!(code_of(&short).as_deref(), Some(code::BAD_REQUEST));
    }

    #[test]
    fn the_local_store_keeps_its_bounds_and_forgets_the_oldest_first() {
        let mut local = Local::default();
        for i in 0..=LOCAL_DOCUMENTS {
            local.insert(format!("{i:064}"), "{ __typename }".into());
        }
        assert_eq!(local.documents.len(), LOCAL_DOCUMENTS);
        assert!(local.get(&format!("{:064}", 0)).is_none());
        assert!(local.get(&format!("{LOCAL_DOCUMENTS:064}")).is_some());
        local.insert("big".into(), "x".repeat(LOCAL_BYTES));
        assert!(local.bytes <= LOCAL_BYTES);
    }
}
