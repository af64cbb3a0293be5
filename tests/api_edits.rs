//! Editing a message over REST on SQLite and PostgreSQL: its sender only, the current
//! content in history, and the refusals (others' and deleted messages, bad content).

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    a_sender_edits_their_message_and_history_shows_the_new_content_with_edited_at,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Physics", &["s1"]).await;
        let m = app.send(&t, &room, "page 80").await;
        let id = m["id"].as_str().unwrap();
        let path = format!("/chat/rooms/{room}/messages/{id}");
        let a = app
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(&t),
                Some(json!({ "content": "page 81" })),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["content"], "page 81");
        assert_eq!(a.data()["seq"], m["seq"]);
        assert!(a.data()["editedAt"].is_string());
        let h = app.get(&format!("/chat/rooms/{room}/messages"), &t).await;
        assert_eq!(h.data()[0]["content"], "page 81");
        assert_eq!(h.data()[0]["editedAt"], a.data()["editedAt"]);
    }
);

both_dbs!(
    only_the_sender_edits_a_live_message_with_valid_content,
    |app: TestApp| async move {
        let (t, s, x) = (
            token("t1", "teacher"),
            token("s1", "student"),
            token("x", "student"),
        );
        let room = app.group(&t, "Physics", &["s1"]).await;
        let m = app.send(&t, &room, "hello").await;
        let path = format!("/chat/rooms/{room}/messages/{}", m["id"].as_str().unwrap());
        let patch = |who: String, body: serde_json::Value| {
            let path = path.clone();
            let app = &app;
            async move {
                app.call(reqwest::Method::PATCH, &path, Some(&who), Some(body))
                    .await
            }
        };
        let other = patch(s.clone(), json!({ "content": "x" })).await;
        assert_eq!(
            (other.status, other.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let admin = patch(token("a1", "admin"), json!({ "content": "x" })).await;
        assert_eq!(
            admin.code(),
            "forbidden",
            "not even an admin edits another's words"
        );
        assert_eq!(
            patch(x, json!({ "content": "x" })).await.code(),
            "room_not_found"
        );
        assert_eq!(
            patch(t.clone(), json!({ "content": "  " })).await.code(),
            "invalid_content"
        );
        let long = patch(t.clone(), json!({ "content": "x".repeat(4001) })).await;
        assert_eq!(
            (long.status, long.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "content_too_large")
        );
        assert_eq!(patch(t.clone(), json!({})).await.code(), "invalid_payload");
        let missing = app
            .call(
                reqwest::Method::PATCH,
                &format!("/chat/rooms/{room}/messages/nope"),
                Some(&t),
                Some(json!({ "content": "x" })),
            )
            .await;
        assert_eq!(missing.code(), "message_not_found");
        assert_eq!(app.delete(&path, &t).await.status, StatusCode::OK);
        let gone = patch(t, json!({ "content": "x" })).await;
        assert_eq!(
            (gone.status, gone.code()),
            (StatusCode::CONFLICT, "message_deleted")
        );
    }
);
