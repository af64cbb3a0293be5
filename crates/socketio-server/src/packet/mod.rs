//! Engine.IO v4 and Socket.IO v5 packets as text: what a client sends, parsed (`parse`);
//! what the server sends, encoded (here).
//!
//! Engine.IO: `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop.
//! Socket.IO inside a message: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]` with
//! types `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR,
//! `5` BINARY_EVENT, `6` BINARY_ACK. A binary packet is followed by its attachments, each
//! a binary message of its own, which its JSON points to with `{"_placeholder":true,"num":i}`.

mod args;
mod parse;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::io::Write as _;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

pub use args::Args;
pub use parse::{parse, Engine, Packet, Payload, MAX_ATTACHMENTS};

/// Socket.IO packet types the server writes.
pub(crate) const EVENT: u8 = b'2';
pub(crate) const ACK: u8 = b'3';

/// The start of a Socket.IO packet inside an Engine.IO message: `4<type>[n-][nsp,][id]`.
/// `kind` is `EVENT` or `ACK`; with attachments it becomes the binary type.
pub(crate) fn header(out: &mut Vec<u8>, kind: u8, attachments: usize, nsp: &str, id: Option<u64>) {
    out.push(b'4');
    if attachments > 0 {
        out.push(kind + 3);
        let _ = write!(out, "{attachments}-");
    } else {
        out.push(kind);
    }
    if nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

/// `42["name",data]`: an event on `/` as the Engine.IO message text.
pub fn event<T: Serialize + ?Sized>(name: &str, data: &T) -> Bytes {
    event_in("/", name, data)
}

/// `42/nsp,["name",data]`: an event on namespace `nsp`.
pub fn event_in<T: Serialize + ?Sized>(nsp: &str, name: &str, data: &T) -> Bytes {
    let mut out = Vec::with_capacity(64 + nsp.len());
    header(&mut out, EVENT, 0, nsp, None);
    out.push(b'[');
    // Names are usually the server's own constants; serialising escapes them anyway.
    let _ = serde_json::to_writer(&mut out, name);
    out.push(b',');
    let mark = out.len();
    if serde_json::to_writer(&mut out, data).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
    out.push(b']');
    Bytes::from(out)
}

/// An event with any arguments on namespace `nsp`: the packet's text (`45<n>-…` when
/// `args` carries attachments, which are sent after it as binary messages).
pub fn event_args(nsp: &str, name: &str, args: &Args) -> Bytes {
    let mut out = Vec::with_capacity(64 + nsp.len());
    header(&mut out, EVENT, args.attachments().len(), nsp, None);
    out.push(b'[');
    let _ = serde_json::to_writer(&mut out, name);
    if !args.is_empty() {
        out.push(b',');
        args.write(&mut out);
    }
    out.push(b']');
    Bytes::from(out)
}

/// `43<id>[args]` (or `46<n>-<id>[…]`): the answer to an event's ack.
pub fn ack(nsp: &str, id: u64, args: &Args) -> Bytes {
    let mut out = Vec::with_capacity(32 + nsp.len());
    header(&mut out, ACK, args.attachments().len(), nsp, Some(id));
    out.push(b'[');
    args.write(&mut out);
    out.push(b']');
    Bytes::from(out)
}

fn nsp_prefix(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    }
}

/// `40[/nsp,]{"sid":…}`: the namespace accepted the connection; `sid` is the socket's id.
pub fn connected(nsp: &str, sid: &str) -> Bytes {
    let body = serde_json::json!({ "sid": sid });
    Bytes::from(format!("40{}{body}", nsp_prefix(nsp)))
}

/// `44[/nsp,]{…}`: the namespace refused the connection with this body.
pub fn connect_error(nsp: &str, body: &Value) -> Bytes {
    Bytes::from(format!("44{}{body}", nsp_prefix(nsp)))
}

/// `41[/nsp,]`: the server disconnected the socket from the namespace.
pub fn disconnect(nsp: &str) -> Bytes {
    Bytes::from(format!("41{}", nsp_prefix(nsp)))
}

/// The Engine.IO open packet.
pub fn open(
    sid: &str,
    upgrades: bool,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    max_payload: u64,
) -> Bytes {
    let upgrades: &[&str] = if upgrades { &["websocket"] } else { &[] };
    Bytes::from(format!(
        "0{}",
        serde_json::json!({
            "sid": sid, "upgrades": upgrades, "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms, "maxPayload": max_payload,
        })
    ))
}
