//! Typed configuration: the settings are clap arguments read from flags or environment variables (`args`), turned into the [`Config`] the server uses; a bad value stops start-up naming the variable.

mod args;
mod meetings;
mod net;
mod parse;
mod relay;
mod rooms;
mod search;
mod tokens;
mod unknown_env;
mod uploads;
mod web;
mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgMatches, Args, Command, FromArgMatches};

pub use crate::domain::ice::IceConfig;
pub use crate::domain::webhook::WebhookConfig;
pub use args::{
    ClaimArgs, ClusterArgs, DataDirArg, KeyArgs, LimitArgs, ListenArgs, LogArgs, LogFormat,
    RateArgs, ServeArgs, ShutdownArgs, StorageArgs, TimerArgs,
};
pub use meetings::MeetingArgs;
pub use net::{default_max_connections, NetArgs, NetConfig};
pub use parse::{blank_env_unset, config_error};
pub use relay::RelayArgs;
pub use search::SearchArgs;
pub use tokens::{LifetimeArg, TokenArgs, MIN_SECRET_BYTES};
pub use unknown_env::{setting_vars, unknown, warn_unknown_env, TOOL_VARS};
pub use uploads::UploadArgs;
pub use web::WebArgs;
pub use webhooks::WebhookArgs;

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
    pub net: NetConfig,
    /// How the relay heals what live delivery missed.
    pub relay: RelayArgs,
    /// STUN/TURN servers for meetings.
    pub ice: IceConfig,
    /// The Socket.IO URL the web client is given (`None`: the page's host, this node's port).
    pub web_socket_url: Option<String>,
    /// Where uploads go (`None`: uploads/ in the data directory).
    pub uploads_url: Option<String>,
    /// Key of signed attachment urls (`None`: derived from the token key).
    pub upload_url_secret: Option<String>,
    /// Offline notifications (webhooks).
    pub webhooks: WebhookConfig,
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: String,
    pub reason: String,
}

/// The database URL to use: the configured one, or the SQLite file in the data directory.
pub fn database_url_or_default(url: Option<&str>, data_dir: &Path) -> String {
    url.map(str::to_string).unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("classchat.db").display()
        )
    })
}

/// Parses `cmd`'s arguments from `argv` and the environment (a blank variable counts as
/// unset); a bad setting comes back as a [`ConfigError`], other errors as clap's own.
pub fn parse_args(
    cmd: Command,
    argv: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<ArgMatches, Result<ConfigError, clap::Error>> {
    // Errors name the variables of `full`: blank ones read none in the parsed copy.
    let mut full = cmd.clone();
    full.build(); // arguments display as in errors only once built
    blank_env_unset(cmd)
        .try_get_matches_from(argv)
        .map_err(|e| config_error(&full, &e).ok_or(e))
}

impl Config {
    /// Reads the whole configuration from the process environment, as
    /// `classchat serve` with no flags does.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cmd = ServeArgs::augment_args(Command::new("serve"));
        let matches = parse_args(cmd, ["serve"]).map_err(|e| {
            e.unwrap_or_else(|e| ConfigError {
                var: "environment".into(),
                reason: e.kind().to_string(),
            })
        })?;
        let args = ServeArgs::from_arg_matches(&matches).map_err(|e| ConfigError {
            var: "environment".into(),
            reason: e.kind().to_string(),
        })?;
        Ok(Config::from(args))
    }

    /// The SQLite URL used when no `DATABASE_URL` is set.
    pub fn effective_database_url(&self) -> String {
        database_url_or_default(self.database_url.as_deref(), &self.data_dir)
    }
}

impl From<ServeArgs> for Config {
    fn from(a: ServeArgs) -> Self {
        let r = &a.rates;
        let limits = Limits {
            max_content_chars: a.limits.max_content_chars,
            max_join_rooms: a.limits.max_join_rooms,
            max_members_per_add: a.limits.max_members_per_add,
            send: Rate::new(r.rate_send_per_sec, r.rate_send_burst),
            send_per_ip: Rate::new(r.rate_send_per_sec_per_ip, r.rate_send_burst_per_ip),
            typing: Rate::new(r.rate_typing_per_sec, r.rate_typing_burst),
            typing_per_ip: Rate::new(r.rate_typing_per_sec_per_ip, r.rate_typing_burst_per_ip),
            connect: Rate::new(r.rate_connect_per_sec, r.rate_connect_burst),
            connect_per_ip: Rate::new(r.rate_connect_per_sec_per_ip, r.rate_connect_burst_per_ip),
            status: Rate::new(r.rate_status_per_sec, r.rate_status_burst),
            room_create: Rate::new(r.rate_room_create_per_sec, r.rate_room_create_burst),
            member_add: Rate::new(r.rate_member_add_per_sec, r.rate_member_add_burst),
            online_users: Rate::new(r.rate_online_users_per_sec, r.rate_online_users_burst),
            max_room_members: a.rooms.max_room_members,
            room_detail_members: a.rooms.room_detail_members,
            online_users_cache: Duration::from_millis(a.rooms.online_users_cache_ms),
            presence_window: Duration::from_millis(a.rooms.presence_window_ms),
            count_rooms_above: a.rooms.presence_count_above as usize,
            personal_rooms: a.rooms.personal_rooms,
            max_body_bytes: a.limits.max_body_bytes,
            max_socket_payload_bytes: a.limits.max_socket_payload_bytes,
            max_token_lifetime_secs: a.tokens.lifetime.jwt_max_lifetime_secs,
            session_expiring_lead_secs: a.tokens.session_expiring_lead_secs,
            connect_concurrency: a.net.connect_concurrency,
            catch_up: a.net.catch_up(),
            meeting: a.meetings.limits(),
            uploads: a.uploads.limits(),
            search: a.search.settings(),
            ..Limits::default()
        };
        let node_id = a.cluster.node_id.unwrap_or_else(|| {
            hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "classchat".into())
        });
        Config {
            api_addr: a.listen.api_addr,
            socket_addr: a.listen.socket_addr,
            metrics_addr: a.listen.metrics_addr,
            data_dir: a.storage.dir.data_dir,
            database_url: a.storage.database_url,
            redis_url: a.cluster.redis_url,
            redis_prefix: a.cluster.redis_prefix,
            jwt_secret: a.key.jwt_secret,
            jwt_public_key_file: a.key.jwt_public_key_file,
            jwt_issuer: a.claims.jwt_issuer,
            jwt_audience: a.claims.jwt_audience,
            node_id,
            typing_timeout: Duration::from_millis(a.timers.typing_timeout_ms),
            ping_interval: Duration::from_millis(a.timers.ping_interval_ms),
            ping_timeout: Duration::from_millis(a.timers.ping_timeout_ms),
            presence_ttl: Duration::from_secs(a.cluster.presence_ttl_secs),
            db_max_connections: a.storage.db_max_connections,
            drain_delay: Duration::from_millis(a.shutdown.drain_delay_ms),
            shutdown_grace: Duration::from_secs(a.shutdown.shutdown_grace_secs),
            limits,
            net: a.net.config(),
            relay: a.relay,
            ice: a.meetings.ice(),
            web_socket_url: a.web.web_socket_url.filter(|u| !u.is_empty()),
            uploads_url: a.uploads.uploads_url.filter(|u| !u.is_empty()),
            upload_url_secret: a.uploads.upload_url_secret.filter(|s| !s.is_empty()),
            webhooks: a.webhooks.config(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings with no flag and no variable: only their defaults.
    fn defaults() -> Config {
        let cmd = ServeArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let matches = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        Config::from(ServeArgs::from_arg_matches(&matches).expect("defaults"))
    }

    #[test]
    fn the_clap_defaults_are_the_documented_ones() {
        let c = defaults();
        let l = Limits::default();
        assert_eq!(c.api_addr.to_string(), "0.0.0.0:4500");
        assert_eq!(c.socket_addr.to_string(), "0.0.0.0:4501");
        assert_eq!(c.metrics_addr.to_string(), "0.0.0.0:9464");
        assert_eq!(
            c.effective_database_url(),
            "sqlite://./data/classchat.db?mode=rwc"
        );
        assert_eq!((c.redis_url, c.jwt_secret), (None, None));
        assert_eq!(c.presence_ttl, Duration::from_secs(30));
        assert_eq!(c.drain_delay, Duration::from_millis(2000));
        assert_eq!(c.shutdown_grace, Duration::from_secs(25));
        assert_eq!(
            (
                c.limits.send,
                c.limits.send_per_ip,
                c.limits.typing,
                c.limits.typing_per_ip
            ),
            (l.send, l.send_per_ip, l.typing, l.typing_per_ip)
        );
        assert_eq!(
            (c.limits.connect, c.limits.connect_per_ip),
            (l.connect, l.connect_per_ip)
        );
        assert_eq!(
            (
                c.limits.max_content_chars,
                c.limits.max_join_rooms,
                c.limits.max_members_per_add
            ),
            (l.max_content_chars, l.max_join_rooms, l.max_members_per_add)
        );
        assert_eq!(
            (c.limits.max_body_bytes, c.limits.max_socket_payload_bytes),
            (l.max_body_bytes, l.max_socket_payload_bytes)
        );
        // Issue 11.
        assert_eq!(
            (
                c.limits.status,
                c.limits.room_create,
                c.limits.member_add,
                c.limits.online_users
            ),
            (l.status, l.room_create, l.member_add, l.online_users)
        );
        assert_eq!(
            (
                c.limits.max_room_members,
                c.limits.room_detail_members,
                c.limits.online_users_cache,
                c.limits.personal_rooms
            ),
            (
                l.max_room_members,
                l.room_detail_members,
                l.online_users_cache,
                l.personal_rooms
            )
        );
        assert_eq!(
            (
                c.limits.max_token_lifetime_secs,
                c.limits.session_expiring_lead_secs
            ),
            (l.max_token_lifetime_secs, l.session_expiring_lead_secs)
        );
        let n = NetConfig::default();
        assert_eq!(c.limits.catch_up, l.catch_up);
        assert!(
            c.net.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
        assert_eq!(c.net.max_connections, default_max_connections());
        assert_eq!(
            (c.net.header_read_timeout, c.net.request_timeout),
            (n.header_read_timeout, n.request_timeout)
        );
        assert_eq!(
            (
                c.net.max_pending_handshakes_per_ip,
                c.net.socket_max_buffered_bytes
            ),
            (n.max_pending_handshakes_per_ip, n.socket_max_buffered_bytes)
        );
    }
}
