//! The contract's Socket.IO events as types, both directions: what a client sends is
//! parsed once into a `ClientEvent`; what the server sends is a body type that carries
//! its own name (`ServerEvent`). Each event is named in exactly one place here.
//!
//! Adding an event: a variant in `client_events!` (with its request type in
//! `requests.rs`) or a type in `server.rs` listed in `server_events!`; then a service
//! method, and its handler in `realtime` (see docs/ARCHITECTURE.md).

mod client;
mod server;

use serde::Serialize;

pub use client::{ClientEvent, ClientEventName};
pub use server::*;

use super::time::now_rfc3339;

/// A server→client event: its body serialises as the event's `data`.
pub trait ServerEvent: Serialize {
    /// The event name on the wire.
    const NAME: &'static str;

    /// The room `seq` of a new message: nodes deliver a room's messages in this order.
    fn seq(&self) -> Option<i64> {
        None
    }

    /// The room's change `seq` of a change to a stored message (a deletion): nodes
    /// deliver a room's changes in this order.
    fn change_seq(&self) -> Option<i64> {
        None
    }
}

/// Every server event carries `{ "data": …, "timestamp": "<RFC 3339>" }`.
#[derive(Serialize)]
pub struct Timestamped<'a, E> {
    pub data: &'a E,
    pub timestamp: String,
}

impl<'a, E: ServerEvent> Timestamped<'a, E> {
    pub fn now(data: &'a E) -> Self {
        Timestamped {
            data,
            timestamp: now_rfc3339(),
        }
    }
}
