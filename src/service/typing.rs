//! Typing indicators: who may send them, the broadcast, and the server-side auto-stop
//! (`isTyping: false` after a quiet period, or when the typer leaves the room).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use super::Chat;
use crate::backplane::Target;
use crate::domain::error::AppResult;
use crate::domain::events::ChatUserTyping;
use crate::domain::requests::Typing;
use crate::domain::Principal;

/// One timer generation per (room, user); a newer `isTyping: true` supersedes the old timer.
pub struct TypingTimers {
    pub timeout: Duration,
    generations: DashMap<(String, String), u64>,
    next: AtomicU64,
}

impl TypingTimers {
    pub fn new(timeout: Duration) -> Self {
        TypingTimers {
            timeout,
            generations: DashMap::new(),
            next: AtomicU64::new(1),
        }
    }

    /// Starts (or restarts) the timer; returns its generation.
    pub fn start(&self, room_id: &str, user_id: &str) -> u64 {
        let g = self.next.fetch_add(1, Ordering::Relaxed);
        self.generations
            .insert((room_id.to_string(), user_id.to_string()), g);
        g
    }

    /// Stops typing explicitly; true if the user was typing.
    pub fn stop(&self, room_id: &str, user_id: &str) -> bool {
        self.generations
            .remove(&(room_id.to_string(), user_id.to_string()))
            .is_some()
    }

    /// When a timer fires: true (and forgotten) if it is still the current one.
    pub fn expire(&self, room_id: &str, user_id: &str, generation: u64) -> bool {
        self.generations
            .remove_if(&(room_id.to_string(), user_id.to_string()), |_, g| {
                *g == generation
            })
            .is_some()
    }
}

impl Chat {
    /// `chat-typing` from `addr`: the room's other sockets get `chat-user-typing`; a
    /// start is followed by a stop after the timeout unless renewed.
    pub async fn set_typing(
        self: &Arc<Self>,
        p: &Principal,
        addr: &str,
        req: Typing,
    ) -> AppResult<()> {
        self.rate.typing(&p.user_id).await?;
        self.rate.typing_from(addr)?;
        // Membership is checked every time (not the socket's joined rooms): a member
        // removed a moment ago may still hold the room on a busy node.
        self.access(p, &req.room_id).await?;
        let event = ChatUserTyping {
            room_id: req.room_id.clone(),
            user_id: p.user_id.clone(),
            user_name: p.display_name().to_string(),
            is_typing: req.is_typing,
        };
        if req.is_typing {
            let generation = self.typing.start(&req.room_id, &p.user_id);
            let chat = self.clone();
            let stop = ChatUserTyping {
                is_typing: false,
                ..event.clone()
            };
            tokio::spawn(async move {
                tokio::time::sleep(chat.typing.timeout).await;
                if chat.typing.expire(&stop.room_id, &stop.user_id, generation) {
                    let target = Target::Room(stop.room_id.clone());
                    chat.emit(target, Some(&stop.user_id), &stop).await;
                }
            });
        } else {
            self.typing.stop(&req.room_id, &p.user_id);
        }
        let target = Target::Room(req.room_id);
        self.emit(target, Some(&p.user_id), &event).await;
        Ok(())
    }

    /// A member who was typing left the room: the others see them stop at once.
    pub(crate) async fn stop_typing_of_removed(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> AppResult<()> {
        if !self.typing.stop(room_id, user_id) {
            return Ok(());
        }
        let name = self
            .store
            .get_user(user_id)
            .await?
            .and_then(|u| u.name)
            .unwrap_or_else(|| user_id.to_string());
        let stop = ChatUserTyping {
            room_id: room_id.to_string(),
            user_id: user_id.to_string(),
            user_name: name,
            is_typing: false,
        };
        self.emit(Target::Room(room_id.to_string()), Some(user_id), &stop)
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_start_supersedes_the_old_timer() {
        let t = TypingTimers::new(Duration::from_secs(3));
        let g1 = t.start("r", "u");
        let g2 = t.start("r", "u");
        assert!(!t.expire("r", "u", g1));
        assert!(t.expire("r", "u", g2));
        assert!(!t.stop("r", "u"));
    }
}
