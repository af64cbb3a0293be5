//! Full-text search over the messages the caller can read: members' rooms (admins:
//! every room), or one room; best first, paged by an opaque `(score, id)` cursor, each
//! hit decorated like history and with an HTML-safe snippet.

use std::collections::HashMap;
use std::time::Instant;

use super::Chat;
use crate::domain::error::{AppError, AppResult};
use crate::domain::search::{render_snippet, SearchCursor, SearchHit, SearchQuery};
use crate::domain::Principal;
use crate::storage::{is_statement_timeout, SearchRequest, SearchScope};

impl Chat {
    /// `GET /chat/search`: one page of hits and the cursor of the next (none at the end).
    /// Rate limited per user; a `roomId` the caller cannot read is `room_not_found`.
    pub async fn search(
        &self,
        p: &Principal,
        q: &SearchQuery,
    ) -> AppResult<(Vec<SearchHit>, Option<String>)> {
        self.rate.search(&p.user_id).await?;
        let scope = match &q.room_id {
            Some(room_id) => {
                self.access(p, room_id).await?;
                SearchScope::Room(room_id)
            }
            None if p.is_admin() => SearchScope::All,
            None => SearchScope::MemberOf(&p.user_id),
        };
        // Nothing searchable (only punctuation, say) finds nothing, on either database.
        let Some(fts5) = q.fts5_expression() else {
            return Ok((Vec::new(), None));
        };
        let started = Instant::now();
        let request = SearchRequest {
            language: &self.limits.search.language,
            query: &q.text,
            fts5: &fts5,
            scope,
            after: q.after.as_ref(),
            limit: q.limit + 1,
            timeout_ms: self.limits.search.timeout_ms,
        };
        let mut raw = self.store.search(&request).await.map_err(|e| {
            if is_statement_timeout(&e) {
                metrics::counter!("classchat_search_timeouts_total").increment(1);
                AppError::unavailable(
                    "search_timeout",
                    "the search took too long: narrow it (more words, or a roomId)",
                )
            } else {
                e.into()
            }
        })?;
        metrics::histogram!("classchat_search_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let more = raw.len() as i64 > q.limit;
        raw.truncate(q.limit as usize);
        let next = more
            .then(|| {
                raw.last().map(|h| {
                    SearchCursor {
                        score: h.score,
                        id: h.id.clone(),
                    }
                    .format()
                })
            })
            .flatten();
        let ids: Vec<String> = raw.iter().map(|h| h.id.clone()).collect();
        let mut messages = self.store.messages_by_ids(&ids).await?;
        self.decorate(&mut messages).await?;
        let mut by_id: HashMap<String, _> =
            messages.into_iter().map(|m| (m.id.clone(), m)).collect();
        // A hit deleted since the search is left out.
        let hits = raw
            .into_iter()
            .filter_map(|h| {
                let message = by_id.remove(&h.id).filter(|m| m.deleted_at.is_none())?;
                Some(SearchHit {
                    message,
                    snippet: render_snippet(&h.snippet),
                })
            })
            .collect();
        Ok((hits, next))
    }
}
