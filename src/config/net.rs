//! Connection and transport settings: trusted proxies, the connection limit, timeouts,
//! unauthenticated handshakes per address, unsent output per socket, catch-up bounds.

use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

use super::parse::positive;
use crate::domain::limits::CatchUp;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Connections")]
pub struct NetArgs {
    /// Addresses or CIDRs (comma-separated) of the proxies whose X-Forwarded-For is believed; the client address is the last hop not in this list (default: none, the TCP peer is the client and X-Forwarded-For is ignored)
    #[arg(long, env = "CLASSCHAT_TRUSTED_PROXIES", value_name = "CIDRS", value_delimiter = ',', value_parser = cidr)]
    pub trusted_proxies: Vec<IpNet>,
    /// Open connections across the three ports; one over it gets 503 too_many_connections and is closed (default: 90% of the open-file limit, less 64)
    #[arg(long, env = "CLASSCHAT_MAX_CONNECTIONS", value_name = "N", value_parser = positive::<usize>)]
    pub max_connections: Option<usize>,
    /// A request's headers must arrive within this, and an idle keep-alive connection is closed after this long (every port; keep it above the idle timeout of a load balancer in front)
    #[arg(long, env = "CLASSCHAT_HEADER_READ_TIMEOUT_MS", value_name = "MS", default_value = "20000", value_parser = positive::<u64>)]
    pub header_read_timeout_ms: u64,
    /// A REST request (its body included) must be answered within this, else 408
    #[arg(long, env = "CLASSCHAT_REQUEST_TIMEOUT_MS", value_name = "MS", default_value = "30000", value_parser = positive::<u64>)]
    pub request_timeout_ms: u64,
    /// An upload (POST /chat/uploads, its body included) must be answered within this, else 408
    #[arg(long, env = "CLASSCHAT_UPLOAD_TIMEOUT_MS", value_name = "MS", default_value = "600000", value_parser = positive::<u64>)]
    pub upload_timeout_ms: u64,
    /// Socket.IO connects (token check, user record, rooms, presence) a node works on at once; more wait their turn, so a storm of connects (a class starting) does not queue chat messages behind it
    #[arg(long, env = "CLASSCHAT_CONNECT_CONCURRENCY", value_name = "N", default_value = "16", value_parser = positive::<usize>)]
    pub connect_concurrency: usize,
    /// Socket.IO sessions per client address that have not connected (authenticated) yet; a handshake over it gets 429
    #[arg(long, env = "CLASSCHAT_MAX_PENDING_HANDSHAKES_PER_IP", value_name = "N", default_value = "5000", value_parser = positive::<usize>)]
    pub max_pending_handshakes_per_ip: usize,
    /// Output a Socket.IO connection may leave unsent (a client that does not read or poll); past it the connection is closed and the client reconnects
    #[arg(long, env = "CLASSCHAT_SOCKET_MAX_BUFFERED_BYTES", value_name = "BYTES", default_value = "1048576", value_parser = positive::<usize>)]
    pub socket_max_buffered_bytes: usize,
    /// Messages one join-chat-rooms replays in all (catch-up); past it the client pages on over REST
    #[arg(long, env = "CLASSCHAT_CATCHUP_MAX_MESSAGES", value_name = "N", default_value = "1000", value_parser = positive::<usize>)]
    pub catchup_max_messages: usize,
    /// Bytes of messages one join-chat-rooms replays in all; past it the client pages on over REST
    #[arg(long, env = "CLASSCHAT_CATCHUP_MAX_BYTES", value_name = "BYTES", default_value = "524288", value_parser = positive::<usize>)]
    pub catchup_max_bytes: usize,
}

/// The connection settings the server uses.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub trusted_proxies: Vec<IpNet>,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub upload_timeout: Duration,
    pub max_pending_handshakes_per_ip: usize,
    pub socket_max_buffered_bytes: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            trusted_proxies: Vec::new(),
            max_connections: default_max_connections(),
            header_read_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            max_pending_handshakes_per_ip: 5000,
            socket_max_buffered_bytes: 1 << 20,
        }
    }
}

impl NetArgs {
    pub fn config(&self) -> NetConfig {
        NetConfig {
            trusted_proxies: self.trusted_proxies.clone(),
            max_connections: self.max_connections.unwrap_or_else(default_max_connections),
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            upload_timeout: Duration::from_millis(self.upload_timeout_ms),
            max_pending_handshakes_per_ip: self.max_pending_handshakes_per_ip,
            socket_max_buffered_bytes: self.socket_max_buffered_bytes,
        }
    }

    pub fn catch_up(&self) -> CatchUp {
        CatchUp {
            max_messages: self.catchup_max_messages,
            max_bytes: self.catchup_max_bytes,
        }
    }
}

/// 90% of the process's open-file limit, less 64 (the database pool, Redis, logs and
/// refused connections' answers keep that headroom); at least 64.
pub fn default_max_connections() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let files = if ok && lim.rlim_cur != libc::RLIM_INFINITY {
        lim.rlim_cur as usize
    } else {
        1024
    };
    (files / 10 * 9).saturating_sub(64).max(64)
}

/// An address (a single host) or a CIDR.
fn cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not an IP address or CIDR (e.g. 10.0.0.0/8)"))
}
