//! Issue 11 #8 and #13: HS256 secrets of at least 32 bytes, a maximum token lifetime, no
//! `crit` header, a `sub` without whitespace-only, control or bidi characters, and refusal
//! messages that never carry the JWT parser's words.

mod common;

use std::process::Command;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hs256(claims: Value) -> String {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// Status and error message of `GET /chat/rooms` with `token`.
async fn refusal(app: &TestApp, token: &str) -> (StatusCode, String) {
    let a = app.get("/chat/rooms", token).await;
    let msg = a.body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (a.status, msg)
}

fn classchat(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_classchat"));
    c.current_dir(dir)
        .env("CLASSCHAT_API_ADDR", "127.0.0.1:0")
        .env("CLASSCHAT_SOCKET_ADDR", "127.0.0.1:0")
        .env("CLASSCHAT_METRICS_ADDR", "127.0.0.1:0");
    for var in ["DATABASE_URL", "REDIS_URL", "CLASSCHAT_JWT_PUBLIC_KEY_FILE"] {
        c.env_remove(var);
    }
    c
}

/// Runs `c` for at most 20 s (a node that wrongly starts is killed, not waited for).
fn run_briefly(c: &mut Command) -> std::process::Output {
    use std::process::Stdio;
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

#[test]
fn a_jwt_secret_shorter_than_32_bytes_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for secret in ["s3cr3t", "compose-only-secret-change-me", &"x".repeat(31)] {
        let out = run_briefly(classchat(dir.path()).env("CLASSCHAT_JWT_SECRET", secret));
        assert_eq!(out.status.code(), Some(2), "{secret}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("CLASSCHAT_JWT_SECRET"), "{err}");
        assert!(err.contains("at least 32 bytes"), "{err}");
        assert!(!err.contains(secret), "the secret is not printed: {err}");
    }
    // `classchat token` refuses it too, rather than minting tokens no node accepts.
    let out = classchat(dir.path())
        .args(["token", "--sub", "a"])
        .env("CLASSCHAT_JWT_SECRET", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_library_refuses_a_short_secret_too() {
    let dir = tempfile::tempdir().unwrap();
    let err = classchat::auth::key_from(Some("only-31-bytes-long-secret-xxxxx"), None, dir.path())
        .unwrap_err();
    assert!(err.contains("CLASSCHAT_JWT_SECRET"), "{err}");
    assert!(classchat::auth::key_from(Some(SECRET), None, dir.path()).is_ok());
}

#[tokio::test]
async fn a_token_living_longer_than_the_maximum_is_refused() {
    let app = spawn_with(Db::Sqlite, |c| c.limits.max_token_lifetime_secs = 3600).await;
    let long = [
        json!({ "sub": "u1", "role": "student", "iat": now(), "exp": now() + 7200 }),
        // No iat: counted from now.
        json!({ "sub": "u1", "role": "student", "exp": now() + 7200 }),
        // An iat in the future does not shorten the lifetime.
        json!({ "sub": "u1", "role": "student", "iat": now() + 7000, "exp": now() + 7200 }),
        // Ten years, the abuse the limit is for.
        json!({ "sub": "u1", "role": "admin", "exp": now() + 10 * 365 * 86400 }),
    ];
    for claims in long {
        assert_eq!(
            refusal(&app, &hs256(claims.clone())).await,
            (
                StatusCode::UNAUTHORIZED,
                "invalid token: lifetime longer than this server accepts".into()
            ),
            "{claims}"
        );
    }
    let ok = json!({ "sub": "u1", "role": "student", "iat": now(), "exp": now() + 3600 });
    assert_eq!(refusal(&app, &hs256(ok)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_refused() {
    let app = spawn_app().await;
    let claims = json!({ "sub": "u1", "role": "student", "exp": now() + 600 });
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let t = encode(&header, &claims, &key).unwrap();
    assert_eq!(
        refusal(&app, &t).await,
        (
            StatusCode::UNAUTHORIZED,
            "invalid token: crit header not supported".into()
        )
    );
    assert_eq!(refusal(&app, &hs256(claims)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_sub_that_is_blank_or_holds_control_or_bidi_characters_is_refused() {
    let app = spawn_app().await;
    for sub in [
        "   ",
        "\u{3000}",
        "a\tb",
        "a\u{1b}[31m",
        "adm\u{202E}nimda",
        "x\u{2067}y",
    ] {
        let t = hs256(json!({ "sub": sub, "role": "student", "exp": now() + 600 }));
        let (status, msg) = refusal(&app, &t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{sub:?}");
        assert!(msg.starts_with("invalid token: sub"), "{sub:?}: {msg}");
    }
    let ok = hs256(json!({ "sub": "Élève 7", "role": "student", "exp": now() + 600 }));
    assert_eq!(refusal(&app, &ok).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refusal_messages_are_fixed_phrases_without_parser_internals() {
    let app = spawn_app().await;
    let cases = [
        (
            hs256(json!({ "sub": "u1", "role": "student", "exp": now() - 3600 })),
            "token expired",
        ),
        (
            hs256(json!({ "sub": 42, "role": "student", "exp": now() + 600 })),
            "invalid token",
        ),
        (
            hs256(json!({ "sub": "u1", "role": "student", "exp": "soon" })),
            "invalid token",
        ),
        ("not.a.jwt".to_string(), "invalid token"),
        (
            hs256(json!({ "sub": "u1", "role": "student" })),
            "invalid token",
        ),
    ];
    for (t, want) in cases {
        let (status, msg) = refusal(&app, &t).await;
        assert_eq!(
            (status, msg.as_str()),
            (StatusCode::UNAUTHORIZED, want),
            "{t}"
        );
    }
}
