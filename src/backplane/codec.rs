//! Wire format of backplane messages: one JSON object, versioned, with the publish time
//! for latency metrics. The target is the channel, so it is not repeated in the body.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Envelope, Payload, Target};
use crate::realtime::events;

/// Current format version; a node ignores messages of versions it does not know.
pub const VERSION: u8 = 1;

#[derive(Serialize)]
struct Out<'a> {
    v: u8,
    /// Publish time, Unix microseconds.
    t: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    b: Option<&'a serde_json::Value>,
    /// Contacts event: its id and subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    i: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'a str>,
    /// Membership control: the room left (`l`) or joined (`a`).
    #[serde(skip_serializing_if = "Option::is_none")]
    l: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<&'a str>,
}

#[derive(Deserialize)]
struct In<'a> {
    v: u8,
    t: i64,
    #[serde(default)]
    x: Option<String>,
    #[serde(default, borrow)]
    e: Option<&'a str>,
    #[serde(default, borrow)]
    b: Option<&'a RawValue>,
    #[serde(default)]
    i: Option<u64>,
    #[serde(default)]
    s: Option<String>,
    #[serde(default)]
    l: Option<String>,
    #[serde(default)]
    a: Option<String>,
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Encodes an envelope (without its target, which is the channel).
pub fn encode(env: &Envelope) -> Vec<u8> {
    let mut out = Out {
        v: VERSION,
        t: now_micros(),
        x: env.except_user.as_deref(),
        e: None,
        b: None,
        i: None,
        s: None,
        l: None,
        a: None,
    };
    match &env.payload {
        Payload::Event { name, body } => {
            out.e = Some(name);
            out.b = Some(body);
        }
        Payload::Contacts {
            id,
            subject,
            name,
            body,
        } => {
            out.e = Some(name);
            out.b = Some(body);
            out.i = Some(*id);
            out.s = Some(subject);
        }
        Payload::Membership { room_id, member } => {
            let room = Some(room_id.as_str());
            if *member {
                out.a = room;
            } else {
                out.l = room;
            }
        }
    }
    serde_json::to_vec(&out).unwrap_or_default()
}

/// Decodes a message received on `target`'s channel; `None` for unknown versions or events.
/// Also returns the publish time (Unix µs).
pub fn decode(target: Target, bytes: &[u8]) -> Option<(Envelope, i64)> {
    let m: In = serde_json::from_slice(bytes).ok()?;
    if m.v != VERSION {
        return None;
    }
    let event = |name: &str, body: &RawValue| -> Option<(&'static str, serde_json::Value)> {
        Some((
            events::server_event(name)?,
            serde_json::from_str(body.get()).ok()?,
        ))
    };
    let payload = match (m.e, m.b, m.i, m.s, m.l, m.a) {
        (Some(name), Some(body), None, None, None, None) => {
            let (name, body) = event(name, body)?;
            Payload::Event { name, body }
        }
        (Some(name), Some(body), Some(id), Some(subject), None, None) => {
            let (name, body) = event(name, body)?;
            Payload::Contacts {
                id,
                subject,
                name,
                body,
            }
        }
        (None, None, None, None, Some(room_id), None) => Payload::Membership {
            room_id,
            member: false,
        },
        (None, None, None, None, None, Some(room_id)) => Payload::Membership {
            room_id,
            member: true,
        },
        _ => return None,
    };
    Some((
        Envelope {
            target,
            except_user: m.x,
            payload,
        },
        m.t,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelopes_round_trip() {
        let env = Envelope {
            target: Target::Room("r1".into()),
            except_user: Some("u1".into()),
            payload: Payload::Event {
                name: events::CHAT_USER_TYPING,
                body: json!({ "data": { "a": 1 } }),
            },
        };
        let (back, t) = decode(Target::Room("r1".into()), &encode(&env)).unwrap();
        assert!(t > 0);
        assert_eq!(back.except_user.as_deref(), Some("u1"));
        match back.payload {
            Payload::Event { name, body } => {
                assert_eq!(name, events::CHAT_USER_TYPING);
                assert_eq!(body, json!({ "data": { "a": 1 } }));
            }
            _ => panic!("wrong payload"),
        }
    }

    #[test]
    fn contacts_events_and_membership_controls_round_trip() {
        let env = Envelope {
            target: Target::Members("r1".into()),
            except_user: None,
            payload: Payload::Contacts {
                id: u64::MAX,
                subject: "u1".into(),
                name: events::CHAT_USER_STATUS_UPDATE,
                body: json!({ "data": { "status": "online" } }),
            },
        };
        let (back, _) = decode(Target::Members("r1".into()), &encode(&env)).unwrap();
        match back.payload {
            Payload::Contacts {
                id, subject, name, ..
            } => {
                assert_eq!((id, subject.as_str()), (u64::MAX, "u1"));
                assert_eq!(name, events::CHAT_USER_STATUS_UPDATE);
            }
            _ => panic!("wrong payload"),
        }
        for member in [true, false] {
            let env = Envelope {
                target: Target::User("u".into()),
                except_user: None,
                payload: Payload::Membership {
                    room_id: "r".into(),
                    member,
                },
            };
            let (back, _) = decode(Target::User("u".into()), &encode(&env)).unwrap();
            assert!(matches!(back.payload, Payload::Membership { member: m, .. } if m == member));
        }
    }

    #[test]
    fn unknown_versions_and_events_are_ignored() {
        assert!(decode(Target::User("u".into()), br#"{"v":9,"t":1,"l":"r"}"#).is_none());
        assert!(decode(
            Target::User("u".into()),
            br#"{"v":1,"t":1,"e":"nope","b":{}}"#
        )
        .is_none());
        assert!(decode(Target::User("u".into()), b"garbage").is_none());
    }
}
