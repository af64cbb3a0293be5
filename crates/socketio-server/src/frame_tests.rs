//! Unit tests of the frame reader and writer: messages read whole however the bytes
//! arrive, the frames and close codes that end a connection, and (with an allocator
//! that notes the largest allocation of each thread) what the reader allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::*;

thread_local! {
    /// The largest single allocation made on this thread since `take_largest`.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

pub(super) fn take_largest() -> usize {
    LARGEST.with(|l| l.replace(0))
}

/// The system allocator, noting the largest allocation of each thread.
struct Tracking;

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call goes unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static TRACKING: Tracking = Tracking;

/// A masked client frame; `wide` picks a longer length encoding than needed (allowed).
pub(super) fn wire_frame(
    fin: bool,
    opcode: u8,
    payload: &[u8],
    mask: [u8; 4],
    wide: bool,
) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let len = payload.len();
    if len < 126 && !wide {
        out.push(0x80 | len as u8);
    } else if len <= 65535 && !(wide && len >= 126) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// A masked client frame, its length encoded minimally.
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    wire_frame(fin, opcode, payload, [1, 2, 3, 4], false)
}

#[test]
fn messages_are_read_whole_however_the_bytes_arrive() {
    let big = "x".repeat(70_000);
    let mut wire = client_frame(true, OP_TEXT, b"42[\"a\"]");
    wire.extend(client_frame(false, OP_TEXT, b"he"));
    wire.extend(client_frame(true, OP_PING, b"p"));
    wire.extend(client_frame(true, OP_CONT, b"llo"));
    wire.extend(client_frame(true, OP_TEXT, big.as_bytes()));
    let mut r = Reader::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in wire.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Some(m) = r.next(&mut buf, 1 << 20).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(
        got,
        vec![
            Message::Text("42[\"a\"]".into()),
            Message::Ping(b"p".to_vec()),
            Message::Text("hello".into()),
            Message::Text(big),
        ]
    );
    assert!(buf.is_empty());
}

#[test]
fn oversized_unmasked_and_invalid_frames_are_fatal() {
    let mut r = Reader::default();
    let mut buf = BytesMut::from(&client_frame(true, OP_TEXT, &[b'x'; 200])[..]);
    assert_eq!(r.next(&mut buf, 100), Err(Fatal(CLOSE_TOO_BIG)));
    let mut buf = BytesMut::from(&[0x81u8, 0x01, b'x'][..]);
    assert_eq!(
        Reader::default().next(&mut buf, 100),
        Err(Fatal(CLOSE_PROTOCOL))
    );
    let mut buf = BytesMut::from(&client_frame(true, OP_TEXT, &[0xff, 0xfe])[..]);
    assert_eq!(
        Reader::default().next(&mut buf, 100),
        Err(Fatal(CLOSE_INVALID_DATA))
    );
    let mut buf = BytesMut::from(&client_frame(true, OP_CONT, b"x")[..]);
    assert_eq!(
        Reader::default().next(&mut buf, 100),
        Err(Fatal(CLOSE_PROTOCOL))
    );
}

#[test]
fn server_frames_carry_their_length() {
    assert_eq!(&text(b"2")[..], &[0x81, 1, b'2']);
    assert_eq!(&text(&[b'a'; 300])[..4], &[0x81, 126, 1, 44]);
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

fn read_one(wire: &[u8]) -> Result<Option<Message>, Fatal> {
    let mut buf = BytesMut::from(wire);
    Reader::default().next(&mut buf, 1 << 20)
}

#[test]
fn close_frames_carry_a_valid_code_and_a_utf8_reason() {
    assert_eq!(
        read_one(&client_frame(true, OP_CLOSE, b"")),
        Ok(Some(Message::Close(None)))
    );
    let mut ok = 4999u16.to_be_bytes().to_vec();
    ok.extend_from_slice("κόσμε".as_bytes());
    assert_eq!(
        read_one(&client_frame(true, OP_CLOSE, &ok)),
        Ok(Some(Message::Close(Some(4999))))
    );
    assert_eq!(
        read_one(&client_frame(true, OP_CLOSE, &[3])),
        Err(Fatal(CLOSE_PROTOCOL))
    );
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        let f = client_frame(true, OP_CLOSE, &code.to_be_bytes());
        assert_eq!(read_one(&f), Err(Fatal(CLOSE_PROTOCOL)), "code {code}");
    }
    let bad_reason = [0x03, 0xe8, 0xed, 0xa0, 0x80];
    assert_eq!(
        read_one(&client_frame(true, OP_CLOSE, &bad_reason)),
        Err(Fatal(CLOSE_INVALID_DATA))
    );
    assert_eq!(&close_reply(None)[..], &[0x88, 0]);
    assert_eq!(&close_reply(Some(3000))[..], &[0x88, 2, 0x0b, 0xb8]);
}

#[test]
fn frames_are_refused_on_their_header_before_their_payload_arrives() {
    let big = client_frame(true, 0x4, &[0u8; 100_000]);
    assert_eq!(
        read_one(&big[..14]),
        Err(Fatal(CLOSE_PROTOCOL)),
        "reserved opcode"
    );
    let orphan = client_frame(true, OP_CONT, &[0u8; 100_000]);
    assert_eq!(
        read_one(&orphan[..14]),
        Err(Fatal(CLOSE_PROTOCOL)),
        "orphan continuation"
    );
    let mut wire = client_frame(false, OP_TEXT, b"a");
    wire.extend_from_slice(&client_frame(true, OP_BINARY, &[0u8; 100_000])[..14]);
    assert_eq!(
        read_one(&wire),
        Err(Fatal(CLOSE_PROTOCOL)),
        "data frame inside a message"
    );
}

#[test]
fn fragmented_text_fails_as_soon_as_it_cannot_be_utf8() {
    let mut r = Reader::default();
    let mut buf = BytesMut::from(&client_frame(false, OP_TEXT, &[b'a', 0xf4])[..]);
    assert_eq!(r.next(&mut buf, 100), Ok(None), "F4 may start a code point");
    buf.extend_from_slice(&client_frame(false, OP_CONT, &[0x90]));
    assert_eq!(
        r.next(&mut buf, 100),
        Err(Fatal(CLOSE_INVALID_DATA)),
        "F4 90 is beyond U+10FFFF"
    );
    let mut r = Reader::default();
    let mut buf = BytesMut::from(&client_frame(false, OP_TEXT, &[0xf0, 0x9f])[..]);
    buf.extend_from_slice(&client_frame(false, OP_CONT, &[0x8e]));
    buf.extend_from_slice(&client_frame(true, OP_CONT, &[0x89]));
    assert_eq!(r.next(&mut buf, 100), Ok(Some(Message::Text("🎉".into()))));
}

#[test]
fn control_frames_between_fragments_do_not_count_towards_the_size() {
    let mut r = Reader::default();
    let mut buf = BytesMut::from(&client_frame(false, OP_TEXT, &[b'a'; 99])[..]);
    buf.extend_from_slice(&client_frame(true, OP_PING, &[b'p'; 125]));
    buf.extend_from_slice(&client_frame(true, OP_CONT, b"b"));
    assert_eq!(
        r.next(&mut buf, 100),
        Ok(Some(Message::Ping(vec![b'p'; 125])))
    );
    let Ok(Some(Message::Text(t))) = r.next(&mut buf, 100) else {
        panic!("the message at the limit is read");
    };
    assert_eq!(t.len(), 100);
    buf.extend_from_slice(&client_frame(false, OP_TEXT, &[b'a'; 100]));
    buf.extend_from_slice(&client_frame(true, OP_CONT, b"b"));
    assert_eq!(r.next(&mut buf, 100), Err(Fatal(CLOSE_TOO_BIG)));
}

#[test]
fn handshake_keys_are_16_bytes_in_base64() {
    assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
    assert!(!valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
    assert!(!valid_key(b"not a key at all!"));
    assert!(!valid_key(b"AAAAAAAAAAA="));
    assert!(!valid_key(b""));
}

#[test]
fn a_header_announcing_2_63_bytes_allocates_nothing() {
    for (len, code) in [
        ((1u64 << 63) - 1, CLOSE_TOO_BIG),
        (1 << 63, CLOSE_PROTOCOL),
        (u64::MAX, CLOSE_PROTOCOL),
    ] {
        let mut head = vec![0x82, 0xFF];
        head.extend_from_slice(&len.to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        let mut buf = BytesMut::from(&head[..]);
        take_largest();
        let r = Reader::default().next(&mut buf, 1 << 20);
        assert_eq!((r, take_largest()), (Err(Fatal(code)), 0), "length {len}");
    }
    // The same for a continuation of a message in progress.
    let mut reader = Reader::default();
    let mut buf = BytesMut::from(&wire_frame(false, OP_TEXT, b"abc", [0; 4], false)[..]);
    assert_eq!(reader.next(&mut buf, 1 << 20), Ok(None));
    buf.extend_from_slice(&[0x80, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    take_largest();
    let r = reader.next(&mut buf, 1 << 20);
    assert_eq!((r, take_largest()), (Err(Fatal(CLOSE_TOO_BIG)), 0));
}
