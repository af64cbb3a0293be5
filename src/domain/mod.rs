//! Types and rules of the chat domain: no web framework, database or Redis in here.

pub mod attachment;
pub mod error;
pub mod events;
pub mod ice;
pub mod limits;
pub mod meeting;
pub mod model;
pub mod paging;
pub mod permissions;
pub mod reaction;
pub mod requests;
pub mod search;
pub mod time;
pub mod webhook;

pub use model::*;
pub use paging::HistoryQueryDir;
