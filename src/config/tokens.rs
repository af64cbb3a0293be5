//! Token settings: the longest lifetime a token may claim, and how long before its expiry a live socket is warned.

use clap::Args;

use super::parse::positive;

/// The longest token lifetime accepted: shared by `serve` (which refuses longer tokens)
/// and `token` (which will not mint one).
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Auth")]
pub struct LifetimeArg {
    /// Longest token lifetime accepted: exp minus iat (minus now when a token has no iat or one in the future); a longer token is refused (401, connect_error unauthorized). classchat token will not mint one
    #[arg(long, env = "CLASSCHAT_JWT_MAX_LIFETIME_SECS", value_name = "SECS", default_value = "86400", value_parser = positive::<u64>)]
    pub jwt_max_lifetime_secs: u64,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Auth")]
pub struct TokenArgs {
    #[command(flatten)]
    pub lifetime: LifetimeArg,
    /// A socket gets session-expiring this long before its token's exp (at once when less is left); at exp it gets session-expired and is disconnected
    #[arg(long, env = "CLASSCHAT_SESSION_EXPIRING_LEAD_SECS", value_name = "SECS", default_value = "60", value_parser = positive::<u64>)]
    pub session_expiring_lead_secs: u64,
}

/// Shortest HS256 secret accepted: as long as the hash (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// An HS256 secret: at least [`MIN_SECRET_BYTES`].
pub(crate) fn hs256_secret(s: &str) -> Result<String, String> {
    if s.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "an HS256 secret must be at least {MIN_SECRET_BYTES} bytes (make one with `openssl rand -hex 32`)"
        ));
    }
    Ok(s.to_string())
}
