//! STUN and TURN servers for browsers, with TURN credentials minted by the TURN REST
//! scheme (coturn's `use-auth-secret`): `username = "<expiry>:<userId>"`,
//! `credential = base64(HMAC-SHA1(secret, username))`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::meeting::{IceServer, IceServers};

/// The configured servers.
#[derive(Clone, Default)]
pub struct IceConfig {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<String>,
    /// Seconds minted credentials last.
    pub turn_ttl: u64,
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "…"))
            .field("turn_ttl", &self.turn_ttl)
            .finish()
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn turn_credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl IceConfig {
    /// TURN URLs without a secret to mint credentials with cannot work.
    pub fn check(&self) -> Result<(), String> {
        if !self.turn_urls.is_empty() && self.turn_secret.is_none() {
            return Err("CLASSCHAT_TURN_URLS: TURN needs CLASSCHAT_TURN_SECRET (the TURN server's static-auth-secret)".into());
        }
        Ok(())
    }

    /// The servers for `user_id`, TURN credentials valid until `now_secs + ttl`.
    pub fn servers(&self, user_id: &str, now_secs: u64) -> IceServers {
        let mut ice_servers = Vec::new();
        if !self.stun_urls.is_empty() {
            ice_servers.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let username = format!("{}:{user_id}", now_secs + self.turn_ttl);
            ice_servers.push(IceServer {
                urls: self.turn_urls.clone(),
                credential: Some(turn_credential(secret, &username)),
                username: Some(username),
            });
        }
        IceServers {
            ice_servers,
            ttl: self.turn_ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_the_turn_rest_schemes_hmac_sha1() {
        // Computed independently (Python: base64(hmac.new(b"north", b"1433895918:gorst", sha1))).
        assert_eq!(
            turn_credential("north", "1433895918:gorst"),
            "Jkoq/bR7DWfoH9c0tHZx2FEf1SM="
        );
    }

    #[test]
    fn servers_carry_stun_then_turn_with_an_expiry_of_now_plus_ttl() {
        let c = IceConfig {
            stun_urls: vec!["stun:s:3478".into()],
            turn_urls: vec!["turn:t:3478".into()],
            turn_secret: Some("k".into()),
            turn_ttl: 600,
        };
        let s = c.servers("bob", 1_000);
        assert_eq!(s.ttl, 600);
        assert_eq!(s.ice_servers[0].urls, ["stun:s:3478"]);
        let turn = &s.ice_servers[1];
        assert_eq!(turn.username.as_deref(), Some("1600:bob"));
        assert_eq!(
            turn.credential.as_deref(),
            Some(turn_credential("k", "1600:bob").as_str())
        );
    }

    #[test]
    fn turn_without_a_secret_is_refused_and_nothing_configured_gives_no_servers() {
        let c = IceConfig {
            turn_urls: vec!["turn:t".into()],
            ..Default::default()
        };
        assert!(c.check().is_err());
        assert!(IceConfig::default().servers("u", 0).ice_servers.is_empty());
    }
}
