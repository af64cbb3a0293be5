//! Room detail and member paging: a detail lists the first members (a bounded number),
//! the rest come page by page, so a large room is never sent whole.

use super::rooms::parse_cursor;
use super::Chat;
use crate::domain::error::{AppError, AppResult};
use crate::domain::{Member, Principal, RoomDetail};

/// Member-page cursors are `"<joined at ms>:<user id>"`.
fn member_cursor(m: &Member) -> String {
    format!("{}:{}", m.joined_at, m.user_id)
}

/// One page of members and the cursor of the next (`None` at the end).
pub struct MemberPage {
    pub members: Vec<Member>,
    pub next_cursor: Option<String>,
}

impl Chat {
    /// Up to `limit` members after `after`, with the cursor of the next page.
    async fn member_page(
        &self,
        room_id: &str,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> AppResult<MemberPage> {
        let mut members = self
            .store
            .members_page(room_id, after, limit as i64 + 1)
            .await?;
        let more = members.len() > limit;
        members.truncate(limit);
        let next_cursor = if more {
            members.last().map(member_cursor)
        } else {
            None
        };
        Ok(MemberPage {
            members,
            next_cursor,
        })
    }

    /// The room with its first members (`CLASSCHAT_ROOM_DETAIL_MEMBERS`) and a paging hint.
    pub(super) async fn detail_of(&self, room_id: &str) -> AppResult<RoomDetail> {
        let room = self
            .store
            .get_room(room_id)
            .await?
            .ok_or_else(AppError::room_not_found)?;
        let page = self
            .member_page(room_id, None, self.limits.room_detail_members)
            .await?;
        let member_count = self.store.member_count(room_id).await?;
        Ok(RoomDetail {
            room,
            members: page.members,
            member_count,
            members_next_cursor: page.next_cursor,
        })
    }

    pub async fn room_detail(&self, p: &Principal, room_id: &str) -> AppResult<RoomDetail> {
        self.access(p, room_id).await?;
        self.personal_detail(p, room_id).await
    }

    /// `GET /chat/rooms/{id}/members?cursor=&limit=`: members in join order.
    pub async fn room_members(
        &self,
        p: &Principal,
        room_id: &str,
        cursor: Option<&str>,
        limit: i64,
    ) -> AppResult<MemberPage> {
        let (room, _) = self.access(p, room_id).await?;
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(parse_cursor(c)?),
        };
        let mut page = self.member_page(room_id, after, limit as usize).await?;
        self.hide_strangers(p, &room, &mut page.members).await?;
        Ok(page)
    }
}
