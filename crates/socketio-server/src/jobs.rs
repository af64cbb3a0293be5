//! What a session's sockets asked for, run one at a time in the order the client sent
//! it: a namespace CONNECT, then each event (answering acks), a DISCONNECT. The reader
//! only queues, so it keeps reading (pongs, close) while a slow handler runs.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::event::Event;
use super::packet::{self, Args};
use super::session::{lock, Session};
use super::socket::Socket;
use super::Server;

/// At most this many requests may wait per session; beyond it an event is refused.
pub const MAX_QUEUED: usize = 256;
/// And at most this many bytes of them (one request of any allowed size always fits):
/// a client streaming large events at a slow handler cannot pile up memory.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// What the application does with the sockets of a namespace.
pub trait Handler: Send + Sync + 'static {
    /// A CONNECT with its auth payload: `Ok` accepts the socket, `Err(body)` refuses it
    /// with that `connect_error` body.
    fn connect(
        &self,
        socket: Arc<Socket>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>>;
    /// The client has been told the socket is connected (what is sent from here on
    /// follows the CONNECT answer).
    fn connected(&self, _socket: Arc<Socket>) {}
    /// An event of a connected socket; the arguments answer its ack, if it asked for one.
    fn event(&self, socket: Arc<Socket>, event: Event) -> BoxFuture<'static, Args>;
    /// The ack of an event refused because too many wait before it (and the body of a
    /// CONNECT refused for the same reason).
    fn busy(&self) -> Value;
    /// A connected socket closed; `rooms` are the rooms it was in.
    fn disconnect(&self, socket: Arc<Socket>, rooms: Vec<Arc<str>>);
}

pub enum Job {
    Connect(Arc<Socket>, Option<Value>),
    Event(Arc<Socket>, Event),
    Disconnect(Arc<Socket>),
}

#[derive(Default)]
pub struct Queue {
    /// Each job with the bytes it holds.
    jobs: VecDeque<(Job, usize)>,
    bytes: usize,
    running: bool,
}

/// Queues a job (`size`: the bytes it holds); starts the session's runner if none is
/// running. A disconnect always fits: each follows a CONNECT that did.
pub fn push(server: &Server, session: &Arc<Session>, job: Job, size: usize) {
    let mut q = lock(&session.jobs);
    let too_big = !q.jobs.is_empty() && q.bytes + size > MAX_QUEUED_BYTES;
    let bounded = !matches!(job, Job::Disconnect(_));
    if bounded && (q.jobs.len() >= MAX_QUEUED || too_big) {
        drop(q);
        server.inner.metrics.refused_queue_full.increment(1);
        refuse(job);
        return;
    }
    q.jobs.push_back((job, size));
    q.bytes += size;
    if !q.running {
        q.running = true;
        tokio::spawn(run(session.clone()));
    }
}

fn refuse(job: Job) {
    match job {
        Job::Event(socket, event) => {
            if let (Some(id), Some(h)) = (event.ack_id(), socket.nsp.handler()) {
                let ack = packet::ack(socket.namespace(), id, &h.busy().into());
                let _ = socket.send(&ack);
            }
        }
        Job::Connect(socket, _) => {
            if let Some(h) = socket.nsp.handler() {
                let _ = socket.send(&packet::connect_error(socket.namespace(), &h.busy()));
            }
            socket.close();
        }
        Job::Disconnect(_) => {}
    }
}

/// Lets another runner start if a handler panics (tokio catches the panic; without this
/// the session would answer `busy` to everything from then on).
struct Unwedge<'a>(&'a Session);

impl Drop for Unwedge<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.jobs).running = false;
        }
    }
}

async fn run(session: Arc<Session>) {
    let _unwedge = Unwedge(&session);
    loop {
        let job = {
            let mut q = lock(&session.jobs);
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
        match job {
            Job::Connect(socket, auth) => connect(&session, socket, auth).await,
            Job::Event(socket, event) => {
                let Some(h) = socket.nsp.handler().filter(|_| socket.connected()).cloned() else {
                    continue;
                };
                let (nsp, ack) = (socket.namespace().to_string(), event.ack_id());
                let reply = h.event(socket.clone(), event).await;
                if let Some(id) = ack {
                    let _ = socket
                        .session
                        .send_binary(&packet::ack(&nsp, id, &reply), reply.attachments());
                }
            }
            Job::Disconnect(socket) => socket.close(),
        }
    }
}

async fn connect(session: &Session, socket: Arc<Socket>, auth: Option<Value>) {
    let Some(h) = socket
        .nsp
        .handler()
        .filter(|_| !socket.is_closed())
        .cloned()
    else {
        return;
    };
    let nsp = socket.namespace().to_string();
    match h.connect(socket.clone(), auth).await {
        Ok(()) if socket.mark_connected() => {
            socket.nsp.joined();
            session
                .ever_connected
                .store(true, std::sync::atomic::Ordering::Release);
            *crate::session::lock(&session.pending) = None;
            let _ = socket.send(&packet::connected(&nsp, socket.id()));
            h.connected(socket);
        }
        Ok(()) => {
            // Closed while connecting: the handler's work is undone.
            h.disconnect(socket, Vec::new());
        }
        Err(body) => {
            let _ = socket.send(&packet::connect_error(&nsp, &body));
            socket.close();
        }
    }
}
