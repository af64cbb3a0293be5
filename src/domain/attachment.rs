//! Attachments and forwards: the shapes messages carry, and the rules an upload is held
//! to (its file name, its declared type against its bytes, the kind derived from them).

use serde::{Deserialize, Serialize};

use super::error::{AppError, AppResult};

/// What a client draws an attachment as.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    File,
    Image,
    Audio,
    Video,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "image" => Self::Image,
            "audio" => Self::Audio,
            "video" => Self::Video,
            _ => Self::File,
        }
    }

    /// Played by `<audio>` / `<video>` elements: these may carry a duration.
    pub fn is_media(self) -> bool {
        matches!(self, Self::Audio | Self::Video)
    }
}

/// An uploaded file as a message carries it. `url` is filled when the message is sent to
/// a client (a signed, time-limited path); it is not stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub kind: AttachmentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// Where a forwarded message came from: the first message of a chain of forwards.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardedFrom {
    pub message_id: String,
    pub room_id: String,
    pub sender_id: String,
    pub sender_name: String,
    #[serde(serialize_with = "super::time::ser_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// Longest file name kept, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The `X-Filename` header: percent-decoded UTF-8, a bare name (no `/`, `\`, control
/// characters, not `.` or `..`), at most 255 bytes.
pub fn file_name(header: &str) -> AppResult<String> {
    let bad = |why: &str| AppError::bad_request("invalid_filename", why.to_string());
    let bytes = percent_decode(header).ok_or_else(|| bad("X-Filename is not percent-encoded"))?;
    let name = String::from_utf8(bytes).map_err(|_| bad("X-Filename is not UTF-8"))?;
    if name.trim().is_empty() || name == "." || name == ".." {
        return Err(bad("X-Filename must name a file"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(bad("X-Filename is longer than 255 bytes"));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(bad(
            "X-Filename must be a bare file name: no '/', '\\' or control characters",
        ));
    }
    Ok(name)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The declared `Content-Type` reduced to `type/subtype`, lower case; `None` if it is not
/// a media type at all.
pub fn essence(declared: &str) -> Option<String> {
    let e = declared.split(';').next()?.trim().to_ascii_lowercase();
    let (t, s) = e.split_once('/')?;
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
    };
    (ok(t) && ok(s)).then_some(e)
}

/// Containers whose audio and video forms share their magic bytes.
const FAMILIES: &[&[&str]] = &[
    &["video/webm", "audio/webm"],
    &[
        "video/mp4",
        "audio/mp4",
        "audio/m4a",
        "audio/x-m4a",
        "video/quicktime",
    ],
    &["audio/ogg", "video/ogg", "application/ogg", "audio/opus"],
    &["audio/mpeg", "audio/mp3"],
    &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
    &["image/jpeg", "image/jpg", "image/pjpeg"],
];

fn same_family(a: &str, b: &str) -> bool {
    a == b || FAMILIES.iter().any(|f| f.contains(&a) && f.contains(&b))
}

/// Checks the declared type against the type sniffed from the file's first bytes and
/// gives the kind to store: a declared image, audio or video type must be borne out by
/// the bytes; bytes recognised as something else than declared are refused (415
/// `content_type_mismatch`); anything unrecognised is kept as a `file`.
pub fn verify_type(declared: &str, sniffed: Option<&str>) -> AppResult<AttachmentKind> {
    let mismatch = |why: String| AppError::new(415, "content_type_mismatch", why);
    let top = declared.split('/').next().unwrap_or_default();
    match sniffed {
        Some(found) if same_family(declared, found) => Ok(match top {
            "image" => AttachmentKind::Image,
            "audio" => AttachmentKind::Audio,
            "video" => AttachmentKind::Video,
            _ => AttachmentKind::File,
        }),
        // Undeclared bytes are kept as a file, whatever they look like.
        Some(_) if declared == "application/octet-stream" => Ok(AttachmentKind::File),
        Some(found) => Err(mismatch(format!(
            "the file is {found}, not the declared {declared}"
        ))),
        None if matches!(top, "image" | "audio" | "video") => Err(mismatch(format!(
            "the bytes are not {declared} (not a recognised {top} format)"
        ))),
        None => Ok(AttachmentKind::File),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_percent_decoded_and_must_be_bare() {
        assert_eq!(
            file_name("notes%20%C3%A9t%C3%A9.pdf").unwrap(),
            "notes été.pdf"
        );
        for bad in ["a%2Fb", "..", "a\\b", "%0Aname", "", "%ZZ", "%FF%FE"] {
            assert_eq!(
                file_name(bad).unwrap_err().code,
                "invalid_filename",
                "{bad}"
            );
        }
        assert!(file_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn a_declared_type_must_match_the_bytes_and_gives_the_kind() {
        use AttachmentKind::*;
        assert_eq!(verify_type("image/png", Some("image/png")).unwrap(), Image);
        assert_eq!(
            verify_type("audio/webm", Some("video/webm")).unwrap(),
            Audio
        );
        assert_eq!(
            verify_type("application/pdf", Some("application/pdf")).unwrap(),
            File
        );
        assert_eq!(verify_type("text/plain", None).unwrap(), File);
        assert_eq!(
            verify_type("application/octet-stream", Some("image/png")).unwrap(),
            File
        );
        assert_eq!(
            verify_type("image/png", Some("application/x-executable"))
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            verify_type("image/svg+xml", None).unwrap_err().code,
            "content_type_mismatch"
        );
        assert_eq!(
            verify_type("text/plain", Some("image/png"))
                .unwrap_err()
                .status,
            415
        );
    }

    #[test]
    fn a_content_type_is_reduced_to_its_essence() {
        assert_eq!(
            essence("Text/Plain; charset=utf-8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(essence("nonsense"), None);
        assert_eq!(essence("a/b c"), None);
    }
}
