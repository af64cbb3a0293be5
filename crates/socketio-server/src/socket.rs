//! A socket: one session's connection to one namespace, with an id of its own, its rooms
//! and the application's data. One session may hold sockets on several namespaces.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use serde::Serialize;

use super::namespace::Nsp;
use super::packet::{self, Args};
use super::session::{lock, SendError, Session};

/// The CONNECT was received; the namespace's handler has not accepted it yet.
const PENDING: u8 = 0;
const CONNECTED: u8 = 1;
const CLOSED: u8 = 2;

pub struct Socket {
    id: Arc<str>,
    pub(crate) nsp: Arc<Nsp>,
    pub(crate) session: Arc<Session>,
    state: AtomicU8,
    /// The rooms this socket is in.
    pub(crate) rooms: Mutex<Vec<Arc<str>>>,
    /// Broadcasts held back while a replay goes out (see `hold`), and whether any are.
    pub(crate) held: Mutex<Option<super::hold::Held>>,
    pub(crate) holding: AtomicBool,
    data: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl Socket {
    pub(crate) fn new(nsp: Arc<Nsp>, session: Arc<Session>) -> Arc<Socket> {
        Arc::new(Socket {
            id: Arc::from(super::new_id()),
            nsp,
            session,
            state: AtomicU8::new(PENDING),
            rooms: Mutex::new(Vec::new()),
            held: Mutex::new(None),
            holding: AtomicBool::new(false),
            data: OnceLock::new(),
        })
    }

    /// The socket's id (the `sid` of its CONNECT answer), never the session's.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The namespace's name (`/`, `/admin`, …).
    pub fn namespace(&self) -> &str {
        &self.nsp.name
    }

    /// What the application kept of the handshake request, if it is a `T`.
    pub fn handshake<T: Any>(&self) -> Option<&T> {
        self.session.handshake().downcast_ref()
    }

    /// Attaches the application's data (once, at connect).
    pub fn set_data<T: Any + Send + Sync>(&self, data: Arc<T>) {
        let _ = self.data.set(data);
    }

    pub fn data<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.data.get()?.clone().downcast().ok()
    }

    /// Whether the namespace accepted the socket and it is still open.
    pub fn connected(&self) -> bool {
        self.state.load(Ordering::Acquire) == CONNECTED
    }

    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    pub(crate) fn mark_connected(&self) -> bool {
        self.state
            .compare_exchange(PENDING, CONNECTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The rooms this socket is in.
    pub fn rooms(&self) -> Vec<Arc<str>> {
        lock(&self.rooms).clone()
    }

    pub fn in_room(&self, room: &str) -> bool {
        lock(&self.rooms).iter().any(|r| &**r == room)
    }

    /// Sends an event with one argument.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), SendError> {
        self.session
            .send(&packet::event_in(self.namespace(), event, data))
    }

    /// Sends an event with any arguments, binary attachments included.
    pub fn emit_args(&self, event: &str, args: &Args) -> Result<(), SendError> {
        let p = packet::event_args(self.namespace(), event, args);
        self.session.send_binary(&p, args.attachments())
    }

    /// Sends an Engine.IO packet already encoded for this socket's namespace.
    pub fn send(&self, packet: &Bytes) -> Result<(), SendError> {
        self.session.send(packet)
    }

    /// Disconnects the socket from its namespace (the client is told); the session and
    /// its other sockets go on.
    pub fn disconnect(self: &Arc<Self>) {
        if !self.is_closed() {
            let _ = self.session.send(&packet::disconnect(self.namespace()));
        }
        self.close();
    }

    /// Closes the socket: out of its session and its rooms, and the handler is told if
    /// it had been connected.
    pub(crate) fn close(self: &Arc<Self>) {
        let was = self.state.swap(CLOSED, Ordering::AcqRel);
        if was == CLOSED {
            return;
        }
        lock(&self.session.sockets).retain(|s| !Arc::ptr_eq(s, self));
        *lock(&self.held) = None;
        self.holding.store(false, Ordering::Release);
        let rooms = self.nsp.rooms.leave_all(self);
        if was == CONNECTED {
            self.nsp.left();
            if let Some(h) = self.nsp.handler() {
                h.disconnect(self.clone(), rooms);
            }
        }
    }
}
