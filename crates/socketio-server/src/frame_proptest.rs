//! Property tests of the frame reader: arbitrary bytes neither panic nor make it allocate
//! for more than a message may hold; any messages, fragmented anyhow with control frames
//! between the fragments, read back whole however the byte stream is cut; UTF-8, close
//! payloads and the size limit are judged as RFC 6455 says, as early as it allows.

use proptest::collection::vec;
use proptest::prelude::*;

use super::tests::{take_largest, wire_frame};
use super::*;

/// Feeds `wire` in chunks of `sizes` (cycled): the messages read, the fatal error if one
/// came, and every allocation of a `next` call beyond what the buffer it was given and
/// the largest message explain (twice the buffer: it may double when it grows).
fn feed(wire: &[u8], sizes: &[usize], max: usize) -> (Vec<Message>, Option<Fatal>, Vec<usize>) {
    let (mut reader, mut buf) = (Reader::default(), BytesMut::new());
    let (mut got, mut excess) = (Vec::new(), Vec::new());
    let mut pos = 0;
    for size in sizes.iter().cycle() {
        if pos >= wire.len() {
            break;
        }
        let end = (pos + size).min(wire.len());
        buf.extend_from_slice(&wire[pos..end]);
        pos = end;
        loop {
            let bound = 2 * buf.capacity() + max + 14;
            take_largest();
            let r = reader.next(&mut buf, max);
            let largest = take_largest();
            if largest > bound {
                excess.push(largest);
            }
            match r {
                Ok(Some(m)) => got.push(m),
                Ok(None) => break,
                Err(f) => return (got, Some(f), excess),
            }
        }
    }
    (got, None, excess)
}

#[derive(Debug, Clone)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        vec(any::<u8>(), 0..=125).prop_map(Control::Ping),
        vec(any::<u8>(), 0..=125).prop_map(Control::Pong),
    ]
}

/// A data message: text or binary, cut at `cuts` (repeats make empty fragments), maybe
/// a control frame before it and between its fragments.
#[derive(Debug, Clone)]
struct Msg {
    text: bool,
    payload: Vec<u8>,
    cuts: Vec<usize>,
    controls: Vec<Option<Control>>,
}

fn msg() -> impl Strategy<Value = Msg> {
    let text = vec(any::<char>(), 0..80).prop_map(|c| (true, String::from_iter(c).into_bytes()));
    let binary = vec(any::<u8>(), 0..300).prop_map(|b| (false, b));
    (
        prop_oneof![text, binary],
        vec(any::<prop::sample::Index>(), 0..6),
        vec(proptest::option::of(control()), 7),
    )
        .prop_map(|((text, payload), cuts, controls)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(payload.len() + 1)).collect();
            cuts.sort_unstable();
            Msg {
                text,
                payload,
                cuts,
                controls,
            }
        })
}

/// The wire bytes of `msgs` (masks and length encodings drawn from `seed`) and the
/// messages the reader must return for them, in order.
fn build(msgs: &[Msg], mut seed: u64) -> (Vec<u8>, Vec<Message>) {
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut wire, mut expected) = (Vec::new(), Vec::new());
    for m in msgs {
        let mut bounds = vec![0];
        bounds.extend(&m.cuts);
        bounds.push(m.payload.len());
        let last = bounds.len() - 2;
        for i in 0..=last {
            if let Some(c) = &m.controls[i] {
                let (op, p, e) = match c {
                    Control::Ping(p) => (OP_PING, p, Message::Ping(p.clone())),
                    Control::Pong(p) => (OP_PONG, p, Message::Pong),
                };
                let r = next();
                wire.extend(wire_frame(
                    true,
                    op,
                    p,
                    (r as u32).to_be_bytes(),
                    (r & (1 << 40)) != 0,
                ));
                expected.push(e);
            }
            let op = match (i, m.text) {
                (0, true) => OP_TEXT,
                (0, false) => OP_BINARY,
                _ => OP_CONT,
            };
            let r = next();
            let part = &m.payload[bounds[i]..bounds[i + 1]];
            wire.extend(wire_frame(
                i == last,
                op,
                part,
                (r as u32).to_be_bytes(),
                (r & (1 << 40)) != 0,
            ));
        }
        expected.push(match m.text {
            true => Message::Text(String::from_utf8(m.payload.clone()).expect("chars")),
            false => Message::Binary(m.payload.clone()),
        });
    }
    (wire, expected)
}

/// Bytes that look like frame headers (any opcode, bits and length, up to 2^64 - 1),
/// mixed with arbitrary bytes.
fn frameish() -> impl Strategy<Value = Vec<u8>> {
    let header = (
        any::<u8>(),
        any::<bool>(),
        0u8..3,
        any::<u64>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(b0, masked, kind, len, mask)| {
            let mut h = vec![b0, u8::from(masked) << 7];
            match kind {
                0 => h[1] |= (len % 126) as u8,
                1 => {
                    h[1] |= 126;
                    h.extend_from_slice(&(len as u16).to_be_bytes());
                }
                _ => {
                    h[1] |= 127;
                    h.extend_from_slice(&len.to_be_bytes());
                }
            }
            h.extend_from_slice(&mask);
            h
        });
    vec(prop_oneof![header, vec(any::<u8>(), 0..40)], 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_neither_panic_nor_allocate_past_the_limit(
        wire in frameish(), sizes in vec(1usize..64, 1..8), max in 0usize..4096,
    ) {
        let (_, _, excess) = feed(&wire, &sizes, max);
        prop_assert!(excess.is_empty(), "allocations {excess:?} with max {max}");
    }

    #[test]
    fn messages_read_back_whole_however_fragmented_and_cut(
        msgs in vec(msg(), 1..6), seed in 1u64.., sizes in vec(1usize..200, 1..8),
    ) {
        let (wire, expected) = build(&msgs, seed);
        let (got, fatal, excess) = feed(&wire, &sizes, 1 << 16);
        prop_assert_eq!(fatal, None);
        prop_assert_eq!(got, expected);
        prop_assert!(excess.is_empty(), "allocations {:?}", excess);
    }

    #[test]
    fn text_fails_with_1007_at_the_first_fragment_that_proves_it_invalid(
        parts in vec(prop_oneof![
            3 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
            1 => vec(any::<u8>(), 1..3),
        ], 0..20),
        cuts in vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let bytes = parts.concat();
        let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        bounds.extend([0, bytes.len()]);
        bounds.sort_unstable();
        let last = bounds.len() - 2;
        // Frame by frame: where the reader stops, and where a decoder must.
        let (mut reader, mut buf, mut outcome) = (Reader::default(), BytesMut::new(), None);
        for i in 0..=last {
            let op = if i == 0 { OP_TEXT } else { OP_CONT };
            let part = &bytes[bounds[i]..bounds[i + 1]];
            buf.extend_from_slice(&wire_frame(i == last, op, part, [3, 1, 4, 1], false));
            match reader.next(&mut buf, 1 << 16) {
                Ok(None) => {}
                r => {
                    outcome = Some((i, r));
                    break;
                }
            }
        }
        let provably_bad = |n: usize| std::str::from_utf8(&bytes[..n]).is_err_and(|e| e.error_len().is_some());
        match std::str::from_utf8(&bytes) {
            Ok(s) => prop_assert_eq!(outcome, Some((last, Ok(Some(Message::Text(s.to_string())))))),
            Err(_) => {
                let first = (0..=last).position(|i| provably_bad(bounds[i + 1])).unwrap_or(last);
                prop_assert_eq!(outcome, Some((first, Err(Fatal(CLOSE_INVALID_DATA)))));
            }
        }
    }

    #[test]
    fn close_payloads_are_judged_as_rfc_6455_says(
        code in prop_oneof![any::<u16>(), prop::sample::select(vec![999u16, 1000, 1003, 1004, 1005, 1006, 1007, 1014, 1015, 2999, 3000, 4999, 5000])],
        reason in prop_oneof![".{0,40}".prop_map(String::into_bytes), vec(any::<u8>(), 0..40)],
        short in prop::sample::select(vec![None, Some(vec![]), Some(vec![3u8])]),
    ) {
        let payload = short.clone().unwrap_or_else(|| [&code.to_be_bytes()[..], &reason].concat());
        let registered = matches!(code, 1000..=1003 | 1007..=1011) || (1012..=1014).contains(&code) || (3000..=4999).contains(&code);
        let expected = match short {
            Some(p) if p.is_empty() => Ok(Some(Message::Close(None))),
            Some(_) => Err(Fatal(CLOSE_PROTOCOL)),
            None if !registered => Err(Fatal(CLOSE_PROTOCOL)),
            None if std::str::from_utf8(&reason).is_err() => Err(Fatal(CLOSE_INVALID_DATA)),
            None => Ok(Some(Message::Close(Some(code)))),
        };
        let mut buf = BytesMut::from(&wire_frame(true, OP_CLOSE, &payload, [9, 8, 7, 6], false)[..]);
        prop_assert_eq!(Reader::default().next(&mut buf, 100), expected);
    }

    #[test]
    fn a_message_over_the_limit_fails_with_1009_on_the_header_that_passes_it_and_never_holds_more(
        sizes in vec(0usize..60, 1..8), max in 0usize..200,
    ) {
        let mut reader = Reader::default();
        let mut total = 0;
        for (i, &n) in sizes.iter().enumerate() {
            let op = if i == 0 { OP_BINARY } else { OP_CONT };
            let f = wire_frame(i == sizes.len() - 1, op, &vec![7u8; n], [1, 2, 3, 4], false);
            total += n;
            // Only the header: a frame that passes the limit is refused before its payload.
            let mut buf = BytesMut::from(&f[..f.len() - n]);
            let r = reader.next(&mut buf, max);
            if total > max {
                prop_assert_eq!(r, Err(Fatal(CLOSE_TOO_BIG)));
                return Ok(());
            }
            buf.extend_from_slice(&f[f.len() - n..]);
            take_largest();
            let r = reader.next(&mut buf, max);
            // The frame is all there: what `next` allocates is the message, up to `max`
            // (or the small block a `BytesMut` allocates once to share its buffer).
            let largest = take_largest();
            prop_assert!(r.is_ok(), "{:?} at {} of {}", r, total, max);
            prop_assert!(largest <= max.max(64), "allocated {} for a message of at most {}", largest, max);
        }
    }
}
