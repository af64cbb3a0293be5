//! Rooms and their members: creation, membership, room lists with unread counts.

use super::{is_unique_violation, with_pool, Store};
use crate::domain::{RoomKind, RoomRole, RoomSummary};

/// A room to create, with its first members.
pub struct NewRoom {
    pub id: String,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub personal_key: Option<String>,
    pub created_by: String,
    pub now: i64,
    pub members: Vec<(String, RoomRole)>,
}

pub struct RoomListPage {
    pub rooms: Vec<RoomSummary>,
    pub next_cursor: Option<(i64, String)>,
}

#[derive(sqlx::FromRow)]
struct RoomRow {
    id: String,
    kind: String,
    name: Option<String>,
    created_by: String,
    created_at: i64,
    last_seq: i64,
    last_activity_at: i64,
}

impl From<RoomRow> for RoomSummary {
    fn from(r: RoomRow) -> Self {
        RoomSummary {
            id: r.id,
            kind: RoomKind::parse(&r.kind),
            name: r.name,
            created_by: r.created_by,
            created_at: r.created_at,
            last_activity_at: r.last_activity_at,
            last_seq: r.last_seq,
            last_message: None,
            unread_count: None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    room: RoomRow,
    unread: i64,
}

impl Store {
    /// Creates a room. For a 1:1 room whose pair already has one, returns
    /// `Ok(Some(existing_id))` and creates nothing.
    pub async fn create_room(&self, room: &NewRoom) -> Result<Option<String>, sqlx::Error> {
        if let Some(key) = &room.personal_key {
            if let Some(id) = self.find_personal_room(key).await? {
                return Ok(Some(id));
            }
        }
        let res: Result<(), sqlx::Error> = with_pool!(self, p => async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO rooms (id, kind, name, personal_key, created_by, created_at, last_seq, last_activity_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $6)",
            )
            .bind(&room.id)
            .bind(room.kind.as_str())
            .bind(&room.name)
            .bind(&room.personal_key)
            .bind(&room.created_by)
            .bind(room.now)
            .execute(&mut *tx)
            .await?;
            for (user_id, role) in &room.members {
                sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(user_id)
                    .bind(room.now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO room_members (room_id, user_id, room_role, last_read_seq, joined_at)
                     VALUES ($1, $2, $3, 0, $4) ON CONFLICT (room_id, user_id) DO NOTHING",
                )
                .bind(&room.id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(room.now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await);
        match res {
            Ok(()) => Ok(None),
            // Two concurrent opens of the same pair: the loser returns the winner's room.
            Err(e) if is_unique_violation(&e) && room.personal_key.is_some() => {
                let key = room.personal_key.as_deref().unwrap_or_default();
                match self.find_personal_room(key).await? {
                    Some(id) => Ok(Some(id)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn find_personal_room(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, String>("SELECT id FROM rooms WHERE personal_key = $1")
            .bind(key)
            .fetch_optional(p)
            .await)
    }

    pub async fn get_room(&self, room_id: &str) -> Result<Option<RoomSummary>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, RoomRow>(
            "SELECT r.id, r.kind, r.name, r.created_by, r.created_at, r.last_seq, r.last_activity_at
             FROM rooms r WHERE r.id = $1",
        )
        .bind(room_id)
        .fetch_optional(p)
        .await
        .map(|r| r.map(RoomSummary::from)))
    }

    /// The caller's rooms, most recent activity first, with last message and unread count.
    pub async fn list_rooms(
        &self,
        user_id: &str,
        limit: i64,
        cursor: Option<(i64, String)>,
    ) -> Result<RoomListPage, sqlx::Error> {
        let (c_at, c_id) = match cursor {
            Some((at, id)) => (Some(at), id),
            None => (None, String::new()),
        };
        let rows: Vec<ListedRow> = with_pool!(self, p => sqlx::query_as::<_, ListedRow>(
            "SELECT r.id, r.kind, r.name, r.created_by, r.created_at, r.last_seq, r.last_activity_at,
               (SELECT COUNT(*) FROM messages x WHERE x.room_id = r.id AND x.seq > m.last_read_seq
                  AND x.sender_id <> $1 AND x.deleted_at IS NULL) AS unread
             FROM room_members m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = $1
               AND ($2 IS NULL OR r.last_activity_at < $2 OR (r.last_activity_at = $2 AND r.id < $3))
             ORDER BY r.last_activity_at DESC, r.id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(c_at)
        .bind(&c_id)
        .bind(limit + 1)
        .fetch_all(p)
        .await)?;
        let more = rows.len() as i64 > limit;
        let mut rooms: Vec<RoomSummary> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| {
                let mut s = RoomSummary::from(r.room);
                s.unread_count = Some(r.unread);
                s
            })
            .collect();
        for room in rooms.iter_mut() {
            let last = if room.last_seq > 0 {
                self.message_by_seq(&room.id, room.last_seq).await?
            } else {
                None
            };
            room.last_message = Some(last);
        }
        let next_cursor = if more {
            rooms.last().map(|r| (r.last_activity_at, r.id.clone()))
        } else {
            None
        };
        Ok(RoomListPage { rooms, next_cursor })
    }
}
