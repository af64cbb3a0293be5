//! The webhook outbox: rows written with the events they announce, claimed by one node
//! at a time under a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`), each user's oldest
//! pending row first, and what came of each attempt.

use super::{with_pool, Pool, Store};

/// A row to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxRow {
    pub id: String,
    pub kind: &'static str,
    pub user_id: String,
    pub room_id: String,
    pub message_id: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// A row claimed for one attempt: only the holder of `lease_token` records its outcome.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClaimedRow {
    pub id: String,
    pub kind: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i32,
    pub lease_token: String,
}

/// A row as the admin view shows it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OutboxEntry {
    pub id: String,
    pub kind: String,
    pub user_id: String,
    pub room_id: String,
    pub message_id: Option<String>,
    pub body: String,
    pub created_at: i64,
    pub status: String,
    pub attempts: i32,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub done_at: Option<i64>,
}

/// Rows queued per statement.
const CHUNK: usize = 200;

/// Due, unleased rows that are their user's oldest pending one.
const DUE: &str = "SELECT o.id FROM webhook_outbox o
    WHERE o.status = 'pending' AND o.next_at <= $1
      AND (o.lease_until IS NULL OR o.lease_until < $1)
      AND NOT EXISTS (SELECT 1 FROM webhook_outbox e
          WHERE e.user_id = o.user_id AND e.status = 'pending'
            AND (e.created_at < o.created_at OR (e.created_at = o.created_at AND e.id < o.id)))
    ORDER BY o.next_at, o.created_at, o.id LIMIT $2";

impl Store {
    /// Queues `rows` (one transaction).
    pub async fn queue_webhooks(&self, rows: &[NewOutboxRow]) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for chunk in rows.chunks(CHUNK) {
                let mut sql = String::from("INSERT INTO webhook_outbox (id, kind, user_id, room_id, message_id, body, created_at, status, next_at) VALUES ");
                for i in 0..chunk.len() {
                    let b = i * 7;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 'pending', ${})",
                        b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 7
                    ));
                }
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for r in chunk {
                    q = q
                        .bind(&r.id)
                        .bind(r.kind)
                        .bind(&r.user_id)
                        .bind(&r.room_id)
                        .bind(&r.message_id)
                        .bind(&r.body)
                        .bind(r.created_at);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    /// Leases up to `limit` due rows to the caller until `now + lease_ms`. Two nodes
    /// never hold the same row: PostgreSQL skips rows another claim has locked, SQLite
    /// runs one write at a time.
    pub async fn claim_webhooks(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedRow>, sqlx::Error> {
        let lock = match self.pool {
            Pool::Postgres(_) => " FOR UPDATE OF o SKIP LOCKED",
            Pool::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE webhook_outbox SET lease_until = $3, lease_token = $4
             WHERE id IN ({DUE}{lock})
             RETURNING id, kind, body, created_at, attempts, lease_token"
        );
        let token = uuid::Uuid::now_v7().simple().to_string();
        with_pool!(self, p => sqlx::query_as::<_, ClaimedRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now)
            .bind(limit)
            .bind(now + lease_ms)
            .bind(&token)
            .fetch_all(p)
            .await)
    }

    /// Records an attempt's outcome: `status` 'delivered' or 'failed' (done), or
    /// 'pending' again with the next attempt at `next_at`. False if the lease was lost.
    pub async fn webhook_attempted(
        &self,
        row: &ClaimedRow,
        status: &str,
        now: i64,
        next_at: i64,
        error: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let done = (status != "pending").then_some(now);
        let sql = "UPDATE webhook_outbox SET status = $1, attempts = attempts + 1, next_at = $2,
                lease_until = NULL, lease_token = NULL, last_error = $3, last_attempt_at = $4,
                done_at = $5
            WHERE id = $6 AND lease_token = $7";
        let n = with_pool!(self, p => sqlx::query(sql)
            .bind(status)
            .bind(next_at)
            .bind(error)
            .bind(now)
            .bind(done)
            .bind(&row.id)
            .bind(&row.lease_token)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// When the oldest pending row was queued.
    pub async fn oldest_pending_webhook(&self) -> Result<Option<i64>, sqlx::Error> {
        let sql = "SELECT MIN(created_at) FROM webhook_outbox WHERE status = 'pending'";
        with_pool!(self, p => sqlx::query_scalar::<_, Option<i64>>(sql).fetch_one(p).await)
    }

    /// Rows of `status`, newest first, after the cursor `(created_at, id)`.
    pub async fn list_webhooks(
        &self,
        status: &str,
        limit: i64,
        after: Option<(i64, String)>,
    ) -> Result<Vec<OutboxEntry>, sqlx::Error> {
        let (at, id) = after.unwrap_or((i64::MAX, String::new()));
        let sql = "SELECT id, kind, user_id, room_id, message_id, body, created_at, status,
                attempts, next_at, last_error, last_attempt_at, done_at
            FROM webhook_outbox WHERE status = $1
              AND (created_at < $2 OR (created_at = $2 AND id < $3) OR $4)
            ORDER BY created_at DESC, id DESC LIMIT $5";
        let first = id.is_empty();
        with_pool!(self, p => sqlx::query_as::<_, OutboxEntry>(sql)
            .bind(status)
            .bind(at)
            .bind(&id)
            .bind(first)
            .bind(limit)
            .fetch_all(p)
            .await)
    }

    /// Forgets delivered rows finished before `delivered_before` and failed ones
    /// before `failed_before`.
    pub async fn prune_webhooks(
        &self,
        delivered_before: i64,
        failed_before: i64,
    ) -> Result<u64, sqlx::Error> {
        let sql = "DELETE FROM webhook_outbox WHERE (status = 'delivered' AND done_at < $1)
            OR (status = 'failed' AND done_at < $2)";
        with_pool!(self, p => Ok(sqlx::query(sql)
            .bind(delivered_before)
            .bind(failed_before)
            .execute(p)
            .await?
            .rows_affected()))
    }
}
