//! What a socket asked for, run one at a time in the order it sent it: the namespace
//! CONNECT first, then each event, answering acks. The reader only queues, so it keeps
//! reading (pongs, close) while a slow handler runs.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::conn::{lock, Conn};
use super::packet::{self, Payload};
use super::Server;

/// At most this many requests may wait per socket; beyond it an event is refused.
pub const MAX_QUEUED: usize = 256;
/// And at most this much of their text (one request of any allowed size always fits):
/// a client streaming large events at a slow handler cannot pile up memory.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// What the application does with a socket.
pub trait Handler: Send + Sync + 'static {
    /// A CONNECT to `/` with its auth payload: `Ok` accepts the socket, `Err(body)`
    /// refuses it with that `connect_error` body.
    fn connect(
        &self,
        conn: Arc<Conn>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>>;
    /// An event of a connected socket; the value answers its ack, if it asked for one.
    fn event(&self, conn: Arc<Conn>, name: String, payload: Payload) -> BoxFuture<'static, Value>;
    /// The ack of an event refused because too many wait before it.
    fn busy(&self) -> Value;
    /// A connected socket closed; `rooms` are the rooms it was in.
    fn disconnect(&self, conn: Arc<Conn>, rooms: Vec<Arc<str>>);
}

pub enum Job {
    Connect(Option<Value>),
    Event {
        name: String,
        payload: Payload,
        ack: Option<u64>,
    },
}

#[derive(Default)]
pub struct Queue {
    /// Each job with the size of the text it came in.
    jobs: VecDeque<(Job, usize)>,
    bytes: usize,
    running: bool,
}

/// Queues a job (`size`: the bytes of its packet); starts the socket's runner if none is
/// running.
pub fn push(server: &Server, conn: &Arc<Conn>, job: Job, size: usize) {
    let mut q = lock(&conn.jobs);
    let too_big = !q.jobs.is_empty() && q.bytes + size > MAX_QUEUED_BYTES;
    if q.jobs.len() >= MAX_QUEUED || too_big {
        drop(q);
        server.inner.metrics.refused_queue_full.increment(1);
        if let (Job::Event { ack: Some(id), .. }, Some(h)) = (&job, server.handler()) {
            let _ = conn.send(&packet::ack(*id, &h.busy()));
        }
        return;
    }
    q.jobs.push_back((job, size));
    q.bytes += size;
    if !q.running {
        q.running = true;
        tokio::spawn(run(server.clone(), conn.clone()));
    }
}

/// Lets another runner start if a handler panics (tokio catches the panic; without this
/// the socket would answer `busy` to everything from then on).
struct Unwedge<'a>(&'a Conn);

impl Drop for Unwedge<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.jobs).running = false;
        }
    }
}

async fn run(server: Server, conn: Arc<Conn>) {
    let Some(handler) = server.handler() else {
        lock(&conn.jobs).running = false;
        return;
    };
    let _unwedge = Unwedge(&conn);
    loop {
        let job = {
            let mut q = lock(&conn.jobs);
            match q.jobs.pop_front() {
                Some((j, size)) => {
                    q.bytes -= size;
                    j
                }
                None => {
                    q.running = false;
                    return;
                }
            }
        };
        if conn.is_closed() {
            continue;
        }
        match job {
            Job::Connect(auth) => {
                if conn.connected() {
                    continue;
                }
                match handler.connect(conn.clone(), auth).await {
                    Ok(()) if server.mark_connected(&conn) => {
                        let _ = conn.send(&packet::connected(&conn.id));
                    }
                    Ok(()) => {
                        // Closed while connecting: the handler's work is undone.
                        handler.disconnect(conn.clone(), Vec::new());
                    }
                    Err(body) => {
                        let _ = conn.send(&packet::connect_error("/", &body));
                    }
                }
            }
            Job::Event { name, payload, ack } => {
                if !conn.connected() {
                    continue;
                }
                let reply = handler.event(conn.clone(), name, payload).await;
                if let Some(id) = ack {
                    let _ = conn.send(&packet::ack(id, &reply));
                }
            }
        }
    }
}
