//! Property tests of the packet parser: it never panics, whatever it is given, and what
//! the encoder writes parses back to the same packet. Case counts are bounded so the
//! whole file runs in about a second.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats with few digits: serde_json (without `float_roundtrip`) may read long
        // ones back a bit off, which says nothing of the packet parser.
        (-100_000i32..100_000, 0..8u32)
            .prop_map(|(m, k)| Value::from(f64::from(m) / f64::from(1u32 << k))),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_string()), "/[a-z0-9_-]{1,10}"]
}

/// Text made mostly of the characters packets are built from, to reach deep paths.
fn packetish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-6]{1,3}",
        Just("-".to_string()),
        Just("/".to_string()),
        Just(",".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"a\"".to_string()),
        Just("{\"_placeholder\":true,\"num\":0}".to_string()),
        "[0-9]{1,25}",
        ".{0,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// A client's Socket.IO packet text (without the Engine.IO `4`), from the encoder.
fn encode(kind: u8, nsp: &str, id: Option<u64>, attachments: usize, body: &str) -> String {
    let mut out = Vec::new();
    header(&mut out, kind, attachments, nsp, id);
    out.extend_from_slice(body.as_bytes());
    String::from_utf8(out).expect("utf-8")[1..].to_string()
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn no_input_makes_the_parser_panic(s in any::<String>(), p in packetish()) {
        for text in [&s, &p] {
            let _ = parse(text);
            let _ = Engine::parse(text);
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn events_round_trip(
        nsp in nsp(),
        name in any::<String>(),
        args in prop::collection::vec(json(), 0..4),
        id in prop::option::of(any::<u64>()),
        attachments in 0..=MAX_ATTACHMENTS,
    ) {
        let array = Value::Array(
            std::iter::once(Value::from(name.clone())).chain(args.iter().cloned()).collect(),
        ).to_string();
        let text = encode(EVENT, &nsp, id, attachments, &array);
        let Some(Packet::Event { nsp: n, name: got, payload, ack, attachments: a, array_at }) =
            parse(&text)
        else {
            return Err(TestCaseError::fail(format!("{text:?} did not parse as an event")));
        };
        prop_assert_eq!(n, nsp.as_str());
        prop_assert_eq!(got, name);
        let first = args.first().cloned().map_or(Payload::Missing, Payload::Json);
        prop_assert_eq!(payload, first);
        prop_assert_eq!((ack, a), (id, attachments));
        prop_assert_eq!(&text[array_at..], array.as_str());
    }

    #[test]
    fn acks_round_trip(
        nsp in nsp(),
        args in prop::collection::vec(json(), 0..4),
        id in any::<u64>(),
        attachments in 0..=MAX_ATTACHMENTS,
    ) {
        let text = encode(ACK, &nsp, Some(id), attachments, &Value::Array(args).to_string());
        prop_assert_eq!(
            parse(&text),
            Some(Packet::Ack { nsp: &nsp, id, attachments })
        );
    }

    #[test]
    fn connects_round_trip(nsp in nsp(), auth in prop::option::of(json())) {
        let prefix = if nsp == "/" { String::new() } else { format!("{nsp},") };
        let body = auth.as_ref().map(Value::to_string).unwrap_or_default();
        let text = format!("0{prefix}{body}");
        prop_assert_eq!(parse(&text), Some(Packet::Connect { nsp: &nsp, auth }));
    }
}
