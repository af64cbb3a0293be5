//! Engine.IO v4 and Socket.IO v5 packets as text: what a client sends, parsed; what the
//! server sends, encoded.
//!
//! Engine.IO: `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop.
//! Socket.IO inside a message: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]` with
//! types `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR,
//! `5` BINARY_EVENT, `6` BINARY_ACK.

use std::fmt::Write as _;

use bytes::Bytes;
use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::Value;

/// Most binary attachments one packet may announce.
pub const MAX_ATTACHMENTS: usize = 10;

/// An Engine.IO packet from the client.
#[derive(Debug, PartialEq)]
pub enum Engine<'a> {
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

impl<'a> Engine<'a> {
    pub fn parse(text: &'a str) -> Option<Engine<'a>> {
        let (kind, rest) = text.split_at_checked(1)?;
        Some(match kind {
            "1" => Engine::Close,
            "2" => Engine::Ping(rest),
            "3" => Engine::Pong(rest),
            "4" => Engine::Message(rest),
            "5" => Engine::Upgrade,
            "6" => Engine::Noop,
            _ => return None,
        })
    }
}

/// What an event's first argument turned out to be.
#[derive(Debug)]
pub enum Payload {
    Missing,
    Json(Value),
    /// Valid text, but not JSON we accept (too deep, a number out of range, …).
    Invalid,
}

/// A Socket.IO packet from the client (namespace `/` unless `nsp` says otherwise).
#[derive(Debug)]
pub enum Socket {
    Connect {
        nsp: String,
        auth: Option<Value>,
    },
    Disconnect {
        nsp: String,
    },
    Event {
        nsp: String,
        name: String,
        payload: Payload,
        ack: Option<u64>,
        /// Binary attachments that follow (BINARY_EVENT).
        attachments: usize,
    },
    /// ACK or BINARY_ACK: the server never asks for one; ignored.
    Ack {
        attachments: usize,
    },
}

/// Parses a Socket.IO packet; `None` for anything malformed.
pub fn parse_socket(text: &str) -> Option<Socket> {
    let (kind, mut rest) = text.split_at_checked(1)?;
    let mut attachments = 0;
    if kind == "5" || kind == "6" {
        let dash = rest.find('-')?;
        attachments = rest[..dash].parse().ok()?;
        if attachments > MAX_ATTACHMENTS {
            return None;
        }
        rest = &rest[dash + 1..];
    }
    let mut nsp = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }
    // Only events and acks carry an id: a CONNECT's digits are its auth (a number).
    let digits = match kind {
        "2" | "3" | "5" | "6" => rest.bytes().take_while(u8::is_ascii_digit).count(),
        _ => 0,
    };
    let ack = if digits > 0 {
        // An id that does not fit is malformed, not a different id.
        Some(rest[..digits].parse::<u64>().ok()?)
    } else {
        None
    };
    rest = &rest[digits..];
    let nsp = nsp.to_string();
    match kind {
        // Auth that is not JSON we can hold (a lone surrogate, say) counts as none: the
        // connection is refused by the application, not dropped.
        "0" => Some(Socket::Connect {
            nsp,
            auth: serde_json::from_str(rest).ok(),
        }),
        "1" => Some(Socket::Disconnect { nsp }),
        "2" | "5" => {
            let (name, payload) = parse_event(rest)?;
            Some(Socket::Event {
                nsp,
                name,
                payload,
                ack,
                attachments,
            })
        }
        "3" | "6" => Some(Socket::Ack { attachments }),
        _ => None,
    }
}

/// `["name", payload, …]`: the name (any JSON string) and the first argument. A packet
/// whose name is readable but whose payload is not gets `Payload::Invalid`, so the event
/// can still be answered.
fn parse_event(json: &str) -> Option<(String, Payload)> {
    let mut name = None;
    let mut payload = Payload::Missing;
    let mut de = serde_json::Deserializer::from_str(json);
    let read = EventSeed {
        name: &mut name,
        payload: &mut payload,
    }
    .deserialize(&mut de);
    if read.is_ok() && de.end().is_err() {
        return None;
    }
    let name = match name {
        Some(n) => n,
        // A string JSON can write but Rust cannot hold (a lone surrogate): a name that
        // matches no event, so the event is still answered.
        None if json
            .trim_start()
            .strip_prefix('[')?
            .trim_start()
            .starts_with('"') =>
        {
            payload = Payload::Invalid;
            String::new()
        }
        None => return None,
    };
    if read.is_err() && matches!(payload, Payload::Missing) {
        payload = Payload::Invalid;
    }
    Some((name, payload))
}

struct EventSeed<'s> {
    name: &'s mut Option<String>,
    payload: &'s mut Payload,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let name: String = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::custom("no event name"))?;
        *self.name = Some(name);
        match seq.next_element::<Value>() {
            Ok(Some(v)) => *self.payload = Payload::Json(v),
            Ok(None) => return Ok(()),
            Err(e) => {
                *self.payload = Payload::Invalid;
                return Err(e);
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// `42["name",data]`: an event as the Engine.IO message text.
pub fn event<T: Serialize + ?Sized>(name: &str, data: &T) -> Bytes {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"42[");
    // Names are the server's own constants; serialising escapes them anyway.
    let _ = serde_json::to_writer(&mut out, name);
    out.push(b',');
    if serde_json::to_writer(&mut out, data).is_err() {
        out.truncate(out.len() - 1);
        out.extend_from_slice(b",null");
    }
    out.push(b']');
    Bytes::from(out)
}

/// `43<id>[data]`: the answer to an event's ack.
pub fn ack(id: u64, data: &Value) -> Bytes {
    let mut out = String::with_capacity(32);
    let _ = write!(out, "43{id}[");
    let body = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    out.push_str(&body);
    out.push(']');
    Bytes::from(out)
}

/// `40{"sid":…}`: the namespace accepted the connection.
pub fn connected(sid: &str) -> Bytes {
    Bytes::from(format!("40{}", serde_json::json!({ "sid": sid })))
}

/// `44[/nsp,]{…}`: the namespace refused the connection with this body.
pub fn connect_error(nsp: &str, body: &Value) -> Bytes {
    let prefix = if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    };
    Bytes::from(format!("44{prefix}{body}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_of(text: &str) -> (String, Option<Value>, Option<u64>) {
        match parse_socket(text) {
            Some(Socket::Event {
                name, payload, ack, ..
            }) => (
                name,
                match payload {
                    Payload::Json(v) => Some(v),
                    _ => None,
                },
                ack,
            ),
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn events_with_and_without_ack_ids_parse() {
        assert_eq!(
            event_of(r#"2["send-chat-message",{"a":1}]"#),
            ("send-chat-message".into(), Some(json!({"a":1})), None)
        );
        assert_eq!(
            event_of(r#"212["x",1,2]"#),
            ("x".into(), Some(json!(1)), Some(12))
        );
        assert_eq!(event_of(r#"2["x"]"#), ("x".into(), None, None));
        assert_eq!(event_of(r#"2["a\"b\u0000"]"#).0, "a\"b\u{0}");
        assert_eq!(
            event_of(r#"21["\ud800 lone",{}]"#),
            (String::new(), None, Some(1))
        );
    }

    #[test]
    fn a_payload_too_deep_keeps_the_name_and_ack_id() {
        let deep = format!(r#"27["x",{}{}]"#, "[".repeat(5000), "]".repeat(5000));
        match parse_socket(&deep) {
            Some(Socket::Event {
                name, payload, ack, ..
            }) => {
                assert_eq!((name.as_str(), ack), ("x", Some(7)));
                assert!(matches!(payload, Payload::Invalid));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_packets_are_refused() {
        for junk in [
            "",
            "2",
            "2[",
            "2{}",
            "2[]",
            "2[1,2]",
            "2[null]",
            "9",
            "x",
            "2[\"a\"] junk",
            "299999999999999999999999[\"a\"]",
            "511-[\"a\"]",
        ] {
            assert!(
                !matches!(parse_socket(junk), Some(Socket::Event { .. })),
                "{junk:?} parsed"
            );
        }
    }

    #[test]
    fn connects_namespaces_and_binary_headers_parse() {
        assert!(matches!(
            parse_socket(r#"0{"token":"t"}"#),
            Some(Socket::Connect { nsp, auth: Some(_) }) if nsp == "/"
        ));
        assert!(matches!(
            parse_socket("0/admin,"),
            Some(Socket::Connect { nsp, auth: None }) if nsp == "/admin"
        ));
        assert!(matches!(
            parse_socket(r#"51-["x",{"_placeholder":true,"num":0}]"#),
            Some(Socket::Event { attachments: 1, .. })
        ));
        assert!(matches!(parse_socket("1"), Some(Socket::Disconnect { .. })));
        // A number as auth is auth the application refuses, not an ack id to overflow.
        assert!(matches!(
            parse_socket("0100000000000000000000"),
            Some(Socket::Connect { auth: Some(a), .. }) if a.is_number()
        ));
        assert!(matches!(
            parse_socket("05"),
            Some(Socket::Connect { auth: Some(a), .. }) if a == json!(5)
        ));
    }

    #[test]
    fn server_packets_encode() {
        assert_eq!(&event("ev", &json!({"a":1}))[..], br#"42["ev",{"a":1}]"#);
        assert_eq!(&ack(3, &json!({"ok":true}))[..], br#"433[{"ok":true}]"#);
        assert_eq!(
            &connect_error("/x", &json!({"m":1}))[..],
            br#"44/x,{"m":1}"#
        );
        assert_eq!(Engine::parse("2probe"), Some(Engine::Ping("probe")));
    }
}
