//! JWT rules: pinned algorithms (HS256, RS256, ES256), required claims, issuer and
//! audience, and the `classchat` CLI's configuration errors and token minting.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn exp_in(secs: i64) -> i64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64)
        + secs
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: Value) -> String {
    encode(&Header::new(alg), &claims, key).unwrap()
}

async fn status_with(app: &TestApp, token: &str) -> (StatusCode, String) {
    let a = app.get("/chat/rooms", token).await;
    (a.status, a.code().to_string())
}

async fn with_public_key(file: &str) -> TestApp {
    let path = fixture(file);
    spawn_with(Db::Sqlite, move |c| {
        c.jwt_secret = None;
        c.jwt_public_key_file = Some(path);
    })
    .await
}

#[tokio::test]
async fn an_es256_token_verifies_against_the_configured_public_key() {
    let app = with_public_key("ec-public.pem").await;
    let key = EncodingKey::from_ec_pem(&std::fs::read(fixture("ec-private.pem")).unwrap()).unwrap();
    let t = sign(
        Algorithm::ES256,
        &key,
        json!({ "sub": "u1", "role": "student", "exp": exp_in(600) }),
    );
    assert_eq!(status_with(&app, &t).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_rs256_token_verifies_and_an_hs256_token_made_with_the_public_key_is_refused() {
    let app = with_public_key("rsa-public.pem").await;
    let key =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()).unwrap();
    let good = sign(
        Algorithm::RS256,
        &key,
        json!({ "sub": "u1", "role": "teacher", "exp": exp_in(600) }),
    );
    assert_eq!(status_with(&app, &good).await.0, StatusCode::OK);
    // Algorithm confusion: the public key used as an HMAC secret.
    let public = std::fs::read(fixture("rsa-public.pem")).unwrap();
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&public),
        json!({ "sub": "u1", "role": "admin", "exp": exp_in(600) }),
    );
    assert_eq!(
        status_with(&app, &confused).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
}

#[tokio::test]
async fn tokens_without_exp_with_a_bad_role_or_sub_or_alg_none_are_refused() {
    let app = spawn_app().await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let cases = [
        sign(Algorithm::HS256, &key, json!({ "sub": "u1", "role": "student" })),
        sign(Algorithm::HS256, &key, json!({ "sub": "u1", "role": "janitor", "exp": exp_in(600) })),
        sign(Algorithm::HS256, &key, json!({ "sub": "", "role": "student", "exp": exp_in(600) })),
        sign(Algorithm::HS256, &key, json!({ "sub": "x".repeat(129), "role": "student", "exp": exp_in(600) })),
        sign(Algorithm::HS256, &key, json!({ "sub": "u1", "role": "student", "exp": exp_in(-3600) })),
        sign(Algorithm::HS384, &key, json!({ "sub": "u1", "role": "student", "exp": exp_in(600) })),
        // {"alg":"none"} with an empty signature.
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.".to_string(),
    ];
    for t in cases {
        assert_eq!(
            status_with(&app, &t).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "{t}"
        );
    }
    let ok = sign(
        Algorithm::HS256,
        &key,
        json!({ "sub": "u1", "role": "student", "exp": exp_in(600) }),
    );
    assert_eq!(status_with(&app, &ok).await.0, StatusCode::OK);
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let app = spawn_with(Db::Sqlite, |c| {
        c.jwt_issuer = Some("https://platform.example".into());
        c.jwt_audience = Some("classchat".into());
    })
    .await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let base = json!({ "sub": "u1", "role": "student", "exp": exp_in(600) });
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign(Algorithm::HS256, &key, c)
    };
    let good = with(json!({ "iss": "https://platform.example", "aud": "classchat" }));
    assert_eq!(status_with(&app, &good).await.0, StatusCode::OK);
    for bad in [
        with(json!({})),
        with(json!({ "iss": "https://evil.example", "aud": "classchat" })),
        with(json!({ "iss": "https://platform.example", "aud": "other" })),
        with(json!({ "iss": "https://platform.example" })),
    ] {
        assert_eq!(status_with(&app, &bad).await.0, StatusCode::UNAUTHORIZED);
    }
}

fn classchat(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_classchat"));
    c.current_dir(dir);
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "CLASSCHAT_JWT_SECRET",
        "CLASSCHAT_JWT_PUBLIC_KEY_FILE",
    ] {
        c.env_remove(var);
    }
    c
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("CLASSCHAT_API_ADDR", "not-an-address"),
        ("CLASSCHAT_RATE_SEND_BURST", "0"),
        ("DATABASE_URL", "mysql://x"),
    ] {
        let out = classchat(dir.path()).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var), "{var}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn cluster_mode_without_a_configured_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = classchat(dir.path())
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CLASSCHAT_JWT_SECRET"));
}

#[tokio::test]
async fn the_token_command_and_the_server_share_the_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = classchat(dir.path())
        .args([
            "token", "--sub", "alice", "--role", "teacher", "--name", "Alice", "--ttl", "2h",
        ])
        .env("CLASSCHAT_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
    let app = spawn_with(Db::Sqlite, |c| {
        c.jwt_secret = None;
        c.data_dir = dir.path().to_path_buf();
    })
    .await;
    assert!(secret.trim().len() >= 32);
    let a = app.get("/chat/users/alice/status", &token).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.data()["userId"], "alice");
    let bad = classchat(dir.path())
        .args(["token", "--sub", "a", "--role", "king"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn migrate_applies_the_schema_to_a_fresh_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db", dir.path().display());
    let out = classchat(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    let again = classchat(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(again.status.success());
}
