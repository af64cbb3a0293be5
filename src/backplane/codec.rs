//! Wire format of backplane messages: a one-line JSON header (format version, publish
//! time for latency metrics, routing fields), a newline, then the encoded Socket.IO
//! packet as it goes to sockets. The packet is never parsed here; the target is the
//! channel, so it is not repeated.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::{Envelope, Payload, Seq, Target};

/// Current format version; a node ignores messages of versions it does not know.
/// (Version 1 carried event names and JSON bodies.)
pub const VERSION: u8 = 2;

#[derive(Serialize, Deserialize, Default)]
struct Header {
    v: u8,
    /// Publish time, Unix microseconds.
    t: i64,
    /// Skip this user's sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    /// Skip this meeting peer's socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xp: Option<String>,
    /// A room message's `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<i64>,
    /// A room change's `seq` (a deletion); older nodes ignore it and deliver the packet
    /// unordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<i64>,
    /// Contacts event: its id and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
    /// Contacts event: the subject's state alone, for the sockets that take batches
    /// (a header field, so nodes that do not know it deliver the packet untouched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    it: Option<String>,
    /// A large room's online count may have changed; no packet follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rp: Option<u8>,
    /// Membership control: the room left (`l`) or joined (`a`); no packet follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    l: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    /// On a user's channel: only this meeting peer of the user gets the packet. (Older
    /// nodes do not know it; the packet would reach every socket of the user.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Encodes an envelope (without its target, which is the channel).
pub fn encode(env: &Envelope) -> Bytes {
    let mut h = Header {
        v: VERSION,
        t: now_micros(),
        x: env.except_user.clone(),
        xp: env.except_peer.clone(),
        ..Header::default()
    };
    if let Target::Peer { peer, .. } = &env.target {
        h.p = Some(peer.clone());
    }
    let packet = match &env.payload {
        Payload::Packet { packet, seq } => {
            match seq {
                Some(Seq::Message(n)) => h.q = Some(*n),
                Some(Seq::Change(n)) => h.c = Some(*n),
                None => {}
            }
            Some(packet)
        }
        Payload::Contacts {
            id,
            subject,
            packet,
            item,
        } => {
            h.i = Some(*id);
            h.s = Some(subject.clone());
            h.it = Some(String::from_utf8_lossy(item).into_owned());
            Some(packet)
        }
        Payload::RoomPresence => {
            h.rp = Some(1);
            None
        }
        Payload::Membership { room_id, member } => {
            let room = Some(room_id.clone());
            if *member {
                h.a = room;
            } else {
                h.l = room;
            }
            None
        }
    };
    // Compact JSON escapes every newline inside strings: the first '\n' ends the header.
    let head = serde_json::to_vec(&h).unwrap_or_default();
    let mut out = BytesMut::with_capacity(head.len() + 1 + packet.map_or(0, |p| p.len()));
    out.put_slice(&head);
    out.put_u8(b'\n');
    if let Some(p) = packet {
        out.put_slice(p);
    }
    out.freeze()
}

/// Decodes a message received on `target`'s channel (the packet is a view of `bytes`,
/// not a copy); `None` for unknown versions or malformed messages. Also returns the
/// publish time (Unix µs).
pub fn decode(target: Target, bytes: Bytes) -> Option<(Envelope, i64)> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let h: Header = serde_json::from_slice(&bytes[..nl]).ok()?;
    if h.v != VERSION {
        return None;
    }
    let packet = bytes.slice(nl + 1..);
    let item = h.it.map(Bytes::from).unwrap_or_default();
    let target = match (target, h.p) {
        (Target::User(user), Some(peer)) => Target::Peer { user, peer },
        (_, Some(_)) => return None,
        (target, None) => target,
    };
    let payload = match (h.i, h.s, h.l, h.a) {
        (None, None, None, None) if h.rp.is_some() => Payload::RoomPresence,
        (None, None, None, None) if !packet.is_empty() => Payload::Packet {
            packet,
            seq: h.q.map(Seq::Message).or(h.c.map(Seq::Change)),
        },
        (Some(id), Some(subject), None, None) if !packet.is_empty() => Payload::Contacts {
            id,
            subject,
            packet,
            item,
        },
        (None, None, Some(room_id), None) => Payload::Membership {
            room_id,
            member: false,
        },
        (None, None, None, Some(room_id)) => Payload::Membership {
            room_id,
            member: true,
        },
        _ => return None,
    };
    Some((
        Envelope {
            target,
            except_user: h.x,
            except_peer: h.xp,
            payload,
        },
        h.t,
    ))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
