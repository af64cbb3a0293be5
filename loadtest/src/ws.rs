//! The little of WebSocket (RFC 6455) a load client needs, kept cheap per received
//! frame: the upgrade handshake, unmasked server frames read in place from one buffer
//! per socket, and masked client frames.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The handshake's key, and the accept value the server must answer with (RFC 6455).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Upgrades `stream` at `path`; returns bytes read past the response (frames already).
pub async fn handshake(stream: &mut TcpStream, host: &str, path: &str) -> Result<BytesMut, String> {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(512);
    loop {
        if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed during the websocket handshake".into());
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            if !head.starts_with("HTTP/1.1 101") || !head.contains(ACCEPT) {
                return Err(format!(
                    "websocket upgrade refused: {}",
                    head.lines().next().unwrap_or("")
                ));
            }
            buf.advance(end + 4);
            return Ok(buf);
        }
        if buf.len() > 8192 {
            return Err("websocket handshake response too long".into());
        }
    }
}

/// A frame from the server: its opcode and payload.
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// The frame at the front of `buf` and its length, once it is whole.
pub fn parse(buf: &[u8]) -> Option<(Frame<'_>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0F;
    let (head, len) = match buf[1] & 0x7F {
        126 => (4, u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize),
        127 => {
            let b: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            (10, u64::from_be_bytes(b) as usize)
        }
        n => (2, n as usize),
    };
    let payload = buf.get(head..head + len)?;
    Some((Frame { opcode, payload }, head + len))
}

/// A masked client frame (text, or close with an empty body).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let len = payload.len();
    let mut out = Vec::with_capacity(len + 14);
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
