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
mod tests {
    use super::*;

    fn room() -> Target {
        Target::Room("r1".into())
    }

    #[test]
    fn packets_of_any_event_round_trip_untouched() {
        // An event no node knows by name still crosses: the backplane reads no names.
        let packet = Bytes::from_static(b"42[\"some-future-event\",{\"a\":\"line\\nbreak\"}]");
        let env = Envelope {
            target: room(),
            except_user: Some("u1".into()),
            except_peer: None,
            payload: Payload::Packet {
                packet: packet.clone(),
                seq: Some(Seq::Message(7)),
            },
        };
        let (back, t) = decode(room(), encode(&env)).unwrap();
        assert!(t > 0);
        assert_eq!(back.except_user.as_deref(), Some("u1"));
        match back.payload {
            Payload::Packet { packet: p, seq } => {
                assert_eq!((p, seq), (packet, Some(Seq::Message(7))))
            }
            _ => panic!("wrong payload"),
        }
    }

    #[test]
    fn a_change_keeps_its_change_seq_apart_from_message_seqs() {
        let env = Envelope {
            target: room(),
            except_user: None,
            except_peer: None,
            payload: Payload::Packet {
                packet: Bytes::from_static(b"42[\"chat-message-deleted\",{}]"),
                seq: Some(Seq::Change(3)),
            },
        };
        let (back, _) = decode(room(), encode(&env)).unwrap();
        assert!(matches!(
            back.payload,
            Payload::Packet {
                seq: Some(Seq::Change(3)),
                ..
            }
        ));
    }

    #[test]
    fn contacts_packets_and_membership_controls_round_trip() {
        let env = Envelope {
            target: Target::Members("r1".into()),
            except_user: None,
            except_peer: None,
            payload: Payload::Contacts {
                id: u64::MAX,
                subject: "u\n1".into(),
                packet: Bytes::from_static(b"42[\"x\",{}]"),
                item: Bytes::from_static(b"{\"userId\":\"u\\n1\"}"),
            },
        };
        let (back, _) = decode(Target::Members("r1".into()), encode(&env)).unwrap();
        match back.payload {
            Payload::Contacts {
                id,
                subject,
                packet,
                item,
            } => {
                assert_eq!((id, subject.as_str()), (u64::MAX, "u\n1"));
                assert_eq!(&packet[..], b"42[\"x\",{}]");
                assert_eq!(&item[..], b"{\"userId\":\"u\\n1\"}");
            }
            _ => panic!("wrong payload"),
        }
        let env = Envelope {
            target: Target::Members("r1".into()),
            except_user: None,
            except_peer: None,
            payload: Payload::RoomPresence,
        };
        let (back, _) = decode(Target::Members("r1".into()), encode(&env)).unwrap();
        assert!(matches!(back.payload, Payload::RoomPresence));
        for member in [true, false] {
            let env = Envelope {
                target: Target::User("u".into()),
                except_user: None,
                except_peer: None,
                payload: Payload::Membership {
                    room_id: "r".into(),
                    member,
                },
            };
            let (back, _) = decode(Target::User("u".into()), encode(&env)).unwrap();
            assert!(matches!(back.payload, Payload::Membership { member: m, .. } if m == member));
        }
    }

    #[test]
    fn a_peer_signal_crosses_on_its_users_channel_and_stays_for_that_peer() {
        let peer = Target::Peer {
            user: "u1".into(),
            peer: "p9".into(),
        };
        let env = Envelope {
            target: peer.clone(),
            except_user: None,
            except_peer: None,
            payload: Payload::Packet {
                packet: Bytes::from_static(b"42[\"meeting-signal\",{}]"),
                seq: None,
            },
        };
        let keys = super::super::keys::Keys::new("cc");
        let channel = keys.channel(&peer);
        assert_eq!(channel, keys.channel(&Target::User("u1".into())));
        let (back, _) = decode(keys.target_of(&channel).unwrap(), encode(&env)).unwrap();
        assert_eq!(back.target, peer);
        assert_eq!(back.target.socket_room(), "p:p9");
    }

    #[test]
    fn unknown_versions_and_malformed_messages_are_ignored() {
        let user = || Target::User("u".into());
        assert!(decode(
            user(),
            Bytes::from_static(b"{\"v\":9,\"t\":1,\"l\":\"r\"}\n")
        )
        .is_none());
        assert!(decode(
            user(),
            Bytes::from_static(b"{\"v\":1,\"t\":1,\"e\":\"x\",\"b\":{}}")
        )
        .is_none());
        assert!(decode(user(), Bytes::from_static(b"{\"v\":2,\"t\":1}\n")).is_none());
        assert!(decode(user(), Bytes::from_static(b"garbage")).is_none());
    }
}
