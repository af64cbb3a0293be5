//! Full-text search rules: the settings, the validated query, the opaque cursor, the
//! FTS5 expression made from user input, and the snippet markup (`<mark>` in escaped HTML).

use serde::Serialize;

use crate::domain::error::{AppError, AppResult};
use crate::domain::limits::Rate;
use crate::domain::Message;

/// Where a hit starts and ends in a raw snippet from the database (private-use
/// characters); [`render_snippet`] turns them into `<mark>` and `</mark>`.
pub const MARK_START: char = '\u{E000}';
pub const MARK_END: char = '\u{E001}';

/// How search behaves: the text search language, the longest query, the rate per user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchSettings {
    /// A PostgreSQL text search configuration (`pg_ts_config`); on SQLite `simple` or
    /// `english` (the Porter stemmer).
    pub language: String,
    pub max_query_chars: usize,
    pub rate: Rate,
    /// PostgreSQL: a search running longer is cancelled (503 `search_timeout`).
    pub timeout_ms: u64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            language: "simple".into(),
            max_query_chars: 256,
            rate: Rate::new(2, 10),
            timeout_ms: 5000,
        }
    }
}

/// A language name as it may appear in SQL: 1–63 lowercase letters, digits or `_`.
pub fn valid_language_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Where a page of hits continues: after the hit with this score and id (best first:
/// score descending, then id descending).
#[derive(Clone, Debug, PartialEq)]
pub struct SearchCursor {
    pub score: f64,
    pub id: String,
}

impl SearchCursor {
    /// The cursor as clients see it: the score's bits in hex, `:`, the message id.
    pub fn format(&self) -> String {
        format!("{:016x}:{}", self.score.to_bits(), self.id)
    }

    pub fn parse(s: &str) -> AppResult<Self> {
        let bad = || AppError::bad_request("invalid_cursor", "cursor is not one this server gave");
        let (bits, id) = s.split_once(':').ok_or_else(bad)?;
        let score = u64::from_str_radix(bits, 16)
            .ok()
            .filter(|_| bits.len() == 16)
            .map(f64::from_bits)
            .filter(|f| f.is_finite())
            .ok_or_else(bad)?;
        if id.is_empty() || id.len() > 64 {
            return Err(bad());
        }
        Ok(SearchCursor {
            score,
            id: id.to_string(),
        })
    }
}

/// A search request, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// The query text, trimmed (PostgreSQL reads it with `websearch_to_tsquery`).
    pub text: String,
    pub room_id: Option<String>,
    pub limit: i64,
    pub after: Option<SearchCursor>,
}

impl SearchQuery {
    /// From the raw `q`, `roomId` and `cursor` values (the limit is parsed already).
    pub fn parse(
        q: Option<&str>,
        room_id: Option<&str>,
        limit: i64,
        cursor: Option<&str>,
        settings: &SearchSettings,
    ) -> AppResult<Self> {
        let text = q.unwrap_or("").trim();
        if text.is_empty() {
            return Err(AppError::bad_request(
                "invalid_query",
                "q must contain something to search for",
            ));
        }
        if text.chars().count() > settings.max_query_chars {
            return Err(AppError::bad_request(
                "query_too_long",
                format!("q is limited to {} characters", settings.max_query_chars),
            ));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(SearchCursor::parse(c)?),
            None => None,
        };
        Ok(SearchQuery {
            text: text.to_string(),
            room_id: room_id.filter(|r| !r.is_empty()).map(str::to_string),
            limit,
            after,
        })
    }

    /// The query as an FTS5 expression that cannot be a syntax error: each `"phrase"`
    /// and each other word becomes one quoted FTS5 string, all of which must match.
    /// `None` when nothing is left to search for.
    pub fn fts5_expression(&self) -> Option<String> {
        let mut terms = Vec::new();
        for (i, part) in self.text.split('"').enumerate() {
            if i % 2 == 1 {
                terms.push(part.to_string()); // inside quotes: a phrase
            } else {
                terms.extend(part.split_whitespace().map(str::to_string));
            }
        }
        let quoted: Vec<String> = terms
            .iter()
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .map(|t| format!("\"{}\"", t.replace('"', "")))
            .collect();
        (!quoted.is_empty()).then(|| quoted.join(" "))
    }
}

/// A raw snippet as HTML: the text escaped, each hit in `<mark>…</mark>` (always
/// balanced; stray markers are dropped).
pub fn render_snippet(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    let mut open = false;
    for c in raw.chars() {
        match c {
            MARK_START if !open => {
                out.push_str("<mark>");
                open = true;
            }
            MARK_END if open => {
                out.push_str("</mark>");
                open = false;
            }
            MARK_START | MARK_END => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// One search result: the message (as history lists it) and its snippet.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct SearchHit {
    pub message: Message,
    pub snippet: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(Some(q), None, 20, None, &SearchSettings::default()).unwrap()
    }

    #[test]
    fn empty_and_overlong_queries_are_refused() {
        let s = SearchSettings::default();
        for q in [None, Some(""), Some("  \t ")] {
            let e = SearchQuery::parse(q, None, 20, None, &s).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_query"));
        }
        let e = SearchQuery::parse(Some(&"é".repeat(257)), None, 20, None, &s).unwrap_err();
        assert_eq!(e.code, "query_too_long");
        assert!(SearchQuery::parse(Some(&"é".repeat(256)), None, 20, None, &s).is_ok());
    }

    #[test]
    fn cursors_round_trip_exactly_and_refuse_anything_else() {
        let c = SearchCursor {
            score: 0.1 + 0.2,
            id: "abc".into(),
        };
        assert_eq!(SearchCursor::parse(&c.format()).unwrap(), c);
        for bad in [
            "",
            "x",
            "12:abc",
            "zzzzzzzzzzzzzzzz:a",
            "7ff8000000000000:a",
        ] {
            assert_eq!(SearchCursor::parse(bad).unwrap_err().code, "invalid_cursor");
        }
    }

    #[test]
    fn fts5_expressions_quote_every_term() {
        assert_eq!(
            query("physics exam").fts5_expression().unwrap(),
            "\"physics\" \"exam\""
        );
        assert_eq!(
            query("\"new moon\" OR (x").fts5_expression().unwrap(),
            "\"new moon\" \"OR\" \"(x\""
        );
        assert_eq!(
            query("\"unbalanced").fts5_expression().unwrap(),
            "\"unbalanced\""
        );
        assert_eq!(
            query("AND OR ( ) * -").fts5_expression().unwrap(),
            "\"AND\" \"OR\""
        );
        assert_eq!(query("( ) * ^ \"").fts5_expression(), None);
    }

    #[test]
    fn snippets_escape_html_and_balance_marks() {
        let raw = format!("a <b> & {MARK_START}hit{MARK_END} 'x' {MARK_END}{MARK_START}open");
        assert_eq!(
            render_snippet(&raw),
            "a &lt;b&gt; &amp; <mark>hit</mark> &#39;x&#39; <mark>open</mark>"
        );
    }

    #[test]
    fn language_names_are_plain_identifiers() {
        assert!(valid_language_name("english"));
        assert!(valid_language_name("pg_catalog_x1"));
        assert!(!valid_language_name(""));
        assert!(!valid_language_name("English"));
        assert!(!valid_language_name("simple'; drop"));
    }
}
