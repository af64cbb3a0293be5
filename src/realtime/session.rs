//! Per-socket session: the caller, and an ordered queue so a socket's events run one at a time,
//! in the order it sent them (socketioxide would otherwise run each in its own task).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef};

use crate::domain::Principal;

/// At most this many events may wait per socket; beyond it the event is refused.
pub const MAX_QUEUED: usize = 256;

/// One received event, waiting its turn.
pub struct Job {
    pub event: &'static str,
    pub payload: Option<Value>,
    pub socket: SocketRef,
    pub ack: AckSender,
}

pub struct Session {
    pub principal: Principal,
    /// The client's address, for per-address rate limits.
    pub addr: String,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    running: bool,
}

impl Session {
    pub fn new(principal: Principal, addr: String) -> Arc<Self> {
        Arc::new(Session {
            principal,
            addr,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Queues a job; returns `Some(true)` if the caller must start a drain
    /// task, `Some(false)` if one is running, `None` if the queue is full.
    pub fn push(&self, job: Job) -> Result<bool, Job> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.jobs.len() >= MAX_QUEUED {
            return Err(job);
        }
        q.jobs.push_back(job);
        let start = !q.running;
        q.running = true;
        Ok(start)
    }

    /// The next job, or `None` (and the drain task must end) when empty.
    pub fn next(&self) -> Option<Job> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let job = q.jobs.pop_front();
        if job.is_none() {
            q.running = false;
        }
        job
    }
}
