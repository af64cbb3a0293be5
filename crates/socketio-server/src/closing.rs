//! Ending a WebSocket connection: the close frame (an answer to the client's, or a
//! protocol error's code), then the TCP connection, without losing that frame to a reset.

use std::sync::Arc;

use tokio::net::TcpStream;

use super::out;
use super::session::{lock, Session};
use super::Server;

/// How long a closed socket keeps reading (and dropping) what the client still sends,
/// waiting for it to close its side.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Ends a TCP connection whose close frame went out (RFC 6455 §7.1.1: the server closes
/// first): our side at once (FIN), then what the client still sends (its close reply, or
/// frames it sent before it saw ours) is read and dropped until it closes its side, for
/// at most `LINGER`. Closing with unread bytes would make the kernel reset the
/// connection, which can destroy the close frame before the client reads it.
pub(super) async fn linger(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    let deadline = tokio::time::sleep(LINGER);
    tokio::pin!(deadline);
    // Allocated only now: idle sockets keep no buffer.
    let mut sink = vec![0u8; 4096];
    loop {
        tokio::select! {
            r = stream.readable() => if r.is_err() { return },
            _ = &mut deadline => return,
        }
        match stream.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Sends the close frame that ends the socket (an answer to the client's, or the code
/// of a protocol error) and closes the session, unless it is not ours yet.
pub(super) fn end_with(
    server: &Server,
    session: &Arc<Session>,
    stream: &TcpStream,
    upgrading: bool,
    close: &[u8],
) {
    if upgrading {
        let _ = stream.try_write(close);
    } else {
        out::end(&mut lock(&session.out), Some(close));
        server.close(session);
    }
}
