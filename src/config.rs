//! Typed configuration read from the environment; a bad value stops start-up naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How tokens are verified.
#[derive(Clone, Debug)]
pub enum JwtKey {
    /// HS256 with a shared secret (configured, or generated into the data dir).
    Secret(Vec<u8>),
    /// RS256 or ES256 with a PEM public key file.
    PublicKeyPem(Vec<u8>),
}

pub use crate::domain::limits::{Limits, Rate};

#[derive(Clone, Debug)]
pub struct Config {
    pub api_addr: SocketAddr,
    pub socket_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub jwt_secret: Option<String>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub node_id: String,
    pub typing_timeout: Duration,
    /// Socket.IO heartbeat: a ping this often, the pong due within the timeout.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub presence_ttl: Duration,
    pub db_max_connections: u32,
    /// SIGTERM: time between `/readyz` turning 503 and closing the listeners.
    pub drain_delay: Duration,
    /// SIGTERM: the whole drain ends within this (keep it under Kubernetes'
    /// `terminationGracePeriodSeconds`, 30 s by default).
    pub shutdown_grace: Duration,
    pub limits: Limits,
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError {
            var: name,
            reason: format!("cannot parse {v:?}: {e}"),
        }),
    }
}

fn positive(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    let v: u64 = parse(name, default)?;
    if v == 0 {
        return Err(ConfigError {
            var: name,
            reason: "must be greater than 0".into(),
        });
    }
    Ok(v)
}

/// A rate from its two variables, each defaulting on its own.
fn rate(per_sec: &'static str, burst: &'static str, default: Rate) -> Result<Rate, ConfigError> {
    Ok(Rate {
        per_sec: positive(per_sec, default.per_sec.into())? as u32,
        burst: positive(burst, default.burst.into())? as u32,
    })
}

impl Config {
    /// Reads the whole configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Limits::default();
        let limits = Limits {
            max_content_chars: positive("CLASSCHAT_MAX_CONTENT_CHARS", d.max_content_chars as u64)?
                as usize,
            max_join_rooms: positive("CLASSCHAT_MAX_JOIN_ROOMS", d.max_join_rooms as u64)? as usize,
            max_members_per_add: positive(
                "CLASSCHAT_MAX_MEMBERS_PER_ADD",
                d.max_members_per_add as u64,
            )? as usize,
            max_group_name_chars: d.max_group_name_chars,
            send: rate(
                "CLASSCHAT_RATE_SEND_PER_SEC",
                "CLASSCHAT_RATE_SEND_BURST",
                d.send,
            )?,
            send_per_ip: rate(
                "CLASSCHAT_RATE_SEND_PER_SEC_PER_IP",
                "CLASSCHAT_RATE_SEND_BURST_PER_IP",
                d.send_per_ip,
            )?,
            typing: rate(
                "CLASSCHAT_RATE_TYPING_PER_SEC",
                "CLASSCHAT_RATE_TYPING_BURST",
                d.typing,
            )?,
            typing_per_ip: rate(
                "CLASSCHAT_RATE_TYPING_PER_SEC_PER_IP",
                "CLASSCHAT_RATE_TYPING_BURST_PER_IP",
                d.typing_per_ip,
            )?,
            connect: rate(
                "CLASSCHAT_RATE_CONNECT_PER_SEC",
                "CLASSCHAT_RATE_CONNECT_BURST",
                d.connect,
            )?,
            connect_per_ip: rate(
                "CLASSCHAT_RATE_CONNECT_PER_SEC_PER_IP",
                "CLASSCHAT_RATE_CONNECT_BURST_PER_IP",
                d.connect_per_ip,
            )?,
            max_body_bytes: positive("CLASSCHAT_MAX_BODY_BYTES", d.max_body_bytes as u64)? as usize,
            max_socket_payload_bytes: positive(
                "CLASSCHAT_MAX_SOCKET_PAYLOAD_BYTES",
                d.max_socket_payload_bytes,
            )?,
        };
        let database_url = var("DATABASE_URL");
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                return Err(ConfigError {
                    var: "DATABASE_URL",
                    reason: "must start with postgres:// or sqlite:".into(),
                });
            }
        }
        let redis_url = var("REDIS_URL");
        let jwt_secret = var("CLASSCHAT_JWT_SECRET");
        let jwt_public_key_file = var("CLASSCHAT_JWT_PUBLIC_KEY_FILE").map(PathBuf::from);
        if jwt_secret.is_some() && jwt_public_key_file.is_some() {
            return Err(ConfigError {
                var: "CLASSCHAT_JWT_SECRET",
                reason:
                    "set either CLASSCHAT_JWT_SECRET or CLASSCHAT_JWT_PUBLIC_KEY_FILE, not both"
                        .into(),
            });
        }
        if redis_url.is_some() && jwt_secret.is_none() && jwt_public_key_file.is_none() {
            return Err(ConfigError {
                var: "CLASSCHAT_JWT_SECRET",
                reason: "cluster mode (REDIS_URL set) needs CLASSCHAT_JWT_SECRET or CLASSCHAT_JWT_PUBLIC_KEY_FILE".into(),
            });
        }
        let node_id = var("CLASSCHAT_NODE_ID").unwrap_or_else(|| {
            hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "classchat".into())
        });
        Ok(Config {
            api_addr: parse("CLASSCHAT_API_ADDR", "0.0.0.0:4500".parse().unwrap())?,
            socket_addr: parse("CLASSCHAT_SOCKET_ADDR", "0.0.0.0:4501".parse().unwrap())?,
            metrics_addr: parse("CLASSCHAT_METRICS_ADDR", "0.0.0.0:9464".parse().unwrap())?,
            data_dir: var("CLASSCHAT_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("./data")),
            database_url,
            redis_url,
            redis_prefix: var("CLASSCHAT_REDIS_PREFIX").unwrap_or_else(|| "classchat".into()),
            jwt_secret,
            jwt_public_key_file,
            jwt_issuer: var("CLASSCHAT_JWT_ISSUER"),
            jwt_audience: var("CLASSCHAT_JWT_AUDIENCE"),
            node_id,
            typing_timeout: Duration::from_millis(positive("CLASSCHAT_TYPING_TIMEOUT_MS", 3000)?),
            ping_interval: Duration::from_millis(positive("CLASSCHAT_PING_INTERVAL_MS", 25_000)?),
            ping_timeout: Duration::from_millis(positive("CLASSCHAT_PING_TIMEOUT_MS", 20_000)?),
            presence_ttl: Duration::from_secs(positive("CLASSCHAT_PRESENCE_TTL_SECS", 30)?),
            db_max_connections: positive("CLASSCHAT_DB_MAX_CONNECTIONS", 16)? as u32,
            drain_delay: Duration::from_millis(parse("CLASSCHAT_DRAIN_DELAY_MS", 2000)?),
            shutdown_grace: Duration::from_secs(positive("CLASSCHAT_SHUTDOWN_GRACE_SECS", 25)?),
            limits,
        })
    }

    /// The SQLite URL used when no `DATABASE_URL` is set.
    pub fn effective_database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("classchat.db").display()
            )
        })
    }
}
