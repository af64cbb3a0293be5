//! classchat: a real-time chat backend (REST on :4500, Socket.IO on :4501, metrics on :9464).

pub mod app;
pub mod auth;
pub mod backplane;
pub mod config;
pub mod data_dir;
pub mod domain;
pub mod forwarded;
pub mod http;
pub mod metrics;
pub mod net;
pub mod realtime;
pub mod server;
pub mod service;
pub mod storage;
pub mod telemetry;

pub use config::Config;
pub use server::{start, Running};
