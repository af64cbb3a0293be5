//! A Socket.IO v4 server (Engine.IO protocol 4, Socket.IO protocol 5) built for fan-out:
//! WebSocket and HTTP long-polling with the upgrade between them, namespaces, binary
//! attachments, an engine-wide heartbeat instead of a timer per session, rooms of local
//! sockets, and broadcasts encoded once and written straight to each socket.

mod binary;
mod closing;
mod event;
mod frame;
mod heartbeat;
mod hold;
mod http;
mod jobs;
mod limits;
mod metrics;
mod namespace;
mod out;
pub mod packet;
mod polling;
mod receive;
mod rooms;
mod serve;
mod session;
mod socket;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_http;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_namespaces;
mod ws;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use serde::Serialize;

pub use event::Event;
pub use hold::Hold;
pub use jobs::Handler;
pub use limits::{ClientAddress, ConnectionLimit};
pub use namespace::Namespace;
pub use out::DEFAULT_MAX_BUFFERED_BYTES;
pub use packet::{Args, Payload};
pub use rooms::Outgoing;
pub use serve::{serve, serve_with, ServeOptions};
pub use session::{Handshake, SendError};
pub use socket::Socket;

use namespace::Nsp;
use out::Out;
use session::Session;

/// Protocol settings.
#[derive(Clone)]
pub struct Config {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// A session that has not connected to a namespace by then is closed.
    pub connect_timeout: Duration,
    /// Largest message (WebSocket) or request body (polling) a client may send; also
    /// the most the binary attachments of one packet may add up to.
    pub max_payload: usize,
    /// What the application keeps of the handshake request (its client address, a
    /// token from a header, …); read back with `Socket::handshake`.
    pub handshake: fn(&axum::http::request::Parts) -> Handshake,
    /// Most bytes of output a session may leave unsent (a WebSocket client that does not
    /// read, a long-polling client that does not poll, broadcasts held during a replay):
    /// past it the session is closed (see the README). `DEFAULT_MAX_BUFFERED_BYTES`.
    pub max_buffered_bytes: usize,
    /// Most sessions not yet connected to a namespace per client address (the request's
    /// `ClientAddress`, else its peer); a handshake over it is refused with 429. 0: no
    /// limit.
    pub max_pending_per_address: usize,
    /// Prefix of the transport's metric names (`<prefix>_socket_timeouts_total`, …).
    pub metrics_prefix: String,
}

struct Inner {
    config: Config,
    metrics: metrics::Metrics,
    sessions: DashMap<Arc<str>, Arc<Session>>,
    root: Arc<Nsp>,
    namespaces: RwLock<HashMap<String, Arc<Nsp>>>,
    timers: Arc<heartbeat::Timers>,
    pending: Arc<limits::PendingByAddress>,
    epoch: Instant,
    closing: AtomicBool,
}

/// The server; cheap to clone. Its methods on rooms and broadcasts act on namespace `/`
/// (see `of` for the others).
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
                sessions: DashMap::new(),
                root: Nsp::new("/"),
                namespaces: RwLock::new(HashMap::new()),
                timers: Default::default(),
                pending: Default::default(),
                epoch: Instant::now(),
                closing: AtomicBool::new(false),
            }),
        };
        tokio::spawn(heartbeat::run(Arc::downgrade(&server.inner)));
        server
    }

    /// Sets what handles the sockets of `/` (once).
    pub fn set_handler(&self, handler: Arc<dyn Handler>) {
        self.inner.root.set_handler(handler);
    }

    /// Opens namespace `name` (`/admin`, …) with its handler (set once); CONNECTs to a
    /// namespace that is not open are refused with "Invalid namespace".
    pub fn namespace(&self, name: &str, handler: Arc<dyn Handler>) -> Namespace {
        if name == "/" {
            self.set_handler(handler);
            return self.root();
        }
        let mut map = self
            .inner
            .namespaces
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let nsp = map
            .entry(name.to_string())
            .or_insert_with(|| Nsp::new(name));
        nsp.set_handler(handler);
        Namespace { nsp: nsp.clone() }
    }

    /// A namespace that is open (`/` always is).
    pub fn of(&self, name: &str) -> Option<Namespace> {
        self.nsp(name).map(|nsp| Namespace { nsp })
    }

    fn root(&self) -> Namespace {
        Namespace {
            nsp: self.inner.root.clone(),
        }
    }

    /// A namespace with a handler.
    fn nsp(&self, name: &str) -> Option<Arc<Nsp>> {
        let nsp = if name == "/" {
            self.inner.root.clone()
        } else {
            let map = self
                .inner
                .namespaces
                .read()
                .unwrap_or_else(|e| e.into_inner());
            map.get(name)?.clone()
        };
        nsp.handler().is_some().then_some(nsp)
    }

    fn config(&self) -> &Config {
        &self.inner.config
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// A new session, registered, with its first heartbeat check scheduled.
    fn create(
        &self,
        handshake: Handshake,
        out: Out,
        pending: Option<limits::Pending>,
    ) -> Option<Arc<Session>> {
        if self.inner.closing.load(Ordering::Acquire) {
            return None;
        }
        let id: Arc<str> = Arc::from(new_id());
        let cfg = self.config();
        let ping = cfg.ping_interval.as_millis() as u64;
        let now = self.now_ms();
        let slow = self.inner.metrics.slow_closed.clone();
        let timers = self.inner.timers.clone();
        let max = cfg.max_buffered_bytes;
        let session = Session::new(id.clone(), handshake, out, now, ping, timers, slow, max);
        *session::lock(&session.pending) = pending;
        self.inner.sessions.insert(id, session.clone());
        session.check_at((now + ping).min(now + cfg.connect_timeout.as_millis() as u64));
        Some(session)
    }

    /// The open session `sid`. One whose pong is late (or whose connect time is over) is
    /// closed here and then, even if the heartbeat has not come to it yet.
    fn get(&self, sid: &str) -> Option<Arc<Session>> {
        let s = self.inner.sessions.get(sid).map(|c| c.clone())?;
        if s.is_closed() {
            self.forget(&s);
            return None;
        }
        if heartbeat::overdue(self, &s, self.now_ms()) {
            self.inner.metrics.timeouts.increment(1);
            self.close(&s);
            return None;
        }
        Some(s)
    }

    /// Whether `sid` is a session the client closed over long-polling with no poll
    /// waiting; if so it is forgotten now (the poll asking answers with a noop).
    fn lingered(&self, sid: &str) -> bool {
        let closed = self.inner.sessions.get(sid).is_some_and(|s| s.is_closed());
        closed && self.inner.sessions.remove(sid).is_some()
    }

    fn forget(&self, session: &Arc<Session>) {
        self.inner
            .sessions
            .remove_if(&session.id, |_, s| Arc::ptr_eq(s, session));
    }

    /// Closes a session: its output, then each of its sockets (see `Socket::close`).
    fn close(&self, session: &Arc<Session>) {
        self.end(session, false);
    }

    /// The client closed the session. On long-polling its poll and its close travel on
    /// two connections, either may come first: with no poll waiting, the session is
    /// kept (closed) a moment, so the poll that comes next still gets its noop.
    fn closed_by_client(&self, session: &Arc<Session>) {
        session.client_closed.store(true, Ordering::Release);
        let grace = self.config().ping_timeout.min(Duration::from_secs(1));
        session
            .linger_until
            .store(self.now_ms() + grace.as_millis() as u64, Ordering::Release);
        self.end(session, true);
    }

    /// Ends a session; `by_client`: on its close packet.
    fn end(&self, session: &Arc<Session>, by_client: bool) {
        if !session.mark_closed() {
            return;
        }
        let linger = {
            let mut out = session::lock(&session.out);
            // Decided with the output locked, so a poll cannot start waiting meanwhile.
            let linger = by_client && matches!(&*out, Out::Polling { waiting: false, .. });
            out::end(&mut out, Some(&frame::close(frame::CLOSE_NORMAL)));
            linger
        };
        session.wake.notify_one();
        session.closing.notify_one();
        if linger {
            session.check_at(session.linger_until.load(Ordering::Acquire));
        } else {
            self.forget(session);
        }
        *session::lock(&session.binary) = None;
        *session::lock(&session.pending) = None;
        let sockets = std::mem::take(&mut *session::lock(&session.sockets));
        for s in sockets {
            s.close();
        }
    }

    /// Closes every session and refuses new ones (shutdown).
    pub fn close_all(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let all: Vec<Arc<Session>> = self.inner.sessions.iter().map(|c| c.clone()).collect();
        for s in all {
            self.close(&s);
        }
    }

    /// True if the socket joined a room of its namespace (false: it closed, or was in
    /// the room already).
    pub fn join(&self, socket: &Arc<Socket>, room: &str) -> bool {
        socket.nsp.rooms.join(socket, room)
    }

    /// True if the socket was in the room.
    pub fn leave(&self, socket: &Arc<Socket>, room: &str) -> bool {
        socket.nsp.rooms.leave(socket, room)
    }

    /// The sockets in a room of `/`.
    pub fn members(&self, room: &str) -> Vec<Arc<Socket>> {
        self.root().members(room)
    }

    /// `Namespace::broadcast` on `/`.
    pub async fn broadcast<T: Serialize + ?Sized>(
        &self,
        rooms: &[&str],
        except: Option<&str>,
        event: &str,
        data: &T,
    ) -> usize {
        self.root().broadcast(rooms, except, event, data).await
    }

    /// `Namespace::broadcast_packet` on `/` (see `packet::event`).
    pub async fn broadcast_packet(
        &self,
        rooms: &[&str],
        except: Option<&str>,
        packet: &Bytes,
    ) -> usize {
        self.root().broadcast_packet(rooms, except, packet).await
    }

    /// `Namespace::broadcast_many` on `/`.
    pub async fn broadcast_many(&self, batch: &[Outgoing]) -> Vec<usize> {
        self.root().broadcast_many(batch).await
    }

    /// Sends an event to one socket (`Socket::emit`).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        socket: &Arc<Socket>,
        event: &str,
        data: &T,
    ) -> Result<(), SendError> {
        socket.emit(event, data)
    }

    /// Open Engine.IO sessions (connected to a namespace or not).
    pub fn sessions(&self) -> usize {
        self.inner.sessions.len()
    }

    /// Sockets connected to `/`.
    pub fn connected(&self) -> usize {
        self.root().connected()
    }
}

/// A new id: 20 random URL-safe characters.
fn new_id() -> String {
    use base64::Engine as _;
    // 120 random bits, 20 URL-safe characters.
    let bytes: [u8; 15] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
