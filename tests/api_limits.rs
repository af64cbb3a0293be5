//! Issue 11 over REST: status changes, room creation and member adds are rate-limited per
//! user; rooms have a member cap and paged members; 1:1 rooms follow the configured
//! policy, and a member may leave or block one.

mod common;

use classchat::config::{Config, Rate};
use classchat::domain::limits::PersonalRooms;
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

async fn open(app: &TestApp, who: &str, other: &str) -> common::Answer {
    app.post("/chat/rooms/personal", who, json!({ "userId": other }))
        .await
}

both_dbs_with!(
    a_student_opening_rooms_past_the_creation_burst_is_refused_with_429,
    |c: &mut Config| c.limits.room_create = Rate::new(1, 3),
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        for i in 0..3 {
            let a = open(&app, &s1, &format!("x{i}")).await;
            assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        }
        let a = open(&app, &s1, "x9").await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", a.body);
        assert_eq!(a.code(), "rate_limited");
        let t1 = token("t1", "teacher");
        for _ in 0..3 {
            app.group(&t1, "G", &["s1"]).await;
        }
        let a = app
            .post(
                "/chat/rooms/group",
                &t1,
                json!({ "name": "G", "memberIds": [] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", a.body);
    }
);

both_dbs_with!(
    member_adds_past_the_burst_are_refused_with_429,
    |c: &mut Config| c.limits.member_add = Rate::new(1, 2),
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let room = app.group(&t1, "G", &[]).await;
        for i in 0..2 {
            let a = app
                .post(
                    &format!("/chat/rooms/{room}/members"),
                    &t1,
                    json!({ "userIds": [format!("s{i}")] }),
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        }
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": ["s9"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", a.body);
        let d = app.get(&format!("/chat/rooms/{room}"), &t1).await;
        assert_eq!(d.data()["memberCount"], 3);
    }
);

both_dbs_with!(
    with_the_shared_room_policy_a_student_opens_1to1_rooms_only_with_classmates,
    |c: &mut Config| c.limits.personal_rooms = PersonalRooms::SharedRoom,
    |app: TestApp| async move {
        let (s1, s2) = (token("s1", "student"), token("s2", "student"));
        app.get("/chat/rooms", &s2).await;
        let a = open(&app, &s1, "s2").await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        let b = open(&app, &s1, "nobody-at-all").await;
        assert_eq!(
            (b.status, b.code()),
            (a.status, a.code()),
            "the same answer for an unknown id"
        );
        let t1 = token("t1", "teacher");
        app.group(&t1, "Class", &["s1", "s2"]).await;
        let a = open(&app, &s1, "s2").await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let admin = token("ad", "admin");
        assert_eq!(open(&app, &admin, "s2").await.status, StatusCode::CREATED);
    }
);

both_dbs_with!(
    with_the_staff_only_policy_a_1to1_room_needs_a_teacher_or_admin_on_one_side,
    |c: &mut Config| c.limits.personal_rooms = PersonalRooms::StaffOnly,
    |app: TestApp| async move {
        let (s1, t1) = (token("s1", "student"), token("t1", "teacher"));
        app.get("/chat/rooms", &t1).await;
        assert_eq!(open(&app, &s1, "s2").await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            open(&app, &s1, "unknown").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(open(&app, &s1, "t1").await.status, StatusCode::CREATED);
        assert_eq!(open(&app, &t1, "s3").await.status, StatusCode::CREATED);
    }
);

both_dbs!(
    opening_a_1to1_room_with_a_stranger_does_not_reveal_their_name_or_role,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let s2 = classchat::auth::mint(
            SECRET.as_bytes(),
            "s2",
            classchat::domain::Role::Student,
            Some("Secret Name"),
            std::time::Duration::from_secs(3600),
        );
        app.get("/chat/rooms", &s2).await;
        let a = open(&app, &s1, "s2").await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let room = a.data()["id"].as_str().unwrap().to_string();
        let other = |d: &serde_json::Value| {
            d["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["userId"] == "s2")
                .cloned()
                .unwrap()
        };
        assert!(other(a.data())["name"].is_null(), "{:?}", a.body);
        assert!(other(a.data())["role"].is_null());
        let d = app.get(&format!("/chat/rooms/{room}"), &s1).await;
        assert!(other(d.data())["name"].is_null());
        // Once s2 writes in the room, s1 learns who they are.
        app.send(&s2, &room, "hi").await;
        let d = app.get(&format!("/chat/rooms/{room}"), &s1).await;
        assert_eq!(other(d.data())["name"], "Secret Name");
    }
);

both_dbs!(
    a_member_may_leave_a_1to1_room_and_come_back_by_reopening_it,
    |app: TestApp| async move {
        let (s1, s2) = (token("s1", "student"), token("s2", "student"));
        let a = open(&app, &s1, "s2").await;
        let room = a.data()["id"].as_str().unwrap().to_string();
        let a = app
            .delete(&format!("/chat/rooms/{room}/members/s2"), &s2)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(
            app.get(&format!("/chat/rooms/{room}"), &s2).await.status,
            StatusCode::NOT_FOUND
        );
        // Nobody removes the other member of a 1:1 room.
        let a = app
            .delete(&format!("/chat/rooms/{room}/members/s1"), &s2)
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        let d = app.get(&format!("/chat/rooms/{room}"), &s1).await;
        assert_eq!(d.data()["memberCount"], 1);
        // The one who stayed reopening does not pull the leaver back.
        assert_eq!(open(&app, &s1, "s2").await.status, StatusCode::OK);
        assert_eq!(
            app.get(&format!("/chat/rooms/{room}"), &s2).await.status,
            StatusCode::NOT_FOUND
        );
        let a = open(&app, &s2, "s1").await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.data()["id"], room.as_str());
        assert_eq!(a.data()["memberCount"], 2);
    }
);

both_dbs!(
    a_blocked_user_cannot_send_reopen_or_read_the_blockers_status,
    |app: TestApp| async move {
        let (s1, s2) = (token("s1", "student"), token("s2", "student"));
        let a = open(&app, &s1, "s2").await;
        let room = a.data()["id"].as_str().unwrap().to_string();
        let a = app
            .post(&format!("/chat/rooms/{room}/block"), &s2, json!({}))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["blocked"], true);
        let send = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &s1,
                json!({ "content": "hey" }),
            )
            .await;
        assert_eq!(send.status, StatusCode::NOT_FOUND, "{:?}", send.body);
        let again = open(&app, &s1, "s2").await;
        assert_eq!(again.status, StatusCode::FORBIDDEN, "{:?}", again.body);
        assert_eq!(again.code(), "blocked");
        let st = app.get("/chat/users/s2/status", &s1).await;
        assert_eq!(st.status, StatusCode::FORBIDDEN, "{:?}", st.body);
        // Blocking a group room is not a thing.
        let t1 = token("t1", "teacher");
        let g = app.group(&t1, "G", &["s2"]).await;
        let a = app
            .post(&format!("/chat/rooms/{g}/block"), &s2, json!({}))
            .await;
        assert_eq!(a.code(), "not_personal");
        // Unblocked, s1 may come back.
        let a = app.delete(&format!("/chat/rooms/{room}/block"), &s2).await;
        assert_eq!(a.data()["blocked"], false);
        assert_eq!(open(&app, &s1, "s2").await.status, StatusCode::OK);
        app.send(&s1, &room, "hello again").await;
    }
);
