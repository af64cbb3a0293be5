//! Meetings of a room (one running at most, by the `meetings_running` index) and the
//! attendance of their peers.

use super::{is_unique_violation, with_pool, Store};
use crate::domain::meeting::Stint;

/// A meeting as stored.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct MeetingRow {
    pub id: String,
    pub room_id: String,
    pub title: Option<String>,
    pub started_by: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
}

const COLUMNS: &str = "id, room_id, title, started_by, started_at, ended_at, ended_by, end_reason";

#[derive(sqlx::FromRow)]
struct StintRow {
    meeting_id: String,
    user_id: String,
    name: Option<String>,
    joined_at: i64,
    left_at: Option<i64>,
}

impl Store {
    /// Starts `m` unless its room already runs a meeting. `(meeting, true)` if `m` was
    /// started, `(the running one, false)` otherwise.
    pub async fn start_meeting(&self, m: &MeetingRow) -> Result<(MeetingRow, bool), sqlx::Error> {
        let inserted = with_pool!(self, p => sqlx::query(
            "INSERT INTO meetings (id, room_id, title, started_by, started_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&m.id)
        .bind(&m.room_id)
        .bind(&m.title)
        .bind(&m.started_by)
        .bind(m.started_at)
        .execute(p)
        .await
        .map(|_| ()));
        match inserted {
            Ok(_) => Ok((m.clone(), true)),
            Err(e) if is_unique_violation(&e) => match self.running_meeting(&m.room_id).await? {
                Some(running) => Ok((running, false)),
                // It ended in between: start ours after all.
                None => Box::pin(self.start_meeting(m)).await,
            },
            Err(e) => Err(e),
        }
    }

    /// The room's running meeting.
    pub async fn running_meeting(&self, room_id: &str) -> Result<Option<MeetingRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM meetings WHERE room_id = $1 AND ended_at IS NULL");
        with_pool!(self, p => sqlx::query_as::<_, MeetingRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(room_id).fetch_optional(p).await)
    }

    /// Every running meeting (for the empty-meeting check), oldest first.
    pub async fn running_meetings(&self, limit: i64) -> Result<Vec<MeetingRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM meetings WHERE ended_at IS NULL ORDER BY started_at LIMIT $1"
        );
        with_pool!(self, p => sqlx::query_as::<_, MeetingRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(limit).fetch_all(p).await)
    }

    /// Ends the meeting and closes its open attendance; false if it had already ended
    /// (so an end is announced once, whichever node gets there first).
    pub async fn end_meeting(
        &self,
        id: &str,
        by: Option<&str>,
        reason: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE meetings SET ended_at = $2, ended_by = $3, end_reason = $4
                 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .bind(by)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE meeting_attendance SET left_at = $2 WHERE meeting_id = $1 AND left_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// A peer joined (a repeated join of the same peer changes nothing).
    pub async fn attendance_joined(
        &self,
        meeting_id: &str,
        peer_id: &str,
        user_id: &str,
        name: Option<&str>,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO meeting_attendance (meeting_id, peer_id, user_id, name, joined_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (meeting_id, peer_id) DO NOTHING",
        )
        .bind(meeting_id)
        .bind(peer_id)
        .bind(user_id)
        .bind(name)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))
    }

    /// A peer left.
    pub async fn attendance_left(
        &self,
        meeting_id: &str,
        peer_id: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query(
            "UPDATE meeting_attendance SET left_at = $3 WHERE meeting_id = $1 AND peer_id = $2 AND left_at IS NULL",
        )
        .bind(meeting_id)
        .bind(peer_id)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ()))
    }

    /// The room's meetings, newest first, after the `(started_at, id)` cursor.
    pub async fn list_meetings(
        &self,
        room_id: &str,
        limit: i64,
        cursor: Option<(i64, String)>,
    ) -> Result<Vec<MeetingRow>, sqlx::Error> {
        let (after, at, id) = match cursor {
            Some((at, id)) => (
                "AND (started_at < $2 OR (started_at = $2 AND id < $3))",
                at,
                id,
            ),
            None => ("AND $2 = $2 AND $3 = $3", 0, String::new()),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM meetings WHERE room_id = $1 {after}
             ORDER BY started_at DESC, id DESC LIMIT $4"
        );
        with_pool!(self, p => sqlx::query_as::<_, MeetingRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(room_id)
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(p)
            .await)
    }

    /// The stints of these meetings (of one user only, with `only`).
    pub async fn stints(
        &self,
        meeting_ids: &[String],
        only: Option<&str>,
    ) -> Result<Vec<(String, Stint)>, sqlx::Error> {
        if meeting_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<StintRow> = with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT meeting_id, user_id, name, joined_at, left_at FROM meeting_attendance WHERE meeting_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in meeting_ids {
                sep.push_bind(id);
            }
            qb.push(")");
            if let Some(user) = only {
                qb.push(" AND user_id = ");
                qb.push_bind(user);
            }
            qb.build_query_as::<StintRow>().fetch_all(p).await
        })?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let stint = Stint {
                    user_id: r.user_id,
                    name: r.name,
                    joined_at: r.joined_at,
                    left_at: r.left_at,
                };
                (r.meeting_id, stint)
            })
            .collect())
    }
}
