//! The arguments of an event or an ack the server sends: JSON values (or JSON text taken
//! as it came, to pass a client's arguments on without parsing them) and the binary
//! attachments their placeholders point to.

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Debug, Clone)]
enum Json {
    Values(Vec<Value>),
    /// Comma-separated JSON texts, without the brackets.
    Raw(String),
}

/// Arguments to send. A single `Value` converts into one argument.
#[derive(Debug, Clone)]
pub struct Args {
    json: Json,
    attachments: Vec<Bytes>,
}

impl Default for Args {
    fn default() -> Self {
        Args::none()
    }
}

impl From<Value> for Args {
    fn from(v: Value) -> Self {
        Args::values(vec![v])
    }
}

impl Args {
    /// No argument (an ack answered with `[]`).
    pub fn none() -> Args {
        Args::values(Vec::new())
    }

    pub fn values(values: Vec<Value>) -> Args {
        Args {
            json: Json::Values(values),
            attachments: Vec::new(),
        }
    }

    /// Arguments as JSON texts taken as they are (e.g. those of a received event, see
    /// `Event::args`), so they go back out without being parsed.
    pub fn raw(parts: &[&RawValue]) -> Args {
        let mut s = String::with_capacity(parts.iter().map(|p| p.get().len() + 1).sum());
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(p.get());
        }
        Args {
            json: Json::Raw(s),
            attachments: Vec::new(),
        }
    }

    /// Binary attachments, in the order the placeholders' `num` counts them.
    pub fn with_attachments(mut self, attachments: Vec<Bytes>) -> Args {
        self.attachments = attachments;
        self
    }

    /// The placeholder that stands for attachment `num` in the JSON.
    pub fn placeholder(num: usize) -> Value {
        serde_json::json!({ "_placeholder": true, "num": num })
    }

    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    pub fn is_empty(&self) -> bool {
        match &self.json {
            Json::Values(v) => v.is_empty(),
            Json::Raw(s) => s.is_empty(),
        }
    }

    /// Writes the arguments, comma-separated, without brackets.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match &self.json {
            Json::Raw(s) => out.extend_from_slice(s.as_bytes()),
            Json::Values(values) => {
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // A `Value` always serialises.
                    let _ = serde_json::to_writer(&mut *out, v);
                }
            }
        }
    }
}
