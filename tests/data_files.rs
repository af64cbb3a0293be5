//! Issue 11 #12: the data directory is 0700, the SQLite files and the generated secret
//! 0600; a secret file of another user, writable by others or too short is refused; `serve`
//! and `token` creating the secret at the same time end with the same one.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use classchat::config::JwtKey;
use common::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn secret_of(dir: &Path) -> Result<Vec<u8>, String> {
    match classchat::auth::key_from(None, None, dir)? {
        JwtKey::Secret(s) => Ok(s),
        JwtKey::PublicKeyPem(_) => Err("a public key".into()),
    }
}

#[tokio::test]
async fn a_node_keeps_its_data_directory_database_and_secret_private() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.clone();
    let app = spawn_with(Db::Sqlite, move |c| {
        c.data_dir = d;
        c.jwt_secret = None;
    })
    .await;
    // A write, so the WAL and shared-memory files exist.
    let secret = String::from_utf8(secret_of(&data).unwrap()).unwrap();
    let t = classchat::auth::mint(
        secret.as_bytes(),
        "t1",
        classchat::domain::Role::Teacher,
        None,
        std::time::Duration::from_secs(600),
    );
    let a = app.get("/chat/rooms", &t).await;
    assert_eq!(a.status, reqwest::StatusCode::OK, "{:?}", a.body);
    assert_eq!(mode(&data), 0o700, "data directory");
    for f in [
        "classchat.db",
        "classchat.db-wal",
        "classchat.db-shm",
        "jwt-secret",
    ] {
        let p = data.join(f);
        if f.ends_with("-shm") && !p.exists() {
            continue;
        }
        assert_eq!(mode(&p), 0o600, "{f}");
    }
}

#[tokio::test]
async fn database_files_left_world_readable_are_narrowed_to_0600_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("classchat.db");
    std::fs::write(&db, b"").unwrap();
    set_mode(&db, 0o644);
    let d = tmp.path().to_path_buf();
    let _app = spawn_with(Db::Sqlite, move |c| c.data_dir = d).await;
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn a_generated_secret_writable_by_others_or_too_short_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("jwt-secret");
    std::fs::write(&f, "a".repeat(64)).unwrap();
    set_mode(&f, 0o600);
    assert_eq!(secret_of(tmp.path()).unwrap(), "a".repeat(64).into_bytes());
    for m in [0o620, 0o602, 0o666] {
        set_mode(&f, m);
        let err = secret_of(tmp.path()).unwrap_err();
        assert!(err.contains("writable by group or others"), "{m:o}: {err}");
    }
    set_mode(&f, 0o600);
    std::fs::write(&f, "short").unwrap();
    assert!(secret_of(tmp.path())
        .unwrap_err()
        .contains("fewer than 32 bytes"));
}

#[test]
fn a_generated_secret_owned_by_another_user_is_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: giving a file to another user needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("jwt-secret");
    std::fs::write(&f, "b".repeat(64)).unwrap();
    set_mode(&f, 0o600);
    std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
    let err = secret_of(tmp.path()).unwrap_err();
    assert!(err.contains("not to the user running classchat"), "{err}");
}

#[test]
fn serve_and_token_creating_the_secret_at_once_end_with_the_same_one() {
    for _ in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let tokens: Vec<_> = (0..4)
            .map(|i| {
                std::process::Command::new(env!("CARGO_BIN_EXE_classchat"))
                    .args(["token", "--sub", &format!("u{i}")])
                    .env("CLASSCHAT_DATA_DIR", &dir)
                    .env_remove("CLASSCHAT_JWT_SECRET")
                    .env_remove("CLASSCHAT_JWT_PUBLIC_KEY_FILE")
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = dir.clone();
                std::thread::spawn(move || secret_of(&d).unwrap())
            })
            .collect();
        let secrets: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let on_disk = std::fs::read_to_string(dir.join("jwt-secret")).unwrap();
        assert!(secrets.iter().all(|s| s == on_disk.as_bytes()));
        let verifier =
            classchat::auth::Verifier::new(&JwtKey::Secret(on_disk.into_bytes()), None, None)
                .unwrap();
        for child in tokens {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let t = String::from_utf8(out.stdout).unwrap();
            assert!(
                verifier.verify(t.trim()).is_ok(),
                "a token signed with another secret"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "jwt-secret")
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
