//! The search index, made after the portable migrations because its DDL differs per
//! database: on PostgreSQL a GIN index on `to_tsvector('<language>', content)` (named
//! after the language; an index of another language is dropped), on SQLite an FTS5
//! table with its own copy of the text and the room id (so a member's rooms are matched
//! inside the index), kept by triggers on `messages`, with `message_search_docs` mapping
//! its integer rowids to message ids. Idempotent: a
//! start with the same language changes nothing; another language rebuilds.

use sqlx::{AssertSqlSafe, SqlitePool};

use super::{Pool, Store};
use crate::domain::search::valid_language_name;

/// The variable named in set-up errors.
const VAR: &str = "CLASSCHAT_SEARCH_LANGUAGE";

/// Held while a node sets up the index, so nodes starting together take turns.
const PG_LOCK_KEY: i64 = 0x636c_6173_7365_6172; // "classear"

/// The triggers keeping the FTS5 table in step with `messages`: a message gets a
/// document number when stored; an edit or a deletion re-indexes it (a deleted
/// message, content NULL, leaves the index).
const SQLITE_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER IF NOT EXISTS message_search_insert AFTER INSERT ON messages BEGIN
       INSERT INTO message_search_docs (message_id) VALUES (new.id);
       INSERT INTO message_search (rowid, content, room_id)
         SELECT doc, new.content, new.room_id FROM message_search_docs
         WHERE message_id = new.id AND new.content IS NOT NULL AND new.deleted_at IS NULL;
     END",
    "CREATE TRIGGER IF NOT EXISTS message_search_update AFTER UPDATE OF content, deleted_at ON messages BEGIN
       DELETE FROM message_search
         WHERE rowid = (SELECT doc FROM message_search_docs WHERE message_id = old.id);
       INSERT INTO message_search (rowid, content, room_id)
         SELECT doc, new.content, new.room_id FROM message_search_docs
         WHERE message_id = new.id AND new.content IS NOT NULL AND new.deleted_at IS NULL;
     END",
    "CREATE TRIGGER IF NOT EXISTS message_search_delete AFTER DELETE ON messages BEGIN
       DELETE FROM message_search
         WHERE rowid = (SELECT doc FROM message_search_docs WHERE message_id = old.id);
       DELETE FROM message_search_docs WHERE message_id = old.id;
     END",
];

impl Store {
    /// Makes the search index for `language` if it is not there (a first start over
    /// existing messages indexes them all, which takes a while on a large database).
    /// Errors are one line for the operator, naming `CLASSCHAT_SEARCH_LANGUAGE` when the
    /// language is the problem.
    pub async fn prepare_search(&self, language: &str) -> Result<(), String> {
        if !valid_language_name(language) {
            return Err(format!("{VAR}: {language:?} is not a configuration name"));
        }
        let failed = |e: sqlx::Error| format!("search index set-up failed: {e}");
        match &self.pool {
            Pool::Postgres(p) => {
                let mut tx = p.begin().await.map_err(failed)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                let known: Vec<String> = sqlx::query_scalar(
                    "SELECT cfgname::text FROM pg_ts_config
                     WHERE pg_ts_config_is_visible(oid) ORDER BY 1",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
                if !known.iter().any(|k| k == language) {
                    return Err(format!(
                        "{VAR}: PostgreSQL has no text search configuration {language:?} (it has: {})",
                        known.join(", ")
                    ));
                }
                let index = format!("messages_search_{language}");
                let index: String = index.chars().take(63).collect();
                sqlx::query(AssertSqlSafe(format!(
                    "CREATE INDEX IF NOT EXISTS {index} ON messages
                     USING GIN (to_tsvector('{language}'::regconfig, content))"
                )))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
                let stale: Vec<String> = sqlx::query_scalar(
                    "SELECT indexname::text FROM pg_indexes
                     WHERE schemaname = current_schema() AND tablename = 'messages'
                       AND indexname LIKE 'messages\\_search\\_%' AND indexname <> $1",
                )
                .bind(&index)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
                for name in stale {
                    sqlx::query(AssertSqlSafe(format!("DROP INDEX IF EXISTS \"{name}\"")))
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)
            }
            Pool::Sqlite(p) => {
                let tokenizer = match language {
                    "simple" => "unicode61 remove_diacritics 2",
                    "english" => "porter unicode61 remove_diacritics 2",
                    other => {
                        return Err(format!(
                            "{VAR}: SQLite search knows simple and english, not {other:?}"
                        ))
                    }
                };
                prepare_sqlite(p, tokenizer).await.map_err(failed)
            }
        }
    }
}

/// The FTS5 table with `tokenizer`: kept if it is there with that tokenizer, else made
/// (again) and filled from `messages`.
async fn prepare_sqlite(p: &SqlitePool, tokenizer: &str) -> Result<(), sqlx::Error> {
    let create = format!(
        "CREATE VIRTUAL TABLE message_search USING fts5(content, room_id, tokenize = '{tokenizer}')"
    );
    let mut tx = p.begin().await?;
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'message_search'",
    )
    .fetch_optional(&mut *tx)
    .await?;
    if existing.as_deref() != Some(create.as_str()) {
        for ddl in [
            "DROP TRIGGER IF EXISTS message_search_insert",
            "DROP TRIGGER IF EXISTS message_search_update",
            "DROP TRIGGER IF EXISTS message_search_delete",
            "DROP TABLE IF EXISTS message_search",
            "DROP TABLE IF EXISTS message_search_docs",
            "CREATE TABLE message_search_docs (
               doc INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE)",
            create.as_str(),
            "INSERT INTO message_search_docs (message_id) SELECT id FROM messages ORDER BY rowid",
            "INSERT INTO message_search (rowid, content, room_id)
               SELECT d.doc, m.content, m.room_id FROM message_search_docs d JOIN messages m ON m.id = d.message_id
               WHERE m.content IS NOT NULL AND m.deleted_at IS NULL",
        ] {
            sqlx::query(AssertSqlSafe(ddl.to_string()))
                .execute(&mut *tx)
                .await?;
        }
    }
    for ddl in SQLITE_TRIGGERS {
        sqlx::query(*ddl).execute(&mut *tx).await?;
    }
    tx.commit().await
}
