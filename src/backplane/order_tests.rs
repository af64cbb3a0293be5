//! Tests of per-room ordering and healing (`order.rs`).

use super::*;

const R: (&str, Stream) = ("r", Stream::Messages);

fn msg(seq: i64) -> Envelope {
    Envelope {
        target: Target::Room("r".into()),
        except_user: None,
        except_peer: None,
        payload: Payload::Packet {
            packet: packet(seq),
            seq: Some(Seq::Message(seq)),
        },
    }
}

fn packet(seq: i64) -> bytes::Bytes {
    bytes::Bytes::from(format!("42[\"m\",{seq}]"))
}

/// A fake database: the room holds messages 1..=head.
fn read(req: &Request, head: i64, limit: i64) -> Vec<Missed> {
    (req.after + 1..=req.upto.min(head))
        .take(limit as usize)
        .map(|s| (s, packet(s)))
        .collect()
}

fn seqs(v: &[Envelope]) -> Vec<i64> {
    v.iter().map(|e| message_seq(e).unwrap().2).collect()
}

fn wait_hold() {
    std::thread::sleep(HOLD + Duration::from_millis(20));
}

#[test]
fn held_messages_follow_once_the_gap_fills() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.accept(msg(4), &mut ready);
    o.accept(msg(7), &mut ready);
    o.accept(msg(6), &mut ready);
    assert_eq!(seqs(&ready), vec![4]);
    assert!(o.next_due().is_some());
    o.accept(msg(5), &mut ready);
    assert_eq!(seqs(&ready), vec![4, 5, 6, 7]);
    assert!(o.next_due().is_none());
}

#[test]
fn a_gap_that_does_not_fill_within_the_hold_is_read_from_the_database_and_delivered_in_order() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.accept(msg(1), &mut ready);
    o.accept(msg(5), &mut ready);
    o.accept(msg(4), &mut ready);
    assert!(o.overdue(true, &mut ready).is_empty(), "not due yet");
    wait_hold();
    let reqs = o.overdue(true, &mut ready);
    assert_eq!(
        reqs,
        vec![Request {
            room: "r".into(),
            stream: Stream::Messages,
            after: 1,
            upto: 3,
            reason: Reason::Gap
        }]
    );
    assert!(
        o.next_due().is_none(),
        "no second read while one is under way"
    );
    // The live copy of 2 comes while the read is under way: delivered, not twice.
    o.accept(msg(2), &mut ready);
    let next = o.healed(R, 3, read(&reqs[0], 5, 100), &mut ready);
    assert_eq!(next, None);
    assert_eq!(seqs(&ready), vec![1, 2, 3, 4, 5]);
    o.accept(msg(3), &mut ready);
    assert_eq!(
        seqs(&ready),
        vec![1, 2, 3, 4, 5],
        "a late live copy is dropped"
    );
}

#[test]
fn a_large_gap_is_read_in_pages() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.watch("r");
    o.baseline("r", (0, 0));
    o.accept(msg(1), &mut ready);
    let mut req = o.heal_to("r", (1000, 0), Reason::Resubscribe).pop();
    let mut reads = 0;
    while let Some(r) = req {
        reads += 1;
        req = o.healed(R, r.upto, read(&r, 1000, 300), &mut ready);
    }
    assert_eq!(reads, 4);
    assert_eq!(seqs(&ready), (1..=1000).collect::<Vec<_>>());
}

#[test]
fn after_a_resubscribe_what_the_room_holds_beyond_the_last_delivered_is_delivered() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    assert!(o.watch("r"), "a new room needs its baseline");
    o.baseline("r", (10, 0));
    assert!(!o.watch("r"));
    o.accept(msg(11), &mut ready);
    // Redis was down: 12..=14 were stored and reached only other nodes' sockets.
    let req = o
        .heal_to("r", (14, 0), Reason::Resubscribe)
        .pop()
        .expect("a read");
    assert_eq!((req.after, req.upto), (11, 14));
    assert_eq!(o.healed(R, 14, read(&req, 14, 100), &mut ready), None);
    assert_eq!(seqs(&ready), vec![11, 12, 13, 14]);
    assert_eq!(
        o.heal_to("r", (14, 0), Reason::Resubscribe).pop(),
        None,
        "nothing missing"
    );
}

#[test]
fn an_audit_reads_only_what_was_stored_before_the_previous_audit() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.watch("r");
    o.baseline("r", (0, 0));
    o.accept(msg(1), &mut ready);
    // 2 is stored and on its way: the first audit only notes the head.
    assert_eq!(o.audit("r", (2, 0)).pop(), None);
    o.accept(msg(2), &mut ready);
    assert_eq!(
        o.audit("r", (3, 0)).pop(),
        None,
        "2 came live; 3 may be on its way"
    );
    // 3 never comes (it was published while this node's subscription was down).
    let req = o.audit("r", (3, 0)).pop().expect("3 is read");
    assert_eq!((req.after, req.upto, req.reason), (2, 3, Reason::Audit));
    o.healed(R, 3, read(&req, 3, 100), &mut ready);
    assert_eq!(seqs(&ready), vec![1, 2, 3]);
}

#[test]
fn a_failed_read_delivers_what_was_held_with_its_gap() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.accept(msg(1), &mut ready);
    o.accept(msg(3), &mut ready);
    wait_hold();
    assert_eq!(o.overdue(true, &mut ready).len(), 1);
    o.heal_failed("r", Stream::Messages, &mut ready);
    assert_eq!(seqs(&ready), vec![1, 3]);
}

#[test]
fn without_healing_an_overdue_gap_is_delivered_as_it_is() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.accept(msg(1), &mut ready);
    o.accept(msg(3), &mut ready);
    wait_hold();
    assert!(o.overdue(false, &mut ready).is_empty());
    assert_eq!(seqs(&ready), vec![1, 3]);
}

#[test]
fn messages_from_before_the_baseline_pass_and_forgotten_rooms_start_over() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.watch("r");
    o.baseline("r", (5, 0));
    o.accept(msg(4), &mut ready);
    o.accept(msg(6), &mut ready);
    assert_eq!(seqs(&ready), vec![4, 6]);
    o.forget("r");
    assert!(o.watched().is_empty());
    assert!(o.watch("r"));
}

#[test]
fn a_heal_goes_on_to_held_messages_and_to_heads_read_while_it_ran() {
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.watch("r");
    o.baseline("r", (0, 0));
    o.accept(msg(1), &mut ready);
    let first = o
        .heal_to("r", (5, 0), Reason::Resubscribe)
        .pop()
        .expect("a read");
    // Meanwhile 8 comes live (6 and 7 reached only other nodes), and an audit sees 9.
    o.accept(msg(8), &mut ready);
    assert_eq!(
        o.heal_to("r", (9, 0), Reason::Audit).pop(),
        None,
        "one read at a time"
    );
    let second = o
        .healed(R, 5, read(&first, 9, 100), &mut ready)
        .expect("the rest is read");
    assert_eq!((second.after, second.upto), (5, 9));
    assert_eq!(o.healed(R, 9, read(&second, 9, 100), &mut ready), None);
    assert_eq!(seqs(&ready), (1..=9).collect::<Vec<_>>());
}

#[test]
fn deletions_are_a_stream_of_their_own_healed_like_messages() {
    let change = |n: i64| Envelope {
        target: Target::Room("r".into()),
        except_user: None,
        except_peer: None,
        payload: Payload::Packet {
            packet: packet(n),
            seq: Some(Seq::Change(n)),
        },
    };
    let mut o = SeqOrder::default();
    let mut ready = Vec::new();
    o.watch("r");
    o.baseline("r", (7, 2));
    o.accept(msg(8), &mut ready);
    o.accept(change(3), &mut ready);
    assert_eq!(
        ready.len(),
        2,
        "message 8 and change 3 each follow on in their stream"
    );
    // Change 4 was missed; the resubscribe reads it (and no message: 8 is the head).
    let reqs = o.heal_to("r", (8, 4), Reason::Resubscribe);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].stream, reqs[0].after, reqs[0].upto),
        (Stream::Changes, 3, 4)
    );
    let next = o.healed(("r", Stream::Changes), 4, vec![(4, packet(4))], &mut ready);
    assert_eq!(next, None);
    assert!(matches!(
        ready[2].payload,
        Payload::Packet {
            seq: Some(Seq::Change(4)),
            ..
        }
    ));
    o.accept(change(4), &mut ready);
    assert_eq!(ready.len(), 3, "the live copy of change 4 is dropped");
}
