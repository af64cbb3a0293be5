//! Every error status and code of the REST API: 400, 401, 403, 404, 405, 409,
//! 413, 429; never a 500 for bad input; and after each rejected write,
//! nothing was written.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ---------------------------------------------------------------- helpers

/// A group owned by teacher `t1` with students `s1`, `s2`, and one message by
/// `s1`; its id and the message.
async fn classroom(app: &TestApp) -> (String, Value) {
    let t1 = token("t1", "teacher");
    let room = app.group(&t1, "Class", &["s1", "s2"]).await;
    let m = app.send(&token("s1", "student"), &room, "first").await;
    // Every member has called once, so their names are known.
    let s2 = app.get("/chat/rooms", &token("s2", "student")).await;
    assert_eq!(s2.status, StatusCode::OK);
    (room, m)
}

/// What a room looks like to an admin: its detail and its whole history.
async fn snapshot(app: &TestApp, room: &str) -> (Value, Value) {
    let a1 = token("a1", "admin");
    let d = app.get(&format!("/chat/rooms/{room}"), &a1).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let h = app
        .get(
            &format!("/chat/rooms/{room}/messages?after=0&limit=100"),
            &a1,
        )
        .await;
    assert_eq!(h.status, StatusCode::OK, "{:?}", h.body);
    (d.data().clone(), h.data().clone())
}

/// The ids of the rooms a user sees.
async fn rooms_of(app: &TestApp, user: &str, role: &str) -> Vec<String> {
    let a = app.get("/chat/rooms?limit=100", &token(user, role)).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let mut ids: Vec<String> = a
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn assert_error(a: &Answer, status: StatusCode, code: &str, what: &str) {
    assert_eq!(a.status, status, "{what}: {:?}", a.body);
    assert_eq!(a.code(), code, "{what}: {:?}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: an error message: {:?}",
        a.body
    );
}

fn assert_not_500(a: &Answer, what: &str) {
    assert!(
        a.status.as_u16() < 500 && a.code() != "internal_error",
        "{what}: {} {:?}",
        a.status,
        a.body
    );
}

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

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A JWT with these claims, signed with `secret` under `alg`.
fn jwt(alg: jsonwebtoken::Algorithm, secret: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("encode")
}

fn hs256(claims: Value) -> String {
    jwt(jsonwebtoken::Algorithm::HS256, SECRET.as_bytes(), claims)
}

/// Every endpoint that needs a token, with a body where it takes one.
fn protected_endpoints(room: &str, msg: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/chat/rooms/personal".into(),
            Some(json!({ "userId": "s2" })),
        ),
        (
            Method::POST,
            "/chat/rooms/group".into(),
            Some(json!({ "name": "X", "memberIds": [] })),
        ),
        (Method::GET, "/chat/rooms".into(), None),
        (Method::GET, format!("/chat/rooms/{room}"), None),
        (
            Method::POST,
            format!("/chat/rooms/{room}/members"),
            Some(json!({ "userIds": ["s3"] })),
        ),
        (
            Method::DELETE,
            format!("/chat/rooms/{room}/members/s2"),
            None,
        ),
        (
            Method::POST,
            format!("/chat/rooms/{room}/messages"),
            Some(json!({ "content": "sneaky" })),
        ),
        (Method::GET, format!("/chat/rooms/{room}/messages"), None),
        (
            Method::DELETE,
            format!("/chat/rooms/{room}/messages/{msg}"),
            None,
        ),
        (
            Method::POST,
            format!("/chat/rooms/{room}/seen"),
            Some(json!({ "upToSeq": 1 })),
        ),
        (
            Method::GET,
            format!("/chat/rooms/{room}/messages/{msg}/seen-by"),
            None,
        ),
        (
            Method::PUT,
            "/chat/status".into(),
            Some(json!({ "status": "away" })),
        ),
        (Method::GET, "/chat/users/s1/status".into(), None),
        (Method::GET, "/chat/ws/stats".into(), None),
    ]
}

// ---------------------------------------------------------------- 400

both_dbs!(
    malformed_json_is_a_400_invalid_json_on_every_endpoint_with_a_body,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        let paths = [
            (Method::POST, "/chat/rooms/personal".to_string()),
            (Method::POST, "/chat/rooms/group".to_string()),
            (Method::POST, format!("/chat/rooms/{room}/members")),
            (Method::POST, format!("/chat/rooms/{room}/messages")),
            (Method::POST, format!("/chat/rooms/{room}/seen")),
            (Method::PUT, "/chat/status".to_string()),
        ];
        let bodies: [&[u8]; 7] = [
            b"{",
            b"{\"content\": ",
            b"not json",
            b"{'content': 'single quotes'}",
            b"{\"content\": \"x\"} trailing",
            b"",
            b"\xff\xfe",
        ];
        for (method, path) in &paths {
            for body in bodies {
                let a = app.raw(method.clone(), path, &t1, body.to_vec()).await;
                let what = format!("{method} {path} {:?}", String::from_utf8_lossy(body));
                assert_error(&a, StatusCode::BAD_REQUEST, "invalid_json", &what);
            }
        }
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "t1", "teacher").await, vec![room]);
    }
);

both_dbs!(
    wrong_field_types_and_non_object_bodies_are_a_400_invalid_payload,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        let long_id = "u".repeat(129);
        let non_objects = [
            json!([]),
            json!("text"),
            json!(42),
            json!(null),
            json!(true),
        ];
        let mut cases: Vec<(Method, String, Value)> = Vec::new();
        let personal = "/chat/rooms/personal".to_string();
        for b in [
            json!({ "userId": 5 }),
            json!({ "userId": null }),
            json!({}),
            json!({ "userId": ["s2"] }),
            json!({ "userId": "" }),
            json!({ "userId": long_id }),
        ] {
            cases.push((Method::POST, personal.clone(), b));
        }
        let group = "/chat/rooms/group".to_string();
        for b in [
            json!({ "name": 5 }),
            json!({ "memberIds": [] }),
            json!({ "name": "X", "memberIds": "s1" }),
            json!({ "name": "X", "memberIds": [1, 2] }),
            json!({ "name": "X", "memberIds": [""] }),
            json!({ "name": "X", "memberIds": [long_id] }),
        ] {
            cases.push((Method::POST, group.clone(), b));
        }
        let members = format!("/chat/rooms/{room}/members");
        for b in [
            json!({}),
            json!({ "userIds": "s3" }),
            json!({ "userIds": [] }),
            json!({ "userIds": [null] }),
            json!({ "userIds": [""] }),
            json!({ "userIds": [long_id] }),
        ] {
            cases.push((Method::POST, members.clone(), b));
        }
        let messages = format!("/chat/rooms/{room}/messages");
        for b in [
            json!({}),
            json!({ "content": 5 }),
            json!({ "content": null }),
            json!({ "content": ["a"] }),
            json!({ "content": { "text": "a" } }),
            json!({ "content": "x", "clientMessageId": 5 }),
            json!({ "content": "x", "clientMessageId": "" }),
            json!({ "content": "x", "clientMessageId": long_id }),
            json!({ "content": "x", "replyToId": 5 }),
            json!({ "content": "x", "mentions": "s2" }),
            json!({ "content": "x", "mentions": [5] }),
            json!({ "content": "x", "mentions": [""] }),
        ] {
            cases.push((Method::POST, messages.clone(), b));
        }
        let seen = format!("/chat/rooms/{room}/seen");
        for b in [
            json!({}),
            json!({ "upToSeq": "1" }),
            json!({ "upToSeq": -1 }),
            json!({ "upToSeq": 1.5 }),
            json!({ "upToSeq": 1, "messageIds": ["a"] }),
            json!({ "messageIds": [] }),
            json!({ "messageIds": "a" }),
            json!({ "messageIds": vec!["a"; 1001] }),
        ] {
            cases.push((Method::POST, seen.clone(), b));
        }
        for b in [json!({ "status": null }), json!({ "status": ["away"] })] {
            cases.push((Method::PUT, "/chat/status".into(), b));
        }
        for path in [&personal, &group, &members, &messages, &seen] {
            for b in &non_objects {
                cases.push((Method::POST, path.clone(), b.clone()));
            }
        }
        for b in &non_objects {
            cases.push((Method::PUT, "/chat/status".into(), b.clone()));
        }
        for (method, path, body) in cases {
            let what = format!("{method} {path} {body}");
            let a = app.call(method, &path, Some(&t1), Some(body)).await;
            assert_error(&a, StatusCode::BAD_REQUEST, "invalid_payload", &what);
        }
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "t1", "teacher").await, vec![room]);
    }
);

both_dbs!(
    bad_history_query_parameters_are_a_400_invalid_query,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let t1 = token("t1", "teacher");
        for q in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "limit=1e2",
            "limit=99999999999999999999",
            "before=abc",
            "before=-1",
            "before=1.5",
            "before=99999999999999999999",
            "after=x",
            "after=-3",
            "before=1&after=1",
            "limit=%FF",
        ] {
            let a = app
                .get(&format!("/chat/rooms/{room}/messages?{q}"), &t1)
                .await;
            assert_error(&a, StatusCode::BAD_REQUEST, "invalid_query", q);
        }
        for q in ["limit=1", "limit=100", "before=", "after=", "limit="] {
            let a = app
                .get(&format!("/chat/rooms/{room}/messages?{q}"), &t1)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
        }
    }
);

both_dbs!(
    bad_room_list_parameters_are_a_400_invalid_query_or_invalid_cursor,
    |app: TestApp| async move {
        classroom(&app).await;
        let t1 = token("t1", "teacher");
        for q in ["limit=0", "limit=101", "limit=abc", "limit=-5"] {
            let a = app.get(&format!("/chat/rooms?{q}"), &t1).await;
            assert_error(&a, StatusCode::BAD_REQUEST, "invalid_query", q);
        }
        for c in ["garbage", "abc:def", ":", "123", "1.5:x", "%FF"] {
            let a = app.get(&format!("/chat/rooms?cursor={c}"), &t1).await;
            assert_error(&a, StatusCode::BAD_REQUEST, "invalid_cursor", c);
        }
        let a = app.get("/chat/rooms?cursor=", &t1).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data().as_array().unwrap().len(), 1);
    }
);

both_dbs!(
    empty_or_blank_content_is_a_400_invalid_content_and_stores_nothing,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let s1 = token("s1", "student");
        for content in ["", " ", "\n\t  \r\n"] {
            let a = app
                .post(
                    &format!("/chat/rooms/{room}/messages"),
                    &s1,
                    json!({ "content": content, "clientMessageId": "blank" }),
                )
                .await;
            assert_error(
                &a,
                StatusCode::BAD_REQUEST,
                "invalid_content",
                &format!("{content:?}"),
            );
        }
        assert_eq!(snapshot(&app, &room).await, before);
        // The refused clientMessageId was not reserved.
        let a = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &s1,
                json!({ "content": "now real", "clientMessageId": "blank" }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        assert_eq!(a.data()["seq"], 2);
    }
);

both_dbs!(
    a_blank_or_too_long_group_name_is_a_400_invalid_name,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        for name in [String::new(), "   ".into(), "x".repeat(101)] {
            let a = app
                .post(
                    "/chat/rooms/group",
                    &t1,
                    json!({ "name": name, "memberIds": ["s1"] }),
                )
                .await;
            assert_error(&a, StatusCode::BAD_REQUEST, "invalid_name", &name);
        }
        assert!(rooms_of(&app, "t1", "teacher").await.is_empty());
        assert!(rooms_of(&app, "s1", "student").await.is_empty());
        let ok = app
            .post(
                "/chat/rooms/group",
                &t1,
                json!({ "name": "y".repeat(100), "memberIds": [] }),
            )
            .await;
        assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    }
);

both_dbs!(
    opening_a_personal_room_with_yourself_is_a_400_invalid_user,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let a = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "s1" }))
            .await;
        assert_error(&a, StatusCode::BAD_REQUEST, "invalid_user", "self");
        assert!(rooms_of(&app, "s1", "student").await.is_empty());
    }
);

// ---------------------------------------------------------------- 401

async fn assert_all_unauthorized(
    app: &TestApp,
    room: &str,
    msg: &str,
    tok: Option<&str>,
    what: &str,
) {
    for (method, path, body) in protected_endpoints(room, msg) {
        let a = app.call(method.clone(), &path, tok, body).await;
        assert_error(
            &a,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &format!("{what}: {method} {path}"),
        );
    }
}

both_dbs!(
    every_endpoint_without_a_token_is_a_401_and_changes_nothing,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let msg = m["id"].as_str().unwrap();
        assert_all_unauthorized(&app, &room, msg, None, "no token").await;
        assert_all_unauthorized(&app, &room, msg, Some("garbage"), "garbage").await;
        assert_all_unauthorized(&app, &room, msg, Some("a.b.c"), "three dots").await;
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "s2", "student").await, vec![room]);
    }
);

both_dbs!(
    a_malformed_authorization_header_is_a_401,
    |app: TestApp| async move {
        let good = token("s1", "student");
        for header in [
            format!("Basic {good}"),
            "Bearer".to_string(),
            "Bearer    ".to_string(),
            good.clone(),
            format!("Token {good}"),
        ] {
            let r = app
                .http
                .get(app.url("/chat/rooms"))
                .header("authorization", header.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{header:?}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        // The scheme is case-insensitive.
        let r = app
            .http
            .get(app.url("/chat/rooms"))
            .header("authorization", format!("bearer {good}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
);

both_dbs!(
    a_token_signed_with_another_secret_is_a_401,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let forged = jwt(
            jsonwebtoken::Algorithm::HS256,
            b"not-the-secret",
            json!({ "sub": "a1", "role": "admin", "exp": now() + 3600 }),
        );
        assert_all_unauthorized(
            &app,
            &room,
            m["id"].as_str().unwrap(),
            Some(&forged),
            "wrong secret",
        )
        .await;
        assert_eq!(snapshot(&app, &room).await, before);
    }
);

both_dbs!(an_expired_token_is_a_401, |app: TestApp| async move {
    let (room, m) = classroom(&app).await;
    let before = snapshot(&app, &room).await;
    let expired = hs256(json!({
        "sub": "s1", "role": "student", "exp": now() - 3600, "iat": now() - 7200
    }));
    assert_all_unauthorized(
        &app,
        &room,
        m["id"].as_str().unwrap(),
        Some(&expired),
        "expired",
    )
    .await;
    assert_eq!(snapshot(&app, &room).await, before);
});

both_dbs!(
    an_unsigned_alg_none_token_is_a_401,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64url(
            json!({ "sub": "a1", "role": "admin", "exp": now() + 3600 })
                .to_string()
                .as_bytes(),
        );
        let msg = m["id"].as_str().unwrap();
        for none in [
            format!("{header}.{claims}."),
            format!("{header}.{claims}"),
            format!("{}.{claims}.", b64url(br#"{"alg":"None"}"#)),
        ] {
            assert_all_unauthorized(&app, &room, msg, Some(&none), "alg none").await;
        }
        // Sanity: the same claims, properly signed, are accepted.
        let signed = hs256(json!({ "sub": "a1", "role": "admin", "exp": now() + 3600 }));
        assert_eq!(
            app.get("/chat/ws/stats", &signed).await.status,
            StatusCode::OK
        );
        assert_eq!(snapshot(&app, &room).await, before);
    }
);

both_dbs!(
    a_token_with_another_algorithm_than_the_configured_one_is_a_401,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let claims = json!({ "sub": "a1", "role": "admin", "exp": now() + 3600 });
        for alg in [
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let t = jwt(alg, SECRET.as_bytes(), claims.clone());
            assert_all_unauthorized(
                &app,
                &room,
                m["id"].as_str().unwrap(),
                Some(&t),
                &format!("{alg:?}"),
            )
            .await;
        }
    }
);

both_dbs!(
    a_token_with_missing_or_invalid_claims_is_a_401,
    |app: TestApp| async move {
        let exp = now() + 3600;
        let cases = [
            ("no exp", json!({ "sub": "s1", "role": "student" })),
            ("no sub", json!({ "role": "student", "exp": exp })),
            ("no role", json!({ "sub": "s1", "exp": exp })),
            (
                "unknown role",
                json!({ "sub": "s1", "role": "superuser", "exp": exp }),
            ),
            (
                "capitalised role",
                json!({ "sub": "s1", "role": "Admin", "exp": exp }),
            ),
            (
                "empty sub",
                json!({ "sub": "", "role": "student", "exp": exp }),
            ),
            (
                "long sub",
                json!({ "sub": "x".repeat(129), "role": "student", "exp": exp }),
            ),
            (
                "numeric sub",
                json!({ "sub": 5, "role": "student", "exp": exp }),
            ),
            (
                "string exp",
                json!({ "sub": "s1", "role": "student", "exp": "tomorrow" }),
            ),
        ];
        for (what, claims) in cases {
            let a = app.get("/chat/rooms", &hs256(claims)).await;
            assert_error(&a, StatusCode::UNAUTHORIZED, "unauthorized", what);
        }
        // A 128-character sub is fine.
        let ok = hs256(json!({ "sub": "y".repeat(128), "role": "student", "exp": exp }));
        assert_eq!(app.get("/chat/rooms", &ok).await.status, StatusCode::OK);
    }
);

// ---------------------------------------------------------------- 403

both_dbs!(
    forbidden_answers_are_a_403_with_the_error_shape_and_change_nothing,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let s2 = token("s2", "student");
        let cases = vec![
            app.post(
                "/chat/rooms/group",
                &s2,
                json!({ "name": "Mine", "memberIds": ["s1"] }),
            )
            .await,
            app.post(
                &format!("/chat/rooms/{room}/members"),
                &s2,
                json!({ "userIds": ["s9"] }),
            )
            .await,
            app.delete(&format!("/chat/rooms/{room}/members/s1"), &s2)
                .await,
            app.delete(
                &format!("/chat/rooms/{room}/messages/{}", m["id"].as_str().unwrap()),
                &s2,
            )
            .await,
            app.get("/chat/ws/stats", &s2).await,
        ];
        for a in &cases {
            assert_error(a, StatusCode::FORBIDDEN, "forbidden", "forbidden");
            let keys: Vec<&String> = a.body["error"].as_object().unwrap().keys().collect();
            assert_eq!(keys, vec!["code", "message"], "{:?}", a.body);
        }
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "s2", "student").await, vec![room]);
    }
);

// ---------------------------------------------------------------- 404

fn strange_ids() -> Vec<String> {
    vec![
        "nope".into(),
        "1".into(),
        "0".into(),
        "-1".into(),
        "null".into(),
        "undefined".into(),
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301".into(),
        "01a214e6d0a271159e373dffc7a18fe7".into(),
        "r".repeat(300),
        "ünïcødé 🙂".into(),
        "a b".into(),
        "' OR '1'='1".into(),
        "a:b|c".into(),
    ]
}

both_dbs!(
    an_unknown_room_id_of_any_shape_is_a_404_room_not_found,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let msg = m["id"].as_str().unwrap();
        let callers = [token("t1", "teacher"), token("a1", "admin")];
        for id in strange_ids() {
            let id = url_encode(&id);
            let calls: Vec<(Method, String, Option<Value>)> = vec![
                (Method::GET, format!("/chat/rooms/{id}"), None),
                (Method::GET, format!("/chat/rooms/{id}/messages"), None),
                (
                    Method::GET,
                    format!("/chat/rooms/{id}/messages?after=0"),
                    None,
                ),
                (
                    Method::POST,
                    format!("/chat/rooms/{id}/messages"),
                    Some(json!({ "content": "lost" })),
                ),
                (
                    Method::POST,
                    format!("/chat/rooms/{id}/seen"),
                    Some(json!({ "upToSeq": 1 })),
                ),
                (
                    Method::POST,
                    format!("/chat/rooms/{id}/members"),
                    Some(json!({ "userIds": ["s3"] })),
                ),
                (Method::DELETE, format!("/chat/rooms/{id}/members/s1"), None),
                (
                    Method::DELETE,
                    format!("/chat/rooms/{id}/messages/{msg}"),
                    None,
                ),
                (
                    Method::GET,
                    format!("/chat/rooms/{id}/messages/{msg}/seen-by"),
                    None,
                ),
            ];
            for tok in &callers {
                for (method, path, body) in &calls {
                    let a = app
                        .call(method.clone(), path, Some(tok), body.clone())
                        .await;
                    assert_error(
                        &a,
                        StatusCode::NOT_FOUND,
                        "room_not_found",
                        &format!("{method} {path}"),
                    );
                }
            }
        }
        assert_eq!(snapshot(&app, &room).await, before);
    }
);

both_dbs!(
    a_room_the_caller_may_not_see_is_the_same_404_as_an_unknown_room,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let s9 = token("s9", "student");
        let hidden = app.get(&format!("/chat/rooms/{room}"), &s9).await;
        let unknown = app.get("/chat/rooms/does-not-exist", &s9).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert_eq!(hidden.status, unknown.status);
        assert_eq!(hidden.body, unknown.body);
    }
);

both_dbs!(
    an_unknown_message_id_is_a_404_message_not_found,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let t1 = token("t1", "teacher");
        let other = app.group(&t1, "Other", &[]).await;
        let elsewhere = app.send(&t1, &other, "elsewhere").await;
        let before = snapshot(&app, &room).await;
        let mut ids: Vec<String> = strange_ids();
        ids.push(elsewhere["id"].as_str().unwrap().to_string());
        for tok in [t1.clone(), token("a1", "admin")] {
            for id in &ids {
                let enc = url_encode(id);
                let a = app
                    .delete(&format!("/chat/rooms/{room}/messages/{enc}"), &tok)
                    .await;
                assert_error(&a, StatusCode::NOT_FOUND, "message_not_found", id);
                let a = app
                    .get(&format!("/chat/rooms/{room}/messages/{enc}/seen-by"), &tok)
                    .await;
                assert_error(&a, StatusCode::NOT_FOUND, "message_not_found", id);
            }
        }
        // Read receipts naming only unknown messages.
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t1,
                json!({ "messageIds": ["nope", elsewhere["id"]] }),
            )
            .await;
        assert_error(&a, StatusCode::NOT_FOUND, "message_not_found", "seen");
        assert_eq!(snapshot(&app, &room).await, before);
        // The other room's message is untouched too.
        let h = app.get(&format!("/chat/rooms/{other}/messages"), &t1).await;
        assert_eq!(h.data()[0]["content"], "elsewhere");
    }
);

both_dbs!(
    removing_someone_who_is_not_a_member_is_a_404,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        for user in ["s9", "nobody", "S1"] {
            let a = app
                .delete(&format!("/chat/rooms/{room}/members/{user}"), &t1)
                .await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{user}: {:?}", a.body);
            assert!(!a.code().is_empty());
        }
        assert_eq!(snapshot(&app, &room).await, before);
    }
);

both_dbs!(
    an_unknown_endpoint_is_a_404_and_a_wrong_method_a_405,
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        for path in ["/chat", "/chat/room", "/nope", "/chat/rooms/x/y/z/w"] {
            let a = app.get(path, &t1).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {:?}", a.body);
            assert_eq!(a.code(), "not_found", "{path}");
        }
        for (method, path) in [
            (Method::PUT, "/chat/rooms"),
            (Method::DELETE, "/chat/rooms/personal"),
            (Method::GET, "/chat/rooms/personal/x"),
            (Method::PATCH, "/chat/status"),
        ] {
            let a = app.call(method.clone(), path, Some(&t1), None).await;
            assert!(
                a.status == StatusCode::METHOD_NOT_ALLOWED || a.status == StatusCode::NOT_FOUND,
                "{method} {path}: {:?}",
                a.status
            );
            assert!(!a.code().is_empty(), "{method} {path}: {:?}", a.body);
        }
        let a = app.call(Method::PUT, "/chat/rooms", Some(&t1), None).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.code(), "method_not_allowed");
    }
);

// ---------------------------------------------------------------- 409

both_dbs!(
    adding_or_removing_members_of_a_personal_room_is_a_409,
    |app: TestApp| async move {
        let s1 = token("s1", "student");
        let a = app
            .post("/chat/rooms/personal", &s1, json!({ "userId": "s2" }))
            .await;
        let room = a.data()["id"].as_str().unwrap().to_string();
        app.send(&s1, &room, "hi").await;
        let before = snapshot(&app, &room).await;
        let add = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &token("a1", "admin"),
                json!({ "userIds": ["s3"] }),
            )
            .await;
        assert_error(&add, StatusCode::CONFLICT, "personal_room", "add");
        let remove = app
            .delete(
                &format!("/chat/rooms/{room}/members/s2"),
                &token("a1", "admin"),
            )
            .await;
        assert_error(&remove, StatusCode::CONFLICT, "personal_room", "remove");
        // Issue 11 #7: a member may leave a 1:1 room, but not remove the other one.
        let other = app
            .delete(&format!("/chat/rooms/{room}/members/s2"), &s1)
            .await;
        assert_error(
            &other,
            StatusCode::CONFLICT,
            "personal_room",
            "remove the other",
        );
        assert_eq!(snapshot(&app, &room).await, before);
    }
);

// ---------------------------------------------------------------- 413

both_dbs!(
    content_over_4000_characters_is_a_413_content_too_large,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let s1 = token("s1", "student");
        for content in ["x".repeat(4001), "é".repeat(4001), "🙂".repeat(4001)] {
            let a = app
                .post(
                    &format!("/chat/rooms/{room}/messages"),
                    &s1,
                    json!({ "content": content }),
                )
                .await;
            assert_error(
                &a,
                StatusCode::PAYLOAD_TOO_LARGE,
                "content_too_large",
                "4001",
            );
        }
        assert_eq!(snapshot(&app, &room).await, before);
        let ok = app.send(&s1, &room, &"x".repeat(4000)).await;
        assert_eq!(ok["seq"], 2);
    }
);

both_dbs!(
    a_body_over_the_byte_limit_is_a_413_payload_too_large,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        let big = "x".repeat(70 * 1024);
        let cases = [
            (
                Method::POST,
                format!("/chat/rooms/{room}/messages"),
                json!({ "content": big }),
            ),
            (
                Method::POST,
                "/chat/rooms/group".to_string(),
                json!({ "name": "Big", "memberIds": [], "pad": big }),
            ),
            (
                Method::POST,
                "/chat/rooms/personal".to_string(),
                json!({ "userId": "s3", "pad": big }),
            ),
            (
                Method::POST,
                format!("/chat/rooms/{room}/members"),
                json!({ "userIds": ["s3"], "pad": big }),
            ),
            (
                Method::POST,
                format!("/chat/rooms/{room}/seen"),
                json!({ "upToSeq": 1, "pad": big }),
            ),
            (
                Method::PUT,
                "/chat/status".to_string(),
                json!({ "status": "away", "pad": big }),
            ),
        ];
        for (method, path, body) in cases {
            let a = app.call(method.clone(), &path, Some(&t1), Some(body)).await;
            assert_error(
                &a,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("{method} {path}"),
            );
            // The body was left unread: the connection is not reused.
            assert_eq!(
                a.headers.get("connection").map(|v| v.to_str().unwrap()),
                Some("close")
            );
        }
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "t1", "teacher").await, vec![room]);
    }
);

both_dbs!(
    too_many_members_or_mentions_at_once_is_a_413,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        let many: Vec<String> = (0..51).map(|i| format!("student-{i}")).collect();
        let a = app
            .post(
                "/chat/rooms/group",
                &t1,
                json!({ "name": "Huge", "memberIds": many }),
            )
            .await;
        assert_error(
            &a,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_members",
            "group",
        );
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": many }),
            )
            .await;
        assert_error(&a, StatusCode::PAYLOAD_TOO_LARGE, "too_many_members", "add");
        let a = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &t1,
                json!({ "content": "hey all", "mentions": many }),
            )
            .await;
        assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", a.body);
        assert!(!a.code().is_empty());
        assert_eq!(snapshot(&app, &room).await, before);
        assert_eq!(rooms_of(&app, "t1", "teacher").await, vec![room.clone()]);
        assert!(rooms_of(&app, "student-0", "student").await.is_empty());

        // Exactly the limit is fine.
        let fifty = &many[..50];
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": fifty }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.data()["members"].as_array().unwrap().len(), 53);
    }
);

both_dbs_with!(
    configured_smaller_limits_are_enforced,
    |c: &mut classchat::Config| {
        c.limits.max_content_chars = 10;
        c.limits.max_members_per_add = 2;
        c.limits.max_body_bytes = 1024;
    },
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let room = app.group(&t1, "Small", &["s1", "s2"]).await;
        let path = format!("/chat/rooms/{room}/messages");
        let a = app
            .post(&path, &t1, json!({ "content": "x".repeat(11) }))
            .await;
        assert_error(
            &a,
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_large",
            "11 chars",
        );
        let a = app
            .post(&path, &t1, json!({ "content": "x".repeat(10) }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let a = app
            .post(
                &format!("/chat/rooms/{room}/members"),
                &t1,
                json!({ "userIds": ["a", "b", "c"] }),
            )
            .await;
        assert_error(
            &a,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_members",
            "3 members",
        );
        let a = app
            .post(
                &path,
                &t1,
                json!({ "content": "x", "pad": "y".repeat(2000) }),
            )
            .await;
        assert_error(
            &a,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "2 KB body",
        );
        let (_, history) = snapshot(&app, &room).await;
        assert_eq!(history.as_array().unwrap().len(), 1);
    }
);

// ---------------------------------------------------------------- 429

fn retry_after(a: &Answer) -> u64 {
    let h = a
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", a.headers));
    h.to_str().unwrap().parse().expect("Retry-After in seconds")
}

both_dbs_with!(
    sending_faster_than_the_rate_limit_is_a_429_with_retry_after,
    |c: &mut classchat::Config| {
        c.limits.send = classchat::config::Rate::new(1, 3);
    },
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t1, "Flood", &["s1"]).await;
        let path = format!("/chat/rooms/{room}/messages");
        for i in 0..3 {
            app.send(&s1, &room, &format!("ok {i}")).await;
        }
        let a = app.post(&path, &s1, json!({ "content": "too fast" })).await;
        assert_error(
            &a,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "4th send",
        );
        let wait = retry_after(&a);
        assert!((1..=5).contains(&wait), "Retry-After {wait}");
        let (_, history) = snapshot(&app, &room).await;
        assert_eq!(history.as_array().unwrap().len(), 3);

        // Others are not limited by it, and reading is not limited.
        app.send(&t1, &room, "teacher is fine").await;
        assert_eq!(app.get(&path, &s1).await.status, StatusCode::OK);

        // After Retry-After, sending works again.
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let again = app.send(&s1, &room, "patient").await;
        assert_eq!(again["seq"], 5);
    }
);

both_dbs_with!(
    a_concurrent_flood_stores_only_the_accepted_sends_with_gap_free_seqs,
    |c: &mut classchat::Config| {
        c.limits.send = classchat::config::Rate::new(1, 5);
    },
    |app: TestApp| async move {
        let t1 = token("t1", "teacher");
        let s1 = token("s1", "student");
        let room = app.group(&t1, "Flood", &["s1"]).await;
        let app = Arc::new(app);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..30 {
            let app = app.clone();
            let s1 = s1.clone();
            let path = format!("/chat/rooms/{room}/messages");
            set.spawn(async move {
                app.post(&path, &s1, json!({ "content": format!("flood {i}") }))
                    .await
            });
        }
        let mut created = Vec::new();
        let mut limited = 0;
        while let Some(r) = set.join_next().await {
            let a = r.unwrap();
            match a.status {
                StatusCode::CREATED => created.push(a.data()["seq"].as_i64().unwrap()),
                StatusCode::TOO_MANY_REQUESTS => {
                    assert_eq!(a.code(), "rate_limited");
                    assert!(retry_after(&a) >= 1);
                    limited += 1;
                }
                other => panic!("unexpected {other}: {:?}", a.body),
            }
        }
        assert!(limited >= 20, "only {limited} of 30 were limited");
        assert!((5..=10).contains(&created.len()), "{created:?}");
        created.sort();
        assert_eq!(created, (1..=created.len() as i64).collect::<Vec<_>>());
        let (_, history) = snapshot(&app, &room).await;
        assert_eq!(history.as_array().unwrap().len(), created.len());
    }
);

// ---------------------------------------------------------------- never a 500

both_dbs!(
    odd_but_valid_input_is_handled_without_a_500,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let t1 = token("t1", "teacher");
        let msgs = format!("/chat/rooms/{room}/messages");
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let a = app.raw(Method::POST, &msgs, &t1, deep.into_bytes()).await;
        assert_error(&a, StatusCode::BAD_REQUEST, "invalid_json", "deep nesting");
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t1,
                json!({ "upToSeq": i64::MAX }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t1,
                json!({ "upToSeq": 1e30 }),
            )
            .await;
        assert_error(&a, StatusCode::BAD_REQUEST, "invalid_payload", "1e30");
        let a = app
            .post(
                &format!("/chat/rooms/{room}/seen"),
                &t1,
                json!({ "messageIds": vec!["x"; 1000] }),
            )
            .await;
        assert_not_500(&a, "1000 unknown ids");
        for content in [
            "<script>alert(1)</script>",
            "'; DROP TABLE messages; --",
            "\u{202e}rtl",
            "🙂👍🏽🇫🇷",
            "a\u{FFFF}b",
        ] {
            let a = app.post(&msgs, &t1, json!({ "content": content })).await;
            assert_eq!(a.status, StatusCode::CREATED, "{content:?}: {:?}", a.body);
            assert_eq!(a.data()["content"], content);
        }
        let a = app
            .post(
                &msgs,
                &t1,
                json!({ "content": "x", "replyToId": "r".repeat(5000) }),
            )
            .await;
        assert_not_500(&a, "long replyToId");
        let a = app
            .get(
                &format!("/chat/rooms/{room}/messages/{}/seen-by", "m".repeat(2000)),
                &t1,
            )
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
        let a = app
            .get(&format!("/chat/rooms?cursor={}:x", i64::MAX), &t1)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let a = app
            .get(&format!("/chat/rooms?cursor={}:x", i64::MIN), &t1)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let a = app
            .get("/chat/rooms?cursor=99999999999999999999:x", &t1)
            .await;
        assert_not_500(&a, "overflowing cursor");
        let h = app.get(&format!("{msgs}?before={}", i64::MAX), &t1).await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(
            h.data()[h.data().as_array().unwrap().len() - 1]["id"],
            m["id"]
        );
    }
);

both_dbs!(
    a_nul_character_in_message_fields_is_not_a_500,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let s1 = token("s1", "student");
        let msgs = format!("/chat/rooms/{room}/messages");
        let mut failures = Vec::new();
        for (what, body) in [
            ("content", json!({ "content": "a\u{0}b" })),
            (
                "clientMessageId",
                json!({ "content": "ab", "clientMessageId": "c\u{0}" }),
            ),
            (
                "replyToId",
                json!({ "content": "ab", "replyToId": "r\u{0}" }),
            ),
            (
                "mentions",
                json!({ "content": "ab", "mentions": ["s2\u{0}"] }),
            ),
        ] {
            let a = app.post(&msgs, &s1, body).await;
            if a.status.as_u16() >= 500 {
                failures.push(format!("{what}: {} {}", a.status, a.body));
            } else if a.status == StatusCode::CREATED {
                let h = app.get(&format!("{msgs}?after={}", m["seq"]), &s1).await;
                assert!(
                    h.data()
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["id"] == a.data()["id"]),
                    "{what}: a 201 message must be in history"
                );
            }
        }
        assert!(failures.is_empty(), "500s for bad input: {failures:#?}");
    }
);

both_dbs!(
    a_nul_character_in_an_id_of_the_path_is_a_404_not_a_500,
    |app: TestApp| async move {
        let (room, m) = classroom(&app).await;
        let t1 = token("t1", "teacher");
        let a1 = token("a1", "admin");
        let msg = m["id"].as_str().unwrap();
        let mut failures = Vec::new();
        for (tok, path) in [
            (&t1, "/chat/rooms/a%00b".to_string()),
            (&a1, "/chat/rooms/a%00b".to_string()),
            (&t1, "/chat/rooms/a%00b/messages".to_string()),
            (&t1, format!("/chat/rooms/{room}/messages/m%00/seen-by")),
            (&t1, format!("/chat/rooms/%00/messages/{msg}/seen-by")),
            (&a1, "/chat/users/u%00/status".to_string()),
        ] {
            let a = app.get(&path, tok).await;
            if a.status != StatusCode::NOT_FOUND {
                failures.push(format!("GET {path}: {} {}", a.status, a.body));
            }
        }
        for path in [
            format!("/chat/rooms/{room}/messages/m%00"),
            format!("/chat/rooms/{room}/members/u%00"),
        ] {
            let a = app.delete(&path, &t1).await;
            if a.status != StatusCode::NOT_FOUND {
                failures.push(format!("DELETE {path}: {} {}", a.status, a.body));
            }
        }
        let a = app.get("/chat/users/u%00/status", &t1).await;
        if a.status.as_u16() >= 500 {
            failures.push(format!("GET status as non-admin: {} {}", a.status, a.body));
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
);

both_dbs!(
    a_nul_character_in_user_ids_names_or_cursors_is_not_a_500,
    |app: TestApp| async move {
        let (room, _) = classroom(&app).await;
        let before = snapshot(&app, &room).await;
        let t1 = token("t1", "teacher");
        let mut failures = Vec::new();
        let cases = [
            (
                "personal userId",
                Method::POST,
                "/chat/rooms/personal".to_string(),
                Some(json!({ "userId": "u\u{0}" })),
            ),
            (
                "group name",
                Method::POST,
                "/chat/rooms/group".to_string(),
                Some(json!({ "name": "n\u{0}", "memberIds": [] })),
            ),
            (
                "group memberIds",
                Method::POST,
                "/chat/rooms/group".to_string(),
                Some(json!({ "name": "n", "memberIds": ["m\u{0}"] })),
            ),
            (
                "add userIds",
                Method::POST,
                format!("/chat/rooms/{room}/members"),
                Some(json!({ "userIds": ["m\u{0}"] })),
            ),
            (
                "seen messageIds",
                Method::POST,
                format!("/chat/rooms/{room}/seen"),
                Some(json!({ "messageIds": ["x\u{0}"] })),
            ),
            (
                "room list cursor",
                Method::GET,
                "/chat/rooms?cursor=1:%00".to_string(),
                None,
            ),
        ];
        for (what, method, path, body) in cases {
            let a = app.call(method, &path, Some(&t1), body).await;
            if a.status.as_u16() >= 500 {
                failures.push(format!("{what}: {} {}", a.status, a.body));
            }
        }
        assert!(failures.is_empty(), "500s for bad input: {failures:#?}");
        let (detail, history) = snapshot(&app, &room).await;
        assert_eq!(history, before.1);
        assert!(detail["members"].as_array().unwrap().len() >= 3);
    }
);

both_dbs!(
    a_token_whose_sub_or_name_holds_a_nul_character_is_not_a_500,
    |app: TestApp| async move {
        let exp = now() + 3600;
        let mut failures = Vec::new();
        for (what, claims) in [
            (
                "sub",
                json!({ "sub": "x\u{0}y", "role": "student", "exp": exp }),
            ),
            (
                "name",
                json!({ "sub": "named", "role": "student", "name": "A\u{0}B", "exp": exp }),
            ),
        ] {
            let a = app.get("/chat/rooms", &hs256(claims)).await;
            if a.status.as_u16() >= 500 {
                failures.push(format!("{what}: {} {}", a.status, a.body));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
);
