//! Signed attachment urls: `/chat/uploads/{id}?exp=…&sig=…`, an HMAC-SHA256 of the id and
//! the expiry, so `<img>`, `<audio>` and `<video>` elements load files without a token.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks attachment urls with one key (the same on every node).
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
    ttl_secs: u64,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl UrlSigner {
    pub fn new(key: Vec<u8>, ttl_secs: u64) -> Self {
        UrlSigner { key, ttl_secs }
    }

    /// A key derived from the tokens' HS256 secret (never the secret itself).
    pub fn derived(secret: &[u8], ttl_secs: u64) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"classchat attachment urls v1");
        Self::new(mac.finalize().into_bytes().to_vec(), ttl_secs)
    }

    /// A key of this process only (urls then work on this node only).
    pub fn random(ttl_secs: u64) -> Self {
        Self::new(rand::random::<[u8; 32]>().to_vec(), ttl_secs)
    }

    fn sig(&self, id: &str, exp: u64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b":");
        mac.update(exp.to_string().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The url of an upload, valid for the ttl from `now_secs`. The expiry is rounded up
    /// to the next hour, so a message listed twice within the hour carries the same url
    /// (a browser's cache keeps the file).
    pub fn url(&self, id: &str, now_secs: u64) -> String {
        let exp = (now_secs + self.ttl_secs).div_ceil(3600) * 3600;
        format!("/chat/uploads/{id}?exp={exp}&sig={}", self.sig(id, exp))
    }

    /// Fills the `url` of every attachment of these messages.
    pub fn sign(&self, messages: &mut [crate::domain::Message]) {
        let now = (crate::domain::time::now_ms() / 1000) as u64;
        for m in messages {
            for a in &mut m.attachments {
                a.url = self.url(&a.id, now);
            }
        }
    }

    /// Whether `sig` signs `id` until `exp`, and `exp` has not passed.
    pub fn check(&self, id: &str, exp: u64, sig: &str, now_secs: u64) -> bool {
        exp > now_secs && constant_eq(self.sig(id, exp).as_bytes(), sig.as_bytes())
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_url_checks_until_it_expires_and_only_for_its_upload() {
        let s = UrlSigner::derived(b"0123456789abcdef0123456789abcdef", 600);
        let url = s.url("up1", 1_000_000);
        let q: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
        let (exp, sig): (u64, &String) = (q["exp"].parse().unwrap(), &q["sig"]);
        assert!(exp >= 1_000_600 && exp % 3600 == 0);
        assert!(s.check("up1", exp, sig, 1_000_000));
        assert!(!s.check("up2", exp, sig, 1_000_000), "another upload");
        assert!(
            !s.check("up1", exp + 3600, sig, 1_000_000),
            "another expiry"
        );
        assert!(!s.check("up1", exp, sig, exp), "expired");
        let other = UrlSigner::derived(b"another secret of at least 32 bytes!", 600);
        assert!(!other.check("up1", exp, sig, 1_000_000), "another key");
    }
}
