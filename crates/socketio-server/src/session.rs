//! One Engine.IO session (one client connection, whatever its transport): what it sends
//! out, its heartbeat stamps, and the namespace sockets it holds.
//!
//! Writes on a WebSocket go straight to the socket from the task that sends (no task,
//! channel or wake-up per packet); only what the kernel does not take at once waits in
//! a queue (see `out`). On long-polling packets wait for the client's next GET.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use tokio::sync::Notify;

use super::heartbeat::Timers;
use super::out::{self, Out, MAX_QUEUED_PACKETS};
use super::socket::Socket;
use super::{binary, frame, jobs};

/// What the application kept of the handshake request (see `Config::handshake`).
pub type Handshake = Box<dyn Any + Send + Sync>;

pub(crate) struct Session {
    /// The Engine.IO `sid`: whoever knows it can post to and poll the session, so it is
    /// never shown to the application (sockets have ids of their own).
    pub id: Arc<str>,
    me: Weak<Session>,
    handshake: Handshake,
    closed: AtomicBool,
    pub out: Mutex<Out>,
    /// Wakes the waiting long-poll GET.
    pub wake: Notify,
    /// Wakes the WebSocket reader when the session must close.
    pub closing: Notify,
    /// When the session opened (server clock, ms).
    pub opened: u64,
    /// When the next ping is due, and the pong deadline (0 while no ping is out).
    pub ping_due: AtomicU64,
    pub pong_due: AtomicU64,
    /// The earliest check of this session the heartbeat has scheduled (`u64::MAX`: none).
    pub next_check: AtomicU64,
    /// A WebSocket is taking the session over; `probed`: it answered the probe.
    pub upgrading: AtomicBool,
    pub probed: AtomicBool,
    /// The client sent the close packet (a waiting poll answers with a noop).
    pub client_closed: AtomicBool,
    /// Until when a session the client closed is kept for its next poll (see
    /// `Server::closed_by_client`).
    pub linger_until: AtomicU64,
    /// A namespace accepted a socket of this session (the connect timeout is over).
    pub ever_connected: AtomicBool,
    /// Its namespace sockets: connected, or with their CONNECT waiting to run.
    pub sockets: Mutex<Vec<Arc<Socket>>>,
    /// Its place among its address's sessions not yet connected (see `Config::
    /// max_pending_per_address`), freed once a namespace accepts a socket.
    pub pending: Mutex<Option<super::limits::Pending>>,
    /// A binary packet waiting for its attachments.
    pub binary: Mutex<Option<binary::Partial>>,
    pub jobs: Mutex<jobs::Queue>,
    timers: Arc<Timers>,
    slow_closed: metrics::Counter,
    /// Most bytes of output left unsent (`Config::max_buffered_bytes`).
    pub max_buffered: usize,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a send did not go out.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    Closed,
}

impl Session {
    #[allow(clippy::too_many_arguments)] // all of them the engine's, given once
    pub fn new(
        id: Arc<str>,
        handshake: Handshake,
        out: Out,
        now_ms: u64,
        ping_ms: u64,
        timers: Arc<Timers>,
        slow_closed: metrics::Counter,
        max_buffered: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Session {
            id,
            me: me.clone(),
            handshake,
            closed: AtomicBool::new(false),
            out: Mutex::new(out),
            wake: Notify::new(),
            closing: Notify::new(),
            opened: now_ms,
            ping_due: AtomicU64::new(now_ms + ping_ms),
            pong_due: AtomicU64::new(0),
            next_check: AtomicU64::new(u64::MAX),
            upgrading: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            client_closed: AtomicBool::new(false),
            linger_until: AtomicU64::new(0),
            ever_connected: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
            pending: Mutex::new(None),
            binary: Mutex::new(None),
            jobs: Mutex::new(Default::default()),
            timers,
            slow_closed,
            max_buffered,
        })
    }

    pub fn handshake(&self) -> &(dyn Any + Send + Sync) {
        &*self.handshake
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the session closed; false if it already was.
    pub fn mark_closed(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// Asks the heartbeat to look at this session at `at_ms` (server clock).
    pub fn check_at(&self, at_ms: u64) {
        self.timers.schedule(&self.me, &self.next_check, at_ms);
    }

    /// The socket of namespace `nsp`, if the client sent a CONNECT for it.
    pub fn socket(&self, nsp: &str) -> Option<Arc<Socket>> {
        lock(&self.sockets)
            .iter()
            .find(|s| s.namespace() == nsp)
            .cloned()
    }

    /// Sends Engine.IO packets, each with its WebSocket frame: a broadcast encodes both
    /// once for every socket, and what one socket gets from a batch goes out in one write.
    pub fn send_many(&self, items: &[(&Bytes, &Bytes)]) -> Result<(), SendError> {
        let mut out = lock(&self.out);
        match &mut *out {
            Out::Closed => Err(SendError::Closed),
            Out::Polling { queue, queued, .. } => {
                let bytes: usize = items.iter().map(|(p, _)| p.len()).sum();
                if queue.len() + items.len() > MAX_QUEUED_PACKETS
                    || *queued + bytes > self.max_buffered
                {
                    return self.too_slow(out);
                }
                *queued += bytes;
                queue.extend(items.iter().map(|(p, _)| (*p).clone()));
                drop(out);
                self.wake.notify_one();
                Ok(())
            }
            Out::Ws { .. } => self.write(out, items.iter().map(|(_, f)| *f)),
        }
    }

    /// Sends one Engine.IO packet.
    pub fn send(&self, packet: &Bytes) -> Result<(), SendError> {
        self.send_many(&[(packet, &frame::text(packet))])
    }

    /// Sends a packet and the binary attachments that belong to it, with nothing in
    /// between (a broadcast racing it would cut the packet from its attachments).
    pub fn send_binary(&self, packet: &Bytes, attachments: &[Bytes]) -> Result<(), SendError> {
        if attachments.is_empty() {
            return self.send(packet);
        }
        let mut out = lock(&self.out);
        match &mut *out {
            Out::Closed => Err(SendError::Closed),
            Out::Polling { queue, queued, .. } => {
                let encoded: Vec<Bytes> =
                    attachments.iter().map(|a| out::polling_binary(a)).collect();
                let bytes = packet.len() + encoded.iter().map(Bytes::len).sum::<usize>();
                if queue.len() + 1 + attachments.len() > MAX_QUEUED_PACKETS
                    || *queued + bytes > self.max_buffered
                {
                    return self.too_slow(out);
                }
                *queued += bytes;
                queue.push(packet.clone());
                queue.extend(encoded);
                drop(out);
                self.wake.notify_one();
                Ok(())
            }
            Out::Ws { .. } => {
                let mut frames = vec![frame::text(packet)];
                frames.extend(
                    attachments
                        .iter()
                        .map(|a| frame::encode(frame::OP_BINARY, a)),
                );
                self.write(out, frames.iter())
            }
        }
    }

    /// Sends a raw WebSocket frame (control frames; ignored on polling).
    pub fn send_frame(&self, f: Bytes) -> Result<(), SendError> {
        let out = lock(&self.out);
        match &*out {
            Out::Ws { .. } => self.write(out, std::iter::once(&f)),
            Out::Closed => Err(SendError::Closed),
            Out::Polling { .. } => Ok(()),
        }
    }

    /// Writes WebSocket frames (see `out::write_frames`); a failure closes the output.
    pub fn write<'f>(
        &self,
        mut out: MutexGuard<'_, Out>,
        frames: impl Iterator<Item = &'f Bytes> + Clone,
    ) -> Result<(), SendError> {
        match out::write_frames(&mut out, frames, self.max_buffered) {
            Ok(None) => Ok(()),
            Ok(Some(stream)) => {
                drop(out);
                tokio::spawn(out::drain(self.me.clone(), stream));
                Ok(())
            }
            Err(out::Failed::TooSlow) => self.too_slow(out),
            Err(out::Failed::Broken) => self.fail(out),
        }
    }

    /// The output is gone: the reader (or, on long-polling, the heartbeat at once)
    /// closes the session.
    pub fn fail(&self, mut out: MutexGuard<'_, Out>) -> Result<(), SendError> {
        out::end(&mut out, None);
        drop(out);
        self.wake.notify_one();
        self.closing.notify_one();
        self.check_at(0);
        Err(SendError::Closed)
    }

    /// The client reads slower than it is sent to: its output is closed (it reconnects
    /// and catches up) rather than buffered without bound.
    pub fn too_slow(&self, out: MutexGuard<'_, Out>) -> Result<(), SendError> {
        self.slow_closed.increment(1);
        self.fail(out)
    }

    /// Whether the output is gone (the session is closing).
    pub fn out_closed(&self) -> bool {
        matches!(*lock(&self.out), Out::Closed)
    }
}
