//! Parsing what a client sends: Engine.IO packets, and the Socket.IO packet inside a
//! message. Only an event's name and first argument are parsed into values; the rest of
//! its JSON stays text, read later if the handler asks for it.

use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
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
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Missing,
    Json(Value),
    /// Valid text, but not JSON we accept (too deep, a number out of range, …).
    Invalid,
}

/// A Socket.IO packet from the client; `nsp` is `/` unless the packet names another.
#[derive(Debug, PartialEq)]
pub enum Packet<'a> {
    Connect {
        nsp: &'a str,
        auth: Option<Value>,
    },
    Disconnect {
        nsp: &'a str,
    },
    Event {
        nsp: &'a str,
        name: String,
        payload: Payload,
        ack: Option<u64>,
        /// Binary attachments that follow (BINARY_EVENT).
        attachments: usize,
        /// Where the JSON array (`["name", …]`) starts in the text.
        array_at: usize,
    },
    /// ACK or BINARY_ACK.
    Ack {
        nsp: &'a str,
        id: u64,
        attachments: usize,
    },
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// Parses a Socket.IO packet (the text after the Engine.IO `4`); `None` for anything
/// malformed.
pub fn parse(text: &str) -> Option<Packet<'_>> {
    let (kind, mut rest) = text.split_at_checked(1)?;
    let mut attachments = 0;
    if kind == "5" || kind == "6" {
        let n = digits(rest);
        if n == 0 || rest.as_bytes().get(n) != Some(&b'-') {
            return None;
        }
        attachments = rest[..n].parse().ok()?;
        if attachments > MAX_ATTACHMENTS {
            return None;
        }
        rest = &rest[n + 1..];
    }
    let mut nsp = "/";
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
    }
    // Only events and acks carry an id: a CONNECT's digits are its auth (a number).
    let n = match kind {
        "2" | "3" | "5" | "6" => digits(rest),
        _ => 0,
    };
    let ack = if n > 0 {
        // An id that does not fit is malformed, not a different id.
        Some(rest[..n].parse::<u64>().ok()?)
    } else {
        None
    };
    rest = &rest[n..];
    match kind {
        // Auth that is not JSON we can hold (a lone surrogate, say) counts as none: the
        // connection is refused by the application, not dropped.
        "0" => Some(Packet::Connect {
            nsp,
            auth: serde_json::from_str(rest).ok(),
        }),
        "1" if rest.is_empty() => Some(Packet::Disconnect { nsp }),
        "2" | "5" => {
            let (name, payload) = parse_event(rest)?;
            Some(Packet::Event {
                nsp,
                name,
                payload,
                ack,
                attachments,
                array_at: text.len() - rest.len(),
            })
        }
        "3" | "6" => {
            // The arguments must be an array; what it holds is the handler's business.
            let mut de = serde_json::Deserializer::from_str(rest);
            serde::Deserializer::deserialize_seq(&mut de, SeqOnly).ok()?;
            de.end().ok()?;
            Some(Packet::Ack {
                nsp,
                id: ack?,
                attachments,
            })
        }
        _ => None,
    }
}

struct SeqOnly;

impl<'de> Visitor<'de> for SeqOnly {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
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
