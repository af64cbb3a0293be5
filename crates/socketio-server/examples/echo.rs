//! An echo server in the configuration the official socket.io-protocol test suite expects
//! (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, connectTimeout 1 s):
//! `message` comes back as `message-back`, `message-with-ack` is answered in its ack.
//!
//! `PORT=3000 cargo run -p socketio-server --example echo`

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use socketio_server::{Config, Conn, Handler, Payload, Server};

struct Echo {
    io: Server,
}

impl Handler for Echo {
    fn connect(&self, _: Arc<Conn>, _: Option<Value>) -> BoxFuture<'static, Result<(), Value>> {
        Box::pin(async { Ok(()) })
    }

    fn event(&self, conn: Arc<Conn>, name: String, payload: Payload) -> BoxFuture<'static, Value> {
        let io = self.io.clone();
        Box::pin(async move {
            let arg = match payload {
                Payload::Json(v) => v,
                _ => Value::Null,
            };
            if name == "message" {
                let _ = io.emit(&conn, "message-back", &arg);
            }
            arg
        })
    }

    fn busy(&self) -> Value {
        Value::Null
    }

    fn disconnect(&self, _: Arc<Conn>, _: Vec<Arc<str>>) {}
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
        metrics_prefix: "echo".into(),
    });
    io.set_handler(Arc::new(Echo { io: io.clone() }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("echo listening on {}", listener.local_addr().expect("addr"));
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    socketio_server::serve(listener, io.router(axum::Router::new()), stopped).await;
}
