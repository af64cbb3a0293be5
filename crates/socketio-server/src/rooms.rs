//! Rooms of one namespace's local sockets, and broadcasting to them: a packet is encoded (text and
//! WebSocket frame) once and written to each socket in turn.
//!
//! A room's members are an immutable list replaced on join and leave, so a broadcast
//! takes a snapshot with one reference count and holds no lock while it writes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::frame;
use super::session::lock;
use super::socket::Socket;

/// Sockets written to between two looks at the clock.
const YIELD_EVERY: usize = 64;
/// A broadcast yields to the scheduler once it has run this long, so a large one does
/// not hold other work (database replies, readers) back for long. By time, not by count:
/// when many tasks wait (a connect storm), each yield costs a whole turn of the queue,
/// and a broadcast that yielded every 64 sockets reached a 1,000-member room 16 turns
/// late.
const SLICE: std::time::Duration = std::time::Duration::from_millis(2);

/// Yields when the current slice is used up (looked at every `YIELD_EVERY` sockets).
async fn pace(n: usize, slice: &mut std::time::Instant) {
    if (n + 1).is_multiple_of(YIELD_EVERY) && slice.elapsed() >= SLICE {
        tokio::task::yield_now().await;
        *slice = std::time::Instant::now();
    }
}

type Members = Arc<Vec<Arc<Socket>>>;

#[derive(Default)]
pub struct Rooms {
    map: RwLock<HashMap<Arc<str>, Members>>,
}

impl Rooms {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Members>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Arc<str>, Members>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts the socket in the room; false if it closed or already was in it.
    pub fn join(&self, socket: &Arc<Socket>, room: &str) -> bool {
        let mut rooms = lock(&socket.rooms);
        if socket.is_closed() || rooms.iter().any(|r| &**r == room) {
            return false;
        }
        let mut map = self.write();
        let key: Arc<str> = match map.get_key_value(room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        let members = map.entry(key.clone()).or_default();
        let mut next = Vec::with_capacity(members.len() + 1);
        next.extend(members.iter().cloned());
        next.push(socket.clone());
        *members = Arc::new(next);
        rooms.push(key);
        true
    }

    /// Takes the socket out of the room; true if it was in it.
    pub fn leave(&self, socket: &Arc<Socket>, room: &str) -> bool {
        let mut rooms = lock(&socket.rooms);
        let Some(i) = rooms.iter().position(|r| &**r == room) else {
            return false;
        };
        rooms.swap_remove(i);
        self.remove(socket, room);
        true
    }

    /// Takes the socket out of every room (it closed); the rooms it was in.
    pub fn leave_all(&self, socket: &Arc<Socket>) -> Vec<Arc<str>> {
        let rooms = std::mem::take(&mut *lock(&socket.rooms));
        for r in &rooms {
            self.remove(socket, r);
        }
        rooms
    }

    fn remove(&self, socket: &Arc<Socket>, room: &str) {
        let mut map = self.write();
        let Some(members) = map.get_mut(room) else {
            return;
        };
        let next: Vec<Arc<Socket>> = members
            .iter()
            .filter(|c| !Arc::ptr_eq(c, socket))
            .cloned()
            .collect();
        if next.is_empty() {
            map.remove(room);
        } else {
            *members = Arc::new(next);
        }
    }

    /// The sockets in a room.
    pub fn members(&self, room: &str) -> Members {
        self.read().get(room).cloned().unwrap_or_default()
    }

    /// The sockets a packet goes to: those in any of `rooms` (once each) but those in
    /// `except`, in room order.
    fn targets(&self, rooms: &[&str], except: Option<&str>) -> Targets {
        let map = self.read();
        let lists: Vec<&Members> = rooms.iter().filter_map(|r| map.get(*r)).collect();
        let skip: HashSet<usize> = except
            .and_then(|r| map.get(r))
            .map(|m| m.iter().map(addr).collect())
            .unwrap_or_default();
        if lists.len() == 1 && skip.is_empty() {
            return Targets::Room(lists[0].clone());
        }
        let mut seen = HashSet::new();
        Targets::Picked(
            lists
                .into_iter()
                .flat_map(|l| l.iter())
                .filter(|c| !skip.contains(&addr(c)) && seen.insert(addr(c)))
                .cloned()
                .collect(),
        )
    }

    /// Sends `packet` to every socket in any of `rooms` (once each) but those in
    /// `except`; the number of sockets it went to.
    pub async fn broadcast(&self, rooms: &[&str], except: Option<&str>, packet: &Bytes) -> usize {
        let frame = frame::text(packet);
        let conns = self.targets(rooms, except);
        let mut sent = 0;
        let mut slice = std::time::Instant::now();
        for (i, conn) in conns.as_slice().iter().enumerate() {
            if conn.deliver(&[(packet, &frame)]).is_ok() {
                sent += 1;
            }
            pace(i, &mut slice).await;
        }
        sent
    }

    /// Sends several packets, each to its own targets, so that what one socket gets from
    /// the whole batch goes out in one write (in batch order); sockets reached per packet.
    pub async fn broadcast_many(&self, batch: &[Outgoing]) -> Vec<usize> {
        let frames: Vec<Bytes> = batch.iter().map(|o| frame::text(&o.packet)).collect();
        let mut per_conn: HashMap<usize, (Arc<Socket>, Vec<usize>)> = HashMap::new();
        let mut order = Vec::new();
        let mut reached = vec![0; batch.len()];
        for (i, o) in batch.iter().enumerate() {
            let rooms: Vec<&str> = o.rooms.iter().map(String::as_str).collect();
            for conn in self.targets(&rooms, o.except.as_deref()).as_slice() {
                reached[i] += 1;
                per_conn
                    .entry(addr(conn))
                    .or_insert_with(|| {
                        order.push(addr(conn));
                        (conn.clone(), Vec::new())
                    })
                    .1
                    .push(i);
            }
        }
        let mut slice = std::time::Instant::now();
        for (n, key) in order.iter().enumerate() {
            if let Some((conn, items)) = per_conn.get(key) {
                let items: Vec<(&Bytes, &Bytes)> = items
                    .iter()
                    .map(|&i| (&batch[i].packet, &frames[i]))
                    .collect();
                let _ = conn.deliver(&items);
            }
            pace(n, &mut slice).await;
        }
        reached
    }
}

/// A packet and whom it goes to, for `broadcast_many`.
pub struct Outgoing {
    pub rooms: Vec<String>,
    pub except: Option<String>,
    pub packet: Bytes,
}

/// The sockets a packet goes to: a room's own list, or a list made for it.
enum Targets {
    Room(Members),
    Picked(Vec<Arc<Socket>>),
}

impl Targets {
    fn as_slice(&self) -> &[Arc<Socket>] {
        match self {
            Targets::Room(m) => m,
            Targets::Picked(v) => v,
        }
    }
}

/// A socket's identity, by address (its list holds it alive meanwhile).
fn addr(c: &Arc<Socket>) -> usize {
    Arc::as_ptr(c) as usize
}
