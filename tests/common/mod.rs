//! Test harness: `spawn_app()` starts an in-process node on port 0 with a fresh
//! database (a temp SQLite file, or a new PostgreSQL database), plus helpers
//! to mint tokens and call the REST API.
#![allow(dead_code)]

pub mod files;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use classchat::config::{Config, Limits};
use classchat::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const SECRET: &str = "test-secret-please-change-32-bytes-min";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub api: SocketAddr,
    pub socket: SocketAddr,
    pub metrics: SocketAddr,
    pub http: reqwest::Client,
    pub db: Db,
    running: Option<classchat::Running>,
    pub(crate) _dir: tempfile::TempDir,
}

/// The PostgreSQL server used for tests (a fresh database is made per test).
pub fn pg_admin_url() -> String {
    std::env::var("CLASSCHAT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A new, empty PostgreSQL database on the test server: its URL.
pub async fn fresh_pg_database() -> String {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let name = format!("classchat_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&format!("{admin}/postgres"))
        .await
        .expect("PostgreSQL for tests (set CLASSCHAT_TEST_PG_URL)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    format!("{admin}/{name}")
}

pub fn test_config(dir: PathBuf, database_url: Option<String>) -> Config {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Config {
        api_addr: any,
        socket_addr: any,
        metrics_addr: any,
        data_dir: dir,
        database_url,
        redis_url: None,
        redis_prefix: format!("test-{}", uuid::Uuid::now_v7().simple()),
        jwt_secret: Some(SECRET.into()),
        jwt_public_key_file: None,
        jwt_issuer: None,
        jwt_audience: None,
        node_id: "test-node".into(),
        typing_timeout: Duration::from_secs(3),
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        presence_ttl: Duration::from_secs(30),
        db_max_connections: 5,
        drain_delay: Duration::from_millis(0),
        shutdown_grace: Duration::from_secs(10),
        limits: Limits::default(),
        net: Default::default(),
        relay: Default::default(),
        ice: Default::default(),
        uploads_url: None,
        web_socket_url: None,
        upload_url_secret: None,
        webhooks: Default::default(),
    }
}

/// A node on SQLite with default limits.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Db::Sqlite).await
}

pub async fn spawn_app_on(db: Db) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// A node on `db`, with the configuration adjusted by `tweak`.
pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(fresh_pg_database().await),
    };
    let mut config = test_config(dir.path().to_path_buf(), url);
    tweak(&mut config);
    let running = classchat::start(config).await.expect("node starts");
    TestApp {
        api: running.api_addr,
        socket: running.socket_addr,
        metrics: running.metrics_addr,
        http: reqwest::Client::new(),
        db,
        running: Some(running),
        _dir: dir,
    }
}

/// Runs one async test body on SQLite and on PostgreSQL:
/// `both_dbs!(name, |app| async move { ... });`
#[macro_export]
macro_rules! both_dbs {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $crate::common::spawn_app_on($crate::common::Db::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let app = $crate::common::spawn_app_on($crate::common::Db::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// Like `both_dbs!`, on a node whose configuration `tweak` adjusts:
/// `both_dbs_with!(name, |c: &mut Config| { ... }, |app| async move { ... });`
#[macro_export]
macro_rules! both_dbs_with {
    ($name:ident, $tweak:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $crate::common::spawn_with($crate::common::Db::Sqlite, $tweak).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let app = $crate::common::spawn_with($crate::common::Db::Postgres, $tweak).await;
                ($body)(app).await;
            }
        }
    };
}

/// A token for `sub` with `role` ("student" | "teacher" | "admin").
pub fn token(sub: &str, role: &str) -> String {
    let role = Role::parse(role).expect("role");
    classchat::auth::mint(
        SECRET.as_bytes(),
        sub,
        role,
        Some(&format!("{sub} name")),
        Duration::from_secs(3600),
    )
}

/// A REST answer: status and JSON body (Null when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// The node's data directory (its SQLite file, and uploads/ by default).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// Calls the API as `token` (None: no Authorization header).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Sends raw bytes (for malformed-body tests).
    pub async fn raw(&self, method: Method, path: &str, token: &str, body: Vec<u8>) -> Answer {
        let resp = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// A group room made by `owner` (a teacher token) with these members; its id.
    pub async fn group(&self, owner: &str, name: &str, members: &[&str]) -> String {
        let a = self
            .post(
                "/chat/rooms/group",
                owner,
                serde_json::json!({ "name": name, "memberIds": members }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.data()["id"].as_str().unwrap().to_string()
    }

    /// Sends a message; returns the stored message.
    pub async fn send(&self, token: &str, room: &str, content: &str) -> Value {
        let a = self
            .post(
                &format!("/chat/rooms/{room}/messages"),
                token,
                serde_json::json!({ "content": content }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.data().clone()
    }

    /// The text of /metrics.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("http://{}/metrics", self.metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A test that ends without `stop()` still closes its node's database pool: the node's
/// parts hold each other (the Socket.IO server holds the handler that holds the chat
/// service), so they outlive the test's runtime, and without this every test would leave
/// its PostgreSQL connections open until the whole test binary exits.
impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(r) = self.running.take() else { return };
        let store = r.state.chat.store.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                tokio::task::block_in_place(|| handle.block_on(store.close()));
            }
        }
    }
}
