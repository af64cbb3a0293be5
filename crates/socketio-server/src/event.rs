//! An event as the handler gets it: its name and first argument parsed already (what
//! most handlers need), the rest of its arguments as the client's JSON text, read only
//! if asked for, and its binary attachments.

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;

use super::packet::Payload;

#[derive(Debug)]
pub struct Event {
    pub name: String,
    /// The first argument after the name.
    pub payload: Payload,
    /// The Socket.IO packet's text, as received.
    text: Bytes,
    /// Where its JSON array starts.
    array_at: usize,
    attachments: Vec<Bytes>,
    ack: Option<u64>,
}

impl Event {
    pub(crate) fn new(
        name: String,
        payload: Payload,
        text: Bytes,
        array_at: usize,
        ack: Option<u64>,
    ) -> Event {
        Event {
            name,
            payload,
            text,
            array_at,
            attachments: Vec::new(),
            ack,
        }
    }

    pub(crate) fn set_attachments(&mut self, attachments: Vec<Bytes>) {
        self.attachments = attachments;
    }

    pub(crate) fn ack_id(&self) -> Option<u64> {
        self.ack
    }

    /// Bytes held: the packet's text and its attachments.
    pub(crate) fn size(&self) -> usize {
        self.text.len() + self.attachments.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the client waits for an ack (the handler's answer goes back as one).
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// The event's JSON array as the client sent it: `["name", arg, …]`.
    pub fn array(&self) -> &str {
        // The text came in as UTF-8 and the array starts after ASCII.
        std::str::from_utf8(&self.text[self.array_at..]).unwrap_or("[]")
    }

    /// Every argument after the name, as JSON text (placeholders of binary attachments
    /// included as they came). Parsed on each call; an error if JSON we cannot hold.
    pub fn args(&self) -> serde_json::Result<Vec<&RawValue>> {
        let mut all: Vec<&RawValue> = serde_json::from_str(self.array())?;
        if !all.is_empty() {
            all.remove(0);
        }
        Ok(all)
    }

    /// Every argument after the name, parsed.
    pub fn values(&self) -> serde_json::Result<Vec<Value>> {
        self.args()?
            .into_iter()
            .map(|r| serde_json::from_str(r.get()))
            .collect()
    }

    /// The binary attachments, in the order their placeholders' `num` counts them.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    pub fn take_attachments(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.attachments)
    }
}
