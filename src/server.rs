//! Start-up and shutdown: wires storage, backplane, services and the three listeners.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::auth::{resolve_key, Verifier};
use crate::backplane::keys::Keys;
use crate::backplane::meetings::{LocalMeetings, MeetingStore, RedisMeetings};
use crate::backplane::presence::{LocalPresence, RedisPresence};
use crate::backplane::{Backplane, Healing, Presence};
use crate::config::Config;
use crate::service::Chat;
use crate::storage::Store;

/// A started node: its bound addresses, and how to stop it.
pub struct Running {
    pub api_addr: SocketAddr,
    pub socket_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    /// The three listeners; they finish once stopped and their requests are done.
    servers: Vec<JoinHandle<()>>,
    /// Periodic upkeep, aborted at shutdown.
    background: Vec<JoinHandle<()>>,
    drain_delay: Duration,
    grace: Duration,
}

/// Listens with a backlog for connect storms (thousands of clients reconnecting at once
/// after a node restart); the kernel caps it at `net.core.somaxconn`.
async fn bind(addr: SocketAddr, var: &str) -> Result<TcpListener, String> {
    let fail = |e: std::io::Error| format!("{var}: cannot listen on {addr}: {e}");
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(8192).map_err(fail)
}

/// Connects, migrates, binds and serves. Errors are one line for the operator.
pub async fn start(config: Config) -> Result<Running, String> {
    let prometheus = crate::metrics::install();
    let url = config.effective_database_url();
    if config.database_url.is_none() {
        crate::data_dir::prepare_sqlite(&config.data_dir)?;
    }
    let store = Store::connect(&url, config.db_max_connections)
        .await
        .map_err(|e| format!("DATABASE_URL: cannot connect: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    store.prepare_search(&config.limits.search.language).await?;
    config.ice.check()?;
    let webhooks = crate::service::Webhooks::new(config.webhooks.clone())?;
    let key = resolve_key(&config)?;
    let verifier = Verifier::new(
        &key,
        config.jwt_issuer.as_deref(),
        config.jwt_audience.as_deref(),
    )
    .map_err(|e| format!("CLASSCHAT_JWT_PUBLIC_KEY_FILE: {e}"))?
    .with_max_lifetime(config.limits.max_token_lifetime_secs);
    let files = crate::service::uploads::Files::open(
        config.uploads_url.as_deref(),
        &config.data_dir,
        url_signer(&config, &key)?,
    )?;
    if config.redis_url.is_some() && config.uploads_url.is_none() {
        tracing::warn!("cluster mode with uploads in this node's data directory: other nodes cannot serve them; set CLASSCHAT_UPLOADS_URL to an S3 bucket or a directory every node shares");
    }

    let io = socketio_server::Server::new(socketio_server::Config {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        connect_timeout: Duration::from_secs(45),
        max_payload: config.limits.max_socket_payload_bytes as usize,
        handshake: crate::realtime::handshake,
        max_buffered_bytes: config.net.socket_max_buffered_bytes,
        max_pending_per_address: config.net.max_pending_handshakes_per_ip,
        metrics_prefix: "classchat".into(),
    });
    let healing = |audit: Option<Duration>| Healing {
        history: Arc::new(crate::service::StoreHistory(store.clone(), files.signer())),
        page: config.relay.relay_heal_page,
        audit,
    };
    let audit = Duration::from_millis(config.relay.relay_audit_interval_ms);
    let status = crate::service::status_options(config.limits.presence_window);
    let (backplane, presence, meetings, redis) = match &config.redis_url {
        None => (
            Backplane::local(io.clone(), Some(healing(None)), status),
            Presence::Local(LocalPresence::new()),
            MeetingStore::Local(LocalMeetings::new()),
            None,
        ),
        Some(url) => {
            let audit = (!audit.is_zero()).then_some(audit);
            let (bp, client) = Backplane::redis(
                io.clone(),
                url,
                &config.redis_prefix,
                Some(healing(audit)),
                status,
            )
            .await?;
            let keys = Keys::new(&config.redis_prefix);
            let meetings = RedisMeetings::new(client.clone(), keys.clone(), config.node_id.clone());
            let presence = RedisPresence::new(
                client.clone(),
                keys,
                config.node_id.clone(),
                config.presence_ttl,
            );
            (
                bp,
                Presence::Redis(presence),
                MeetingStore::Redis(meetings),
                Some(client),
            )
        }
    };
    let chat = Arc::new(
        Chat::new(
            store,
            backplane,
            Arc::new(presence),
            config.limits.clone(),
            config.node_id.clone(),
            io.clone(),
            config.typing_timeout,
        )
        .with_meetings(Arc::new(meetings), config.ice.clone())
        .with_files(files)
        .with_webhooks(webhooks),
    );
    if let Some(client) = &redis {
        // Cluster mode: per-user rate limits count across every node.
        let keys = Keys::new(&config.redis_prefix);
        chat.rate
            .share(Arc::new(crate::backplane::buckets::RedisBuckets::new(
                client.clone(),
                keys,
            )));
    }
    // "Try it" tokens only where nobody configured how tokens are made: one node, the
    // generated secret.
    let try_it = match &key {
        crate::config::JwtKey::Secret(s)
            if config.jwt_secret.is_none() && config.redis_url.is_none() =>
        {
            Some(s.clone())
        }
        _ => None,
    };
    let state = Arc::new(AppState {
        chat: chat.clone(),
        verifier,
        ready: AtomicBool::new(false),
        web: crate::app::WebSettings {
            try_it,
            socket_url: config.web_socket_url.clone(),
            ..Default::default()
        },
    });
    io.set_handler(crate::realtime::Realtime::new(state.clone()));

    let api = bind(config.api_addr, "CLASSCHAT_API_ADDR").await?;
    let sock = bind(config.socket_addr, "CLASSCHAT_SOCKET_ADDR").await?;
    if let Ok(a) = sock.local_addr() {
        state.web.socket_port.store(a.port(), Ordering::Release);
    }
    let met = bind(config.metrics_addr, "CLASSCHAT_METRICS_ADDR").await?;
    let addrs = (
        api.local_addr().map_err(|e| e.to_string())?,
        sock.local_addr().map_err(|e| e.to_string())?,
        met.local_addr().map_err(|e| e.to_string())?,
    );

    let (stop, stopped) = watch::channel(false);
    let socket_app = io.router(axum::Router::new().fallback(|| async {
        crate::domain::error::AppError::new(404, "not_found", "Socket.IO lives at /socket.io/")
    }));
    let (rest_app, socket_app, metrics_app, options) = crate::net::wire(
        &config.net,
        crate::http::router(state.clone()),
        socket_app,
        prometheus,
    );
    let servers = vec![
        serve(api, rest_app, stopped.clone(), options.clone()),
        serve(sock, socket_app, stopped.clone(), options.clone()),
        serve(met, metrics_app, stopped.clone(), options),
    ];
    let pruner = chat.clone();
    let mut background = vec![tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            pruner.rate.prune();
        }
    })];
    background.push(tokio::spawn(crate::service::uploads::upload_sweep(
        chat.clone(),
    )));
    background.push(tokio::spawn(crate::service::meeting_upkeep(
        chat.clone(),
        redis.is_some(),
    )));
    background.push(tokio::spawn(crate::service::run_webhooks(chat.clone())));
    background.push(tokio::spawn(crate::service::room_counts(chat.clone())));
    if let Some(client) = redis {
        background.push(tokio::spawn(cluster_upkeep(
            chat.clone(),
            client,
            config.presence_ttl,
        )));
    }
    state.ready.store(true, Ordering::Release);
    metrics::gauge!("classchat_ready").set(1.0);
    tracing::info!(api = %addrs.0, socket = %addrs.1, metrics = %addrs.2, database = chat.store.kind(),
        backplane = chat.backplane.mode(), node = %config.node_id, uploads = %chat.files.describe(), "classchat ready");
    Ok(Running {
        api_addr: addrs.0,
        socket_addr: addrs.1,
        metrics_addr: addrs.2,
        state,
        stop,
        servers,
        background,
        drain_delay: config.drain_delay,
        grace: config.shutdown_grace,
    })
}

/// Heartbeat and dead-node sweep, every sixth of the presence TTL; after a Redis
/// reconnect the node writes its presence again (Redis may have come back empty).
async fn cluster_upkeep(chat: Arc<Chat>, client: fred::clients::Client, ttl: Duration) {
    use fred::interfaces::EventInterface;
    let mut reconnects = client.reconnect_rx();
    let mut tick = tokio::time::interval((ttl / 6).max(Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reassert = false;
    // A node judges others dead (no heartbeat for two thirds of the TTL) only once it has
    // reached Redis itself for that long: after an outage or a failover every node's
    // heartbeat is old, and the first one back must not sweep the others' users offline.
    let judge_after = ttl * 2 / 3;
    let mut healthy_since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let may_sweep = healthy_since.elapsed() >= judge_after;
                if !chat.cluster_tick(std::mem::take(&mut reassert), may_sweep).await {
                    healthy_since = tokio::time::Instant::now();
                }
            }
            r = reconnects.recv() => {
                if r.is_err() {
                    break;
                }
                reassert = true;
                healthy_since = tokio::time::Instant::now();
            }
        }
    }
}

fn serve(
    listener: TcpListener,
    app: axum::Router,
    stopped: watch::Receiver<bool>,
    options: socketio_server::ServeOptions,
) -> JoinHandle<()> {
    // Stops accepting once stopped, and ends when the requests in flight are answered.
    tokio::spawn(socketio_server::serve_with(listener, app, stopped, options))
}

impl Running {
    /// Stops accepting, disconnects sockets, lets requests in flight finish.
    /// Graceful drain, bounded by the grace period:
    /// 1. `/readyz` answers 503 at once, and load balancers stop sending new traffic
    ///    during the drain delay;
    /// 2. the listeners stop accepting; requests in flight finish;
    /// 3. sockets' transports are closed, so clients reconnect (through the load
    ///    balancer, to another node); their presence is released only after
    ///    `HANDOVER`, by when they are online elsewhere, so nobody is seen offline;
    /// 4. in cluster mode the node leaves the node registry.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + self.grace;
        let chat = &self.state.chat;
        self.state.ready.store(false, Ordering::Release);
        metrics::gauge!("classchat_ready").set(0.0);
        chat.draining.store(true, Ordering::Release);
        tracing::info!(delay = ?self.drain_delay, grace = ?self.grace, "draining");
        tokio::time::sleep(self.drain_delay).await;
        let _ = self.stop.send(true);
        chat.io.close_all();
        tokio::time::sleep(crate::service::HANDOVER + Duration::from_millis(300)).await;
        for t in self.servers {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
            }
        }
        for t in self.background {
            t.abort();
        }
        // Bounded: with Redis gone, leaving the registry must not hold the exit.
        let _ = tokio::time::timeout(Duration::from_secs(2), chat.leave_cluster()).await;
        chat.store.close().await;
        tracing::info!("drained");
    }
}

/// The key of attachment urls: `CLASSCHAT_UPLOAD_URL_SECRET`, else one derived from the
/// HS256 secret (the same on every node), else (a public key only) one of this process.
fn url_signer(
    config: &Config,
    key: &crate::config::JwtKey,
) -> Result<crate::service::uploads::UrlSigner, String> {
    use crate::service::uploads::UrlSigner;
    let ttl = config.limits.uploads.url_ttl_secs;
    match (&config.upload_url_secret, key) {
        (Some(s), _) if s.len() < crate::config::MIN_SECRET_BYTES => Err(format!(
            "invalid configuration: CLASSCHAT_UPLOAD_URL_SECRET: at least {} bytes (make one with `openssl rand -hex 32`)",
            crate::config::MIN_SECRET_BYTES
        )),
        (Some(s), _) => Ok(UrlSigner::new(s.as_bytes().to_vec(), ttl)),
        (None, crate::config::JwtKey::Secret(secret)) => Ok(UrlSigner::derived(secret, ttl)),
        (None, crate::config::JwtKey::PublicKeyPem(_)) => {
            if config.redis_url.is_some() {
                tracing::warn!("CLASSCHAT_UPLOAD_URL_SECRET is not set: attachment urls work only on the node that signed them");
            }
            Ok(UrlSigner::random(ttl))
        }
    }
}
