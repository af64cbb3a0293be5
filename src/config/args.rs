//! The settings as clap arguments: a flag, an environment variable, a default and a help text each, grouped under the headings of `classchat serve --help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::parse::{database_url, log_filter, non_negative, positive, socket_addr};

/// Every setting of `classchat serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub claims: ClaimArgs,
    #[command(flatten)]
    pub tokens: super::tokens::TokenArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub rates: RateArgs,
    #[command(flatten)]
    pub rooms: super::rooms::RoomArgs,
    #[command(flatten)]
    pub timers: TimerArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub net: super::NetArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub relay: super::relay::RelayArgs,
    #[command(flatten)]
    pub meetings: super::meetings::MeetingArgs,
    #[command(flatten)]
    pub uploads: super::uploads::UploadArgs,
    #[command(flatten)]
    pub web: super::web::WebArgs,
    #[command(flatten)]
    pub webhooks: super::webhooks::WebhookArgs,
    #[command(flatten)]
    pub search: super::search::SearchArgs,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Listeners")]
pub struct ListenArgs {
    /// REST API, /healthz and /readyz
    #[arg(long, env = "CLASSCHAT_API_ADDR", value_name = "ADDR", default_value = "0.0.0.0:4500", value_parser = socket_addr)]
    pub api_addr: SocketAddr,
    /// Socket.IO endpoint (path /socket.io/, namespace /)
    #[arg(long, env = "CLASSCHAT_SOCKET_ADDR", value_name = "ADDR", default_value = "0.0.0.0:4501", value_parser = socket_addr)]
    pub socket_addr: SocketAddr,
    /// Prometheus metrics (GET /metrics)
    #[arg(long, env = "CLASSCHAT_METRICS_ADDR", value_name = "ADDR", default_value = "0.0.0.0:9464", value_parser = socket_addr)]
    pub metrics_addr: SocketAddr,
}

/// The data directory, shared by `serve`, `migrate` and `token`.
#[derive(Args, Clone, Debug)]
pub struct DataDirArg {
    /// Where the default SQLite file (classchat.db) and the generated JWT secret (jwt-secret) live
    #[arg(
        long,
        env = "CLASSCHAT_DATA_DIR",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Storage")]
pub struct StorageArgs {
    #[command(flatten)]
    pub dir: DataDirArg,
    /// postgres://…, postgresql://… or sqlite:…; migrations run at start-up (default: the SQLite file classchat.db in the data directory)
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true, value_parser = database_url)]
    pub database_url: Option<String>,
    /// Database connection pool size (SQLite is capped at 8)
    #[arg(long, env = "CLASSCHAT_DB_MAX_CONNECTIONS", value_name = "N", default_value = "16", value_parser = positive::<u32>)]
    pub db_max_connections: u32,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterArgs {
    /// Set: cluster mode, a Redis backplane and presence shared by every node: redis://HOST:PORT for one Redis, redis-cluster://HOST:PORT?node=HOST:PORT&node=… for a Redis Cluster (sharded pub/sub; one reachable node finds the rest). Requires --jwt-secret or --jwt-public-key-file (default: none, a single node)
    #[arg(
        long,
        env = "REDIS_URL",
        value_name = "URL",
        hide_env_values = true,
        requires = "jwt_key"
    )]
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys and channels
    #[arg(
        long,
        env = "CLASSCHAT_REDIS_PREFIX",
        value_name = "PREFIX",
        default_value = "classchat"
    )]
    pub redis_prefix: String,
    /// Cluster mode: how long the users of a node that died stay online
    #[arg(long, env = "CLASSCHAT_PRESENCE_TTL_SECS", value_name = "SECS", default_value = "30", value_parser = positive::<u64>)]
    pub presence_ttl_secs: u64,
    /// This node's name in stats and logs (default: the hostname)
    #[arg(long, env = "CLASSCHAT_NODE_ID", value_name = "ID")]
    pub node_id: Option<String>,
}

/// The key tokens are verified with (and `classchat token` signs with): one or the other.
#[derive(Args, Clone, Debug)]
#[group(id = "jwt_key", multiple = false)]
#[command(next_help_heading = "Auth")]
pub struct KeyArgs {
    /// HS256 secret, at least 32 bytes (default: one generated into the data directory's jwt-secret on first use)
    #[arg(
        long,
        env = "CLASSCHAT_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = super::tokens::hs256_secret
    )]
    pub jwt_secret: Option<String>,
    /// PEM public key file: an RSA key means RS256, an EC key ES256. Not with --jwt-secret (default: none, HS256 with the secret)
    #[arg(long, env = "CLASSCHAT_JWT_PUBLIC_KEY_FILE", value_name = "FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Auth")]
pub struct ClaimArgs {
    /// When set, tokens must carry this iss (default: none, any iss or none)
    #[arg(long, env = "CLASSCHAT_JWT_ISSUER", value_name = "ISS")]
    pub jwt_issuer: Option<String>,
    /// When set, tokens must carry this aud (default: none, any aud or none)
    #[arg(long, env = "CLASSCHAT_JWT_AUDIENCE", value_name = "AUD")]
    pub jwt_audience: Option<String>,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Longest message, in characters
    #[arg(long, env = "CLASSCHAT_MAX_CONTENT_CHARS", value_name = "N", default_value = "4000", value_parser = positive::<usize>)]
    pub max_content_chars: usize,
    /// Room ids per join-chat-rooms
    #[arg(long, env = "CLASSCHAT_MAX_JOIN_ROOMS", value_name = "N", default_value = "100", value_parser = positive::<usize>)]
    pub max_join_rooms: usize,
    /// Member ids per room creation or add, and mentions per message
    #[arg(long, env = "CLASSCHAT_MAX_MEMBERS_PER_ADD", value_name = "N", default_value = "50", value_parser = positive::<usize>)]
    pub max_members_per_add: usize,
    /// Largest REST request body
    #[arg(long, env = "CLASSCHAT_MAX_BODY_BYTES", value_name = "BYTES", default_value = "65536", value_parser = positive::<usize>)]
    pub max_body_bytes: usize,
    /// Largest Socket.IO packet; a larger one closes that connection
    #[arg(long, env = "CLASSCHAT_MAX_SOCKET_PAYLOAD_BYTES", value_name = "BYTES", default_value = "1048576", value_parser = positive::<u64>)]
    pub max_socket_payload_bytes: u64,
}

/// Declares `RateArgs`: one positive number per rate variable, with its default.
macro_rules! rate_args {
    ($($(#[doc = $doc:literal])* $field:ident: $env:literal = $default:literal,)*) => {
        /// Token buckets: a sustained rate per second and a burst, per user and per client address.
        #[derive(Args, Clone, Debug)]
        #[command(next_help_heading = "Rate limits")]
        pub struct RateArgs {
            $(
                $(#[doc = $doc])*
                #[arg(long, env = $env, value_name = "N", default_value = $default, value_parser = positive::<u32>)]
                pub $field: u32,
            )*
        }
    };
}

rate_args! {
    /// Message sends per user per second, sustained
    rate_send_per_sec: "CLASSCHAT_RATE_SEND_PER_SEC" = "10",
    /// Message sends per user, burst
    rate_send_burst: "CLASSCHAT_RATE_SEND_BURST" = "20",
    /// Typing events per user per second, sustained
    rate_typing_per_sec: "CLASSCHAT_RATE_TYPING_PER_SEC" = "5",
    /// Typing events per user, burst
    rate_typing_burst: "CLASSCHAT_RATE_TYPING_BURST" = "10",
    /// Socket.IO connections per user per second, sustained
    rate_connect_per_sec: "CLASSCHAT_RATE_CONNECT_PER_SEC" = "5",
    /// Socket.IO connections per user, burst
    rate_connect_burst: "CLASSCHAT_RATE_CONNECT_BURST" = "30",
    /// Message sends (REST and Socket.IO) per client address (the TCP peer, or what a trusted proxy forwarded: CLASSCHAT_TRUSTED_PROXIES) per second, sustained
    rate_send_per_sec_per_ip: "CLASSCHAT_RATE_SEND_PER_SEC_PER_IP" = "100",
    /// Message sends per client address, burst
    rate_send_burst_per_ip: "CLASSCHAT_RATE_SEND_BURST_PER_IP" = "1000",
    /// Typing events per client address per second, sustained
    rate_typing_per_sec_per_ip: "CLASSCHAT_RATE_TYPING_PER_SEC_PER_IP" = "200",
    /// Typing events per client address, burst
    rate_typing_burst_per_ip: "CLASSCHAT_RATE_TYPING_BURST_PER_IP" = "2000",
    /// Socket.IO connections per client address per second, sustained
    rate_connect_per_sec_per_ip: "CLASSCHAT_RATE_CONNECT_PER_SEC_PER_IP" = "200",
    /// Socket.IO connections per client address, burst
    rate_connect_burst_per_ip: "CLASSCHAT_RATE_CONNECT_BURST_PER_IP" = "5000",
    /// Status changes (PUT /chat/status, update-chat-status) per user per second, sustained
    rate_status_per_sec: "CLASSCHAT_RATE_STATUS_PER_SEC" = "1",
    /// Status changes per user, burst
    rate_status_burst: "CLASSCHAT_RATE_STATUS_BURST" = "10",
    /// Room creations and 1:1 opens per user per second, sustained
    rate_room_create_per_sec: "CLASSCHAT_RATE_ROOM_CREATE_PER_SEC" = "1",
    /// Room creations and 1:1 opens per user, burst
    rate_room_create_burst: "CLASSCHAT_RATE_ROOM_CREATE_BURST" = "30",
    /// Member adds (POST /chat/rooms/{id}/members, one per request) per user per second, sustained
    rate_member_add_per_sec: "CLASSCHAT_RATE_MEMBER_ADD_PER_SEC" = "2",
    /// Member adds per user, burst
    rate_member_add_burst: "CLASSCHAT_RATE_MEMBER_ADD_BURST" = "30",
    /// get-room-online-users per user per second, sustained
    rate_online_users_per_sec: "CLASSCHAT_RATE_ONLINE_USERS_PER_SEC" = "2",
    /// get-room-online-users per user, burst
    rate_online_users_burst: "CLASSCHAT_RATE_ONLINE_USERS_BURST" = "10",
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Heartbeat and timers")]
pub struct TimerArgs {
    /// Socket.IO heartbeat: the server pings every socket this often (keep it under the idle timeout of a load balancer in front)
    #[arg(long, env = "CLASSCHAT_PING_INTERVAL_MS", value_name = "MS", default_value = "25000", value_parser = positive::<u64>)]
    pub ping_interval_ms: u64,
    /// A socket whose pong is this late is closed
    #[arg(long, env = "CLASSCHAT_PING_TIMEOUT_MS", value_name = "MS", default_value = "20000", value_parser = positive::<u64>)]
    pub ping_timeout_ms: u64,
    /// A typing indicator stops by itself after this long without a new isTyping: true
    #[arg(long, env = "CLASSCHAT_TYPING_TIMEOUT_MS", value_name = "MS", default_value = "3000", value_parser = positive::<u64>)]
    pub typing_timeout_ms: u64,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Shutdown")]
pub struct ShutdownArgs {
    /// On SIGTERM: time between /readyz turning 503 and closing the listeners (0 allowed)
    #[arg(long, env = "CLASSCHAT_DRAIN_DELAY_MS", value_name = "MS", default_value = "2000", value_parser = non_negative)]
    pub drain_delay_ms: u64,
    /// On SIGTERM: the whole drain ends within this (keep it under Kubernetes' terminationGracePeriodSeconds)
    #[arg(long, env = "CLASSCHAT_SHUTDOWN_GRACE_SECS", value_name = "SECS", default_value = "25", value_parser = positive::<u64>)]
    pub shutdown_grace_secs: u64,
}

/// How log lines look.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logging, for every sub-command.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Logging")]
pub struct LogArgs {
    /// Log filter, tracing EnvFilter syntax (e.g. info,classchat=debug); logs go to stderr
    #[arg(long, env = "RUST_LOG", value_name = "FILTER", default_value = "info", value_parser = log_filter)]
    pub log_filter: String,
    /// Log line format
    #[arg(
        long,
        env = "CLASSCHAT_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text",
        ignore_case = true
    )]
    pub log_format: LogFormat,
}
