//! A Socket.IO v4 server (Engine.IO protocol 4, Socket.IO protocol 5, namespace `/`)
//! built for fan-out: WebSocket and HTTP long-polling with the upgrade between them, an
//! engine-wide heartbeat instead of a timer per socket, rooms of local sockets, and
//! broadcasts encoded once and written straight to each socket.

mod conn;
mod frame;
mod hold;
mod http;
mod jobs;
mod metrics;
pub mod packet;
mod polling;
mod rooms;
#[cfg(test)]
mod tests;
mod ws;

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use serde::Serialize;

pub use conn::{Conn, Handshake, SendError};
pub use hold::Hold;
pub use http::serve;
pub use jobs::Handler;
pub use packet::Payload;
pub use rooms::Outgoing;

use conn::{lock, Out};
use packet::{Engine, Socket};

/// Protocol settings.
#[derive(Clone)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// A session that has not connected to the namespace by then is closed.
    pub connect_timeout: Duration,
    /// Largest message (WebSocket) or request body (polling) a client may send.
    pub max_payload: usize,
    /// What the application keeps of the handshake request (its client address, a
    /// token from a header, …); read back with `Conn::handshake`.
    pub handshake: fn(&axum::http::request::Parts) -> Handshake,
    /// Prefix of the transport's metric names (`<prefix>_socket_timeouts_total`, …).
    pub metrics_prefix: String,
}

struct Inner {
    config: Config,
    metrics: metrics::Metrics,
    conns: DashMap<Arc<str>, Arc<Conn>>,
    rooms: rooms::Rooms,
    handler: OnceLock<Arc<dyn Handler>>,
    epoch: Instant,
    closing: AtomicBool,
    /// Sockets connected to the namespace.
    connected: AtomicIsize,
}

/// The server; cheap to clone.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl Server {
    /// Starts the engine (its heartbeat task).
    pub fn new(config: Config) -> Server {
        let server = Server {
            inner: Arc::new(Inner {
                metrics: metrics::Metrics::new(&config.metrics_prefix),
                config,
                conns: DashMap::new(),
                rooms: rooms::Rooms::default(),
                handler: OnceLock::new(),
                epoch: Instant::now(),
                closing: AtomicBool::new(false),
                connected: AtomicIsize::new(0),
            }),
        };
        tokio::spawn(heartbeat(Arc::downgrade(&server.inner)));
        server
    }

    /// Sets what handles the sockets (once).
    pub fn set_handler(&self, handler: Arc<dyn Handler>) {
        let _ = self.inner.handler.set(handler);
    }

    fn handler(&self) -> Option<&Arc<dyn Handler>> {
        self.inner.handler.get()
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// A new session, registered.
    fn create(&self, handshake: Handshake, out: Out) -> Option<Arc<Conn>> {
        if self.inner.closing.load(Ordering::Acquire) {
            return None;
        }
        let id: Arc<str> = Arc::from(new_sid());
        let ping = self.config().ping_interval.as_millis() as u64;
        let slow = self.inner.metrics.slow_closed.clone();
        let conn = Arc::new(Conn::new(
            id.clone(),
            handshake,
            out,
            self.now_ms(),
            ping,
            slow,
        ));
        self.inner.conns.insert(id, conn.clone());
        Some(conn)
    }

    fn get(&self, sid: &str) -> Option<Arc<Conn>> {
        self.inner.conns.get(sid).map(|c| c.clone())
    }

    /// Handles an Engine.IO packet from the client; false once the socket is closed.
    fn on_text(&self, conn: &Arc<Conn>, text: &str) -> bool {
        match Engine::parse(text) {
            Some(Engine::Pong(_)) => {
                let interval = self.config().ping_interval.as_millis() as u64;
                conn.pong_due.store(0, Ordering::Release);
                conn.ping_due
                    .store(self.now_ms() + interval, Ordering::Release);
            }
            Some(Engine::Message(m)) => return self.on_socket(conn, m),
            Some(Engine::Ping(_) | Engine::Upgrade | Engine::Noop) => {}
            Some(Engine::Close) | None => {
                self.close(conn);
                return false;
            }
        }
        true
    }

    fn on_socket(&self, conn: &Arc<Conn>, text: &str) -> bool {
        let Some(p) = packet::parse_socket(text) else {
            self.inner.metrics.bad_packets.increment(1);
            self.close(conn);
            return false;
        };
        match p {
            Socket::Connect { nsp, auth } if nsp == "/" => {
                jobs::push(self, conn, jobs::Job::Connect(auth), text.len());
            }
            Socket::Connect { nsp, .. } => {
                let body = serde_json::json!({ "message": "Invalid namespace" });
                let _ = conn.send(&packet::connect_error(&nsp, &body));
            }
            Socket::Disconnect { nsp } => {
                if nsp == "/" {
                    self.close(conn);
                    return false;
                }
            }
            Socket::Event {
                nsp,
                name,
                payload,
                ack,
                attachments,
            } => {
                conn.skip_binary
                    .fetch_add(attachments as u64, Ordering::AcqRel);
                // No event takes binary data: one that carries some is invalid.
                let payload = if attachments > 0 {
                    Payload::Invalid
                } else {
                    payload
                };
                if nsp == "/" {
                    let job = jobs::Job::Event { name, payload, ack };
                    jobs::push(self, conn, job, text.len());
                }
            }
            Socket::Ack { attachments } => {
                conn.skip_binary
                    .fetch_add(attachments as u64, Ordering::AcqRel);
            }
        }
        true
    }

    /// A binary message: an attachment of an earlier packet, skipped.
    fn on_binary(&self, conn: &Conn) {
        let _ = conn
            .skip_binary
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Closes a socket: its output, its rooms, and (if it was connected) the handler is
    /// told, with the rooms it was in.
    pub fn close(&self, conn: &Arc<Conn>) {
        let Some(was_connected) = conn.mark_closed() else {
            return;
        };
        {
            let close = frame::close(frame::CLOSE_NORMAL);
            conn::end(&mut lock(&conn.out), Some(&close));
        }
        conn.wake.notify_one();
        conn.closing.notify_one();
        self.inner.conns.remove(&conn.id);
        let rooms = self.inner.rooms.leave_all(conn);
        if was_connected {
            self.inner.connected.fetch_sub(1, Ordering::AcqRel);
            if let Some(h) = self.handler() {
                h.disconnect(conn.clone(), rooms);
            }
        }
    }

    /// Closes every socket and refuses new ones (shutdown).
    pub fn close_all(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let all: Vec<Arc<Conn>> = self.inner.conns.iter().map(|c| c.clone()).collect();
        for c in all {
            self.close(&c);
        }
    }

    /// True if the socket joined (false: it closed, or was in the room already).
    pub fn join(&self, conn: &Arc<Conn>, room: &str) -> bool {
        self.inner.rooms.join(conn, room)
    }

    /// True if the socket was in the room.
    pub fn leave(&self, conn: &Arc<Conn>, room: &str) -> bool {
        self.inner.rooms.leave(conn, room)
    }

    /// The sockets in a room.
    pub fn members(&self, room: &str) -> Vec<Arc<Conn>> {
        self.inner.rooms.members(room).to_vec()
    }

    /// Sends an event to every socket in any of `rooms` (once each) except those in
    /// `except`; the number of sockets reached.
    pub async fn broadcast<T: Serialize + ?Sized>(
        &self,
        rooms: &[&str],
        except: Option<&str>,
        event: &str,
        data: &T,
    ) -> usize {
        let p = packet::event(event, data);
        self.inner.rooms.broadcast(rooms, except, &p).await
    }

    /// `broadcast` of a packet already encoded (see `packet::event`).
    pub async fn broadcast_packet(
        &self,
        rooms: &[&str],
        except: Option<&str>,
        packet: &Bytes,
    ) -> usize {
        self.inner.rooms.broadcast(rooms, except, packet).await
    }

    /// Sends a batch of packets (see `packet::event`), coalescing what each socket gets
    /// into one write; the sockets each packet reached.
    pub async fn broadcast_many(&self, batch: &[Outgoing]) -> Vec<usize> {
        self.inner.rooms.broadcast_many(batch).await
    }

    /// Sends an event to one socket.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        conn: &Arc<Conn>,
        event: &str,
        data: &T,
    ) -> Result<(), SendError> {
        conn.send(&packet::event(event, data))
    }

    /// Open sessions (connected or not).
    pub fn sessions(&self) -> usize {
        self.inner.conns.len()
    }

    /// Sockets connected to the namespace.
    pub fn connected(&self) -> usize {
        self.inner.connected.load(Ordering::Acquire).max(0) as usize
    }

    /// Marks a socket connected to the namespace (after its CONNECT was accepted).
    fn mark_connected(&self, conn: &Conn) -> bool {
        let ok = conn.mark_connected();
        if ok {
            self.inner.connected.fetch_add(1, Ordering::AcqRel);
        }
        ok
    }
}

/// A new session id: 20 random URL-safe characters.
fn new_sid() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Pings every socket when due, closes those whose pong is late, that never connected
/// to the namespace, or whose output failed (a long-polling socket has no reader).
async fn heartbeat(inner: std::sync::Weak<Inner>) {
    const PING: Bytes = Bytes::from_static(b"2");
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let server = Server { inner };
        let now = server.now_ms();
        let cfg = server.config();
        let (timeout, connect) = (
            cfg.ping_timeout.as_millis() as u64,
            cfg.connect_timeout.as_millis() as u64,
        );
        let mut doomed = Vec::new();
        for c in server.inner.conns.iter() {
            let pong_due = c.pong_due.load(Ordering::Acquire);
            let late = pong_due != 0 && now > pong_due;
            let unconnected = !c.connected() && now > c.opened + connect;
            if late || unconnected || c.out_closed() {
                doomed.push(c.clone());
            } else if pong_due == 0
                && now >= c.ping_due.load(Ordering::Acquire)
                && !c.upgrading.load(Ordering::Acquire)
            {
                c.pong_due.store(now + timeout, Ordering::Release);
                let _ = c.send(&PING);
            }
        }
        for c in doomed {
            server.inner.metrics.timeouts.increment(1);
            server.close(&c);
        }
    }
}
