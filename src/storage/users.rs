//! Users as seen in tokens: name, role, last seen; and who shares a room with whom.

use super::{with_pool, Store};
use crate::domain::{Role, UserRecord};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    name: Option<String>,
    role: Option<String>,
    last_seen: Option<i64>,
}

impl From<UserRow> for UserRecord {
    fn from(r: UserRow) -> Self {
        UserRecord {
            id: r.id,
            name: r.name,
            role: r.role.as_deref().and_then(Role::parse),
            last_seen: r.last_seen,
        }
    }
}

impl Store {
    /// Records the names and roles users' tokens carry, in one statement (the last
    /// entry of an id wins). Rows go in id order: PostgreSQL locks them in the order of
    /// the VALUES, so batches from several nodes wait for each other instead of
    /// deadlocking.
    pub async fn upsert_users(
        &self,
        users: &[(String, Option<String>, Role)],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut by_id: std::collections::BTreeMap<&str, (&Option<String>, Role)> =
            std::collections::BTreeMap::new();
        for (id, name, role) in users {
            by_id.insert(id, (name, *role));
        }
        if by_id.is_empty() {
            return Ok(());
        }
        with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO users (id, name, role, created_at) ");
            qb.push_values(&by_id, |mut b, (id, (name, role))| {
                b.push_bind(*id).push_bind(name.as_deref()).push_bind(role.as_str()).push_bind(now);
            });
            qb.push(" ON CONFLICT (id) DO UPDATE SET name = COALESCE(excluded.name, users.name), role = excluded.role");
            qb.build().execute(p).await.map(|_| ())
        })
    }

    /// Makes sure each id has a user row (unknown users are accepted by id), in id
    /// order for the same reason.
    pub async fn ensure_users(&self, ids: &[String], now: i64) -> Result<(), sqlx::Error> {
        let ids: std::collections::BTreeSet<&String> = ids.iter().collect();
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for id in &ids {
                sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        with_pool!(self, p => sqlx::query_as::<_, UserRow>(
            "SELECT id, name, role, last_seen FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await
        .map(|r| r.map(UserRecord::from)))
    }

    pub async fn set_last_seen(&self, id: &str, at: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, p => sqlx::query("UPDATE users SET last_seen = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(p)
            .await
            .map(|_| ()))
    }

    /// Whether two users share a room.
    pub async fn is_contact(&self, a: &str, b: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM room_members m
             JOIN room_members o ON o.room_id = m.room_id
             WHERE m.user_id = $1 AND o.user_id = $2",
        )
        .bind(a)
        .bind(b)
        .fetch_one(p)
        .await
        .map(|n| n > 0))
    }
}
