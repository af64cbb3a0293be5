//! Replies and pins over REST on SQLite and PostgreSQL: reply counts in history and the
//! replies of a message (paged); pins by who may pin, listed newest first, in history as
//! `pinned`.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    replies_are_counted_in_history_and_listed_oldest_first_in_pages,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Physics", &["s1"]).await;
        let q = app.send(&t, &room, "question").await;
        let qid = q["id"].as_str().unwrap();
        for n in 1..=3 {
            let body = json!({ "content": format!("answer {n}"), "replyToId": qid });
            let a = app
                .post(
                    &format!("/chat/rooms/{room}/messages"),
                    &token("s1", "student"),
                    body,
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED);
        }
        let h = app
            .get(&format!("/chat/rooms/{room}/messages?limit=4"), &t)
            .await;
        let asked = h
            .data()
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == qid)
            .unwrap()
            .clone();
        assert_eq!(asked["replyCount"], 3);
        assert_eq!(asked["pinned"], false);
        let path = format!("/chat/rooms/{room}/messages/{qid}/replies");
        let first = app.get(&format!("{path}?limit=2"), &t).await;
        let texts: Vec<&str> = first
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["answer 1", "answer 2"]);
        let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
        let rest = app
            .get(&format!("{path}?limit=2&cursor={cursor}"), &t)
            .await;
        assert_eq!(rest.data()[0]["content"], "answer 3");
        assert!(rest.body["nextCursor"].is_null());
        assert_eq!(
            app.get(&format!("/chat/rooms/{room}/messages/nope/replies"), &t)
                .await
                .code(),
            "message_not_found"
        );
        assert_eq!(
            app.get(&format!("{path}?cursor=x"), &t).await.code(),
            "invalid_cursor"
        );
        assert_eq!(
            app.get(&path, &token("x", "student")).await.code(),
            "room_not_found"
        );
    }
);

both_dbs!(
    pins_follow_the_permission_table_and_list_newest_first,
    |app: TestApp| async move {
        let (t, s) = (token("t1", "teacher"), token("s1", "student"));
        let room = app.group(&t, "Physics", &["s1"]).await;
        let a = app.send(&t, &room, "rules").await;
        let b = app.send(&t, &room, "homework").await;
        let pin =
            |id: &serde_json::Value| format!("/chat/rooms/{room}/pins/{}", id.as_str().unwrap());
        let refused = app.put(&pin(&a["id"]), &s, json!(null)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let done = app.put(&pin(&a["id"]), &t, json!(null)).await;
        assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
        assert_eq!(
            (done.data()["pinned"].as_bool(), done.data()["by"].as_str()),
            (Some(true), Some("t1"))
        );
        assert!(done.data()["changeSeq"].as_i64().unwrap() > 0);
        assert_eq!(
            app.put(&pin(&a["id"]), &t, json!(null)).await.data()["changeSeq"],
            0,
            "already pinned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        app.put(&pin(&b["id"]), &t, json!(null)).await;
        let list = app
            .get(&format!("/chat/rooms/{room}/pins?limit=1"), &s)
            .await;
        assert_eq!(list.data()[0]["id"], b["id"], "newest pin first");
        assert_eq!(list.data()[0]["pinned"], true);
        let cursor = list.body["nextCursor"].as_str().unwrap().to_string();
        let next = app
            .get(
                &format!("/chat/rooms/{room}/pins?limit=1&cursor={cursor}"),
                &s,
            )
            .await;
        assert_eq!(next.data()[0]["id"], a["id"]);
        let un = app.delete(&pin(&b["id"]), &t).await;
        assert_eq!(un.data()["pinned"], false);
        let all = app.get(&format!("/chat/rooms/{room}/pins"), &t).await;
        assert_eq!(all.data().as_array().unwrap().len(), 1);
        let pair = app
            .post("/chat/rooms/personal", &s, json!({ "userId": "x" }))
            .await;
        let pair = pair.data()["id"].as_str().unwrap().to_string();
        let m = app.send(&s, &pair, "hi").await;
        let by_student = app
            .put(
                &format!("/chat/rooms/{pair}/pins/{}", m["id"].as_str().unwrap()),
                &token("x", "student"),
                json!(null),
            )
            .await;
        assert_eq!(
            by_student.status,
            StatusCode::OK,
            "either member of a 1:1 room"
        );
    }
);
