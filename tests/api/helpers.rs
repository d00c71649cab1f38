//! `spawn_app()` and the client helpers every test uses.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lastmile::app::Application;
use lastmile::config::Cli;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

/// A password every test account uses.
pub const PASSWORD: &str = "correct horse battery";

/// A running gateway and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// Where mail is written.
    pub mail_dir: PathBuf,
    /// The database the app uses.
    pub database_url: String,
    /// The Redis channel, when Redis is used.
    pub redis_channel: Option<String>,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Application state (for statement counts and direct checks).
    pub state: lastmile::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// What to vary when spawning.
#[derive(Default, Clone)]
pub struct Options {
    /// Use this database instead of a fresh one (a second instance on the same data).
    pub database_url: Option<String>,
    /// Use this Redis channel (a second instance on the same fan-out).
    pub redis_channel: Option<String>,
    /// Use this Redis server instead of `REDIS_URL`.
    pub redis_url: Option<String>,
    /// Run without Redis even when `REDIS_URL` is set (instances then share only the database).
    pub without_redis: bool,
    /// Leave `JWT_SECRET` unset: the gateway generates one and keeps it in the database.
    pub generated_secret: bool,
    /// Extra `--flag value` pairs.
    pub extra: Vec<(String, String)>,
    /// Leave `PUBLIC_URL` unset: mail links to the listen address.
    pub default_public_url: bool,
}

/// The UUID inside a Relay ID (`Type:uuid`, base64).
pub fn uuid_in(relay_id: &str) -> Uuid {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(relay_id)
        .expect("a base64 Relay ID");
    let text = String::from_utf8(raw).expect("a UTF-8 Relay ID");
    text.split_once(':')
        .and_then(|(_, uuid)| uuid.parse().ok())
        .expect("a typed Relay ID")
}

/// `REDIS_URL` when set: the tests that need several instances run only with Redis.
pub fn redis_url() -> Option<String> {
    std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty())
}

/// Fails unless `REDIS_URL` is set: a test that needs several instances is `#[ignore]`d, so the
/// SQLite run lists it as ignored, and CI's PostgreSQL + Redis pass runs it with
/// `--include-ignored`; run without Redis, it fails rather than passing unchecked.
pub fn require_redis() {
    assert!(
        redis_url().is_some(),
        "this test needs REDIS_URL (it runs in the PostgreSQL + Redis pass)"
    );
}

/// A fresh database URL: a new PostgreSQL database when `DATABASE_URL` is PostgreSQL,
/// otherwise a SQLite file in `dir`.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let name = format!("lastmile_test_{}", Uuid::now_v7().simple());
            let admin = Database::connect(url.clone())
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            with_database(&url, &name)
        }
        _ => format!("sqlite://{}/lastmile.db?mode=rwc", dir.display()),
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// The string `value`, failing with the whole `response` when it is anything else (a failed
/// call answers null where the string was expected).
pub fn text(value: &Value, response: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value} in {response}"))
        .to_owned()
}

/// Starts a gateway on port 0 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

/// Starts a gateway with options.
pub async fn spawn_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = match options.database_url {
        Some(url) => url,
        None => fresh_database(dir.path()).await,
    };
    let mail_dir = dir.path().join("mail");
    let mut args: Vec<String> = vec![
        "lastmile".into(),
        "--listen-addr".into(),
        "127.0.0.1:0".into(),
        "--database-url".into(),
        database_url.clone(),
        "--database-max-connections".into(),
        "5".into(),
        "--mail-dir".into(),
        mail_dir.display().to_string(),
    ];
    if !options.default_public_url {
        args.extend(["--public-url".into(), "http://lastmile.test".into()]);
    }
    let redis_url = options
        .redis_url
        .or_else(|| std::env::var("REDIS_URL").ok())
        .filter(|u| !u.is_empty() && !options.without_redis);
    let redis_channel = match redis_url {
        Some(url) => {
            let channel = options
                .redis_channel
                .unwrap_or_else(|| format!("lastmile:test:{}", Uuid::now_v7().simple()));
            args.extend([
                "--redis-url".into(),
                url,
                "--redis-channel".into(),
                channel.clone(),
            ]);
            Some(channel)
        }
        _ => None,
    };
    if !options.generated_secret {
        args.extend([
            "--jwt-secret".into(),
            "test-secret-that-is-at-least-32-bytes-long".into(),
        ]);
    }
    for (flag, value) in options.extra {
        args.push(flag);
        args.push(value);
    }
    let cli = Cli::try_parse_from(args).expect("test settings parse");
    let application = Application::build(cli.settings)
        .await
        .expect("application builds");
    let port = application.local_addr().expect("bound").port();
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = application
            .run_until(async move {
                let _ = stopped.await;
            })
            .await;
    });
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        mail_dir,
        database_url,
        redis_channel,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        state,
        stop: Some(stop),
        server: Some(server),
        _dir: dir,
    }
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
}

/// An organization with its first admin.
#[derive(Debug, Clone)]
pub struct Org {
    /// Relay ID of the organization.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The admin's session.
    pub admin: Session,
    /// The admin's email.
    pub admin_email: String,
    /// The admin's User ID.
    pub admin_user_id: String,
}

/// A member created through invitation and acceptance.
#[derive(Debug, Clone)]
pub struct Member {
    /// Relay User ID.
    pub user_id: String,
    /// Relay Driver ID (same record, as a driver card).
    pub driver_id: String,
    /// Email.
    pub email: String,
    /// Session scoped to the organization.
    pub session: Session,
}

impl TestApp {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }

    /// POSTs a GraphQL request; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        response.json().await.expect("JSON body")
    }

    /// POSTs and asserts there is no error; returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Creates an organization and its admin.
    pub async fn create_org(&self, name: &str) -> Org {
        let email = format!(
            "admin-{}@{}.test",
            Uuid::now_v7().simple(),
            name.to_lowercase().replace(' ', "-")
        );
        let data = self
            .ok(
                None,
                "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) {
                    accessToken refreshToken viewer { user { id } organization { id name } } } }",
                json!({ "input": {
                    "name": name, "adminFirstName": "Ada", "adminLastName": "Admin",
                    "adminEmail": email, "adminPassword": PASSWORD } }),
            )
            .await;
        let payload = &data["createOrganization"];
        Org {
            id: text(&payload["viewer"]["organization"]["id"], payload),
            name: name.to_owned(),
            admin: Session {
                token: text(&payload["accessToken"], payload),
                refresh: text(&payload["refreshToken"], payload),
            },
            admin_email: email,
            admin_user_id: text(&payload["viewer"]["user"]["id"], payload),
        }
    }

    /// Invites `email` with `roles` as `inviter`; returns the new User ID.
    pub async fn invite(&self, inviter: &str, email: &str, roles: &[&str]) -> String {
        let data = self
            .ok(
                Some(inviter),
                "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }",
                json!({ "input": { "firstName": "Test", "lastName": "Person", "email": email, "roles": roles } }),
            )
            .await;
        text(&data["inviteUser"]["id"], &data)
    }

    /// Waits for the newest mail to `to` and returns its text.
    pub async fn mail_to(&self, to: &str) -> String {
        for _ in 0..100 {
            // Files are named by the mail's UUID v7, so the greatest name is the newest mail
            // (file times can tie when two mails land within the same tick).
            let mut found: Vec<(String, String)> = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&self.mail_dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "eml")
                        && let Ok(text) = std::fs::read_to_string(&path)
                        && text
                            .lines()
                            .any(|l| l.to_lowercase().starts_with("to:") && l.contains(to))
                    {
                        found.push((entry.file_name().to_string_lossy().into_owned(), text));
                    }
                }
            }
            if let Some((_, text)) = found.into_iter().max_by(|a, b| a.0.cmp(&b.0)) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} arrived");
    }

    /// Another gateway instance on the same database and Redis channel.
    pub async fn second_instance(&self) -> TestApp {
        spawn_with(Options {
            database_url: Some(self.database_url.clone()),
            redis_channel: self.redis_channel.clone(),
            ..Default::default()
        })
        .await
    }

    /// How many mails were delivered.
    pub fn mails(&self) -> usize {
        std::fs::read_dir(&self.mail_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Every mail file to `to`.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.mail_dir) else {
            return Vec::new();
        };
        // Only finished mails: a `.eml.tmp` file is still being written.
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter(|t| {
                t.lines()
                    .any(|l| l.to_lowercase().starts_with("to:") && l.contains(to))
            })
            .collect()
    }

    /// The token of the newest link to `path` mailed to `to`.
    pub async fn token_from_mail(&self, to: &str, path: &str) -> String {
        let mail = self.mail_to(to).await;
        let marker = format!("{path}?token=");
        let start = mail
            .find(&marker)
            .map(|i| i + marker.len())
            .unwrap_or_else(|| panic!("no {path} link in {mail}"));
        mail[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Invites and accepts: a new ACTIVE member with its own scoped session.
    pub async fn member(&self, inviter: &str, roles: &[&str]) -> Member {
        let email = format!("{}@example.test", Uuid::now_v7().simple());
        let user_id = self.invite(inviter, &email, roles).await;
        let token = self.token_from_mail(&email, "/accept-invitation").await;
        let data = self
            .ok(
                None,
                "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { accessToken refreshToken } }",
                json!({ "input": { "token": token, "password": PASSWORD } }),
            )
            .await;
        Member {
            driver_id: driver_id_of(&user_id),
            user_id,
            email,
            session: Session {
                token: text(&data["acceptInvitation"]["accessToken"], &data),
                refresh: text(&data["acceptInvitation"]["refreshToken"], &data),
            },
        }
    }

    /// Creates a depot; returns its ID.
    pub async fn depot(&self, token: &str, name: &str) -> String {
        let data = self
            .ok(
                Some(token),
                "mutation($input: DepotInput!) { createDepot(input: $input) { id } }",
                json!({ "input": { "name": name, "timezone": "Europe/Berlin" } }),
            )
            .await;
        text(&data["createDepot"]["id"], &data)
    }

    /// Creates a PLANNED route; returns its ID.
    pub async fn route(&self, token: &str, name: &str) -> String {
        let data = self
            .ok(
                Some(token),
                "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
                json!({ "input": { "name": name, "plannedStart": "2030-01-01T08:00:00Z" } }),
            )
            .await;
        text(&data["createRoute"]["id"], &data)
    }

    /// SQL statements run so far by this instance.
    pub fn statements(&self) -> u64 {
        self.state.metrics.statements()
    }
}

/// The `extensions.code` of the first error.
pub fn code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// Asserts the response failed with `expected`.
pub fn assert_code(body: &Value, expected: &str) {
    assert_eq!(
        code(body).as_deref(),
        Some(expected),
        "expected {expected}: {body}"
    );
}

/// The Driver ID of the same record as a User ID.
pub fn driver_id_of(user_id: &str) -> String {
    retype(user_id, "Driver")
}

/// The same UUID under another type name.
pub fn retype(id: &str, kind: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let raw = engine.decode(id).expect("base64 ID");
    let text = String::from_utf8(raw).expect("utf8 ID");
    let (_, uuid) = text.split_once(':').expect("typed ID");
    engine.encode(format!("{kind}:{uuid}"))
}
