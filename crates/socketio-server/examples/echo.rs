//! The reference server of the official socket.io-protocol test suite (its Readme, "Test
//! suite"): pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, connectTimeout
//! 1 s; on `/` and `/custom` each socket is sent `auth` (its CONNECT payload) once
//! connected; on `/`, `message` comes back as `message-back` with all its arguments
//! (binary attachments included) and `message-with-ack` is acked with all of them.
//!
//! `PORT=3000 cargo run -p socketio-server --example echo` (`PORT=0`: any free port; the
//! port taken is printed as `echo listening on <addr>`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use socketio_server::{Args, Config, Event, Handler, Server, Socket};

/// How long after the CONNECT answer `auth` is sent (see `Echo::connected`).
const AUTH_DELAY: Duration = Duration::from_millis(30);

/// The socket's CONNECT payload, kept until it is sent as `auth`.
struct Auth(Mutex<Option<Value>>);

struct Echo {
    /// Whether `message` and `message-with-ack` are answered (on `/` only).
    echoes: bool,
}

/// All the event's arguments, as they came (binary attachments included).
fn all_args(event: &Event) -> Args {
    match event.args() {
        Ok(args) => Args::raw(&args).with_attachments(event.attachments().to_vec()),
        Err(_) => Args::none(),
    }
}

impl Handler for Echo {
    fn connect(
        &self,
        socket: Arc<Socket>,
        auth: Option<Value>,
    ) -> BoxFuture<'static, Result<(), Value>> {
        // Socket.IO's `socket.handshake.auth` is `{}` when the client sent none.
        socket.set_data(Arc::new(Auth(Mutex::new(Some(
            auth.unwrap_or_else(|| json!({})),
        )))));
        Box::pin(async { Ok(()) })
    }

    fn connected(&self, socket: Arc<Socket>) {
        let auth = socket.data::<Auth>().and_then(|a| a.0.lock().ok()?.take());
        // The suite's client listens for one message at a time, and its `ws` (8.5)
        // hands every message of one read over at once: `auth` written right behind the
        // CONNECT answer would reach it in the same read and be missed. Node's server
        // writes it an event-loop turn later; a few milliseconds more keep the two
        // apart on a loaded machine too.
        tokio::spawn(async move {
            tokio::time::sleep(AUTH_DELAY).await;
            let _ = socket.emit("auth", &auth.unwrap_or(Value::Null));
        });
    }

    fn event(&self, socket: Arc<Socket>, event: Event) -> BoxFuture<'static, Args> {
        let reply = match event.name.as_str() {
            "message" if self.echoes => {
                let _ = socket.emit_args("message-back", &all_args(&event));
                Args::none()
            }
            "message-with-ack" if self.echoes => all_args(&event),
            _ => Args::none(),
        };
        Box::pin(async move { reply })
    }

    fn busy(&self) -> Value {
        Value::Null
    }

    fn disconnect(&self, _: Arc<Socket>, _: Vec<Arc<str>>) {}
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let io = Server::new(Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(1000),
        max_payload: 1_000_000,
        handshake: |_| Box::new(()),
        max_buffered_bytes: socketio_server::DEFAULT_MAX_BUFFERED_BYTES,
        max_pending_per_address: 0,
        metrics_prefix: "echo".into(),
    });
    io.set_handler(Arc::new(Echo { echoes: true }));
    io.namespace("/custom", Arc::new(Echo { echoes: false }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("echo listening on {}", listener.local_addr().expect("addr"));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    socketio_server::serve(listener, io.router(axum::Router::new()), stopped).await;
}
