//! Namespaces: each has its handler, its rooms and its count of connected sockets.
//! `Namespace` is the application's handle on one (rooms, broadcasts); the server's own
//! methods of the same names act on `/`.

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;

use super::jobs::Handler;
use super::packet;
use super::rooms::{Outgoing, Rooms};
use super::socket::Socket;

pub(crate) struct Nsp {
    pub name: Arc<str>,
    handler: OnceLock<Arc<dyn Handler>>,
    pub rooms: Rooms,
    connected: AtomicIsize,
}

impl Nsp {
    pub fn new(name: &str) -> Arc<Nsp> {
        Arc::new(Nsp {
            name: Arc::from(name),
            handler: OnceLock::new(),
            rooms: Rooms::default(),
            connected: AtomicIsize::new(0),
        })
    }

    pub fn handler(&self) -> Option<&Arc<dyn Handler>> {
        self.handler.get()
    }

    pub fn set_handler(&self, handler: Arc<dyn Handler>) {
        let _ = self.handler.set(handler);
    }

    pub fn joined(&self) {
        self.connected.fetch_add(1, Ordering::AcqRel);
    }

    pub fn left(&self) {
        self.connected.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A namespace of the server; cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) nsp: Arc<Nsp>,
}

impl Namespace {
    pub fn name(&self) -> &str {
        &self.nsp.name
    }

    /// Sockets connected to the namespace.
    pub fn connected(&self) -> usize {
        self.nsp.connected.load(Ordering::Acquire).max(0) as usize
    }

    /// True if the socket joined (false: it closed, was in the room already, or belongs
    /// to another namespace).
    pub fn join(&self, socket: &Arc<Socket>, room: &str) -> bool {
        Arc::ptr_eq(&socket.nsp, &self.nsp) && self.nsp.rooms.join(socket, room)
    }

    /// True if the socket was in the room.
    pub fn leave(&self, socket: &Arc<Socket>, room: &str) -> bool {
        Arc::ptr_eq(&socket.nsp, &self.nsp) && self.nsp.rooms.leave(socket, room)
    }

    /// The sockets in a room.
    pub fn members(&self, room: &str) -> Vec<Arc<Socket>> {
        self.nsp.rooms.members(room).to_vec()
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
        let p = packet::event_in(&self.nsp.name, event, data);
        self.nsp.rooms.broadcast(rooms, except, &p).await
    }

    /// `broadcast` of a packet already encoded for this namespace (see
    /// `packet::event_in`).
    pub async fn broadcast_packet(
        &self,
        rooms: &[&str],
        except: Option<&str>,
        packet: &Bytes,
    ) -> usize {
        self.nsp.rooms.broadcast(rooms, except, packet).await
    }

    /// Sends a batch of packets (encoded for this namespace), coalescing what each
    /// socket gets into one write; the sockets each packet reached.
    pub async fn broadcast_many(&self, batch: &[Outgoing]) -> Vec<usize> {
        self.nsp.rooms.broadcast_many(batch).await
    }
}
