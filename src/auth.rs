//! JWT verification (HS256 secret, or RS256/ES256 public key) and HS256 minting for `classchat token`.

mod claims;
mod secret;

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::JwtKey;
use crate::domain::error::AppError;
use crate::domain::{Principal, Role};

pub use secret::{key_from, resolve_key, MIN_SECRET_BYTES};

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
    /// Longest lifetime a token may claim, in seconds.
    max_lifetime: u64,
}

/// A verified token: who the caller is, and until when (Unix seconds).
pub struct Verified {
    pub principal: Principal,
    pub expires_at: u64,
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
        Ok(Verifier {
            key,
            validation,
            max_lifetime: crate::domain::limits::Limits::default().max_token_lifetime_secs,
        })
    }

    /// Refuses tokens whose lifetime (exp − iat, or exp − now without iat) is over `secs`.
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime = secs;
        self
    }

    /// Checks signature, algorithm, expiry and claims; returns the caller.
    pub fn verify(&self, token: &str) -> Result<Principal, AppError> {
        self.verify_until(token).map(|v| v.principal)
    }

    /// As `verify`, with the token's `exp`. Refusals carry a fixed message (never the
    /// parser's words): "token expired", "invalid token", "invalid token: …".
    pub fn verify_until(&self, token: &str) -> Result<Verified, AppError> {
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| AppError::unauthorized(claims::refusal(&e)))?;
        // No extension is understood, so none marked critical can be honoured (RFC 7515 §4.1.11).
        if data.header.crit.is_some() {
            return Err(AppError::unauthorized(
                "invalid token: crit header not supported",
            ));
        }
        let c = data.claims;
        claims::check_lifetime(c.exp, c.iat, self.max_lifetime)?;
        claims::check_sub(&c.sub)?;
        if c.name.as_deref().is_some_and(|n| n.contains('\0')) {
            return Err(AppError::unauthorized(
                "invalid token: claims must not contain NUL characters",
            ));
        }
        let role = Role::parse(&c.role).ok_or_else(|| {
            AppError::unauthorized("invalid token: role must be student, teacher or admin")
        })?;
        let name = c
            .name
            .filter(|n| !n.trim().is_empty())
            .map(|n| n.chars().take(200).collect());
        Ok(Verified {
            principal: Principal {
                user_id: c.sub,
                role,
                name,
            },
            expires_at: c.exp,
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

    const SECRET: &[u8] = b"unit-test-secret-of-32-bytes-or-more";

    fn verifier() -> Verifier {
        Verifier::new(&JwtKey::Secret(SECRET.to_vec()), None, None).unwrap()
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(
            SECRET,
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
