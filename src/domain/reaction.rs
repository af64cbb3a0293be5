//! Reactions: what an emoji is (one grapheme cluster), and whether one is added or removed.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::error::{AppError, AppResult};

/// Longest emoji accepted, in bytes (family and flag sequences take about 30).
pub const MAX_EMOJI_BYTES: usize = 64;

/// An emoji is one grapheme cluster, not whitespace or a control character, of at most
/// `MAX_EMOJI_BYTES` bytes.
pub fn check_emoji(emoji: &str) -> AppResult<()> {
    let bad = |why: &str| Err(AppError::bad_request("invalid_emoji", why.to_string()));
    if emoji.is_empty() || emoji.len() > MAX_EMOJI_BYTES {
        return bad("an emoji is one grapheme cluster of at most 64 bytes");
    }
    if emoji.graphemes(true).count() != 1 {
        return bad("an emoji is one grapheme cluster");
    }
    if emoji.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("an emoji is not whitespace or a control character");
    }
    Ok(())
}

/// A reaction added or removed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReactionAction {
    Add,
    Remove,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_is_one_grapheme_cluster_even_when_it_is_a_sequence() {
        for ok in ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
        {
            assert!(check_emoji(ok).is_ok(), "{ok}");
        }
        for bad in ["", "👍👍", "ab", " ", "\n", "\u{0}"] {
            assert_eq!(
                check_emoji(bad).unwrap_err().code,
                "invalid_emoji",
                "{bad:?}"
            );
        }
        assert!(
            check_emoji(&format!("a{}", "\u{301}".repeat(40))).is_err(),
            "too long"
        );
    }
}
