//! Reactions over REST on SQLite and PostgreSQL: one per user per emoji, counts in
//! history, who reacted (paged), and the refusals (not an emoji, deleted messages).

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

fn pct(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

both_dbs!(
    one_reaction_per_user_per_emoji_counted_in_history_and_listed_by_who_reacted,
    |app: TestApp| async move {
        let (t, s) = (token("t1", "teacher"), token("s1", "student"));
        let room = app.group(&t, "Physics", &["s1"]).await;
        let m = app.send(&t, &room, "quiz at 9").await;
        let id = m["id"].as_str().unwrap();
        let thumbs = format!("/chat/rooms/{room}/messages/{id}/reactions/{}", pct("👍🏽"));
        let first = app.put(&thumbs, &s, json!(null)).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        assert_eq!(
            (
                first.data()["count"].as_i64(),
                first.data()["action"].as_str()
            ),
            (Some(1), Some("add"))
        );
        assert_eq!(first.data()["emoji"], "👍🏽");
        let again = app.put(&thumbs, &s, json!(null)).await;
        assert_eq!(again.data()["count"], 1, "one per user per emoji");
        assert_eq!(again.data()["changeSeq"], 0, "a repeat changes nothing");
        assert_eq!(app.put(&thumbs, &t, json!(null)).await.data()["count"], 2);
        let heart = format!("/chat/rooms/{room}/messages/{id}/reactions/{}", pct("❤️"));
        assert_eq!(app.put(&heart, &s, json!(null)).await.data()["count"], 1);
        let h = app.get(&format!("/chat/rooms/{room}/messages"), &t).await;
        assert_eq!(
            h.data()[0]["reactions"],
            json!([{ "emoji": "👍🏽", "count": 2 }, { "emoji": "❤️", "count": 1 }])
        );
        let who = app.get(&format!("{thumbs}?limit=1"), &t).await;
        assert_eq!(who.data()[0]["userId"], "s1");
        let cursor = who.body["nextCursor"].as_str().unwrap().to_string();
        let rest = app
            .get(&format!("{thumbs}?limit=1&cursor={cursor}"), &t)
            .await;
        assert_eq!(rest.data()[0]["userId"], "t1");
        assert!(rest.body["nextCursor"].is_null());
        let removed = app.delete(&thumbs, &s).await;
        assert_eq!(
            (
                removed.data()["count"].as_i64(),
                removed.data()["action"].as_str()
            ),
            (Some(1), Some("remove"))
        );
        assert_eq!(app.delete(&thumbs, &s).await.data()["changeSeq"], 0);
    }
);

both_dbs!(
    reactions_refuse_what_is_not_one_emoji_deleted_messages_and_outsiders,
    |app: TestApp| async move {
        let (t, x) = (token("t1", "teacher"), token("x", "student"));
        let room = app.group(&t, "Physics", &["s1"]).await;
        let m = app.send(&t, &room, "hi").await;
        let base = format!(
            "/chat/rooms/{room}/messages/{}/reactions",
            m["id"].as_str().unwrap()
        );
        for bad in ["ab", "👍👍", "%20"] {
            let a = app.put(&format!("{base}/{bad}"), &t, json!(null)).await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::BAD_REQUEST, "invalid_emoji"),
                "{bad}"
            );
        }
        let ok = format!("{base}/{}", pct("🎉"));
        assert_eq!(app.put(&ok, &x, json!(null)).await.code(), "room_not_found");
        let missing = format!("/chat/rooms/{room}/messages/nope/reactions/{}", pct("🎉"));
        assert_eq!(
            app.put(&missing, &t, json!(null)).await.code(),
            "message_not_found"
        );
        app.delete(
            &format!("/chat/rooms/{room}/messages/{}", m["id"].as_str().unwrap()),
            &t,
        )
        .await;
        let gone = app.put(&ok, &t, json!(null)).await;
        assert_eq!(
            (gone.status, gone.code()),
            (StatusCode::CONFLICT, "message_deleted")
        );
    }
);
