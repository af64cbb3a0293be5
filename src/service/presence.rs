//! Presence: connect/disconnect accounting, chosen status, last seen, room online users, stats.

use serde::Serialize;
use serde_json::json;

use super::Chat;
use crate::backplane::keys;
use crate::backplane::Target;
use crate::domain::permissions;
use crate::domain::time::now_ms;
use crate::domain::{Principal, Status, UserStatus};
use crate::error::{AppError, AppResult};
use crate::realtime::events::CHAT_USER_STATUS_UPDATE;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    pub user_id: String,
    pub name: Option<String>,
    pub status: Status,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomOnline {
    pub room_id: String,
    pub users: Vec<OnlineUser>,
}

impl Chat {
    /// Tells each contact once, however many rooms they share.
    async fn announce_status(
        &self,
        user_id: &str,
        status: Status,
        last_seen: Option<i64>,
    ) -> AppResult<()> {
        let data = UserStatus {
            user_id: user_id.to_string(),
            status,
            last_seen,
        };
        for contact in self.store.contacts(user_id).await? {
            self.emit(Target::User(contact), None, CHAT_USER_STATUS_UPDATE, &data)
                .await;
        }
        Ok(())
    }

    /// A socket of this user connected.
    pub async fn user_connected(&self, p: &Principal) -> AppResult<()> {
        if let Some(change) = self.presence.connect(&p.user_id) {
            self.announce_status(&p.user_id, change.status, Some(now_ms()))
                .await?;
        }
        Ok(())
    }

    /// A socket of this user disconnected; the last one makes them offline with a last seen.
    pub async fn user_disconnected(&self, user_id: &str) -> AppResult<()> {
        let was_visible = self.presence.disconnect(user_id);
        if !self.presence.is_connected(user_id) {
            let now = now_ms();
            self.store.set_last_seen(user_id, now).await?;
            if let Some(change) = was_visible {
                self.announce_status(user_id, change.status, Some(now))
                    .await?;
            }
        }
        Ok(())
    }

    /// The caller chose a status; contacts are told if what they see changed.
    pub async fn set_status(&self, p: &Principal, status: Status) -> AppResult<UserStatus> {
        let was = self.presence.status_of(&p.user_id);
        if self.presence.set_status(&p.user_id, status).is_some() {
            let now = self.presence.status_of(&p.user_id);
            if now != was {
                let last_seen = (now == Status::Offline).then(now_ms);
                self.announce_status(&p.user_id, now, last_seen.or(Some(now_ms())))
                    .await?;
            }
        }
        self.status_of(&p.user_id).await
    }

    async fn status_of(&self, user_id: &str) -> AppResult<UserStatus> {
        let status = self.presence.status_of(user_id);
        let last_seen = if self.presence.is_connected(user_id) {
            Some(now_ms())
        } else {
            self.store
                .get_user(user_id)
                .await?
                .and_then(|u| u.last_seen)
        };
        Ok(UserStatus {
            user_id: user_id.to_string(),
            status,
            last_seen,
        })
    }

    /// A contact's status (anyone's for admins).
    pub async fn get_status(&self, p: &Principal, user_id: &str) -> AppResult<UserStatus> {
        let contact = p.user_id != user_id && self.store.is_contact(&p.user_id, user_id).await?;
        if !permissions::can_view_status(p, user_id, contact) {
            return Err(AppError::forbidden(
                "you can see the status of your contacts only",
            ));
        }
        if p.is_admin() && p.user_id != user_id && self.store.get_user(user_id).await?.is_none() {
            return Err(AppError::user_not_found());
        }
        self.status_of(user_id).await
    }

    /// Members of the room who are online (any status but offline).
    pub async fn room_online_users(&self, p: &Principal, room_id: &str) -> AppResult<RoomOnline> {
        self.access(p, room_id).await?;
        let users = self
            .store
            .members(room_id)
            .await?
            .into_iter()
            .filter_map(|m| {
                let status = self.presence.status_of(&m.user_id);
                (status != Status::Offline).then_some(OnlineUser {
                    user_id: m.user_id,
                    name: m.name,
                    status,
                })
            })
            .collect();
        Ok(RoomOnline {
            room_id: room_id.to_string(),
            users,
        })
    }

    /// Cluster-wide and per-node connections, online users and active rooms (admins).
    pub async fn stats(&self, p: &Principal) -> AppResult<serde_json::Value> {
        if !permissions::can_view_stats(p) {
            return Err(AppError::forbidden("cluster stats are for admins"));
        }
        let connections = self.io.sockets().len();
        let rooms = self.io.rooms().await.unwrap_or_default();
        let active_rooms = rooms
            .iter()
            .filter(|r| keys::room_id_of(r).is_some())
            .count();
        let online_users = self.presence.online_users();
        let node = json!({
            "nodeId": self.node_id, "connections": connections,
            "onlineUsers": online_users, "activeRooms": active_rooms,
        });
        Ok(json!({
            "mode": self.backplane.mode(),
            "connections": connections,
            "onlineUsers": online_users,
            "activeRooms": active_rooms,
            "nodes": [node],
        }))
    }
}
