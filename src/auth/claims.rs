//! Rules on a token's claims beyond what `jsonwebtoken` checks (lifetime, the shape of
//! `sub`), and the fixed refusal messages clients see instead of the parser's.

use jsonwebtoken::errors::{Error, ErrorKind};

use crate::domain::error::AppError;

/// What a client is told when `jsonwebtoken` refuses a token: a fixed phrase per kind,
/// never the parser's own text (which names its internals and echoes input).
pub(super) fn refusal(e: &Error) -> &'static str {
    match e.kind() {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "invalid token: not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "invalid token: issuer not accepted",
        ErrorKind::InvalidAudience => "invalid token: audience not accepted",
        ErrorKind::InvalidSignature => "invalid token: bad signature",
        ErrorKind::InvalidAlgorithm => "invalid token: algorithm not accepted",
        ErrorKind::MissingRequiredClaim(c) => match c.as_str() {
            "exp" => "invalid token: exp is required",
            "sub" => "invalid token: sub is required",
            "iss" => "invalid token: iss is required",
            "aud" => "invalid token: aud is required",
            _ => "invalid token: a required claim is missing",
        },
        _ => "invalid token",
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A token may live at most `max` seconds: from its `iat` (or now, when it has none or
/// one in the future) to its `exp`.
pub(super) fn check_lifetime(exp: u64, iat: Option<u64>, max: u64) -> Result<(), AppError> {
    let now = now_secs();
    let from = iat.map_or(now, |i| i.min(now));
    if exp.saturating_sub(from) > max {
        return Err(AppError::unauthorized(
            "invalid token: lifetime longer than this server accepts",
        ));
    }
    Ok(())
}

/// Characters that reorder the text around them (bidi embeddings, overrides, isolates
/// and marks): a user id shown to others must not carry them.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `sub`: 1–128 characters, not only whitespace, no control or bidi characters.
pub(super) fn check_sub(sub: &str) -> Result<(), AppError> {
    let n = sub.chars().count();
    if n == 0 || n > 128 {
        return Err(AppError::unauthorized(
            "invalid token: sub must be 1-128 characters",
        ));
    }
    if sub.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(AppError::unauthorized(
            "invalid token: sub must not contain control or bidi characters",
        ));
    }
    if sub.trim().is_empty() {
        return Err(AppError::unauthorized(
            "invalid token: sub must not be only whitespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_of_whitespace_control_or_bidi_characters_is_refused() {
        for bad in [
            "",
            "   ",
            "\u{3000}",
            "a\nb",
            "a\u{7f}",
            "ev\u{202E}il",
            "x\u{2066}",
        ] {
            assert!(check_sub(bad).is_err(), "{bad:?}");
        }
        for good in ["u1", "Ann Smith", "élève-7", "学生"] {
            assert!(check_sub(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_lifetime_over_the_maximum_is_refused_counted_from_iat_or_now() {
        let now = now_secs();
        assert!(check_lifetime(now + 3600, Some(now), 3600).is_ok());
        assert!(check_lifetime(now + 3601, Some(now), 3600).is_err());
        assert!(check_lifetime(now + 7200, None, 3600).is_err());
        // An iat in the future does not stretch the window.
        assert!(check_lifetime(now + 7200, Some(now + 7000), 3600).is_err());
        // A token issued long ago for longer than allowed stays refused.
        assert!(check_lifetime(now + 10, Some(now - 7200), 3600).is_err());
    }
}
