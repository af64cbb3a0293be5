//! Settings of full-text message search (issue 13): the text search language, the
//! longest query, and the search rate per user.

use clap::Args;

use super::parse::positive;
use crate::domain::limits::Rate;
use crate::domain::search::{valid_language_name, SearchSettings};

/// A text search configuration name: lowercase letters, digits and `_`.
fn language(s: &str) -> Result<String, String> {
    let s = s.trim();
    if valid_language_name(s) {
        Ok(s.to_string())
    } else {
        Err("must be a text search configuration name (lowercase letters, digits, _), e.g. simple or english".into())
    }
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Search")]
pub struct SearchArgs {
    /// Language of message search: a PostgreSQL text search configuration (SELECT cfgname FROM pg_ts_config; checked at start-up), e.g. simple (no stemming, no stop words) or english. SQLite knows simple and english (the Porter stemmer). A change rebuilds the search index at the next start
    #[arg(long, env = "CLASSCHAT_SEARCH_LANGUAGE", value_name = "NAME", default_value = "simple", value_parser = language)]
    pub search_language: String,
    /// Longest search query (q of GET /chat/search), in characters; past it 400 query_too_long
    #[arg(long, env = "CLASSCHAT_SEARCH_MAX_QUERY_CHARS", value_name = "N", default_value = "256", value_parser = positive::<usize>)]
    pub search_max_query_chars: usize,
    /// PostgreSQL: a search running longer than this is cancelled and answered 503 search_timeout (bounds what one search may cost the database)
    #[arg(long, env = "CLASSCHAT_SEARCH_TIMEOUT_MS", value_name = "MS", default_value = "5000", value_parser = positive::<u64>)]
    pub search_timeout_ms: u64,
    /// Searches per user per second, sustained
    #[arg(long, env = "CLASSCHAT_RATE_SEARCH_PER_SEC", value_name = "N", default_value = "2", value_parser = positive::<u32>)]
    pub rate_search_per_sec: u32,
    /// Searches per user, burst
    #[arg(long, env = "CLASSCHAT_RATE_SEARCH_BURST", value_name = "N", default_value = "10", value_parser = positive::<u32>)]
    pub rate_search_burst: u32,
}

impl SearchArgs {
    pub fn settings(&self) -> SearchSettings {
        SearchSettings {
            language: self.search_language.clone(),
            max_query_chars: self.search_max_query_chars,
            rate: Rate::new(self.rate_search_per_sec, self.rate_search_burst),
            timeout_ms: self.search_timeout_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_defaults_are_the_documented_settings() {
        let cmd = SearchArgs::augment_args(Command::new("serve")).mut_args(|a| a.env(None::<&str>));
        let m = cmd.try_get_matches_from(["serve"]).expect("defaults parse");
        let a = SearchArgs::from_arg_matches(&m).expect("defaults");
        assert_eq!(a.settings(), SearchSettings::default());
    }

    #[test]
    fn languages_are_plain_names() {
        assert_eq!(language(" english ").unwrap(), "english");
        assert!(language("English").is_err());
        assert!(language("simple;drop").is_err());
    }
}
