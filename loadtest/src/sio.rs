//! A minimal Socket.IO v4 client over WebSocket (Engine.IO 4 framing): connect with a
//! token, answer pings, emit (with or without ack), and hand each received event to the
//! socket's own handler, on the socket's task (no channel or task hop per event).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

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
        let stream = sock
            .connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        // Small buffers: one process holds tens of thousands of these.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .map_err(|e| format!("websocket: {e}"))?;
        // Engine.IO open packet, then the namespace CONNECT with the token.
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => {}
            other => return Err(format!("no Engine.IO open packet: {other:?}")),
        }
        let auth = serde_json::json!({ "token": token });
        ws.send(Message::Text(format!("40{auth}").into()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with("40") => break,
                Some(Ok(Message::Text(t))) if t.starts_with("44") => {
                    return Err(format!("refused: {t}"))
                }
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    ws.send(Message::Text("3".into()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Some(Ok(_)) => {}
                other => return Err(format!("closed during connect: {other:?}")),
            }
        }
        events.on_open();
        let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
        tokio::spawn(async move {
            let mut acks: HashMap<u64, oneshot::Sender<Value>> = HashMap::new();
            let mut next_id = 0u64;
            loop {
                tokio::select! {
                    out = rx.recv() => match out {
                        Some(Out::Emit(name, data, ack)) => {
                            let body = serde_json::json!([name, data]);
                            let frame = match ack {
                                Some(a) => {
                                    next_id += 1;
                                    acks.insert(next_id, a);
                                    format!("42{next_id}{body}")
                                }
                                None => format!("42{body}"),
                            };
                            if ws.send(Message::Text(frame.into())).await.is_err() {
                                break;
                            }
                        }
                        Some(Out::Close) | None => {
                            let _ = ws.close(None).await;
                            break;
                        }
                    },
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Text(t))) => {
                            let t = t.as_str();
                            if t == "2" {
                                if ws.send(Message::Text("3".into())).await.is_err() {
                                    break;
                                }
                            } else if let Some(rest) = t.strip_prefix("42") {
                                events.on_event(rest);
                            } else if let Some(rest) = t.strip_prefix("43") {
                                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                                let id: u64 = rest[..digits].parse().unwrap_or(0);
                                if let (Some(a), Ok(Value::Array(mut v))) =
                                    (acks.remove(&id), serde_json::from_str::<Value>(&rest[digits..]))
                                {
                                    let _ = a.send(if v.is_empty() { Value::Null } else { v.remove(0) });
                                }
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
        });
        Ok(Socket { tx })
    }

    /// Emits and waits for the ack (`None` if the socket closed first).
    pub async fn emit_ack(&self, name: &str, data: Value) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Out::Emit(name.into(), data, Some(tx))).ok()?;
        rx.await.ok()
    }

    pub fn close(&self) {
        let _ = self.tx.send(Out::Close);
    }
}
