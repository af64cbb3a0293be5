//! Rooms over REST: 1:1 rooms, group rooms, the room list (order, last message,
//! unread counts, paging), room detail and membership changes.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn pause() {
    // Room activity is kept in milliseconds: make consecutive events distinct.
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn member<'a>(detail: &'a Value, user: &str) -> &'a Value {
    detail["members"]
        .as_array()
        .expect("members array")
        .iter()
        .find(|m| m["userId"] == user)
        .unwrap_or_else(|| panic!("{user} is not a member: {detail}"))
}

fn member_ids(detail: &Value) -> Vec<String> {
    let mut ids: Vec<String> = detail["members"]
        .as_array()
        .expect("members array")
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn detail(app: &TestApp, tok: &str, room: &str) -> Value {
    let a = app.get(&format!("/chat/rooms/{room}"), tok).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data().clone()
}

async fn room_list(app: &TestApp, tok: &str) -> Value {
    let a = app.get("/chat/rooms?limit=100", tok).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body["nextCursor"].is_null(), "{:?}", a.body);
    a.data().clone()
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T'))
}

both_dbs!(
    opening_a_personal_room_creates_it_once_with_201_and_then_returns_it_with_200,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let s2 = token("s2", "student");
        let first = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "s2" }))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        let room = first.data();
        assert!(room["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(room["type"], "personal");
        assert!(room["name"].is_null());
        assert_eq!(room["createdBy"], "s1");
        assert!(is_rfc3339(&room["createdAt"]), "{room}");
        assert!(is_rfc3339(&room["lastActivityAt"]), "{room}");
        assert_eq!(room["lastSeq"], 0);
        assert_eq!(member_ids(room), vec!["s1", "s2"]);
        assert_eq!(member(room, "s1")["roomRole"], "member");
        assert_eq!(member(room, "s2")["roomRole"], "member");

        let again = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "s2" }))
            .await;
        assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
        assert_eq!(again.data()["id"], room["id"]);

        let other_side = app
            .post("/chat/rooms/personal", &s2, json!({ "userId": "s1" }))
            .await;
        assert_eq!(other_side.status, StatusCode::OK, "{:?}", other_side.body);
        assert_eq!(other_side.data()["id"], room["id"]);

        assert_eq!(room_list(&app, &s1).await.as_array().unwrap().len(), 1);
        assert_eq!(room_list(&app, &s2).await.as_array().unwrap().len(), 1);
    }
);

both_dbs!(
    a_personal_room_between_a_student_and_a_teacher_is_shared_by_both_sides,
    |app: TestApp| async move {
        let s = token("s1", "student");
        let t = token("t1", "teacher");
        let a = app
            .post("/chat/rooms/personal", &t, json!({ "userId": "s1" }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
        let b = app
            .post("/chat/rooms/personal", &s, json!({ "userId": "t1" }))
            .await;
        assert_eq!(b.status, StatusCode::OK);
        assert_eq!(a.data()["id"], b.data()["id"]);
        // Another pair gets another room.
        let c = app
            .post("/chat/rooms/personal", &t, json!({ "userId": "s2" }))
            .await;
        assert_eq!(c.status, StatusCode::CREATED);
        assert_ne!(c.data()["id"], a.data()["id"]);
    }
);

both_dbs!(
    opening_a_personal_room_with_yourself_is_a_400_and_creates_nothing,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let a = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "s1" }))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
        assert!(!a.code().is_empty());
        assert!(a.body["error"]["message"].is_string());
        assert!(room_list(&app, &s1).await.as_array().unwrap().is_empty());
    }
);

both_dbs!(
    a_user_never_seen_before_can_be_opened_a_room_with_and_their_name_fills_in_later,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let a = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "newcomer" }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let room = a.data()["id"].as_str().unwrap().to_string();
        let d = detail(&app, &s1, &room).await;
        let newcomer = member(&d, "newcomer");
        assert!(newcomer["name"].is_null(), "{newcomer}");
        assert!(newcomer["role"].is_null(), "{newcomer}");

        // The newcomer's first authenticated call.
        let n = token("newcomer", "teacher");
        let list = room_list(&app, &n).await;
        assert_eq!(ids_of(&list), vec![room.clone()]);
        // Issue 11 #7: a student sees a 1:1 partner's name and role once they write
        // (or share a group room).
        let d = detail(&app, &s1, &room).await;
        assert!(member(&d, "newcomer")["name"].is_null());
        app.send(&n, &room, "hello").await;

        let d = detail(&app, &s1, &room).await;
        let newcomer = member(&d, "newcomer");
        assert_eq!(newcomer["name"], "newcomer name");
        assert_eq!(newcomer["role"], "teacher");
        assert_eq!(member(&d, "s1")["name"], "s1 name");
        assert_eq!(member(&d, "s1")["role"], "student");
    }
);

both_dbs!(
    a_teacher_creates_a_group_room_and_becomes_its_owner,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let a = app
            .post(
                "/chat/rooms/group",
                &t,
                json!({ "name": "Math 101", "memberIds": ["s1", "s2"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let room = a.data();
        assert!(room["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(room["type"], "group");
        assert_eq!(room["name"], "Math 101");
        assert_eq!(room["createdBy"], "t1");
        assert_eq!(room["lastSeq"], 0);
        assert_eq!(member_ids(room), vec!["s1", "s2", "t1"]);
        assert_eq!(member(room, "t1")["roomRole"], "owner");
        assert_eq!(member(room, "s1")["roomRole"], "member");
        assert_eq!(member(room, "s2")["roomRole"], "member");
        assert_eq!(member(room, "t1")["lastReadSeq"], 0);
        // Members see it.
        let s1 = token("s1", "student");
        assert_eq!(
            ids_of(&room_list(&app, &s1).await),
            vec![room["id"].as_str().unwrap().to_string()]
        );
    }
);

both_dbs!(
    creating_a_group_ignores_duplicate_member_ids_and_the_creator_among_them,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let a = app
            .post(
                "/chat/rooms/group",
                &t,
                json!({ "name": "  History  ", "memberIds": ["s1", "s1", "t1"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(member_ids(a.data()), vec!["s1", "t1"]);
        assert_eq!(member(a.data(), "t1")["roomRole"], "owner");
        assert_eq!(a.data()["name"], "History");
    }
);

both_dbs!(
    a_group_created_without_member_ids_holds_only_its_owner,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let a = app
            .post("/chat/rooms/group", &t, json!({ "name": "Solo" }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(member_ids(a.data()), vec!["t1"]);
    }
);

both_dbs!(
    the_room_list_puts_the_most_recently_active_room_first,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let a = app.group(&t, "A", &["s1"]).await;
        pause().await;
        let b = app.group(&t, "B", &["s1"]).await;
        pause().await;
        let c = app.group(&t, "C", &["s1"]).await;
        pause().await;
        assert_eq!(
            ids_of(&room_list(&app, &t).await),
            vec![c.clone(), b.clone(), a.clone()]
        );

        let s1 = token("s1", "student");
        app.send(&s1, &a, "wake A up").await;
        pause().await;
        assert_eq!(
            ids_of(&room_list(&app, &t).await),
            vec![a.clone(), c.clone(), b.clone()]
        );
        app.send(&t, &b, "now B").await;
        let list = room_list(&app, &s1).await;
        assert_eq!(ids_of(&list), vec![b.clone(), a.clone(), c.clone()]);

        // lastMessage: present for every room, null when it has none.
        let rooms = list.as_array().unwrap();
        assert_eq!(rooms[0]["lastMessage"]["content"], "now B");
        assert_eq!(rooms[0]["lastMessage"]["senderId"], "t1");
        assert_eq!(rooms[0]["lastMessage"]["seq"], 1);
        assert_eq!(rooms[1]["lastMessage"]["content"], "wake A up");
        assert!(rooms[2].get("lastMessage").is_some(), "{}", rooms[2]);
        assert!(rooms[2]["lastMessage"].is_null(), "{}", rooms[2]);
        for r in rooms {
            assert!(r["unreadCount"].is_i64(), "{r}");
            assert_eq!(r["type"], "group");
        }
    }
);

both_dbs!(
    the_unread_count_counts_other_peoples_messages_after_the_read_pointer,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        for i in 0..3 {
            app.send(&s1, &room, &format!("m{i}")).await;
        }
        let unread = |list: Value| list[0]["unreadCount"].as_i64().unwrap();
        assert_eq!(unread(room_list(&app, &t).await), 3);
        // Your own messages are not unread.
        assert_eq!(unread(room_list(&app, &s1).await), 0);

        app.send(&t, &room, "reply").await;
        assert_eq!(unread(room_list(&app, &s1).await), 1);
        // Sending moved the teacher's own pointer past everything.
        assert_eq!(unread(room_list(&app, &t).await), 0);

        app.send(&s1, &room, "more").await;
        app.send(&s1, &room, "and more").await;
        assert_eq!(unread(room_list(&app, &t).await), 2);
        let seen = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t,
                json!({ "upToSeq": 5 }),
            )
            .await;
        assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
        assert_eq!(unread(room_list(&app, &t).await), 1);
    }
);

both_dbs!(
    paging_through_the_room_list_visits_every_room_once_in_order,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let mut made = HashSet::new();
        for i in 0..7 {
            made.insert(app.group(&t, &format!("room {i}"), &[]).await);
        }
        for other in ["s1", "s2"] {
            let a = app
                .post("/chat/rooms/personal", &t, json!({ "userId": other }))
                .await;
            assert_eq!(a.status, StatusCode::CREATED);
            made.insert(a.data()["id"].as_str().unwrap().to_string());
        }
        let full = ids_of(&room_list(&app, &t).await);
        assert_eq!(full.len(), 9);

        for limit in [1, 2, 4] {
            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let path = match &cursor {
                    None => format!("/chat/rooms?limit={limit}"),
                    Some(c) => format!("/chat/rooms?limit={limit}&cursor={}", url_encode(c)),
                };
                let a = app.get(&path, &t).await;
                assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
                let page = ids_of(a.data());
                assert!(page.len() <= limit, "{page:?}");
                seen.extend(page);
                pages += 1;
                assert!(pages <= 20, "paging does not end");
                match a.body["nextCursor"].as_str() {
                    Some(c) => {
                        assert!(!c.is_empty());
                        cursor = Some(c.to_string());
                    }
                    None => {
                        assert!(a.body["nextCursor"].is_null(), "{:?}", a.body);
                        assert!(a.body.get("nextCursor").is_some());
                        break;
                    }
                }
            }
            assert_eq!(seen, full, "limit {limit}");
            let unique: HashSet<String> = seen.iter().cloned().collect();
            assert_eq!(unique, made, "limit {limit}");
        }
    }
);

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

both_dbs!(
    the_room_list_is_empty_for_a_user_with_no_rooms,
    |app: TestApp| async move {
        let s = token("lonely", "student");
        let a = app.get("/chat/rooms", &s).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body, json!({ "data": [], "nextCursor": null }));
    }
);

both_dbs!(
    room_detail_lists_members_with_name_role_room_role_and_read_pointer,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let s2 = token("s2", "student");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        app.send(&s1, &room, "one").await;
        app.send(&s1, &room, "two").await;
        let seen = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &s2,
                json!({ "upToSeq": 1 }),
            )
            .await;
        assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);

        let d = detail(&app, &s2, &room).await;
        assert_eq!(d["id"], room.as_str());
        assert_eq!(d["type"], "group");
        assert_eq!(d["name"], "Math");
        assert_eq!(d["lastSeq"], 2);
        assert_eq!(member_ids(&d), vec!["s1", "s2", "t1"]);
        for m in d["members"].as_array().unwrap() {
            for key in ["userId", "name", "role", "roomRole", "lastReadSeq"] {
                assert!(m.get(key).is_some(), "{key} missing in {m}");
            }
        }
        let t1 = member(&d, "t1");
        assert_eq!(t1["name"], "t1 name");
        assert_eq!(t1["role"], "teacher");
        assert_eq!(t1["roomRole"], "owner");
        assert_eq!(t1["lastReadSeq"], 0);
        let m1 = member(&d, "s1");
        assert_eq!(m1["name"], "s1 name");
        assert_eq!(m1["role"], "student");
        assert_eq!(m1["roomRole"], "member");
        assert_eq!(m1["lastReadSeq"], 2);
        assert_eq!(member(&d, "s2")["lastReadSeq"], 1);
    }
);

both_dbs!(
    adding_members_returns_the_room_with_them_and_ignores_existing_ones,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &["s1"]).await;
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t,
                json!({ "userIds": ["s2", "s3", "s2"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["id"], room.as_str());
        assert_eq!(member_ids(a.data()), vec!["s1", "s2", "s3", "t1"]);
        assert_eq!(member(a.data(), "s2")["roomRole"], "member");

        let again = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t,
                json!({ "userIds": ["s1", "t1"] }),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
        assert_eq!(member_ids(again.data()), vec!["s1", "s2", "s3", "t1"]);
        // The owner stays owner when re-added.
        assert_eq!(member(again.data(), "t1")["roomRole"], "owner");

        // New members see the room and can post in it.
        let s3 = token("s3", "student");
        assert_eq!(ids_of(&room_list(&app, &s3).await), vec![room.clone()]);
        app.send(&s3, &room, "hi all").await;
    }
);

both_dbs!(
    members_added_by_unknown_id_are_accepted_and_named_after_their_first_call,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Math", &["ghost-1"]).await;
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t,
                json!({ "userIds": ["ghost-2"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        for g in ["ghost-1", "ghost-2"] {
            let m = member(a.data(), g);
            assert!(m["name"].is_null(), "{m}");
            assert!(m["role"].is_null(), "{m}");
            assert_eq!(m["roomRole"], "member");
        }

        let g2 = token("ghost-2", "student");
        let own = detail(&app, &g2, &room).await;
        let m = member(&own, "ghost-2");
        assert_eq!(m["name"], "ghost-2 name");
        assert_eq!(m["role"], "student");
        // Still unknown until they call.
        assert!(member(&own, "ghost-1")["name"].is_null());
    }
);

both_dbs!(
    the_owner_removes_a_member_who_then_loses_the_room,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        app.send(&s1, &room, "before").await;

        let a = app
            .delete(&format!("/chat/rooms/{room}/members/s1"), &t)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(
            a.body,
            json!({ "data": { "roomId": room, "userId": "s1", "removed": true } })
        );
        assert_eq!(member_ids(&detail(&app, &t, &room).await), vec!["s2", "t1"]);

        assert!(room_list(&app, &s1).await.as_array().unwrap().is_empty());
        let d = app.get(&format!("/chat/rooms/{room}"), &s1).await;
        assert_eq!(d.status, StatusCode::NOT_FOUND);
        let h = app.get(&format!("/chat/rooms/{room}/messages"), &s1).await;
        assert_eq!(h.status, StatusCode::NOT_FOUND);
        let p = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &s1,
                json!({ "content": "still here?" }),
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        let h = app.get(&format!("/chat/rooms/{room}/messages"), &t).await;
        assert_eq!(h.data().as_array().unwrap().len(), 1);
    }
);

both_dbs!(
    a_member_leaves_a_group_room_by_removing_themselves,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        let a = app
            .delete(&format!("/chat/rooms/{room}/members/s1"), &s1)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["removed"], true);
        assert_eq!(member_ids(&detail(&app, &t, &room).await), vec!["s2", "t1"]);
        assert!(room_list(&app, &s1).await.as_array().unwrap().is_empty());
    }
);

both_dbs!(
    when_the_owner_leaves_exactly_one_remaining_member_becomes_owner,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t, "Math", &["s1", "s2"]).await;
        let a = app
            .delete(&format!("/chat/rooms/{room}/members/t1"), &t)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let d = detail(&app, &s1, &room).await;
        assert_eq!(member_ids(&d), vec!["s1", "s2"]);
        let owners: Vec<&Value> = d["members"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["roomRole"] == "owner")
            .collect();
        assert_eq!(owners.len(), 1, "{d}");
        let gone = app.get(&format!("/chat/rooms/{room}"), &t).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
);

both_dbs!(
    ten_concurrent_opens_of_the_same_pair_make_one_personal_room,
    |app: TestApp| async move {
        let app = std::sync::Arc::new(app);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..10 {
            let app = app.clone();
            let (me, other) = if i % 2 == 0 {
                ("s1", "s2")
            } else {
                ("s2", "s1")
            };
            let tok = token(me, "student");
            set.spawn(async move {
                app.post("/chat/rooms/personal", &tok, json!({ "userId": other }))
                    .await
            });
        }
        let mut answers = Vec::new();
        while let Some(r) = set.join_next().await {
            answers.push(r.expect("task"));
        }
        let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
        for a in &answers {
            assert!(
                a.status == StatusCode::CREATED || a.status == StatusCode::OK,
                "{statuses:?} {:?}",
                a.body
            );
        }
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::CREATED)
                .count(),
            1,
            "{statuses:?}"
        );
        let ids: HashSet<&str> = answers
            .iter()
            .map(|a| a.data()["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1);
        let s1 = token("s1", "student");
        assert_eq!(room_list(&app, &s1).await.as_array().unwrap().len(), 1);
    }
);
