//! The contract's permission table, row by row, one test per cell (student,
//! teacher, admin). Refusals are checked to have changed nothing.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A class: teacher `t1` owns a group with students `s1`, `s2` and teacher
/// `t2` as plain members. `s9` and `t9` are outsiders, `a1` an admin who is
/// not a member.
struct Class {
    room: String,
    t1: String,
    t2: String,
    s1: String,
    s2: String,
    s9: String,
    t9: String,
    a1: String,
}

async fn class(app: &TestApp) -> Class {
    let c = Class {
        room: String::new(),
        t1: token("t1", "teacher"),
        t2: token("t2", "teacher"),
        s1: token("s1", "student"),
        s2: token("s2", "student"),
        s9: token("s9", "student"),
        t9: token("t9", "teacher"),
        a1: token("a1", "admin"),
    };
    let room = app.group(&c.t1, "Class", &["s1", "s2", "t2"]).await;
    // Everyone has made a call, so their platform roles are known.
    for tok in [&c.t2, &c.s1, &c.s2, &c.s9, &c.t9, &c.a1] {
        assert_eq!(app.get("/chat/rooms", tok).await.status, StatusCode::OK);
    }
    Class { room, ..c }
}

async fn member_ids(app: &TestApp, room: &str) -> Vec<String> {
    let a = app
        .get(&format!("/chat/rooms/{room}"), &token("a1", "admin"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let mut ids: Vec<String> = a.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn history(app: &TestApp, room: &str) -> Vec<Value> {
    let a = app
        .get(
            &format!("/chat/rooms/{room}/messages?after=0&limit=100"),
            &token("a1", "admin"),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data().as_array().unwrap().clone()
}

fn add(room: &str) -> String {
    format!("/chat/rooms/{room}/members")
}

fn remove(room: &str, user: &str) -> String {
    format!("/chat/rooms/{room}/members/{user}")
}

fn message(room: &str, m: &Value) -> String {
    format!(
        "/chat/rooms/{room}/messages/{}",
        m["id"].as_str().expect("message id")
    )
}

const CLASS: [&str; 4] = ["s1", "s2", "t1", "t2"];

// --- open a 1:1 room: student yes, teacher yes, admin yes ---

both_dbs!(
    a_student_can_open_a_personal_room,
    |app: TestApp| async move {
        let a = app
            .post(
                "/chat/rooms/personal",
                &token("s1", "student"),
                json!({ "userId": "t1" }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
);

both_dbs!(
    a_teacher_can_open_a_personal_room,
    |app: TestApp| async move {
        let a = app
            .post(
                "/chat/rooms/personal",
                &token("t1", "teacher"),
                json!({ "userId": "s1" }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
);

both_dbs!(
    an_admin_can_open_a_personal_room,
    |app: TestApp| async move {
        let a = app
            .post(
                "/chat/rooms/personal",
                &token("a1", "admin"),
                json!({ "userId": "s1" }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
);

// --- create a group room: student no, teacher yes, admin yes ---

both_dbs!(
    a_student_cannot_create_a_group_room,
    |app: TestApp| async move {
        let s = token("s1", "student");
        let a = app
            .post(
                "/chat/rooms/group",
                &s,
                json!({ "name": "Mine", "memberIds": ["s2"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_eq!(a.code(), "forbidden");
        let list = app.get("/chat/rooms", &s).await;
        assert_eq!(list.data(), &json!([]));
        let list = app.get("/chat/rooms", &token("s2", "student")).await;
        assert_eq!(list.data(), &json!([]));
    }
);

both_dbs!(
    a_teacher_can_create_a_group_room,
    |app: TestApp| async move {
        let a = app
            .post(
                "/chat/rooms/group",
                &token("t1", "teacher"),
                json!({ "name": "Class", "memberIds": ["s1"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
);

both_dbs!(
    an_admin_can_create_a_group_room,
    |app: TestApp| async move {
        let a = app
            .post(
                "/chat/rooms/group",
                &token("a1", "admin"),
                json!({ "name": "Staff", "memberIds": ["t1"] }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let owner = a.data()["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["userId"] == "a1")
            .cloned()
            .unwrap();
        assert_eq!(owner["roomRole"], "owner");
    }
);

// --- add / remove members: room owner or room admin; admin any room ---

both_dbs!(
    a_teacher_who_owns_the_room_can_add_and_remove_members,
    |app: TestApp| async move {
        let c = class(&app).await;
        let a = app
            .post(&add(&c.room), &c.t1, json!({ "userIds": ["s3"] }))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let r = app.delete(&remove(&c.room, "s2"), &c.t1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            member_ids(&app, &c.room).await,
            vec!["s1", "s3", "t1", "t2"]
        );
    }
);

both_dbs!(
    a_student_who_owns_the_room_can_add_and_remove_members,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t1, "Club", &["s1"]).await;
        // The owner leaves: the only member left, a student, owns the room.
        let r = app.delete(&remove(&room, "t1"), &t1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let d = app.get(&format!("/chat/rooms/{room}"), &s1).await;
        assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
        assert_eq!(d.data()["members"][0]["userId"], "s1");
        assert_eq!(d.data()["members"][0]["roomRole"], "owner");

        let a = app
            .post(&add(&room), &s1, json!({ "userIds": ["s2", "s3"] }))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let r = app.delete(&remove(&room, "s2"), &s1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(member_ids(&app, &room).await, vec!["s1", "s3"]);
    }
);

both_dbs!(
    a_student_who_is_a_plain_member_cannot_add_or_remove_members,
    |app: TestApp| async move {
        let c = class(&app).await;
        let a = app
            .post(&add(&c.room), &c.s1, json!({ "userIds": ["s3"] }))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_eq!(a.code(), "forbidden");
        for target in ["s2", "t2", "t1"] {
            let r = app.delete(&remove(&c.room, target), &c.s1).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{target}: {:?}", r.body);
        }
        assert_eq!(member_ids(&app, &c.room).await, CLASS);
    }
);

both_dbs!(
    a_teacher_who_is_a_plain_member_cannot_add_or_remove_members,
    |app: TestApp| async move {
        let c = class(&app).await;
        let a = app
            .post(&add(&c.room), &c.t2, json!({ "userIds": ["s3"] }))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        for target in ["s1", "t1"] {
            let r = app.delete(&remove(&c.room, target), &c.t2).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{target}: {:?}", r.body);
        }
        assert_eq!(member_ids(&app, &c.room).await, CLASS);
    }
);

both_dbs!(
    an_admin_can_add_and_remove_members_of_any_room,
    |app: TestApp| async move {
        let c = class(&app).await;
        let a = app
            .post(&add(&c.room), &c.a1, json!({ "userIds": ["s3"] }))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let r = app.delete(&remove(&c.room, "s1"), &c.a1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        // Even the owner.
        let r = app.delete(&remove(&c.room, "t1"), &c.a1).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(member_ids(&app, &c.room).await, vec!["s2", "s3", "t2"]);
    }
);

both_dbs!(
    a_non_member_gets_404_when_adding_or_removing_members,
    |app: TestApp| async move {
        let c = class(&app).await;
        for tok in [&c.s9, &c.t9] {
            let a = app
                .post(&add(&c.room), tok, json!({ "userIds": ["s3"] }))
                .await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
            assert_eq!(a.code(), "room_not_found");
            let r = app.delete(&remove(&c.room, "s1"), tok).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
            assert_eq!(r.code(), "room_not_found");
        }
        assert_eq!(member_ids(&app, &c.room).await, CLASS);
    }
);

// --- read, send: member; admin any room ---

both_dbs!(
    a_student_member_can_read_and_send,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s1, &c.room, "hi").await;
        let d = app.get(&format!("/chat/rooms/{}", c.room), &c.s1).await;
        assert_eq!(d.status, StatusCode::OK);
        let h = app
            .get(&format!("/chat/rooms/{}/messages", c.room), &c.s1)
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.data()[0]["id"], m["id"]);
    }
);

both_dbs!(
    a_teacher_member_can_read_and_send,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.t2, &c.room, "hi").await;
        let d = app.get(&format!("/chat/rooms/{}", c.room), &c.t2).await;
        assert_eq!(d.status, StatusCode::OK);
        let h = app
            .get(&format!("/chat/rooms/{}/messages", c.room), &c.t2)
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.data()[0]["id"], m["id"]);
    }
);

async fn assert_outsider_sees_nothing(app: &TestApp, c: &Class, tok: &str) {
    let m = app.send(&c.s1, &c.room, "members only").await;
    let room = &c.room;
    let checks: Vec<Answer> = vec![
        app.get(&format!("/chat/rooms/{room}"), tok).await,
        app.get(&format!("/chat/rooms/{room}/messages"), tok).await,
        app.post(
            &format!("/chat/rooms/{room}/messages"),
            tok,
            json!({ "content": "let me in" }),
        )
        .await,
        app.post(
            &format!("/chat/rooms/{room}/seen"),
            tok,
            json!({ "upToSeq": 1 }),
        )
        .await,
        app.get(&format!("{}/seen-by", message(room, &m)), tok)
            .await,
        app.delete(&message(room, &m), tok).await,
    ];
    for a in checks {
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        assert_eq!(a.code(), "room_not_found");
    }
    let list = app.get("/chat/rooms", tok).await;
    assert!(list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["id"] != room.as_str()));
    let h = history(app, room).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["content"], "members only");
}

both_dbs!(
    a_student_who_is_not_a_member_gets_404_for_reading_and_sending,
    |app: TestApp| async move {
        let c = class(&app).await;
        assert_outsider_sees_nothing(&app, &c, &c.s9).await;
    }
);

both_dbs!(
    a_teacher_who_is_not_a_member_gets_404_for_reading_and_sending,
    |app: TestApp| async move {
        let c = class(&app).await;
        assert_outsider_sees_nothing(&app, &c, &c.t9).await;
    }
);

both_dbs!(
    an_admin_can_read_and_send_in_any_room,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s1, &c.room, "hello").await;
        let d = app.get(&format!("/chat/rooms/{}", c.room), &c.a1).await;
        assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
        let h = app
            .get(&format!("/chat/rooms/{}/messages", c.room), &c.a1)
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.data()[0]["id"], m["id"]);
        let s = app
            .get(&format!("{}/seen-by", message(&c.room, &m)), &c.a1)
            .await;
        assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
        let mine = app.send(&c.a1, &c.room, "admin here").await;
        assert_eq!(mine["seq"], 2);
        assert_eq!(mine["senderId"], "a1");
        // Not a member by reading or sending.
        assert_eq!(member_ids(&app, &c.room).await, CLASS);
    }
);

// --- delete a message: student own; teacher own + students' in their rooms; admin any ---

async fn assert_deleted(app: &TestApp, room: &str, a: &Answer, by: &str) {
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.data()["content"].is_null());
    assert_eq!(a.data()["deletedBy"], by);
    let h = history(app, room).await;
    let m = h.iter().find(|m| m["id"] == a.data()["id"]).unwrap();
    assert!(m["content"].is_null());
    assert_eq!(m["deletedBy"], by);
}

async fn assert_refused(app: &TestApp, room: &str, a: &Answer, m: &Value, status: StatusCode) {
    assert_eq!(a.status, status, "{:?}", a.body);
    let h = history(app, room).await;
    let kept = h.iter().find(|x| x["id"] == m["id"]).unwrap();
    assert_eq!(kept["content"], m["content"]);
    assert!(kept["deletedAt"].is_null());
}

both_dbs!(
    a_student_can_delete_their_own_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s1, &c.room, "mine").await;
        let a = app.delete(&message(&c.room, &m), &c.s1).await;
        assert_deleted(&app, &c.room, &a, "s1").await;
    }
);

both_dbs!(
    a_student_cannot_delete_another_students_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s2, &c.room, "s2's").await;
        let a = app.delete(&message(&c.room, &m), &c.s1).await;
        assert_eq!(a.code(), "forbidden");
        assert_refused(&app, &c.room, &a, &m, StatusCode::FORBIDDEN).await;
    }
);

both_dbs!(
    a_student_cannot_delete_a_teachers_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.t1, &c.room, "homework").await;
        let a = app.delete(&message(&c.room, &m), &c.s1).await;
        assert_refused(&app, &c.room, &a, &m, StatusCode::FORBIDDEN).await;
    }
);

both_dbs!(
    a_teacher_can_delete_their_own_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.t2, &c.room, "mine").await;
        let a = app.delete(&message(&c.room, &m), &c.t2).await;
        assert_deleted(&app, &c.room, &a, "t2").await;
    }
);

both_dbs!(
    a_teacher_can_delete_a_students_message_in_a_room_they_belong_to,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s1, &c.room, "rude").await;
        // The owner, and a teacher who is a plain member.
        let a = app.delete(&message(&c.room, &m), &c.t2).await;
        assert_deleted(&app, &c.room, &a, "t2").await;
        let m = app.send(&c.s2, &c.room, "rude too").await;
        let a = app.delete(&message(&c.room, &m), &c.t1).await;
        assert_deleted(&app, &c.room, &a, "t1").await;
    }
);

both_dbs!(
    a_teacher_cannot_delete_another_teachers_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.t1, &c.room, "owner's").await;
        let a = app.delete(&message(&c.room, &m), &c.t2).await;
        assert_eq!(a.code(), "forbidden");
        assert_refused(&app, &c.room, &a, &m, StatusCode::FORBIDDEN).await;
        // Not even the room owner deletes a teacher's message.
        let m = app.send(&c.t2, &c.room, "member's").await;
        let a = app.delete(&message(&c.room, &m), &c.t1).await;
        assert_refused(&app, &c.room, &a, &m, StatusCode::FORBIDDEN).await;
    }
);

both_dbs!(
    a_teacher_cannot_delete_an_admins_message,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.a1, &c.room, "announcement").await;
        let a = app.delete(&message(&c.room, &m), &c.t1).await;
        assert_refused(&app, &c.room, &a, &m, StatusCode::FORBIDDEN).await;
    }
);

both_dbs!(
    a_teacher_cannot_delete_a_students_message_in_a_room_they_do_not_belong_to,
    |app: TestApp| async move {
        let c = class(&app).await;
        let m = app.send(&c.s1, &c.room, "not yours").await;
        let a = app.delete(&message(&c.room, &m), &c.t9).await;
        assert_eq!(a.code(), "room_not_found");
        assert_refused(&app, &c.room, &a, &m, StatusCode::NOT_FOUND).await;
    }
);

both_dbs!(
    an_admin_can_delete_any_message_in_any_room,
    |app: TestApp| async move {
        let c = class(&app).await;
        for (tok, who) in [(&c.s1, "s1"), (&c.t1, "t1"), (&c.t2, "t2")] {
            let m = app.send(tok, &c.room, &format!("by {who}")).await;
            let a = app.delete(&message(&c.room, &m), &c.a1).await;
            assert_deleted(&app, &c.room, &a, "a1").await;
        }
    }
);

// --- cluster stats: admin only ---

both_dbs!(
    a_student_cannot_see_cluster_stats,
    |app: TestApp| async move {
        let a = app.get("/chat/ws/stats", &token("s1", "student")).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_eq!(a.code(), "forbidden");
    }
);

both_dbs!(
    a_teacher_cannot_see_cluster_stats,
    |app: TestApp| async move {
        let a = app.get("/chat/ws/stats", &token("t1", "teacher")).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
        assert_eq!(a.code(), "forbidden");
    }
);

both_dbs!(an_admin_can_see_cluster_stats, |app: TestApp| async move {
    let a = app.get("/chat/ws/stats", &token("a1", "admin")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.data()["nodes"].is_array());
});
