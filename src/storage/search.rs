//! Full-text search over messages: on PostgreSQL a GIN expression index on
//! `to_tsvector(<language>, content)` queried with `websearch_to_tsquery`, ranked by
//! `ts_rank_cd`, with `ts_headline` snippets; on SQLite an FTS5 table kept by triggers,
//! ranked by `bm25`, with `snippet`. Both are set up by [`Store::prepare_search`]
//! after the portable migrations (`search_setup.rs`).

use sqlx::AssertSqlSafe;

use super::messages::{select_messages, MessageRow};
use super::{with_pool, Pool, Store};
use crate::domain::search::{SearchCursor, MARK_END, MARK_START};
use crate::domain::Message;

/// Whose messages a search reads.
#[derive(Clone, Copy, Debug)]
pub enum SearchScope<'a> {
    /// Every room (admins).
    All,
    /// The rooms this user is a member of.
    MemberOf(&'a str),
    /// One room (access already checked).
    Room(&'a str),
}

/// What one search asks for.
#[derive(Clone, Copy, Debug)]
pub struct SearchRequest<'a> {
    /// The validated text search configuration (PostgreSQL).
    pub language: &'a str,
    /// The query text (PostgreSQL reads it with `websearch_to_tsquery`).
    pub query: &'a str,
    /// The query as an FTS5 expression (SQLite).
    pub fts5: &'a str,
    pub scope: SearchScope<'a>,
    /// Hits after this one.
    pub after: Option<&'a SearchCursor>,
    pub limit: i64,
    /// PostgreSQL's `statement_timeout` for the search (SQLite has none).
    pub timeout_ms: u64,
}

/// True when the database cancelled a statement for its timeout (PostgreSQL 57014).
pub fn is_statement_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}

/// Rooms named in one FTS5 expression at most.
const MAX_MATCH_ROOMS: usize = 500;

/// An FTS5 expression (of the `content` column) limited to these rooms' messages
/// (`None`: every room). Room ids are quoted FTS5 strings.
fn fts5_in_rooms(content: &str, rooms: Option<&[String]>) -> String {
    match rooms {
        None => content.to_string(),
        Some(rooms) => {
            let ids: Vec<String> = rooms
                .iter()
                .map(|r| format!("\"{}\"", r.replace('"', "\"\"")))
                .collect();
            format!("{content} AND room_id : ({})", ids.join(" OR "))
        }
    }
}

/// One hit: the message id, its score (higher is better) and its raw snippet, with
/// [`MARK_START`] / [`MARK_END`] around each match.
#[derive(Debug, Clone, PartialEq)]
pub struct RawHit {
    pub id: String,
    pub score: f64,
    pub snippet: String,
}

/// `ts_headline` options: fragments around the matches, hits between the markers.
fn headline_options() -> String {
    format!(
        "StartSel=\"{MARK_START}\", StopSel=\"{MARK_END}\", MaxWords=24, MinWords=8, \
         MaxFragments=2, FragmentDelimiter=\" … \""
    )
}

/// The SQL condition of a scope on `m.room_id`, its id bound as `param`. On PostgreSQL
/// a member's rooms are read first, as an array: then one scan of the search index is
/// ANDed with one scan of the rooms' messages (`IN (SELECT …)` scans the search index
/// once per room).
fn scope_sql(scope: SearchScope<'_>, param: &str, pg: bool) -> String {
    match scope {
        SearchScope::All => String::new(),
        SearchScope::MemberOf(_) if pg => format!(
            "AND m.room_id = ANY(ARRAY(SELECT room_id FROM room_members WHERE user_id = {param}))"
        ),
        SearchScope::MemberOf(_) => {
            format!("AND m.room_id IN (SELECT room_id FROM room_members WHERE user_id = {param})")
        }
        SearchScope::Room(_) => format!("AND m.room_id = {param}"),
    }
}

impl Store {
    /// One page of hits, best first.
    pub async fn search(&self, r: &SearchRequest<'_>) -> Result<Vec<RawHit>, sqlx::Error> {
        let SearchRequest {
            language,
            query,
            fts5,
            scope,
            after,
            limit,
            timeout_ms,
        } = *r;
        let (score, id) = after.map_or((f64::INFINITY, ""), |c| (c.score, c.id.as_str()));
        let scope_id = match scope {
            SearchScope::All => None,
            SearchScope::MemberOf(s) | SearchScope::Room(s) => Some(s),
        };
        match &self.pool {
            Pool::Postgres(p) => {
                // `language` is a checked identifier (`valid_language_name` and
                // `pg_ts_config`): a literal, so the planner matches the index
                // expression. Snippets are made for the page's rows only.
                let sql = format!(
                    "SELECT page.id, page.score, ts_headline('{language}'::regconfig, m.content,
                            websearch_to_tsquery('{language}'::regconfig, $1), $5) AS snippet
                     FROM (
                       SELECT hit.id, hit.score FROM (
                         SELECT m.id, ts_rank_cd(to_tsvector('{language}'::regconfig, m.content), q)::float8 AS score
                         FROM messages m, websearch_to_tsquery('{language}'::regconfig, $1) AS q
                         WHERE to_tsvector('{language}'::regconfig, m.content) @@ q
                           AND m.deleted_at IS NULL {scope}
                       ) hit
                       WHERE hit.score < $2 OR (hit.score = $2 AND hit.id < $3)
                       ORDER BY hit.score DESC, hit.id DESC LIMIT $4
                     ) page
                     JOIN messages m ON m.id = page.id
                     ORDER BY page.score DESC, page.id DESC",
                    scope = scope_sql(scope, "$6", true)
                );
                // Not a prepared statement kept for reuse: each search is planned for its
                // own words (a frequent word wants another plan than a rare one).
                let mut q = sqlx::query_as::<_, (String, f64, Option<String>)>(AssertSqlSafe(sql))
                    .persistent(false)
                    .bind(query)
                    .bind(score)
                    .bind(id)
                    .bind(limit)
                    .bind(headline_options());
                if let Some(s) = scope_id {
                    q = q.bind(s);
                }
                // The statement timeout bounds what one search may cost the database.
                let mut tx = p.begin().await?;
                sqlx::query(AssertSqlSafe(format!(
                    "SET LOCAL statement_timeout = {timeout_ms}"
                )))
                .execute(&mut *tx)
                .await?;
                let rows = q.fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, score, snippet)| RawHit {
                        id,
                        score,
                        snippet: snippet.unwrap_or_default(),
                    })
                    .collect())
            }
            Pool::Sqlite(p) => {
                // The caller's rooms go into the MATCH too, so FTS5 intersects the words'
                // and the rooms' lists instead of reading every match of a common word;
                // the join on `messages` below stays the access check.
                let rooms: Option<Vec<String>> = match scope {
                    SearchScope::All => None,
                    SearchScope::Room(r) => Some(vec![r.to_string()]),
                    SearchScope::MemberOf(u) => Some(
                        sqlx::query_scalar("SELECT room_id FROM room_members WHERE user_id = $1")
                            .bind(u)
                            .fetch_all(p)
                            .await?,
                    ),
                };
                if rooms.as_ref().is_some_and(Vec::is_empty) {
                    return Ok(Vec::new());
                }
                let content = format!("content : ({fts5})");
                // A user in very many rooms is filtered by the join alone.
                let in_match = rooms.as_deref().filter(|r| r.len() <= MAX_MATCH_ROOMS);
                let scoped = fts5_in_rooms(&content, in_match);
                let sql = format!(
                    "WITH hits AS MATERIALIZED (
                       SELECT d.message_id AS id, -bm25(message_search, 1.0, 0.0) AS score
                       FROM message_search
                       JOIN message_search_docs d ON d.doc = message_search.rowid
                       JOIN messages m ON m.id = d.message_id
                       WHERE message_search MATCH $1 AND m.deleted_at IS NULL {}
                     )
                     SELECT id, score FROM hits
                     WHERE score < $2 OR (score = $2 AND id < $3)
                     ORDER BY score DESC, id DESC LIMIT $4",
                    scope_sql(scope, "$5", false)
                );
                let mut q = sqlx::query_as::<_, (String, f64)>(AssertSqlSafe(sql))
                    .bind(&scoped)
                    .bind(score)
                    .bind(id)
                    .bind(limit);
                if let Some(s) = scope_id {
                    q = q.bind(s);
                }
                let page = q.fetch_all(p).await?;
                if page.is_empty() {
                    return Ok(Vec::new());
                }
                // Snippets of this page only.
                let mut qb = sqlx::QueryBuilder::new(format!(
                    "SELECT d.message_id, snippet(message_search, 0, char({}), char({}), '…', 16)
                     FROM message_search
                     JOIN message_search_docs d ON d.doc = message_search.rowid
                     WHERE message_search MATCH ",
                    MARK_START as u32, MARK_END as u32
                ));
                qb.push_bind(&content);
                qb.push(" AND d.message_id IN (");
                let mut sep = qb.separated(", ");
                for (id, _) in &page {
                    sep.push_bind(id);
                }
                qb.push(")");
                let snippets: std::collections::HashMap<String, String> = qb
                    .build_query_as::<(String, String)>()
                    .fetch_all(p)
                    .await?
                    .into_iter()
                    .collect();
                Ok(page
                    .into_iter()
                    .map(|(id, score)| RawHit {
                        snippet: snippets.get(&id).cloned().unwrap_or_default(),
                        id,
                        score,
                    })
                    .collect())
            }
        }
    }

    /// These messages as history lists them (any order; missing ids are left out).
    pub async fn messages_by_ids(&self, ids: &[String]) -> Result<Vec<Message>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<MessageRow> = with_pool!(self, p => {
            let mut qb = sqlx::QueryBuilder::new(select_messages!("WHERE id IN ("));
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            qb.push(")");
            qb.build_query_as::<MessageRow>().fetch_all(p).await
        })?;
        Ok(rows.into_iter().map(Message::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_filters_quote_each_room_id() {
        let c = "content : (\"a\")";
        assert_eq!(fts5_in_rooms(c, None), c);
        let rooms = ["r1".to_string(), "x\"y".to_string()];
        assert_eq!(
            fts5_in_rooms(c, Some(&rooms)),
            "content : (\"a\") AND room_id : (\"r1\" OR \"x\"\"y\")"
        );
    }
}
