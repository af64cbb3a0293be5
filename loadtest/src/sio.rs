//! A minimal Socket.IO v4 client over WebSocket (Engine.IO 4 framing): connect with a
//! token, answer pings, emit (with or without ack), and hand each received event to the
//! socket's own handler, on the socket's task (no channel or task hop per event).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, BytesMut};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::ws;

/// A received server→client event.
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// What a socket does with each server→client event, called on the socket's task with
/// the packet after `42`: `["name",data]`.
pub trait OnEvent: Send + 'static {
    fn on_event(&mut self, packet: &str);
    /// The socket is connected (the namespace accepted it).
    fn on_open(&mut self) {}
}

/// Events are not looked at.
pub struct Ignore;

impl OnEvent for Ignore {
    fn on_event(&mut self, _: &str) {}
}

/// Every event, parsed, to a channel.
impl OnEvent for mpsc::UnboundedSender<Event> {
    fn on_event(&mut self, packet: &str) {
        if let Ok(Value::Array(mut v)) = serde_json::from_str::<Value>(packet) {
            if v.len() >= 2 {
                let data = v.remove(1);
                if let Value::String(name) = v.remove(0) {
                    let _ = self.send(Event { name, data });
                }
            }
        }
    }
}

enum Out {
    Emit(String, Value, Option<oneshot::Sender<Value>>),
    Close,
}

/// Handle to one connected socket.
#[derive(Clone)]
pub struct Socket {
    tx: mpsc::UnboundedSender<Out>,
}

impl Socket {
    /// Connects to `addr` (host:port of the Socket.IO endpoint) from `local` (a 127.0.0.x
    /// source address, so one machine can open more than 64k connections).
    pub async fn connect(
        addr: SocketAddr,
        local: Option<IpAddr>,
        token: &str,
        events: impl OnEvent,
    ) -> Result<Socket, String> {
        let auth = serde_json::json!({ "token": token });
        Self::connect_auth(addr, local, auth, events).await
    }

    /// As `connect`, with the whole `auth` object of the namespace CONNECT.
    pub async fn connect_auth(
        addr: SocketAddr,
        local: Option<IpAddr>,
        auth: Value,
        mut events: impl OnEvent,
    ) -> Result<Socket, String> {
        let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        if let Some(ip) = local {
            // The port is chosen at connect, per destination: binding port 0 would make
            // the kernel search for a port free on this address, slowly, for every socket.
            let on: libc::c_int = 1;
            // SAFETY: a valid socket and a c_int option value of the right size.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&sock),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| format!("bind {ip}: {e}"))?;
        }
        let mut stream = sock
            .connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let path = "/socket.io/?EIO=4&transport=websocket";
        let mut buf = ws::handshake(&mut stream, &addr.to_string(), path).await?;
        // Engine.IO open packet, then the namespace CONNECT with the token.
        let open = next_text(&mut stream, &mut buf).await?;
        if !open.starts_with('0') {
            return Err(format!("no Engine.IO open packet: {open}"));
        }
        send_text(&mut stream, &format!("40{auth}")).await?;
        loop {
            let t = next_text(&mut stream, &mut buf).await?;
            if t.starts_with("40") {
                break;
            } else if t.starts_with("44") {
                return Err(format!("refused: {t}"));
            } else if t == "2" {
                send_text(&mut stream, "3").await?;
            }
        }
        events.on_open();
        let (tx, rx) = mpsc::unbounded_channel::<Out>();
        tokio::spawn(run(stream, buf, rx, events));
        Ok(Socket { tx })
    }

    /// Emits and waits for the ack (`None` if the socket closed first).
    pub async fn emit_ack(&self, name: &str, data: Value) -> Option<Value> {
        self.emit_now(name, data).await.ok()
    }

    /// Queues the emit at once, so emits of one caller go out in the order of calls
    /// (an `emit_ack` future queues only when first polled); the ack comes later (an
    /// error if the socket closed first).
    pub fn emit_now(&self, name: &str, data: Value) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Out::Emit(name.into(), data, Some(tx)));
        rx
    }

    pub fn close(&self) {
        let _ = self.tx.send(Out::Close);
    }
}

async fn send_text(stream: &mut TcpStream, text: &str) -> Result<(), String> {
    stream
        .write_all(&ws::client_frame(ws::TEXT, text.as_bytes()))
        .await
        .map_err(|e| e.to_string())
}

/// The next text message (during the connect, where speed does not matter).
async fn next_text(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some((f, n)) = ws::parse(buf) {
            let text =
                (f.opcode == ws::TEXT).then(|| String::from_utf8_lossy(f.payload).to_string());
            buf.advance(n);
            match text {
                Some(t) => return Ok(t),
                None => continue,
            }
        }
        if stream.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed during connect".into());
        }
    }
}

/// The socket's task: what the scenario emits goes out; each frame that comes in is
/// handled in place in the read buffer.
async fn run(
    mut stream: TcpStream,
    mut buf: BytesMut,
    mut rx: mpsc::UnboundedReceiver<Out>,
    mut events: impl OnEvent,
) {
    let mut acks: HashMap<u64, oneshot::Sender<Value>> = HashMap::new();
    let mut next_id = 0u64;
    let mut reply = Vec::new();
    loop {
        let mut used = 0;
        while let Some((f, n)) = ws::parse(&buf[used..]) {
            used += n;
            if f.opcode == ws::CLOSE {
                return;
            }
            let Ok(t) = std::str::from_utf8(f.payload) else {
                continue;
            };
            if t == "2" {
                reply.extend_from_slice(&ws::client_frame(ws::TEXT, b"3"));
            } else if let Some(rest) = t.strip_prefix("42") {
                events.on_event(rest);
            } else if let Some(rest) = t.strip_prefix("43") {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let id: u64 = rest[..digits].parse().unwrap_or(0);
                if let (Some(a), Ok(Value::Array(mut v))) = (
                    acks.remove(&id),
                    serde_json::from_str::<Value>(&rest[digits..]),
                ) {
                    let _ = a.send(if v.is_empty() {
                        Value::Null
                    } else {
                        v.remove(0)
                    });
                }
            }
        }
        buf.advance(used);
        if !reply.is_empty() {
            if stream.write_all(&reply).await.is_err() {
                return;
            }
            reply.clear();
        }
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Emit(name, data, ack)) => {
                    let body = serde_json::json!([name, data]);
                    let text = match ack {
                        Some(a) => {
                            next_id += 1;
                            acks.insert(next_id, a);
                            format!("42{next_id}{body}")
                        }
                        None => format!("42{body}"),
                    };
                    if send_text(&mut stream, &text).await.is_err() {
                        return;
                    }
                }
                Some(Out::Close) | None => {
                    let _ = stream.write_all(&ws::client_frame(ws::CLOSE, b"")).await;
                    return;
                }
            },
            r = stream.readable() => {
                if r.is_err() {
                    return;
                }
                buf.reserve(4096);
                match stream.try_read_buf(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }
}
