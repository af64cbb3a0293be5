//! Issue 11 over REST: status changes, room creation and member adds are rate-limited per
//! user; rooms have a member cap and paged members; 1:1 rooms follow the configured
//! policy, and a member may leave or block one.

mod common;

use classchat::config::{Config, Rate};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs_with!(
    status_changes_past_the_burst_are_refused_with_429_and_retry_after,
    |c: &mut Config| c.limits.status = Rate::new(1, 5),
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let statuses = ["away", "busy", "online"];
        for i in 0..5 {
            let a = app
                .put("/chat/status", &s1, json!({ "status": statuses[i % 3] }))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        }
        let a = app
            .put("/chat/status", &s1, json!({ "status": "away" }))
            .await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", a.body);
        assert_eq!(a.code(), "rate_limited");
        assert!(a.headers.get("retry-after").is_some());
        // Another user has their own bucket.
        let s2 = token("s2", "student");
        let a = app
            .put("/chat/status", &s2, json!({ "status": "away" }))
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
);

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["userId"].as_str().expect("userId").to_string())
        .collect()
}

both_dbs_with!(
    adding_members_past_the_room_cap_is_a_409_room_full_and_adds_nobody,
    |c: &mut Config| c.limits.max_room_members = 3,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let room = app.group(&t1, "Capped", &["s1"]).await;
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": ["s2", "s3"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
        assert_eq!(a.code(), "room_full");
        let d = app.get(&format!("/chat/rooms/{room}"), &t1).await;
        assert_eq!(d.data()["memberCount"], 2, "{:?}", d.body);
        // Up to the cap is fine.
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": ["s2"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let a = app
            .post(
                "/chat/rooms/group",
                &t1,
                json!({ "name": "Too big", "memberIds": ["a", "b", "c"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
        assert_eq!(a.code(), "room_full");
    }
);

both_dbs_with!(
    a_large_room_detail_lists_a_bounded_number_of_members_and_pages_the_rest,
    |c: &mut Config| c.limits.room_detail_members = 3,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let students = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"];
        let room = app.group(&t1, "Big", &students).await;
        let d = app.get(&format!("/chat/rooms/{room}"), &t1).await;
        assert_eq!(d.status, StatusCode::OK);
        assert_eq!(d.data()["members"].as_array().unwrap().len(), 3);
        assert_eq!(d.data()["memberCount"], 8);
        assert!(d.data()["membersNextCursor"].is_string(), "{:?}", d.body);
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let a = app
                .get(
                    &format!("/chat/rooms/{room}/members?limit=2&cursor={cursor}"),
                    &t1,
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            all.extend(ids(&a.body["data"]));
            match a.body["nextCursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(all.len(), 8, "{all:?}");
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8);
        assert_eq!(all[..3], ids(&d.data()["members"])[..]);
        let bad = app
            .get(&format!("/chat/rooms/{room}/members?cursor=nope"), &t1)
            .await;
        assert_eq!(bad.code(), "invalid_cursor");
        let stranger = token("x", "student");
        let a = app
            .get(&format!("/chat/rooms/{room}/members"), &stranger)
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        // A small room's detail is whole, as before.
        let small = app.group(&t1, "Small", &["s1"]).await;
        let d = app.get(&format!("/chat/rooms/{small}"), &t1).await;
        assert_eq!(d.data()["memberCount"], 2);
        assert!(d.data()["membersNextCursor"].is_null());
    }
);
