//! Settings of offline notifications: where webhooks go, their signing secret, and the
//! delivery timing (timeout, retry backoff, how long to keep trying, polling).

use std::time::Duration;

use clap::Args;

use super::parse::positive;
use crate::domain::webhook::WebhookConfig;

/// An http:// or https:// URL.
fn http_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(s.to_string()),
        Ok(_) => Err("must be an http:// or https:// URL".into()),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Offline notifications (webhooks)")]
pub struct WebhookArgs {
    /// Where offline notifications are POSTed (mentions, 1:1 messages, group invites and meeting starts for users with no live socket). Needs CLASSCHAT_WEBHOOK_SECRET (default: none, no notifications are queued)
    #[arg(long, env = "CLASSCHAT_WEBHOOK_URL", value_name = "URL", hide_env_values = true, value_parser = http_url)]
    pub webhook_url: Option<String>,
    /// Signs each delivery (X-Classchat-Signature: sha256=<hex HMAC-SHA256 of the body>); at least 32 bytes (default: none; needed with CLASSCHAT_WEBHOOK_URL)
    #[arg(
        long,
        env = "CLASSCHAT_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// One delivery attempt at most, in seconds (connecting included)
    #[arg(long, env = "CLASSCHAT_WEBHOOK_TIMEOUT_SECS", value_name = "SECS", default_value = "10", value_parser = positive::<u64>)]
    pub webhook_timeout_secs: u64,
    /// An event not delivered this long after it happened is given up (listed by GET /chat/admin/webhooks?status=failed)
    #[arg(long, env = "CLASSCHAT_WEBHOOK_MAX_AGE_SECS", value_name = "SECS", default_value = "86400", value_parser = positive::<u64>)]
    pub webhook_max_age_secs: u64,
    /// Wait before the first retry; each next retry waits twice as long
    #[arg(long, env = "CLASSCHAT_WEBHOOK_BACKOFF_BASE_MS", value_name = "MS", default_value = "2000", value_parser = positive::<u64>)]
    pub webhook_backoff_base_ms: u64,
    /// Longest wait between two retries
    #[arg(long, env = "CLASSCHAT_WEBHOOK_BACKOFF_MAX_MS", value_name = "MS", default_value = "3600000", value_parser = positive::<u64>)]
    pub webhook_backoff_max_ms: u64,
    /// How often each node looks for due deliveries (a node's own new events go out at once)
    #[arg(long, env = "CLASSCHAT_WEBHOOK_POLL_MS", value_name = "MS", default_value = "1000", value_parser = positive::<u64>)]
    pub webhook_poll_ms: u64,
    /// Deliveries in flight per node at most
    #[arg(long, env = "CLASSCHAT_WEBHOOK_CONCURRENCY", value_name = "N", default_value = "8", value_parser = positive::<usize>)]
    pub webhook_concurrency: usize,
}

impl WebhookArgs {
    pub fn config(&self) -> WebhookConfig {
        WebhookConfig {
            url: self.webhook_url.clone(),
            secret: self.webhook_secret.clone().filter(|s| !s.is_empty()),
            timeout: Duration::from_secs(self.webhook_timeout_secs),
            max_age: Duration::from_secs(self.webhook_max_age_secs),
            backoff_base: Duration::from_millis(self.webhook_backoff_base_ms),
            backoff_max: Duration::from_millis(self.webhook_backoff_max_ms),
            poll_interval: Duration::from_millis(self.webhook_poll_ms),
            concurrency: self.webhook_concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_clap_defaults_are_the_default_config() {
        let cmd =
            WebhookArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let m = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        let c = WebhookArgs::from_arg_matches(&m)
            .expect("defaults")
            .config();
        let d = WebhookConfig::default();
        assert_eq!(
            (c.url, c.timeout, c.max_age, c.backoff_base, c.backoff_max),
            (None, d.timeout, d.max_age, d.backoff_base, d.backoff_max)
        );
        assert_eq!(
            (c.poll_interval, c.concurrency),
            (d.poll_interval, d.concurrency)
        );
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(http_url("https://push.example.org/hooks").is_ok());
        assert!(http_url("http://127.0.0.1:9000/").is_ok());
        assert!(http_url("ftp://x/").is_err());
        assert!(http_url("not a url").is_err());
    }
}
