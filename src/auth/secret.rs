//! The key tokens are verified with: a configured HS256 secret (at least 32 bytes) or
//! public key file, else a secret generated once into the data directory. `serve` and
//! `token` started together agree on it: the file appears whole, by one atomic link.

use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::config::MIN_SECRET_BYTES;
use crate::config::{Config, JwtKey};

/// The key to verify with: configured, or a secret generated once into the data dir.
pub fn resolve_key(config: &Config) -> Result<JwtKey, String> {
    key_from(
        config.jwt_secret.as_deref(),
        config.jwt_public_key_file.as_deref(),
        &config.data_dir,
    )
}

/// The key from a configured secret or public key file, else the generated secret in `data_dir`.
pub fn key_from(
    secret: Option<&str>,
    public_key_file: Option<&Path>,
    data_dir: &Path,
) -> Result<JwtKey, String> {
    if let Some(s) = secret {
        if s.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "invalid configuration: CLASSCHAT_JWT_SECRET (--jwt-secret): an HS256 secret must be at least {MIN_SECRET_BYTES} bytes (make one with `openssl rand -hex 32`)"
            ));
        }
        return Ok(JwtKey::Secret(s.as_bytes().to_vec()));
    }
    if let Some(f) = public_key_file {
        let pem = std::fs::read(f).map_err(|e| {
            format!(
                "CLASSCHAT_JWT_PUBLIC_KEY_FILE: cannot read {}: {e}",
                f.display()
            )
        })?;
        return Ok(JwtKey::PublicKeyPem(pem));
    }
    generated_secret(data_dir).map(JwtKey::Secret)
}

/// The secret in `dir/jwt-secret`, made (64 hex characters) if there is none.
fn generated_secret(dir: &Path) -> Result<Vec<u8>, String> {
    let path = dir.join("jwt-secret");
    // Twice at most: a lost race to create it means reading the winner's.
    for _ in 0..2 {
        if let Some(s) = read_secret(&path)? {
            return Ok(s);
        }
        crate::data_dir::create(dir)?;
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if publish(dir, &path, &hex)? {
            return Ok(hex.into_bytes());
        }
    }
    read_secret(&path)?.ok_or_else(|| format!("{}: cannot create it", path.display()))
}

/// The secret file's content; `None` if there is no file. A file of another user,
/// writable by others, or holding fewer than 32 bytes is refused.
fn read_secret(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if !meta.is_file() {
        return Err(format!("{} is not a regular file: refused", path.display()));
    }
    crate::data_dir::check_private(path, &meta)?;
    let s = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let s = s.trim();
    if s.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{} holds fewer than {MIN_SECRET_BYTES} bytes: refused (delete it to have a new one made)",
            path.display()
        ));
    }
    Ok(Some(s.as_bytes().to_vec()))
}

/// Writes `content` to a private temporary file, then links it as `path`: readers never
/// see a partial file, and of two processes racing, one link wins (false: we lost).
fn publish(dir: &Path, path: &Path, content: &str) -> Result<bool, String> {
    let tmp: PathBuf = dir.join(format!(
        ".jwt-secret.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(content.as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(err(e)),
    }
}
