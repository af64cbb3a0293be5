//! Rooms: open 1:1, create group, list, detail, add and remove members, with notifications.

use super::Chat;
use crate::backplane::Target;
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{By, ChatNotification};
use crate::domain::permissions;
use crate::domain::requests::{AddMembers, CreateGroup};
use crate::domain::time::now_ms;
use crate::domain::{Principal, RoomDetail, RoomKind, RoomRole, RoomSummary};
use crate::storage::{NewRoom, RoomListPage};

/// The stable key of a user pair, whatever the order.
pub(super) fn personal_key(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{x}|{y}", x.len())
}

fn dedupe(ids: &[String], except: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if id != except && !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl Chat {
    pub(super) async fn notify(&self, user_id: &str, notification: &ChatNotification<'_>) {
        self.emit(Target::User(user_id.to_string()), None, notification)
            .await;
    }

    /// A group room owned by the caller; members get `group-invite`.
    pub async fn create_group(&self, p: &Principal, req: CreateGroup) -> AppResult<RoomDetail> {
        if !permissions::can_create_group(p) {
            return Err(AppError::forbidden(
                "only teachers and admins create group rooms",
            ));
        }
        req.validate(&self.limits)?;
        self.rate.room_create(&p.user_id).await?;
        let invited = dedupe(&req.member_ids, &p.user_id);
        if invited.len() + 1 > self.limits.max_room_members {
            return Err(room_full(self.limits.max_room_members));
        }
        let mut members = vec![(p.user_id.clone(), RoomRole::Owner)];
        members.extend(invited.iter().map(|id| (id.clone(), RoomRole::Member)));
        let new = NewRoom {
            id: new_id(),
            kind: RoomKind::Group,
            name: Some(req.name.trim().to_string()),
            personal_key: None,
            created_by: p.user_id.clone(),
            now: now_ms(),
            members,
        };
        self.store.create_room(&new).await?;
        let detail = self.detail_of(&new.id).await?;
        for (id, _) in &new.members {
            self.backplane.membership_changed(id, &new.id, true).await;
        }
        let invite = ChatNotification::GroupInvite {
            room: &detail.room,
            by: By::of(p),
        };
        for id in &invited {
            self.notify(id, &invite).await;
        }
        self.webhook_invite(p, &detail.room, &invited).await;
        Ok(detail)
    }

    pub async fn list_rooms(
        &self,
        p: &Principal,
        limit: i64,
        cursor: Option<&str>,
    ) -> AppResult<RoomListPage> {
        let cursor = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(parse_cursor(c)?),
        };
        let mut page = self.store.list_rooms(&p.user_id, limit, cursor).await?;
        for room in &mut page.rooms {
            if let Some(Some(last)) = &mut room.last_message {
                self.sign_attachments(std::slice::from_mut(last));
            }
        }
        Ok(page)
    }

    /// Adds members; new ones get `group-invite`, existing ones `member-added`.
    pub async fn add_members(
        &self,
        p: &Principal,
        room_id: &str,
        req: AddMembers,
    ) -> AppResult<RoomDetail> {
        let (room, membership) = self.access(p, room_id).await?;
        ensure_group(&room)?;
        if !permissions::can_manage_members(p, membership) {
            return Err(AppError::forbidden(
                "only the room's owner or admins add members",
            ));
        }
        req.validate(&self.limits)?;
        self.rate.member_add(&p.user_id).await?;
        let before: Vec<String> = self
            .store
            .members(room_id)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let ids = dedupe(&req.user_ids, "");
        let cap = self.limits.max_room_members;
        let added = self
            .store
            .add_members(room_id, &ids, now_ms(), cap)
            .await?
            .ok_or_else(|| room_full(cap))?;
        let detail = self.detail_of(room_id).await?;
        if !added.is_empty() {
            self.room_members.forget(room_id);
            for id in &added {
                self.backplane.membership_changed(id, room_id, true).await;
            }
            let invite = ChatNotification::GroupInvite {
                room: &detail.room,
                by: By::of(p),
            };
            for id in &added {
                self.notify(id, &invite).await;
            }
            self.webhook_invite(p, &detail.room, &added).await;
            let member_added = ChatNotification::MemberAdded {
                room: &detail.room,
                by: By::of(p),
                user_ids: &added,
            };
            for id in before.iter().filter(|id| **id != p.user_id) {
                self.notify(id, &member_added).await;
            }
        }
        Ok(detail)
    }

    /// Removes a member (or the caller leaves); their sockets leave the room at once.
    pub async fn remove_member(
        &self,
        p: &Principal,
        room_id: &str,
        user_id: &str,
    ) -> AppResult<()> {
        let (room, membership) = self.access(p, room_id).await?;
        // A member may leave a 1:1 room; nobody removes the other one.
        if user_id != p.user_id {
            ensure_group(&room)?;
        }
        let target_role = if user_id == p.user_id {
            membership
        } else {
            self.store.membership(room_id, user_id).await?
        };
        let Some(target_role) = target_role else {
            return Err(AppError::new(
                404,
                "member_not_found",
                "no such member in this room",
            ));
        };
        if !permissions::can_remove_member(p, membership, user_id, target_role) {
            return Err(AppError::forbidden("not allowed to remove this member"));
        }
        self.store.remove_member(room_id, user_id).await?;
        self.room_members.forget(room_id);
        self.stop_typing_of_removed(room_id, user_id).await?;
        self.backplane
            .membership_changed(user_id, room_id, false)
            .await;
        self.meeting_member_removed(room_id, user_id).await;
        Ok(())
    }
}

/// 409 `room_full`: the member cap would be passed.
pub(super) fn room_full(cap: usize) -> AppError {
    AppError::conflict("room_full", format!("a room has at most {cap} members"))
}

fn ensure_group(room: &RoomSummary) -> AppResult<()> {
    if room.kind == RoomKind::Personal {
        return Err(AppError::conflict(
            "personal_room",
            "1:1 rooms have fixed members",
        ));
    }
    Ok(())
}

/// Room-list cursors are `"<activity ms>:<room id>"`.
pub fn format_cursor(at: i64, id: &str) -> String {
    format!("{at}:{id}")
}

pub(super) fn parse_cursor(c: &str) -> AppResult<(i64, String)> {
    c.split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_string())))
        .ok_or_else(|| {
            AppError::bad_request("invalid_cursor", "cursor is not one this server gave")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_key_ignores_order_and_is_unambiguous() {
        assert_eq!(personal_key("a", "b"), personal_key("b", "a"));
        assert_ne!(personal_key("a|b", "c"), personal_key("a", "b|c"));
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(
            parse_cursor(&format_cursor(5, "x:y")).unwrap(),
            (5, "x:y".to_string())
        );
        assert!(parse_cursor("garbage").is_err());
    }
}
