//! Examples of the packet parser and encoders.

use super::*;
use serde_json::json;

fn event_of(text: &str) -> (String, Option<Value>, Option<u64>) {
    match parse(text) {
        Some(Packet::Event {
            name, payload, ack, ..
        }) => (
            name,
            match payload {
                Payload::Json(v) => Some(v),
                _ => None,
            },
            ack,
        ),
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn events_with_and_without_ack_ids_parse() {
    assert_eq!(
        event_of(r#"2["send-chat-message",{"a":1}]"#),
        ("send-chat-message".into(), Some(json!({"a":1})), None)
    );
    assert_eq!(
        event_of(r#"212["x",1,2]"#),
        ("x".into(), Some(json!(1)), Some(12))
    );
    assert_eq!(event_of(r#"2["x"]"#), ("x".into(), None, None));
    assert_eq!(event_of(r#"2["a\"b\u0000"]"#).0, "a\"b\u{0}");
    assert_eq!(
        event_of(r#"21["\ud800 lone",{}]"#),
        (String::new(), None, Some(1))
    );
}

#[test]
fn a_payload_too_deep_keeps_the_name_and_ack_id() {
    let deep = format!(r#"27["x",{}{}]"#, "[".repeat(5000), "]".repeat(5000));
    match parse(&deep) {
        Some(Packet::Event {
            name, payload, ack, ..
        }) => {
            assert_eq!((name.as_str(), ack), ("x", Some(7)));
            assert!(matches!(payload, Payload::Invalid));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_packets_are_refused() {
    for junk in [
        "",
        "2",
        "2[",
        "2{}",
        "2[]",
        "2[1,2]",
        "2[null]",
        "9",
        "x",
        "2[\"a\"] junk",
        "299999999999999999999999[\"a\"]",
        "511-[\"a\"]",
    ] {
        assert!(
            !matches!(parse(junk), Some(Packet::Event { .. })),
            "{junk:?} parsed"
        );
    }
}

#[test]
fn connects_namespaces_and_binary_headers_parse() {
    assert!(matches!(
        parse(r#"0{"token":"t"}"#),
        Some(Packet::Connect {
            nsp: "/",
            auth: Some(_)
        })
    ));
    assert!(matches!(
        parse("0/admin,"),
        Some(Packet::Connect {
            nsp: "/admin",
            auth: None
        })
    ));
    assert!(matches!(
        parse(r#"51-["x",{"_placeholder":true,"num":0}]"#),
        Some(Packet::Event { attachments: 1, .. })
    ));
    assert!(matches!(parse("1"), Some(Packet::Disconnect { .. })));
    // A number as auth is auth the application refuses, not an ack id to overflow.
    assert!(matches!(
        parse("0100000000000000000000"),
        Some(Packet::Connect { auth: Some(a), .. }) if a.is_number()
    ));
    assert!(matches!(
        parse("05"),
        Some(Packet::Connect { auth: Some(a), .. }) if a == json!(5)
    ));
}

#[test]
fn server_packets_encode() {
    assert_eq!(&event("ev", &json!({"a":1}))[..], br#"42["ev",{"a":1}]"#);
    assert_eq!(
        &ack("/", 3, &json!({"ok":true}).into())[..],
        br#"433[{"ok":true}]"#
    );
    assert_eq!(
        &connect_error("/x", &json!({"m":1}))[..],
        br#"44/x,{"m":1}"#
    );
    assert_eq!(Engine::parse("2probe"), Some(Engine::Ping("probe")));
}

#[test]
fn namespaces_ack_ids_and_attachments_encode_as_the_suite_expects() {
    let two = Args::values(vec![Args::placeholder(0), Args::placeholder(1)])
        .with_attachments(vec![Bytes::from_static(&[1]), Bytes::from_static(&[2])]);
    assert_eq!(
        &event_args("/", "message-back", &two)[..],
        br#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(
        &ack("/", 789, &two)[..],
        br#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(
        &event_in("/custom", "auth", &json!({}))[..],
        br#"42/custom,["auth",{}]"#
    );
    assert_eq!(&connected("/custom", "x")[..], br#"40/custom,{"sid":"x"}"#);
    assert_eq!(&disconnect("/custom")[..], b"41/custom,");
    assert_eq!(&ack("/", 1, &Args::none())[..], b"431[]");
}

#[test]
fn acks_disconnects_and_binary_headers_are_checked() {
    assert!(matches!(
        parse("3/a,12[1,2]"),
        Some(Packet::Ack {
            nsp: "/a",
            id: 12,
            attachments: 0
        })
    ));
    assert!(matches!(
        parse("61-4[{\"_placeholder\":true,\"num\":0}]"),
        Some(Packet::Ack {
            id: 4,
            attachments: 1,
            ..
        })
    ));
    for junk in [
        "3[1]",
        "312{}",
        "312[",
        "1x",
        "5-[\"a\"]",
        "5a-[\"a\"]",
        "51[\"a\"]",
        "4{}",
    ] {
        assert_eq!(parse(junk), None, "{junk:?} parsed");
    }
    assert_eq!(
        parse("1/custom"),
        Some(Packet::Disconnect { nsp: "/custom" })
    );
    match parse(r#"52-/x,7["m",1,{"a":[2]}]"#) {
        Some(Packet::Event {
            nsp: "/x",
            ack: Some(7),
            attachments: 2,
            array_at,
            ..
        }) => {
            assert_eq!(
                &r#"52-/x,7["m",1,{"a":[2]}]"#[array_at..],
                r#"["m",1,{"a":[2]}]"#
            )
        }
        other => panic!("{other:?}"),
    }
}
