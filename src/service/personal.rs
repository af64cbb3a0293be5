//! 1:1 rooms: who may open one with whom (`CLASSCHAT_PERSONAL_ROOMS`), what the opener
//! learns of the other user, and a member's way out (leave, block).

use serde::Serialize;

use super::rooms::{new_id, personal_key};
use super::Chat;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{By, ChatNotification};
use crate::domain::limits::PersonalRooms;
use crate::domain::requests::CreatePersonal;
use crate::domain::time::now_ms;
use crate::domain::{Member, Principal, Role, RoomDetail, RoomKind, RoomRole, RoomSummary};
use crate::storage::NewRoom;

/// The answer of block and unblock.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockState {
    pub room_id: String,
    pub blocked: bool,
}

fn is_staff(role: Option<Role>) -> bool {
    matches!(role, Some(Role::Teacher | Role::Admin))
}

fn not_allowed() -> AppError {
    AppError::forbidden("you may not open a 1:1 room with this user")
}

fn blocked() -> AppError {
    AppError::new(403, "blocked", "the other member has blocked this room")
}

impl Chat {
    /// Whether the policy lets the caller open a new 1:1 room with `other`.
    async fn may_open_with(&self, p: &Principal, other: &str) -> AppResult<bool> {
        Ok(match self.limits.personal_rooms {
            PersonalRooms::Anyone => true,
            PersonalRooms::SharedRoom => {
                p.is_admin() || self.store.share_group_room(&p.user_id, other).await?
            }
            PersonalRooms::StaffOnly => {
                is_staff(Some(p.role)) || is_staff(self.store.role_of(other).await?)
            }
        })
    }

    /// The 1:1 room of the caller and `userId`; `(room, created)`. An existing room is
    /// reopened (a member who left is back in it) unless the other member blocks it.
    pub async fn open_personal(
        &self,
        p: &Principal,
        req: CreatePersonal,
    ) -> AppResult<(RoomDetail, bool)> {
        req.validate()?;
        if req.user_id == p.user_id {
            return Err(AppError::bad_request(
                "invalid_user",
                "cannot open a 1:1 room with yourself",
            ));
        }
        self.rate.room_create(&p.user_id).await?;
        let key = personal_key(&p.user_id, &req.user_id);
        if let Some(room_id) = self.store.find_personal_room(&key).await? {
            self.reopen(p, &room_id).await?;
            let detail = self.personal_detail(p, &room_id).await?;
            return Ok((detail, false));
        }
        if !self.may_open_with(p, &req.user_id).await? {
            return Err(not_allowed());
        }
        let new = NewRoom {
            id: new_id(),
            kind: RoomKind::Personal,
            name: None,
            personal_key: Some(key),
            created_by: p.user_id.clone(),
            now: now_ms(),
            members: vec![
                (p.user_id.clone(), RoomRole::Member),
                (req.user_id.clone(), RoomRole::Member),
            ],
        };
        let existing = self.store.create_room(&new).await?;
        let room_id = existing.clone().unwrap_or(new.id);
        if existing.is_some() {
            self.reopen(p, &room_id).await?;
        } else {
            for (id, _) in &new.members {
                self.backplane.membership_changed(id, &room_id, true).await;
            }
        }
        let detail = self.personal_detail(p, &room_id).await?;
        if existing.is_none() {
            let new_chat = ChatNotification::NewChat {
                room: &detail.room,
                by: By::of(p),
            };
            self.notify(&req.user_id, &new_chat).await;
        }
        Ok((detail, existing.is_none()))
    }

    /// The caller comes back to an existing 1:1 room of theirs (refused while the other
    /// member blocks it).
    async fn reopen(&self, p: &Principal, room_id: &str) -> AppResult<()> {
        if self.store.blocked_for(room_id, &p.user_id).await? {
            return Err(blocked());
        }
        if self.store.membership(room_id, &p.user_id).await?.is_none() {
            let cap = self.limits.max_room_members;
            let ids = [p.user_id.clone()];
            let added = self.store.add_members(room_id, &ids, now_ms(), cap).await?;
            if added.is_some_and(|a| !a.is_empty()) {
                self.backplane
                    .membership_changed(&p.user_id, room_id, true)
                    .await;
            }
        }
        Ok(())
    }

    /// The detail of a 1:1 room as the caller may see it.
    pub(super) async fn personal_detail(
        &self,
        p: &Principal,
        room_id: &str,
    ) -> AppResult<RoomDetail> {
        let mut detail = self.detail_of(room_id).await?;
        self.hide_strangers(p, &detail.room, &mut detail.members)
            .await?;
        Ok(detail)
    }

    /// In a 1:1 room, the other member's name and role are shown only to staff, to someone
    /// who shares a group room with them, or once they have written in the room: opening
    /// a room with a made-up or guessed id tells nothing of who is behind it.
    pub(super) async fn hide_strangers(
        &self,
        p: &Principal,
        room: &RoomSummary,
        members: &mut [Member],
    ) -> AppResult<()> {
        if room.kind != RoomKind::Personal || is_staff(Some(p.role)) {
            return Ok(());
        }
        for m in members.iter_mut().filter(|m| m.user_id != p.user_id) {
            let known = self.store.share_group_room(&p.user_id, &m.user_id).await?
                || self.store.has_sent(&room.id, &m.user_id).await?;
            if !known {
                m.name = None;
                m.role = None;
            }
        }
        Ok(())
    }

    /// `POST /chat/rooms/{id}/block`: the caller blocks a 1:1 room of theirs. The other
    /// member is removed (their sockets leave it at once) and cannot reopen it, so their
    /// sends are refused and the caller's presence no longer reaches them through it.
    pub async fn block_room(&self, p: &Principal, room_id: &str) -> AppResult<BlockState> {
        let (room, membership) = self.access(p, room_id).await?;
        if room.kind != RoomKind::Personal || membership.is_none() {
            return Err(AppError::conflict(
                "not_personal",
                "only a member of a 1:1 room can block it",
            ));
        }
        self.store.block_room(room_id, &p.user_id, now_ms()).await?;
        for other in self.other_members(room_id, &p.user_id).await? {
            self.store.remove_member(room_id, &other).await?;
            self.stop_typing_of_removed(room_id, &other).await?;
            self.backplane
                .membership_changed(&other, room_id, false)
                .await;
            self.meeting_member_removed(room_id, &other).await;
        }
        Ok(BlockState {
            room_id: room_id.to_string(),
            blocked: true,
        })
    }

    /// `DELETE /chat/rooms/{id}/block`: lifts the caller's block; the other user may
    /// reopen the room again.
    pub async fn unblock_room(&self, p: &Principal, room_id: &str) -> AppResult<BlockState> {
        let (room, membership) = self.access(p, room_id).await?;
        if room.kind != RoomKind::Personal || membership.is_none() {
            return Err(AppError::conflict(
                "not_personal",
                "only a member of a 1:1 room can unblock it",
            ));
        }
        self.store.unblock_room(room_id, &p.user_id).await?;
        Ok(BlockState {
            room_id: room_id.to_string(),
            blocked: false,
        })
    }
}
