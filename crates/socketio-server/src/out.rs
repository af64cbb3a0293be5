//! A session's output: packets waiting for the next long-poll GET, or a WebSocket written
//! straight from the sending task, with a queue (drained by a task that waits for the
//! socket to be writable) only for what the kernel did not take at once.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::{Arc, Weak};

use base64::Engine as _;
use bytes::Bytes;
use tokio::net::TcpStream;

use super::session::{lock, Session};

/// The default of `Config::max_buffered_bytes`: a session whose unsent output grows past
/// it reads (or polls) too slowly to keep up, and is closed (its client reconnects and
/// catches up) rather than buffered without bound.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 2 << 20;
/// A second bound, in packets, for a long-polling client that stopped polling.
pub const MAX_QUEUED_PACKETS: usize = 4096;
/// Frames handed to one `writev`.
const MAX_SLICES: usize = 64;

pub(crate) enum Out {
    Polling {
        /// Engine.IO packets for the next GET (binary ones as `b<base64>`).
        queue: Vec<Bytes>,
        /// Their bytes.
        queued: usize,
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

impl Out {
    pub fn polling() -> Out {
        Out::Polling {
            queue: Vec::new(),
            queued: 0,
            waiting: false,
        }
    }

    pub fn ws(stream: &Arc<TcpStream>) -> Out {
        Out::Ws {
            stream: stream.clone(),
            queue: Default::default(),
            queued: 0,
            flushing: false,
        }
    }
}

/// A binary message as a long-polling packet.
pub(crate) fn polling_binary(data: &[u8]) -> Bytes {
    let mut s = String::with_capacity(1 + data.len().div_ceil(3) * 4);
    s.push('b');
    base64::engine::general_purpose::STANDARD.encode_string(data, &mut s);
    Bytes::from(s)
}

pub(crate) enum Failed {
    TooSlow,
    Broken,
}

/// The packets waiting for a poll, taken (the byte count goes back to 0).
pub(crate) fn take_polling(queue: &mut Vec<Bytes>, queued: &mut usize) -> Vec<Bytes> {
    *queued = 0;
    std::mem::take(queue)
}

/// Writes frames now if nothing waits before them, else queues them; more than `max`
/// bytes left unsent fails with `TooSlow`. `Some(stream)`: something is left and no task
/// drains it yet (the caller starts one).
pub(crate) fn write_frames<'f>(
    out: &mut Out,
    frames: impl Iterator<Item = &'f Bytes> + Clone,
    max: usize,
) -> Result<Option<Arc<TcpStream>>, Failed> {
    let Out::Ws {
        stream,
        queue,
        queued,
        flushing,
    } = out
    else {
        return Err(Failed::Broken);
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
            Err(_) => return Err(Failed::Broken),
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
        return Ok(None);
    }
    if *queued > max {
        return Err(Failed::TooSlow);
    }
    if *flushing {
        return Ok(None);
    }
    *flushing = true;
    Ok(Some(stream.clone()))
}

/// Ends an output. A WebSocket gets `close` (a close frame) unless a frame is half
/// written before it; one with output still queued is shut down, so the drain task,
/// waiting for a client that may never read again, wakes and lets the socket go.
pub(crate) fn end(out: &mut Out, close: Option<&[u8]>) {
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
pub(crate) async fn drain(session: Weak<Session>, stream: Arc<TcpStream>) {
    loop {
        let ready = stream.writable().await;
        let Some(session) = session.upgrade() else {
            return;
        };
        let mut out = lock(&session.out);
        match ready.and_then(|()| write_queued(&mut out)) {
            Ok(false) => continue,
            Ok(true) => {
                if let Out::Ws { flushing, .. } = &mut *out {
                    *flushing = false;
                }
                return;
            }
            Err(_) => {
                let _ = session.fail(out);
                return;
            }
        }
    }
}

/// Writes as much of the queue as the socket takes now; true once it is empty (or the
/// output is no longer this WebSocket).
pub(crate) fn write_queued(out: &mut Out) -> std::io::Result<bool> {
    let Out::Ws {
        stream,
        queue,
        queued,
        ..
    } = out
    else {
        return Ok(true);
    };
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
                *front = front.slice(n..);
                n = 0;
            }
        }
    }
    Ok(true)
}
