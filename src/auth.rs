//! JWT verification (HS256 secret, or RS256/ES256 public key) and HS256 minting for `classchat token`.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Config, JwtKey};
use crate::domain::error::AppError;
use crate::domain::{Principal, Role};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

/// Verifies tokens with the one algorithm the configuration pins.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn new(key: &JwtKey, issuer: Option<&str>, audience: Option<&str>) -> Result<Self, String> {
        let (key, alg) = match key {
            JwtKey::Secret(s) => (DecodingKey::from_secret(s), Algorithm::HS256),
            JwtKey::PublicKeyPem(pem) => match DecodingKey::from_rsa_pem(pem) {
                Ok(k) => (k, Algorithm::RS256),
                Err(_) => match DecodingKey::from_ec_pem(pem) {
                    Ok(k) => (k, Algorithm::ES256),
                    Err(e) => return Err(format!("not an RSA or EC public key in PEM: {e}")),
                },
            },
        };
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        // A token with `nbf` in the future is not valid yet.
        validation.validate_nbf = true;
        match issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                validation.required_spec_claims.insert("iss".into());
            }
            None => validation.iss = None,
        }
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok(Verifier { key, validation })
    }

    /// Checks signature, algorithm, expiry and claims; returns the caller.
    pub fn verify(&self, token: &str) -> Result<Principal, AppError> {
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| AppError::unauthorized(format!("invalid token: {e}")))?;
        let c = data.claims;
        if c.sub.contains('\0') || c.name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(AppError::unauthorized(
                "invalid token: claims must not contain NUL characters",
            ));
        }
        let n = c.sub.chars().count();
        if n == 0 || n > 128 {
            return Err(AppError::unauthorized(
                "invalid token: sub must be 1-128 characters",
            ));
        }
        let role = Role::parse(&c.role).ok_or_else(|| {
            AppError::unauthorized("invalid token: role must be student, teacher or admin")
        })?;
        let name = c
            .name
            .filter(|n| !n.trim().is_empty())
            .map(|n| n.chars().take(200).collect());
        Ok(Principal {
            user_id: c.sub,
            role,
            name,
        })
    }
}

/// Mints an HS256 token (for trying classchat out, and for tests).
pub fn mint(secret: &[u8], sub: &str, role: Role, name: Option<&str>, ttl: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: sub.into(),
        role: role.as_str().into(),
        name: name.map(Into::into),
        exp: now + ttl.as_secs(),
        iat: Some(now),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 encoding cannot fail")
}

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

fn generated_secret(dir: &Path) -> Result<Vec<u8>, String> {
    let path = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if !s.is_empty() {
            return Ok(s.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &hex).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(hex.into_bytes())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    match opts.open(path) {
        Ok(mut f) => f.write_all(content.as_bytes()),
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The token of a `Bearer` authorization header value.
pub fn bearer(value: &str) -> Option<&str> {
    let v = value.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Verifier {
        Verifier::new(&JwtKey::Secret(b"s3cret".to_vec()), None, None).unwrap()
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(
            b"s3cret",
            "u1",
            Role::Teacher,
            Some("Ann"),
            Duration::from_secs(60),
        );
        let p = verifier().verify(&t).unwrap();
        assert_eq!(
            (p.user_id.as_str(), p.role, p.name.as_deref()),
            ("u1", Role::Teacher, Some("Ann"))
        );
    }

    #[test]
    fn wrong_secret_and_alg_none_are_refused() {
        let t = mint(b"other", "u1", Role::Student, None, Duration::from_secs(60));
        assert_eq!(verifier().verify(&t).unwrap_err().code, "unauthorized");
        // {"alg":"none"} header with a valid-looking payload and no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.";
        assert!(verifier().verify(none).is_err());
    }

    #[test]
    fn bearer_header_is_parsed() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
