//! Types and rules of the chat domain: no web framework, database or Redis in here.

pub mod error;
pub mod events;
pub mod limits;
pub mod model;
pub mod paging;
pub mod permissions;
pub mod requests;
pub mod time;

pub use model::*;
pub use paging::HistoryQueryDir;
