//! Tests of the backplane wire format (`codec.rs`).

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
