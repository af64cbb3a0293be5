//! Messages over REST: sending (seq, idempotency, replies, mentions), history
//! paging, soft delete, read receipts, seen-by, and concurrent sends.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn msgs(room: &str) -> String {
    format!("/chat/rooms/{room}/messages")
}

/// Sends a message body as `tok` to `room`; the raw answer.
async fn post_msg(app: &TestApp, tok: &str, room: &str, body: Value) -> Answer {
    app.post(&msgs(room), tok, body).await
}

/// The whole history, oldest first.
async fn history(app: &TestApp, tok: &str, room: &str) -> Vec<Value> {
    let a = app
        .get(
            &format!("/chat/rooms/{room}/messages?after=0&limit=100"),
            tok,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data().as_array().unwrap().clone()
}

fn seqs(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

async fn unread(app: &TestApp, tok: &str, room: &str) -> i64 {
    let a = app.get("/chat/rooms?limit=100", tok).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .expect("room listed")["unreadCount"]
        .as_i64()
        .unwrap()
}

async fn read_pointer(app: &TestApp, tok: &str, room: &str, user: &str) -> i64 {
    let a = app.get(&format!("/chat/rooms/{room}"), tok).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == user)
        .expect("member")["lastReadSeq"]
        .as_i64()
        .unwrap()
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T'))
}

both_dbs!(
    sending_messages_numbers_them_one_by_one_and_returns_the_stored_message,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let a = post_msg(&app, &s1, &room, json!({ "content": "hello" })).await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let m = a.data();
        assert!(m["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(m["roomId"], room.as_str());
        assert_eq!(m["seq"], 1);
        assert_eq!(m["senderId"], "s1");
        assert_eq!(m["senderName"], "s1 name");
        assert_eq!(m["content"], "hello");
        assert!(m["clientMessageId"].is_null());
        assert!(m["replyToId"].is_null());
        assert_eq!(m["mentions"], json!([]));
        assert!(is_rfc3339(&m["createdAt"]), "{m}");
        for k in ["editedAt", "deletedAt", "deletedBy"] {
            assert!(m.get(k).is_some_and(Value::is_null), "{k} in {m}");
        }
        let mut ids = HashSet::new();
        ids.insert(m["id"].as_str().unwrap().to_string());
        for expected in 2..=5 {
            let who = if expected % 2 == 0 { &t } else { &s1 };
            let m = app.send(who, &room, &format!("n{expected}")).await;
            assert_eq!(m["seq"], expected);
            assert!(ids.insert(m["id"].as_str().unwrap().to_string()));
        }
        let h = history(&app, &t, &room).await;
        assert_eq!(
            h.iter()
                .map(|m| m["seq"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(h[0], *a.data());
        // Another room counts from 1 again.
        let other = app.group(&t, "Other", &[]).await;
        assert_eq!(app.send(&t, &other, "first").await["seq"], 1);
    }
);

both_dbs!(
    content_of_exactly_the_limit_is_accepted_in_characters_not_bytes,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &[]).await;
        let long = "é".repeat(4000);
        let m = app.send(&t, &room, &long).await;
        assert_eq!(m["content"].as_str().unwrap().chars().count(), 4000);
        let emoji = "🙂".repeat(4000);
        let m = app.send(&t, &room, &emoji).await;
        assert_eq!(m["content"], emoji.as_str());
        assert_eq!(history(&app, &t, &room).await[1]["content"], emoji.as_str());
    }
);

both_dbs!(
    a_repeated_client_message_id_from_the_same_sender_returns_the_first_message_with_200,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let first = post_msg(
            &app,
            &s1,
            &room,
            json!({ "content": "once", "clientMessageId": "c-1" }),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.data()["clientMessageId"], "c-1");
        let retry = post_msg(
            &app,
            &s1,
            &room,
            json!({ "content": "once", "clientMessageId": "c-1" }),
        )
        .await;
        assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
        assert_eq!(retry.data(), first.data());
        // Even with different content the first message comes back.
        let changed = post_msg(
            &app,
            &s1,
            &room,
            json!({ "content": "twice?", "clientMessageId": "c-1" }),
        )
        .await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
        assert_eq!(changed.data()["id"], first.data()["id"]);
        assert_eq!(changed.data()["content"], "once");
        let h = history(&app, &t, &room).await;
        assert_eq!(h.len(), 1);
        // The next new message still gets the next seq.
        let next = post_msg(
            &app,
            &s1,
            &room,
            json!({ "content": "new", "clientMessageId": "c-2" }),
        )
        .await;
        assert_eq!(next.status, StatusCode::CREATED);
        assert_eq!(next.data()["seq"], 2);
    }
);

both_dbs!(
    the_same_client_message_id_from_another_sender_is_a_new_message,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let a = post_msg(
            &app,
            &s1,
            &room,
            json!({ "content": "a", "clientMessageId": "same" }),
        )
        .await;
        let b = post_msg(
            &app,
            &t,
            &room,
            json!({ "content": "b", "clientMessageId": "same" }),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED);
        assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
        assert_ne!(a.data()["id"], b.data()["id"]);
        assert_eq!(b.data()["seq"], 2);
    }
);

both_dbs!(
    a_reply_to_a_message_of_the_room_is_stored_with_its_reply_to_id,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let q = app.send(&s1, &room, "question?").await;
        let a = post_msg(
            &app,
            &t,
            &room,
            json!({ "content": "answer", "replyToId": q["id"] }),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(a.data()["replyToId"], q["id"]);
        assert_eq!(history(&app, &s1, &room).await[1]["replyToId"], q["id"]);
    }
);

both_dbs!(
    a_reply_to_a_message_that_is_not_in_the_room_is_a_400_and_stores_nothing,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &[]).await;
        let other = app.group(&t, "Other", &[]).await;
        let elsewhere = app.send(&t, &other, "elsewhere").await;
        app.send(&t, &room, "here").await;
        for reply_to in [json!("nope"), elsewhere["id"].clone()] {
            let a = post_msg(
                &app,
                &t,
                &room,
                json!({ "content": "re", "replyToId": reply_to }),
            )
            .await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
            assert_eq!(a.code(), "invalid_reply_to");
        }
        let h = history(&app, &t, &room).await;
        assert_eq!(h.len(), 1);
        assert_eq!(app.send(&t, &room, "next").await["seq"], 2);
    }
);

both_dbs!(
    mentions_keep_only_other_members_of_the_room_once_each,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        let a = post_msg(
            &app,
            &t,
            &room,
            json!({ "content": "@s2 @s1 look", "mentions": ["s2", "t1", "stranger", "s2", "s1"] }),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(a.data()["mentions"], json!(["s2", "s1"]));
        let h = history(&app, &t, &room).await;
        assert_eq!(h[0]["mentions"], json!(["s2", "s1"]));
    }
);

both_dbs!(
    history_without_a_cursor_returns_the_newest_messages_first,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &[]).await;
        for i in 1..=5 {
            app.send(&t, &room, &format!("m{i}")).await;
        }
        let a = app.get(&msgs(&room), &t).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(seqs(a.data()), vec![5, 4, 3, 2, 1]);
        assert!(a.body["nextCursor"].is_null());
        assert!(a.body.get("nextCursor").is_some());
        assert_eq!(a.data()[0]["content"], "m5");

        let empty = app.group(&t, "Empty", &[]).await;
        let a = app.get(&msgs(&empty), &t).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, json!({ "data": [], "nextCursor": null }));
    }
);

both_dbs!(
    history_pages_backwards_with_before_newest_first,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &[]).await;
        for i in 1..=7 {
            app.send(&t, &room, &format!("m{i}")).await;
        }
        let p1 = app.get(&format!("{}?limit=3", msgs(&room)), &t).await;
        assert_eq!(p1.status, StatusCode::OK);
        assert_eq!(seqs(p1.data()), vec![7, 6, 5]);
        let c1 = p1.body["nextCursor"]
            .as_str()
            .expect("a cursor")
            .to_string();

        let p2 = app
            .get(&format!("{}?before={c1}&limit=3", msgs(&room)), &t)
            .await;
        assert_eq!(p2.status, StatusCode::OK, "{:?}", p2.body);
        assert_eq!(seqs(p2.data()), vec![4, 3, 2]);
        let c2 = p2.body["nextCursor"]
            .as_str()
            .expect("a cursor")
            .to_string();

        let p3 = app
            .get(&format!("{}?before={c2}&limit=3", msgs(&room)), &t)
            .await;
        assert_eq!(seqs(p3.data()), vec![1]);
        assert!(p3.body["nextCursor"].is_null(), "{:?}", p3.body);

        // An explicit before, and before the first message.
        let p = app
            .get(&format!("{}?before=3&limit=10", msgs(&room)), &t)
            .await;
        assert_eq!(seqs(p.data()), vec![2, 1]);
        let p = app.get(&format!("{}?before=1", msgs(&room)), &t).await;
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(seqs(p.data()), Vec::<i64>::new());
    }
);

both_dbs!(
    history_pages_forwards_with_after_oldest_first,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &[]).await;
        for i in 1..=7 {
            app.send(&t, &room, &format!("m{i}")).await;
        }
        let mut got = Vec::new();
        let mut after = "0".to_string();
        for _ in 0..10 {
            let p = app
                .get(&format!("{}?after={after}&limit=3", msgs(&room)), &t)
                .await;
            assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
            let page = seqs(p.data());
            assert!(page.windows(2).all(|w| w[0] < w[1]), "{page:?}");
            got.extend(page);
            match p.body["nextCursor"].as_str() {
                Some(c) => after = c.to_string(),
                None => break,
            }
        }
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7]);
        let p = app.get(&format!("{}?after=5", msgs(&room)), &t).await;
        assert_eq!(seqs(p.data()), vec![6, 7]);
        assert!(p.body["nextCursor"].is_null());
        let p = app.get(&format!("{}?after=7", msgs(&room)), &t).await;
        assert_eq!(p.body, json!({ "data": [], "nextCursor": null }));
    }
);

both_dbs!(
    deleting_a_message_leaves_a_tombstone_and_a_second_delete_returns_it_again,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let m = app.send(&s1, &room, "oops").await;
        let id = m["id"].as_str().unwrap();
        let path = format!("/chat/rooms/{room}/messages/{id}");
        let a = app.delete(&path, &s1).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let d = a.data();
        assert_eq!(d["id"], id);
        assert_eq!(d["seq"], 1);
        assert_eq!(d["senderId"], "s1");
        assert!(d["content"].is_null(), "{d}");
        assert_eq!(d["deletedBy"], "s1");
        assert!(is_rfc3339(&d["deletedAt"]), "{d}");

        let again = app.delete(&path, &s1).await;
        assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
        assert_eq!(again.data()["id"], id);
        assert!(again.data()["content"].is_null());
        assert_eq!(again.data()["deletedBy"], "s1");
        assert_eq!(again.data()["deletedAt"], d["deletedAt"]);
    }
);

both_dbs!(
    deleted_messages_appear_in_history_as_tombstones_and_no_longer_count_as_unread,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let mut ids = Vec::new();
        for i in 1..=3 {
            ids.push(app.send(&s1, &room, &format!("m{i}")).await["id"].clone());
        }
        assert_eq!(unread(&app, &t, &room).await, 3);
        let a = app
            .delete(
                &format!("/chat/rooms/{room}/messages/{}", ids[1].as_str().unwrap()),
                &t,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

        for dir in ["after=0", "before=100"] {
            let h = app.get(&format!("{}?{dir}", msgs(&room)), &s1).await;
            assert_eq!(h.status, StatusCode::OK);
            let list = h.data().as_array().unwrap();
            assert_eq!(list.len(), 3, "{dir}");
            let tomb = list.iter().find(|m| m["seq"] == 2).unwrap();
            assert_eq!(tomb["id"], ids[1]);
            assert!(tomb["content"].is_null(), "{tomb}");
            assert_eq!(tomb["deletedBy"], "t1");
            assert!(is_rfc3339(&tomb["deletedAt"]));
            assert_eq!(tomb["senderId"], "s1");
            let kept = list.iter().find(|m| m["seq"] == 3).unwrap();
            assert_eq!(kept["content"], "m3");
            assert!(kept["deletedAt"].is_null());
        }
        assert_eq!(unread(&app, &t, &room).await, 2);
    }
);

both_dbs!(
    marking_seen_up_to_a_seq_moves_the_pointer_and_drops_the_unread_count,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        for i in 1..=5 {
            app.send(&s1, &room, &format!("m{i}")).await;
        }
        assert_eq!(unread(&app, &t, &room).await, 5);
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t,
                json!({ "upToSeq": 3 }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let d = a.data();
        assert_eq!(d["roomId"], room.as_str());
        assert_eq!(d["userId"], "t1");
        assert_eq!(d["upToSeq"], 3);
        assert!(d["messageIds"].is_array());
        assert!(is_rfc3339(&d["seenAt"]), "{d}");
        assert_eq!(unread(&app, &t, &room).await, 2);
        assert_eq!(read_pointer(&app, &t, &room, "t1").await, 3);
    }
);

both_dbs!(
    the_read_pointer_never_moves_back,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let mut ids = Vec::new();
        for i in 1..=5 {
            ids.push(app.send(&s1, &room, &format!("m{i}")).await["id"].clone());
        }
        let seen = format!("/chat/rooms/{room}/seen");
        let a = app.post(&seen, &t, json!({ "upToSeq": 4 })).await;
        assert_eq!(a.status, StatusCode::OK);
        let back = app.post(&seen, &t, json!({ "upToSeq": 1 })).await;
        assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
        // The answer tells where the pointer stands.
        assert_eq!(back.data()["upToSeq"], 4, "{:?}", back.body);
        assert_eq!(read_pointer(&app, &t, &room, "t1").await, 4);
        assert_eq!(unread(&app, &t, &room).await, 1);
        let back = app.post(&seen, &t, json!({ "upToSeq": 0 })).await;
        assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
        let back = app.post(&seen, &t, json!({ "messageIds": [ids[0]] })).await;
        assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
        assert_eq!(read_pointer(&app, &t, &room, "t1").await, 4);
        assert_eq!(unread(&app, &t, &room).await, 1);
    }
);

both_dbs!(
    marking_seen_past_the_last_message_stops_at_the_last_message,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        for i in 1..=2 {
            app.send(&s1, &room, &format!("m{i}")).await;
        }
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t,
                json!({ "upToSeq": 999 }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["upToSeq"], 2);
        assert_eq!(read_pointer(&app, &t, &room, "t1").await, 2);
        assert_eq!(unread(&app, &t, &room).await, 0);
        // Later messages are unread again.
        app.send(&s1, &room, "m3").await;
        assert_eq!(unread(&app, &t, &room).await, 1);
    }
);

both_dbs!(
    marking_seen_by_message_ids_moves_the_pointer_to_the_newest_of_them,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let mut ids = Vec::new();
        for i in 1..=5 {
            ids.push(app.send(&s1, &room, &format!("m{i}")).await["id"].clone());
        }
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t,
                json!({ "messageIds": [ids[3], ids[1]] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["upToSeq"], 4);
        assert_eq!(a.data()["messageIds"], json!([ids[3], ids[1]]));
        assert_eq!(read_pointer(&app, &t, &room, "t1").await, 4);
        assert_eq!(unread(&app, &t, &room).await, 1);
    }
);

both_dbs!(
    seen_by_lists_the_members_whose_read_pointer_covers_the_message,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let s2 = token("s2", "student");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        let m1 = app.send(&s1, &room, "one").await;
        let m2 = app.send(&s1, &room, "two").await;
        let seen_by = |m: &Value| {
            format!(
                "/chat/rooms/{room}/messages/{}/seen-by",
                m["id"].as_str().unwrap()
            )
        };
        let who = |a: &Answer| -> Vec<String> {
            let mut v: Vec<String> = a
                .data()
                .as_array()
                .expect("array")
                .iter()
                .map(|x| x["userId"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };

        // Nobody but the sender has read it, and the sender is not listed.
        let a = app.get(&seen_by(&m1), &s1).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(who(&a), Vec::<String>::new());

        let r = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &s2,
                json!({ "upToSeq": 1 }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let a = app.get(&seen_by(&m1), &t).await;
        assert_eq!(who(&a), vec!["s2"]);
        let entry = &a.data()[0];
        assert_eq!(entry["name"], "s2 name");
        assert_eq!(entry["lastReadSeq"], 1);
        assert!(is_rfc3339(&entry["seenAt"]), "{entry}");
        assert_eq!(who(&app.get(&seen_by(&m2), &t).await), Vec::<String>::new());

        let r = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t,
                json!({ "upToSeq": 2 }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(who(&app.get(&seen_by(&m1), &s2).await), vec!["s2", "t1"]);
        assert_eq!(who(&app.get(&seen_by(&m2), &s2).await), vec!["t1"]);
    }
);

/// Sends `n` messages at once into `room`, from `senders` in turn; the answers.
async fn send_concurrently(
    app: &Arc<TestApp>,
    senders: &[String],
    room: &str,
    n: usize,
    client_id: Option<&str>,
) -> Vec<Answer> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let app = app.clone();
        let tok = senders[i % senders.len()].clone();
        let path = msgs(room);
        let mut body = json!({ "content": format!("concurrent {i}") });
        if let Some(c) = client_id {
            body["clientMessageId"] = json!(c);
        }
        set.spawn(async move { app.post(&path, &tok, body).await });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    out
}

async fn assert_seqs_are_one_to(app: &TestApp, tok: &str, room: &str, answers: &[Answer], n: i64) {
    for a in answers {
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    let mut got: Vec<i64> = answers
        .iter()
        .map(|a| a.data()["seq"].as_i64().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, (1..=n).collect::<Vec<_>>());
    let ids: HashSet<&str> = answers
        .iter()
        .map(|a| a.data()["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len() as i64, n);
    let h = history(app, tok, room).await;
    assert_eq!(
        h.iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    let d = app.get(&format!("/chat/rooms/{room}"), tok).await;
    assert_eq!(d.data()["lastSeq"], n);
}

both_dbs_with!(
    fifty_concurrent_sends_from_one_user_get_seq_one_to_fifty_without_gaps_or_repeats,
    |c: &mut classchat::Config| {
        c.limits.send = classchat::config::Rate::new(200, 200);
    },
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Busy", &[]).await;
        let app = Arc::new(app);
        let answers = send_concurrently(&app, std::slice::from_ref(&t), &room, 50, None).await;
        assert_seqs_are_one_to(&app, &t, &room, &answers, 50).await;
    }
);

both_dbs!(
    fifty_concurrent_sends_from_five_members_get_seq_one_to_fifty_without_gaps_or_repeats,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Busy", &["s1", "s2", "s3", "s4"]).await;
        let senders: Vec<String> = ["t1", "s1", "s2", "s3", "s4"]
            .iter()
            .map(|u| token(u, if *u == "t1" { "teacher" } else { "student" }))
            .collect();
        let app = Arc::new(app);
        let answers = send_concurrently(&app, &senders, &room, 50, None).await;
        assert_seqs_are_one_to(&app, &t, &room, &answers, 50).await;
    }
);

both_dbs_with!(
    twenty_concurrent_sends_with_the_same_client_message_id_store_exactly_one_message,
    |c: &mut classchat::Config| {
        c.limits.send = classchat::config::Rate::new(200, 200);
    },
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Retry", &["s1"]).await;
        let app = Arc::new(app);
        let answers =
            send_concurrently(&app, std::slice::from_ref(&s1), &room, 20, Some("retry-me")).await;
        let created = answers
            .iter()
            .filter(|a| a.status == StatusCode::CREATED)
            .count();
        assert_eq!(
            created,
            1,
            "{:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        for a in &answers {
            assert!(
                a.status == StatusCode::CREATED || a.status == StatusCode::OK,
                "{:?}",
                a.body
            );
            assert_eq!(a.data()["id"], answers[0].data()["id"]);
            assert_eq!(a.data()["seq"], 1);
        }
        let h = history(&app, &t, &room).await;
        assert_eq!(h.len(), 1, "{h:?}");
        // No seq was burnt by the losers.
        assert_eq!(app.send(&t, &room, "after").await["seq"], 2);
    }
);
