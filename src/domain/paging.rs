//! Paging inputs: history cursors by `seq` and list limits from the query string.

use crate::domain::error::{AppError, AppResult};

/// Which way a history page goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQueryDir {
    /// Newest first, `seq` below the cursor (no cursor: from the newest).
    Before(i64),
    /// Oldest first, `seq` above the cursor.
    After(i64),
}

impl HistoryQueryDir {
    /// From the raw `before` / `after` query values.
    pub fn parse(before: Option<&str>, after: Option<&str>) -> AppResult<Self> {
        let num = |name: &str, s: &str| {
            s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                AppError::bad_request(
                    "invalid_query",
                    format!("{name} must be a seq (integer >= 0)"),
                )
            })
        };
        match (
            before.filter(|s| !s.is_empty()),
            after.filter(|s| !s.is_empty()),
        ) {
            (Some(_), Some(_)) => Err(AppError::bad_request(
                "invalid_query",
                "give before or after, not both",
            )),
            (Some(b), None) => Ok(Self::Before(num("before", b)?)),
            (None, Some(a)) => Ok(Self::After(num("after", a)?)),
            (None, None) => Ok(Self::Before(i64::MAX)),
        }
    }
}

/// Parses a query-string limit: default when absent, 1..=max when given.
pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> AppResult<i64> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::bad_request(
                "invalid_query",
                format!("limit must be an integer from 1 to {max}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_takes_before_or_after_not_both() {
        assert_eq!(
            HistoryQueryDir::parse(Some("5"), None).unwrap(),
            HistoryQueryDir::Before(5)
        );
        assert_eq!(
            HistoryQueryDir::parse(None, Some("7")).unwrap(),
            HistoryQueryDir::After(7)
        );
        assert_eq!(
            HistoryQueryDir::parse(None, None).unwrap(),
            HistoryQueryDir::Before(i64::MAX)
        );
        assert!(HistoryQueryDir::parse(Some("1"), Some("2")).is_err());
        assert!(HistoryQueryDir::parse(Some("-1"), None).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None, 50, 100).unwrap(), 50);
        assert!(parse_limit(Some("0"), 50, 100).is_err());
        assert!(parse_limit(Some("101"), 50, 100).is_err());
    }
}
