//! Meetings over REST on SQLite and PostgreSQL: one running meeting per room however
//! many start it at once, the meeting history and its paging, the ICE servers with
//! TURN credentials, and the refusals of the permission table.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    concurrent_starts_of_one_room_make_one_meeting_answered_201_once_and_200_after,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Physics", &["s1"]).await;
        let path = format!("/chat/rooms/{room}/meeting");
        let calls = (0..8).map(|_| app.post(&path, &t, json!({ "title": "Lab" })));
        let answers = futures_util::future::join_all(calls).await;
        let created = answers
            .iter()
            .filter(|a| a.status == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{answers:?}");
        assert!(answers.iter().all(|a| a.status.is_success()));
        let ids: std::collections::HashSet<_> =
            answers.iter().map(|a| a.data()["id"].to_string()).collect();
        assert_eq!(ids.len(), 1, "one meeting: {ids:?}");
        let running = app.get(&path, &t).await;
        assert_eq!(running.data()["title"], "Lab");
        assert_eq!(running.data()["participants"], json!([]));
        assert_eq!(running.data()["locked"], false);
    }
);

both_dbs!(
    ended_meetings_are_listed_newest_first_and_paged_with_their_end,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Physics", &["s1"]).await;
        let path = format!("/chat/rooms/{room}/meeting");
        let first = app.post(&path, &t, json!({})).await.data()["id"].clone();
        let ended = app.delete(&path, &t).await;
        assert_eq!(ended.status, StatusCode::OK);
        assert_eq!(ended.data()["reason"], "ended");
        assert_eq!(ended.data()["endedBy"], "t1");
        assert_eq!(app.get(&path, &t).await.code(), "no_meeting");
        let second = app.post(&path, &t, json!({ "title": "  " })).await;
        assert_eq!(second.status, StatusCode::CREATED);
        assert!(second.data()["title"].is_null(), "a blank title is none");
        let history = format!("/chat/rooms/{room}/meetings");
        let page = app.get(&format!("{history}?limit=1"), &t).await;
        assert_eq!(page.data()[0]["id"], second.data()["id"]);
        assert!(
            page.data()[0]["endedAt"].is_null(),
            "the running one is listed too"
        );
        let cursor = page.body["nextCursor"]
            .as_str()
            .expect("a next page")
            .to_string();
        let next = app
            .get(&format!("{history}?limit=1&cursor={cursor}"), &t)
            .await;
        assert_eq!(next.data()[0]["id"], first);
        assert_eq!(next.data()[0]["endReason"], "ended");
        assert_eq!(next.data()[0]["attendance"], json!([]));
        assert!(next.body["nextCursor"].is_null());
        let bad = app.get(&format!("{history}?cursor=nope"), &t).await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_cursor")
        );
    }
);

both_dbs!(
    the_permission_table_of_meetings_refuses_with_the_contracts_codes,
    |app: TestApp| async move {
        let (t, s, other) = (
            token("t1", "teacher"),
            token("s1", "student"),
            token("x", "student"),
        );
        let room = app.group(&t, "Physics", &["s1"]).await;
        let path = format!("/chat/rooms/{room}/meeting");
        let student = app.post(&path, &s, json!({})).await;
        assert_eq!(
            (student.status, student.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let outsider = app.post(&path, &other, json!({})).await;
        assert_eq!(outsider.code(), "room_not_found");
        assert_eq!(app.get(&path, &s).await.code(), "no_meeting");
        let long = app
            .post(&path, &t, json!({ "title": "x".repeat(201) }))
            .await;
        assert_eq!(long.code(), "invalid_payload");
        let bad = app
            .raw(reqwest::Method::POST, &path, &t, b"{not json".to_vec())
            .await;
        assert_eq!(bad.code(), "invalid_json");
        assert_eq!(
            app.post(&path, &t, json!({})).await.status,
            StatusCode::CREATED
        );
        assert_eq!(app.get(&path, &s).await.status, StatusCode::OK);
        assert_eq!(app.get(&path, &other).await.code(), "room_not_found");
        let end = app.delete(&path, &s).await;
        assert_eq!(
            (end.status, end.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        let admin = app.delete(&path, &token("a1", "admin")).await;
        assert_eq!(admin.status, StatusCode::OK, "admins end any meeting");
        let pair = app
            .post("/chat/rooms/personal", &s, json!({ "userId": "x" }))
            .await;
        let pair = pair.data()["id"].as_str().unwrap().to_string();
        let by_student = app
            .post(&format!("/chat/rooms/{pair}/meeting"), &s, json!({}))
            .await;
        assert_eq!(
            by_student.status,
            StatusCode::CREATED,
            "either member of a 1:1 room"
        );
    }
);

both_dbs_with!(
    ice_servers_hand_out_stun_and_turn_with_credentials_of_the_turn_rest_scheme,
    |c: &mut classchat::config::Config| {
        c.ice = classchat::config::IceConfig {
            stun_urls: vec!["stun:stun.example.org:3478".into()],
            turn_urls: vec!["turn:turn.example.org:3478?transport=udp".into()],
            turn_secret: Some("s3cret".into()),
            turn_ttl: 600,
        };
    },
    |app: TestApp| async move {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let a = app
            .get("/chat/meetings/ice-servers", &token("s1", "student"))
            .await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.data()["ttl"], 600);
        let servers = a.data()["iceServers"].as_array().unwrap();
        assert_eq!(
            servers[0],
            json!({ "urls": ["stun:stun.example.org:3478"] })
        );
        let user = servers[1]["username"].as_str().unwrap();
        let (expiry, who) = user.split_once(':').unwrap();
        assert_eq!(who, "s1");
        let expiry: u64 = expiry.parse().unwrap();
        assert!(
            (before + 600..=before + 602).contains(&expiry),
            "{expiry} vs {before}"
        );
        let credential = classchat::domain::ice::turn_credential("s3cret", user);
        assert_eq!(servers[1]["credential"], credential);
        let none = app.get("/chat/meetings/ice-servers", "").await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    }
);
