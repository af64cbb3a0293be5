//! Offline notifications (webhooks): the event a receiver gets, its signature, the
//! settings and the retry schedule. No HTTP client or database in here.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::events::By;
use super::time::ser_ms;
use super::RoomSummary;

/// The four kinds of event sent (a bounded metric label too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookKind {
    Mention,
    DirectMessage,
    GroupInvite,
    MeetingStarted,
}

impl WebhookKind {
    pub const ALL: [WebhookKind; 4] = [
        WebhookKind::Mention,
        WebhookKind::DirectMessage,
        WebhookKind::GroupInvite,
        WebhookKind::MeetingStarted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Mention => "mention",
            WebhookKind::DirectMessage => "direct-message",
            WebhookKind::GroupInvite => "group-invite",
            WebhookKind::MeetingStarted => "meeting-started",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Characters of a message's content a notification shows at most.
pub const PREVIEW_CHARS: usize = 140;

/// `data`: what a push notification can show. `preview` for messages, `meetingId` and
/// `title` for meetings.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookData {
    pub room_name: Option<String>,
    pub room_type: &'static str,
    pub by: By,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Option<String>>,
}

impl WebhookData {
    pub fn new(room: &RoomSummary, by: By) -> Self {
        WebhookData {
            room_name: room.name.clone(),
            room_type: room.kind.as_str(),
            by,
            preview: None,
            meeting_id: None,
            title: None,
        }
    }
}

/// The JSON body POSTed to the receiver.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WebhookKind,
    pub user_id: String,
    pub room_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    pub data: WebhookData,
}

/// At most `PREVIEW_CHARS` characters of `content`, with `…` when cut.
pub fn preview(content: &str) -> String {
    let mut chars = content.chars();
    let cut: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`, the `X-Classchat-Signature` header.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The webhook settings (`CLASSCHAT_WEBHOOK_*`); no URL: nothing is queued or sent.
#[derive(Clone)]
pub struct WebhookConfig {
    pub url: Option<String>,
    pub secret: Option<String>,
    /// One delivery attempt at most.
    pub timeout: Duration,
    /// An event not delivered this long after it happened is given up (status failed).
    pub max_age: Duration,
    /// The first retry waits this long, each next one twice as long, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How often each node looks for due deliveries (also woken at once by its own events).
    pub poll_interval: Duration,
    /// Deliveries in flight per node at most.
    pub concurrency: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: None,
            secret: None,
            timeout: Duration::from_secs(10),
            max_age: Duration::from_secs(86400),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(3600),
            poll_interval: Duration::from_millis(1000),
            concurrency: 8,
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .field("max_age", &self.max_age)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("poll_interval", &self.poll_interval)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// Shortest webhook secret accepted, as for HS256 token secrets.
pub const MIN_WEBHOOK_SECRET_BYTES: usize = 32;

impl WebhookConfig {
    /// A URL needs a secret of at least 32 bytes to sign with.
    pub fn check(&self) -> Result<(), String> {
        if self.url.is_none() {
            return Ok(());
        }
        match &self.secret {
            None => Err("invalid configuration: CLASSCHAT_WEBHOOK_SECRET (--webhook-secret): CLASSCHAT_WEBHOOK_URL needs a secret to sign deliveries with".into()),
            Some(s) if s.len() < MIN_WEBHOOK_SECRET_BYTES => Err(format!(
                "invalid configuration: CLASSCHAT_WEBHOOK_SECRET (--webhook-secret): must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes (make one with `openssl rand -hex 32`)"
            )),
            Some(_) => Ok(()),
        }
    }

    /// The wait before retry number `attempts` (1 after the first failure):
    /// `base × 2^(attempts-1)`, at most `backoff_max`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }

    /// How long a node holds a row it is delivering: past it (the node died mid-attempt)
    /// another node takes the row over. Longer than any attempt can last.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_maximum() {
        let c = WebhookConfig::default();
        let secs: Vec<u64> = (1..=13).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(
            secs,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
        assert_eq!(c.backoff(200).as_secs(), 3600);
    }

    #[test]
    fn previews_are_cut_on_characters() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(PREVIEW_CHARS + 5);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
    }

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_url_needs_a_long_enough_secret() {
        let mut c = WebhookConfig {
            url: Some("http://x".into()),
            ..Default::default()
        };
        assert!(c.check().is_err());
        c.secret = Some("short".into());
        assert!(c.check().unwrap_err().contains("32 bytes"));
        c.secret = Some("x".repeat(32));
        assert!(c.check().is_ok());
        assert!(WebhookConfig::default().check().is_ok());
    }
}
