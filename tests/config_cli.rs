//! The configuration rules at the binary's edge: flags and variables are the same
//! settings, a blank variable counts as unset, a bad one is one line naming it (exit 2),
//! and secrets never show in `--help` or in an error.

use std::process::{Command, Output};

const SECRET: &str = "hunter2-jwt-secret-of-32-bytes-or-more";
const DB_PASSWORD: &str = "db-password-42";
const REDIS_PASSWORD: &str = "redis-password-42";

/// `classchat <args>` in `dir` with only `env` set.
fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_classchat"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exit 2 with one line on stderr that names `var`.
fn refused(out: &Output, var: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{var}: {}", text(out));
    assert!(err.contains(var), "{var}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn secrets_and_urls_are_never_printed_by_help_or_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("postgres://u:{DB_PASSWORD}@127.0.0.1:1/x");
    let redis = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:1");
    let env = [
        ("CLASSCHAT_JWT_SECRET", SECRET),
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("CLASSCHAT_NODE_ID", "visible-node"),
    ];
    let help = text(&run(dir.path(), &["serve", "--help"], &env));
    assert!(help.contains("CLASSCHAT_NODE_ID=visible-node"), "{help}");
    for hidden in [SECRET, DB_PASSWORD, REDIS_PASSWORD] {
        assert!(!help.contains(hidden), "{hidden} in --help");
    }
    let bad_db = format!("mysql://u:{DB_PASSWORD}@x");
    let out = run(dir.path(), &[], &[("DATABASE_URL", &bad_db)]);
    refused(&out, "DATABASE_URL");
    assert!(!text(&out).contains(DB_PASSWORD));
    let out = run(
        dir.path(),
        &[],
        &[
            ("CLASSCHAT_JWT_SECRET", SECRET),
            ("CLASSCHAT_JWT_PUBLIC_KEY_FILE", "/nonexistent.pem"),
        ],
    );
    refused(&out, "CLASSCHAT_JWT_PUBLIC_KEY_FILE");
    assert!(!text(&out).contains(SECRET));
}

#[test]
fn a_flag_is_checked_like_its_variable_and_serve_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        &run(dir.path(), &["serve", "--rate-send-burst", "0"], &[]),
        "CLASSCHAT_RATE_SEND_BURST",
    );
    refused(
        &run(dir.path(), &["--ping-timeout-ms", "soon"], &[]),
        "CLASSCHAT_PING_TIMEOUT_MS",
    );
    refused(
        &run(dir.path(), &[], &[("CLASSCHAT_LOG_FORMAT", "xml")]),
        "CLASSCHAT_LOG_FORMAT",
    );
    refused(&run(dir.path(), &[], &[("RUST_LOG", "a=b=c")]), "RUST_LOG");
}

#[test]
fn a_blank_variable_counts_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    // A blank secret is no secret: cluster mode still asks for one.
    let out = run(
        dir.path(),
        &[],
        &[
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("CLASSCHAT_JWT_SECRET", ""),
        ],
    );
    refused(&out, "CLASSCHAT_JWT_SECRET");
    // Blank numbers, URL, secret and key file: the defaults apply and the error is elsewhere.
    let out = run(
        dir.path(),
        &[],
        &[
            ("CLASSCHAT_API_ADDR", "  "),
            ("CLASSCHAT_DB_MAX_CONNECTIONS", ""),
            ("CLASSCHAT_JWT_SECRET", " "),
            ("CLASSCHAT_JWT_PUBLIC_KEY_FILE", ""),
            ("CLASSCHAT_MAX_JOIN_ROOMS", "0"),
        ],
    );
    refused(&out, "CLASSCHAT_MAX_JOIN_ROOMS");
    // migrate with a blank DATABASE_URL uses the SQLite file in the data directory.
    let data = dir.path().join("d");
    let out = run(
        dir.path(),
        &["migrate"],
        &[
            ("DATABASE_URL", ""),
            ("CLASSCHAT_DATA_DIR", data.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(data.join("classchat.db").exists());
}

#[test]
fn migrate_and_token_ignore_the_settings_they_do_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["token", "--sub", "alice"],
        &[
            ("CLASSCHAT_API_ADDR", "not-an-address"),
            ("CLASSCHAT_JWT_SECRET", SECRET),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).split('.').count(), 3);
    let out = run(
        dir.path(),
        &["token", "--sub", "alice"],
        &[
            ("CLASSCHAT_JWT_SECRET", SECRET),
            ("CLASSCHAT_JWT_PUBLIC_KEY_FILE", "/k.pem"),
        ],
    );
    refused(&out, "CLASSCHAT_JWT_SECRET");
}

#[test]
fn issue_11_settings_refuse_bad_values_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, bad) in [
        ("CLASSCHAT_PERSONAL_ROOMS", "everyone"),
        ("CLASSCHAT_MAX_ROOM_MEMBERS", "0"),
        ("CLASSCHAT_ROOM_DETAIL_MEMBERS", "-1"),
        ("CLASSCHAT_ONLINE_USERS_CACHE_MS", "soon"),
        ("CLASSCHAT_RATE_STATUS_BURST", "0"),
        ("CLASSCHAT_RATE_ROOM_CREATE_PER_SEC", "0"),
    ] {
        refused(&run(dir.path(), &["serve"], &[(var, bad)]), var);
    }
}

#[test]
fn webhook_settings_refuse_start_up_naming_the_variable_without_printing_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = ("CLASSCHAT_WEBHOOK_URL", "https://push.example.org/hooks");
    let jwt = ("CLASSCHAT_JWT_SECRET", SECRET);
    let short = "short-webhook-secret";
    for env in [
        vec![jwt, ("CLASSCHAT_WEBHOOK_URL", "ftp://push.example.org/")],
        vec![jwt, url],
        vec![jwt, url, ("CLASSCHAT_WEBHOOK_SECRET", short)],
    ] {
        let var = if env[1].1.starts_with("ftp") {
            "CLASSCHAT_WEBHOOK_URL"
        } else {
            "CLASSCHAT_WEBHOOK_SECRET"
        };
        let out = run(dir.path(), &["serve"], &env);
        refused(&out, var);
        assert!(!text(&out).contains(short));
    }
    for var in [
        "CLASSCHAT_WEBHOOK_TIMEOUT_SECS",
        "CLASSCHAT_WEBHOOK_CONCURRENCY",
    ] {
        refused(&run(dir.path(), &["serve"], &[jwt, (var, "0")]), var);
    }
}
