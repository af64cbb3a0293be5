//! WebSocket frames (RFC 6455), server side: frames a client sends (masked, maybe
//! fragmented) are read into messages; frames the server sends are written unmasked, so
//! one encoded frame serves every socket a broadcast reaches.

use bytes::{BufMut, Bytes, BytesMut};

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Close codes the server sends.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_PROTOCOL: u16 = 1002;
pub const CLOSE_TOO_BIG: u16 = 1009;

/// The accept key of the handshake's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key);
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One unmasked frame with this opcode and payload.
pub fn encode(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(0x80 | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if len <= u16::MAX as usize {
        out.put_u8(126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
    out.freeze()
}

/// A text frame.
pub fn text(payload: &[u8]) -> Bytes {
    encode(OP_TEXT, payload)
}

/// A close frame with a code.
pub fn close(code: u16) -> Bytes {
    encode(OP_CLOSE, &code.to_be_bytes())
}

/// A whole message (or a control frame) read off the connection.
#[derive(Debug, PartialEq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    Close,
}

/// Why reading stopped: the connection must close with this code.
#[derive(Debug, PartialEq)]
pub struct Fatal(pub u16);

/// Reassembles messages from the bytes of one connection.
#[derive(Default)]
pub struct Reader {
    /// A fragmented message in progress: its opcode and what has arrived.
    partial: Option<(u8, Vec<u8>)>,
}

impl Reader {
    /// Takes the next message from the front of `buf` (consuming what it used), or `None`
    /// if more bytes are needed. Messages beyond `max` bytes are fatal.
    pub fn next(&mut self, buf: &mut BytesMut, max: usize) -> Result<Option<Message>, Fatal> {
        loop {
            let Some((head, len)) = header(buf)? else {
                return Ok(None);
            };
            let fin = buf[0] & 0x80 != 0;
            let opcode = buf[0] & 0x0F;
            let sofar = self.partial.as_ref().map_or(0, |p| p.1.len());
            if len > max as u64 || sofar as u64 + len > max as u64 {
                return Err(Fatal(CLOSE_TOO_BIG));
            }
            let len = len as usize;
            if buf.len() < head + len {
                buf.reserve(head + len - buf.len());
                return Ok(None);
            }
            let mask: [u8; 4] = buf[head - 4..head]
                .try_into()
                .map_err(|_| Fatal(CLOSE_PROTOCOL))?;
            let mut frame = buf.split_to(head + len);
            let payload = &mut frame[head..];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i & 3];
            }
            match opcode {
                OP_PING => return Ok(Some(Message::Ping(payload.to_vec()))),
                OP_PONG => return Ok(Some(Message::Pong)),
                OP_CLOSE => return Ok(Some(Message::Close)),
                OP_TEXT | OP_BINARY if self.partial.is_none() => {
                    if fin {
                        return finish(opcode, payload.to_vec()).map(Some);
                    }
                    self.partial = Some((opcode, payload.to_vec()));
                }
                OP_CONT if self.partial.is_some() => {
                    let (op, mut data) = self.partial.take().ok_or(Fatal(CLOSE_PROTOCOL))?;
                    data.extend_from_slice(payload);
                    if fin {
                        return finish(op, data).map(Some);
                    }
                    self.partial = Some((op, data));
                }
                _ => return Err(Fatal(CLOSE_PROTOCOL)),
            }
        }
    }
}

fn finish(opcode: u8, data: Vec<u8>) -> Result<Message, Fatal> {
    if opcode == OP_BINARY {
        return Ok(Message::Binary(data));
    }
    String::from_utf8(data)
        .map(Message::Text)
        // 1007: invalid payload data.
        .map_err(|_| Fatal(1007))
}

/// The header length and payload length of the frame at the front of `buf`, once the
/// whole header is there. Client frames must be masked; control frames short and final.
fn header(buf: &[u8]) -> Result<Option<(usize, u64)>, Fatal> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] & 0x70 != 0 || buf[1] & 0x80 == 0 {
        // Reserved bits (no extension was agreed), or an unmasked client frame.
        return Err(Fatal(CLOSE_PROTOCOL));
    }
    let (head, len) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (8, u64::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (14, u64::from_be_bytes(b))
        }
        126 | 127 => return Ok(None),
        n => (6, u64::from(n)),
    };
    let control = buf[0] & 0x08 != 0;
    if control && (len > 125 || buf[0] & 0x80 == 0) {
        return Err(Fatal(CLOSE_PROTOCOL));
    }
    if buf.len() < head {
        return Ok(None);
    }
    Ok(Some((head, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 65535 {
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

    #[test]
    fn messages_are_read_whole_however_the_bytes_arrive() {
        let big = "x".repeat(70_000);
        let mut wire = client_frame(true, OP_TEXT, b"42[\"a\"]");
        wire.extend(client_frame(false, OP_TEXT, b"he"));
        wire.extend(client_frame(true, OP_PING, b"p"));
        wire.extend(client_frame(true, OP_CONT, b"llo"));
        wire.extend(client_frame(true, OP_TEXT, big.as_bytes()));
        let mut r = Reader::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(m) = r.next(&mut buf, 1 << 20).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(
            got,
            vec![
                Message::Text("42[\"a\"]".into()),
                Message::Ping(b"p".to_vec()),
                Message::Text("hello".into()),
                Message::Text(big),
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_unmasked_and_invalid_frames_are_fatal() {
        let mut r = Reader::default();
        let mut buf = BytesMut::from(&client_frame(true, OP_TEXT, &[b'x'; 200])[..]);
        assert_eq!(r.next(&mut buf, 100), Err(Fatal(CLOSE_TOO_BIG)));
        let mut buf = BytesMut::from(&[0x81u8, 0x01, b'x'][..]);
        assert_eq!(
            Reader::default().next(&mut buf, 100),
            Err(Fatal(CLOSE_PROTOCOL))
        );
        let mut buf = BytesMut::from(&client_frame(true, OP_TEXT, &[0xff, 0xfe])[..]);
        assert_eq!(Reader::default().next(&mut buf, 100), Err(Fatal(1007)));
        let mut buf = BytesMut::from(&client_frame(true, OP_CONT, b"x")[..]);
        assert_eq!(
            Reader::default().next(&mut buf, 100),
            Err(Fatal(CLOSE_PROTOCOL))
        );
    }

    #[test]
    fn server_frames_carry_their_length() {
        assert_eq!(&text(b"2")[..], &[0x81, 1, b'2']);
        assert_eq!(&text(&[b'a'; 300])[..4], &[0x81, 126, 1, 44]);
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
