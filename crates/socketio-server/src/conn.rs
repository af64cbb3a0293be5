//! One client connection (an Engine.IO session and its Socket.IO socket on `/`): what it
//! sends out, and the state a few atomics can hold.
//!
//! Writes on a WebSocket go straight to the socket from the task that sends (no task,
//! channel or wake-up per packet); only what the kernel does not take at once waits in
//! a queue, drained by a task that waits for the socket to be writable. On long-polling
//! packets wait for the client's next GET.

use std::any::Any;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::frame;

/// A socket whose unsent output grows past this reads too slowly to keep up: it is
/// closed (its client reconnects and catches up) rather than buffered without bound.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// The same bound for a long-polling client that stopped polling.
pub const MAX_QUEUED_PACKETS: usize = 4096;
/// Frames handed to one `writev`.
const MAX_SLICES: usize = 64;

/// Engine-level state.
const OPEN: u8 = 0;
/// The namespace accepted the socket.
const CONNECTED: u8 = 1;
const CLOSED: u8 = 2;

/// What the application kept of the handshake request (see `Config::handshake`).
pub type Handshake = Box<dyn Any + Send + Sync>;

pub(super) enum Out {
    Polling {
        /// Engine.IO packets for the next GET.
        queue: Vec<Bytes>,
        /// A GET is waiting for them.
        waiting: bool,
    },
    Ws {
        stream: Arc<TcpStream>,
        /// Frames (or the rest of one) the kernel did not take yet.
        queue: VecDeque<Bytes>,
        queued: usize,
        /// A task is waiting to drain `queue`.
        flushing: bool,
    },
    Closed,
}

pub struct Conn {
    /// The session id (Engine.IO `sid`, also the Socket.IO socket id).
    pub id: Arc<str>,
    handshake: Handshake,
    state: AtomicU8,
    pub(super) out: Mutex<Out>,
    /// Wakes the waiting long-poll GET.
    pub(super) wake: Notify,
    /// Wakes the WebSocket reader when the socket must close.
    pub(super) closing: Notify,
    /// When the session opened (server clock, ms).
    pub(super) opened: u64,
    /// Milliseconds (server clock) when the next ping is due, and the pong deadline
    /// (0 while no ping is outstanding).
    pub(super) ping_due: AtomicU64,
    pub(super) pong_due: AtomicU64,
    /// Binary attachments still to skip (attachments are never meaningful here).
    pub(super) skip_binary: AtomicU64,
    pub(super) upgrading: AtomicBool,
    /// The rooms this socket is in.
    pub(super) rooms: Mutex<Vec<Arc<str>>>,
    pub(super) jobs: Mutex<super::jobs::Queue>,
    /// Broadcasts held back while a replay goes out (see `hold`), and whether any are.
    pub(super) held: Mutex<Option<Vec<(Bytes, Bytes)>>>,
    pub(super) holding: AtomicBool,
    data: OnceLock<Arc<dyn Any + Send + Sync>>,
    slow_closed: metrics::Counter,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a send did not go out.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    Closed,
}

impl Conn {
    pub(super) fn new(
        id: Arc<str>,
        handshake: Handshake,
        out: Out,
        now_ms: u64,
        ping_ms: u64,
        slow_closed: metrics::Counter,
    ) -> Self {
        Conn {
            id,
            handshake,
            state: AtomicU8::new(OPEN),
            out: Mutex::new(out),
            wake: Notify::new(),
            closing: Notify::new(),
            opened: now_ms,
            ping_due: AtomicU64::new(now_ms + ping_ms),
            pong_due: AtomicU64::new(0),
            skip_binary: AtomicU64::new(0),
            upgrading: AtomicBool::new(false),
            rooms: Mutex::new(Vec::new()),
            jobs: Mutex::new(Default::default()),
            held: Mutex::new(None),
            holding: AtomicBool::new(false),
            data: OnceLock::new(),
            slow_closed,
        }
    }

    /// What the application kept of the handshake request, if it is a `T`.
    pub fn handshake<T: Any>(&self) -> Option<&T> {
        self.handshake.downcast_ref()
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

    pub(super) fn mark_connected(&self) -> bool {
        self.state
            .compare_exchange(OPEN, CONNECTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks the socket closed: `None` if it was already, else whether it had been
    /// connected to the namespace.
    pub(super) fn mark_closed(&self) -> Option<bool> {
        match self.state.swap(CLOSED, Ordering::AcqRel) {
            CLOSED => None,
            was => Some(was == CONNECTED),
        }
    }

    /// The rooms this socket is in.
    pub fn rooms(&self) -> Vec<Arc<str>> {
        lock(&self.rooms).clone()
    }

    pub fn in_room(&self, room: &str) -> bool {
        lock(&self.rooms).iter().any(|r| &**r == room)
    }

    /// Sends Engine.IO packets (e.g. `42[…]`), each with its WebSocket frame: a
    /// broadcast encodes both once for every socket, and what one socket gets from a
    /// batch goes out in one write.
    pub(super) fn send_many(self: &Arc<Self>, items: &[(&Bytes, &Bytes)]) -> Result<(), SendError> {
        let mut out = lock(&self.out);
        match &mut *out {
            Out::Closed => Err(SendError::Closed),
            Out::Polling { queue, .. } => {
                if queue.len() + items.len() > MAX_QUEUED_PACKETS {
                    return self.too_slow(out);
                }
                queue.extend(items.iter().map(|(p, _)| (*p).clone()));
                drop(out);
                self.wake.notify_one();
                Ok(())
            }
            Out::Ws { .. } => self.write_frames(out, items.iter().map(|(_, f)| *f)),
        }
    }

    /// Sends one Engine.IO packet.
    pub fn send(self: &Arc<Self>, packet: &Bytes) -> Result<(), SendError> {
        self.send_many(&[(packet, &frame::text(packet))])
    }

    /// Sends a raw WebSocket frame (control frames; ignored on polling).
    pub(super) fn send_frame(self: &Arc<Self>, f: Bytes) -> Result<(), SendError> {
        let out = lock(&self.out);
        match &*out {
            Out::Ws { .. } => self.write_frames(out, std::iter::once(&f)),
            Out::Closed => Err(SendError::Closed),
            Out::Polling { .. } => Ok(()),
        }
    }

    /// Writes frames now if nothing waits before them, else queues them; a queue over
    /// the limit (or a broken socket) closes the output, and the reader closes the
    /// socket. Starts the drain task when something is left.
    pub(super) fn write_frames<'f>(
        self: &Arc<Self>,
        mut out: MutexGuard<'_, Out>,
        frames: impl Iterator<Item = &'f Bytes> + Clone,
    ) -> Result<(), SendError> {
        let Out::Ws {
            stream,
            queue,
            queued,
            flushing,
        } = &mut *out
        else {
            return Err(SendError::Closed);
        };
        let mut written = 0;
        if queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut k = 0;
            for f in frames.clone().take(MAX_SLICES) {
                slices[k] = IoSlice::new(f);
                k += 1;
            }
            match stream.try_write_vectored(&slices[..k]) {
                Ok(n) => written = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return self.fail(out),
            }
        }
        for f in frames {
            if written >= f.len() {
                written -= f.len();
                continue;
            }
            let rest = f.slice(written..);
            written = 0;
            *queued += rest.len();
            queue.push_back(rest);
        }
        if queue.is_empty() {
            return Ok(());
        }
        if *queued > MAX_QUEUED_BYTES {
            return self.too_slow(out);
        }
        if !*flushing {
            *flushing = true;
            tokio::spawn(drain(self.clone()));
        }
        Ok(())
    }

    /// The output is gone: the reader (or the heartbeat, for long-polling) closes the
    /// socket.
    fn fail(&self, mut out: MutexGuard<'_, Out>) -> Result<(), SendError> {
        end(&mut out, None);
        drop(out);
        self.wake.notify_one();
        self.closing.notify_one();
        Err(SendError::Closed)
    }

    /// The client reads slower than it is sent to: its output is closed (it reconnects
    /// and catches up) rather than buffered without bound.
    pub(super) fn too_slow(&self, out: MutexGuard<'_, Out>) -> Result<(), SendError> {
        self.slow_closed.increment(1);
        self.fail(out)
    }

    /// Whether the output is gone (the socket is closing).
    pub(super) fn out_closed(&self) -> bool {
        matches!(*lock(&self.out), Out::Closed)
    }
}

/// Ends an output. A WebSocket gets `close` (a close frame) unless a frame is half
/// written before it; one with output still queued is shut down, so the drain task,
/// waiting for a client that may never read again, wakes and lets the socket go.
pub(super) fn end(out: &mut Out, close: Option<&[u8]>) {
    if let Out::Ws { stream, queue, .. } = &*out {
        if !queue.is_empty() {
            let _ = socket2::SockRef::from(&**stream).shutdown(std::net::Shutdown::Both);
        } else if let Some(close) = close {
            let _ = stream.try_write(close);
        }
    }
    *out = Out::Closed;
}

/// Drains a WebSocket's queue as the socket becomes writable.
async fn drain(conn: Arc<Conn>) {
    loop {
        let stream = match &*lock(&conn.out) {
            Out::Ws { stream, .. } => stream.clone(),
            _ => return,
        };
        let ready = stream.writable().await;
        let mut out = lock(&conn.out);
        match ready.and_then(|()| write_queued(&mut out)) {
            Ok(false) => continue,
            Ok(true) => {
                if let Out::Ws { flushing, .. } = &mut *out {
                    *flushing = false;
                }
                return;
            }
            Err(_) => {
                let _ = conn.fail(out);
                return;
            }
        }
    }
}

/// Writes as much of the queue as the socket takes now; true once it is empty.
pub(super) fn write_queued(out: &mut Out) -> std::io::Result<bool> {
    match out {
        Out::Ws {
            stream,
            queue,
            queued,
            ..
        } => write_queued_ws(stream, queue, queued),
        _ => Ok(true),
    }
}

fn write_queued_ws(
    stream: &TcpStream,
    queue: &mut VecDeque<Bytes>,
    queued: &mut usize,
) -> std::io::Result<bool> {
    while !queue.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut k = 0;
        for b in queue.iter().take(MAX_SLICES) {
            slices[k] = IoSlice::new(b);
            k += 1;
        }
        let mut n = match stream.try_write_vectored(&slices[..k]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        };
        *queued -= n;
        while n > 0 {
            let Some(front) = queue.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                queue.pop_front();
            } else {
                let rest = front.slice(n..);
                *front = rest;
                n = 0;
            }
        }
    }
    Ok(true)
}
