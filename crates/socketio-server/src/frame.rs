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
/// A text message (or a close reason) that is not UTF-8.
pub const CLOSE_INVALID_DATA: u16 = 1007;
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

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 §4.1 asks for: 16 bytes in base64.
pub fn valid_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
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

/// The answer to a client's close frame: its code echoed (RFC 6455 §5.5.1), or no code.
pub fn close_reply(code: Option<u16>) -> Bytes {
    code.map_or_else(|| encode(OP_CLOSE, &[]), close)
}

/// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry): 1004–1006 and
/// 1015 are reserved, never sent.
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A whole message (or a control frame) read off the connection.
#[derive(Debug, PartialEq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// A well-formed close frame, with its code if it had one.
    Close(Option<u16>),
}

/// Why reading stopped: the connection must close with this code.
#[derive(Debug, PartialEq)]
pub struct Fatal(pub u16);

/// A fragmented message in progress.
struct Partial {
    opcode: u8,
    data: Vec<u8>,
    /// How much of `data` (text) is known to be UTF-8; at most 3 bytes after it are the
    /// start of a code point whose rest is in the next fragment.
    checked: usize,
}

/// Reassembles messages from the bytes of one connection.
#[derive(Default)]
pub struct Reader {
    partial: Option<Partial>,
}

impl Reader {
    /// Takes the next message from the front of `buf` (consuming what it used), or `None`
    /// if more bytes are needed. A frame is judged by its header before its payload is
    /// waited for; messages beyond `max` bytes are fatal, and nothing is allocated for
    /// more than a message may hold.
    pub fn next(&mut self, buf: &mut BytesMut, max: usize) -> Result<Option<Message>, Fatal> {
        loop {
            let Some((head, len)) = header(buf)? else {
                return Ok(None);
            };
            let fin = buf[0] & 0x80 != 0;
            let opcode = buf[0] & 0x0F;
            match opcode {
                OP_CONT if self.partial.is_none() => return Err(Fatal(CLOSE_PROTOCOL)),
                OP_TEXT | OP_BINARY if self.partial.is_some() => return Err(Fatal(CLOSE_PROTOCOL)),
                OP_CONT | OP_TEXT | OP_BINARY => {
                    let sofar = self.partial.as_ref().map_or(0, |p| p.data.len());
                    if len > max.saturating_sub(sofar) as u64 {
                        return Err(Fatal(CLOSE_TOO_BIG));
                    }
                }
                _ => {}
            }
            // Data frames fit in `max` (checked above), control frames in 125 bytes.
            let len = len as usize;
            if buf.len() < head + len {
                buf.reserve(head + len - buf.len());
                return Ok(None);
            }
            let mut mask = [0u8; 4];
            mask.copy_from_slice(&buf[head - 4..head]);
            let mut frame = buf.split_to(head + len);
            let payload = &mut frame[head..];
            unmask(payload, mask);
            match opcode {
                OP_PING => return Ok(Some(Message::Ping(payload.to_vec()))),
                OP_PONG => return Ok(Some(Message::Pong)),
                OP_CLOSE => return close_frame(payload).map(Some),
                OP_TEXT | OP_BINARY if fin => return finish(opcode, payload.to_vec()).map(Some),
                OP_TEXT | OP_BINARY => {
                    let mut p = Partial {
                        opcode,
                        data: Vec::new(),
                        checked: 0,
                    };
                    p.append(payload, max)?;
                    self.partial = Some(p);
                }
                _ => {
                    let mut p = self.partial.take().ok_or(Fatal(CLOSE_PROTOCOL))?;
                    p.append(payload, max)?;
                    if fin {
                        return finish(p.opcode, p.data).map(Some);
                    }
                    self.partial = Some(p);
                }
            }
        }
    }
}

impl Partial {
    /// Adds a fragment; text is checked as it comes, so invalid UTF-8 fails before the
    /// message ends (a code point cut between fragments waits for its rest).
    fn append(&mut self, fragment: &[u8], max: usize) -> Result<(), Fatal> {
        let want = self.data.len() + fragment.len();
        if want > self.data.capacity() {
            // Grows geometrically, never past what a message may hold.
            let cap = (self.data.capacity() * 2).clamp(want, max.max(want));
            self.data.reserve_exact(cap - self.data.len());
        }
        self.data.extend_from_slice(fragment);
        if self.opcode == OP_TEXT {
            match std::str::from_utf8(&self.data[self.checked..]) {
                Ok(_) => self.checked = self.data.len(),
                Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
                Err(_) => return Err(Fatal(CLOSE_INVALID_DATA)),
            }
        }
        Ok(())
    }
}

/// XORs the client's mask into the payload, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let mut m8 = [0u8; 8];
    m8[..4].copy_from_slice(&mask);
    m8[4..].copy_from_slice(&mask);
    let m = u64::from_ne_bytes(m8);
    let mut words = payload.chunks_exact_mut(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        w.copy_from_slice(&(u64::from_ne_bytes(b) ^ m).to_ne_bytes());
    }
    // The rest starts at a multiple of 8, so the mask starts over.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// A close frame's payload: empty, or a valid code and a UTF-8 reason.
fn close_frame(payload: &[u8]) -> Result<Message, Fatal> {
    match payload {
        [] => Ok(Message::Close(None)),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(Fatal(CLOSE_PROTOCOL));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(Fatal(CLOSE_INVALID_DATA));
            }
            Ok(Message::Close(Some(code)))
        }
        [_] => Err(Fatal(CLOSE_PROTOCOL)),
    }
}

fn finish(opcode: u8, data: Vec<u8>) -> Result<Message, Fatal> {
    if opcode == OP_BINARY {
        return Ok(Message::Binary(data));
    }
    String::from_utf8(data)
        .map(Message::Text)
        .map_err(|_| Fatal(CLOSE_INVALID_DATA))
}

/// The header length and payload length of the frame at the front of `buf`, once the
/// whole header is there. Client frames must be masked, without reserved bits or
/// opcodes; control frames short and final; a 64-bit length must fit in 63 bits.
fn header(buf: &[u8]) -> Result<Option<(usize, u64)>, Fatal> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0F;
    let known = matches!(
        opcode,
        OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    );
    if buf[0] & 0x70 != 0 || buf[1] & 0x80 == 0 || !known {
        // Reserved bits or opcodes (no extension was agreed), or an unmasked client frame.
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
    let control = opcode & 0x08 != 0;
    if len >> 63 != 0 || (control && (len > 125 || buf[0] & 0x80 == 0)) {
        return Err(Fatal(CLOSE_PROTOCOL));
    }
    if buf.len() < head {
        return Ok(None);
    }
    Ok(Some((head, len)))
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "frame_proptest.rs"]
mod proptests;
