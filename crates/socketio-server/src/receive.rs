//! What a client sends, whatever its transport: Engine.IO packets, the Socket.IO packet
//! in each message routed to its namespace's socket, and binary attachments. A packet
//! that breaks the protocol closes the session at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::binary::{Partial, Waiting};
use super::event::Event;
use super::jobs::{self, Job};
use super::packet::{self, Engine, Packet};
use super::session::{lock, Session};
use super::socket::Socket;
use super::Server;

/// A text message off the wire: borrowed to parse, and taken whole (without a copy) by
/// an event that keeps its arguments as text.
pub(crate) trait Text: AsRef<str> + Into<Bytes> {}
impl<T: AsRef<str> + Into<Bytes>> Text for T {}

/// A piece of a long-polling body.
pub(crate) struct Piece<'a> {
    pub body: &'a Bytes,
    pub text: &'a str,
}

impl AsRef<str> for Piece<'_> {
    fn as_ref(&self) -> &str {
        self.text
    }
}

impl From<Piece<'_>> for Bytes {
    fn from(p: Piece<'_>) -> Bytes {
        p.body.slice_ref(p.text.as_bytes())
    }
}

/// What a Socket.IO packet asks for, with nothing borrowed from its text.
enum Action {
    None,
    Violation,
    Job(Job, usize),
    Event {
        socket: Arc<Socket>,
        name: String,
        payload: packet::Payload,
        ack: Option<u64>,
        attachments: usize,
        array_at: usize,
    },
}

impl Server {
    /// Handles an Engine.IO packet from the client; false once the session is closed.
    pub(crate) fn on_text(&self, s: &Arc<Session>, text: impl Text) -> bool {
        let action = match Engine::parse(text.as_ref()) {
            Some(Engine::Pong(_)) => {
                let interval = self.config().ping_interval.as_millis() as u64;
                s.pong_due.store(0, Ordering::Release);
                s.ping_due
                    .store(self.now_ms() + interval, Ordering::Release);
                return true;
            }
            Some(Engine::Message(m)) => self.on_packet(s, m),
            Some(Engine::Ping(_) | Engine::Upgrade | Engine::Noop) => return true,
            Some(Engine::Close) => {
                self.closed_by_client(s);
                return false;
            }
            None => Action::Violation,
        };
        match action {
            Action::None => {}
            Action::Violation => {
                self.inner.metrics.bad_packets.increment(1);
                self.close(s);
                return false;
            }
            Action::Job(job, size) => jobs::push(self, s, job, size),
            Action::Event {
                socket,
                name,
                payload,
                ack,
                attachments,
                array_at,
            } => {
                // The Socket.IO packet is the message after its Engine.IO `4`.
                let text = text.into().slice(1..);
                let event = Event::new(name, payload, text, array_at, ack);
                if attachments > 0 {
                    let what = Waiting::Event { socket, event };
                    *lock(&s.binary) = Some(Partial::new(what, attachments));
                } else {
                    let size = event.size();
                    jobs::push(self, s, Job::Event(socket, event), size);
                }
            }
        }
        true
    }

    fn on_packet(&self, s: &Arc<Session>, text: &str) -> Action {
        // A text message while attachments are awaited: the packet is cut.
        if lock(&s.binary).is_some() {
            return Action::Violation;
        }
        let Some(p) = packet::parse(text) else {
            return Action::Violation;
        };
        match p {
            Packet::Connect { nsp, auth } => {
                if s.socket(nsp).is_some() {
                    return Action::None;
                }
                let Some(ns) = self.nsp(nsp) else {
                    let body = serde_json::json!({ "message": "Invalid namespace" });
                    let _ = s.send(&packet::connect_error(nsp, &body));
                    return Action::None;
                };
                let socket = Socket::new(ns, s.clone());
                lock(&s.sockets).push(socket.clone());
                Action::Job(Job::Connect(socket, auth), text.len())
            }
            // Anything else must be for a namespace the client sent a CONNECT for.
            Packet::Disconnect { nsp } => match s.socket(nsp) {
                Some(socket) => {
                    // Gone from the session now: what follows for it is a violation.
                    lock(&s.sockets).retain(|x| !Arc::ptr_eq(x, &socket));
                    Action::Job(Job::Disconnect(socket), 0)
                }
                None => Action::Violation,
            },
            Packet::Event {
                nsp,
                name,
                payload,
                ack,
                attachments,
                array_at,
            } => match s.socket(nsp) {
                Some(socket) => Action::Event {
                    socket,
                    name,
                    payload,
                    ack,
                    attachments,
                    array_at,
                },
                None => Action::Violation,
            },
            Packet::Ack {
                nsp, attachments, ..
            } => match s.socket(nsp) {
                // The server asks for no acks: one is only read past.
                Some(_) if attachments > 0 => {
                    *lock(&s.binary) = Some(Partial::new(Waiting::Ack, attachments));
                    Action::None
                }
                Some(_) => Action::None,
                None => Action::Violation,
            },
        }
    }

    /// A binary message: the next attachment of the packet that announced it. One that
    /// no packet announced, or past the limit, closes the session; false then.
    pub(crate) fn on_binary(&self, s: &Arc<Session>, data: Bytes) -> bool {
        let max = self.config().max_payload;
        let whole = {
            let mut partial = lock(&s.binary);
            match partial.as_mut().map(|p| p.add(data, max)) {
                Some(Ok(true)) => partial.take().map(Partial::finish),
                Some(Ok(false)) => return true,
                Some(Err(_)) | None => None,
            }
        };
        match whole {
            Some(Waiting::Event { socket, event }) => {
                let size = event.size();
                jobs::push(self, s, Job::Event(socket, event), size);
                true
            }
            Some(Waiting::Ack) => true,
            None => {
                self.inner.metrics.bad_packets.increment(1);
                self.close(s);
                false
            }
        }
    }
}
