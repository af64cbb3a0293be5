//! A first end-to-end pass over the REST API on both databases.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    a_teacher_creates_a_group_and_a_member_posts_to_it,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let s = token("s1", "student");
        let room = app.group(&t, "Math", &["s1"]).await;
        let m = app.send(&s, &room, "hello").await;
        assert_eq!(m["seq"], 1);
        let list = app.get("/chat/rooms", &t).await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(list.data()[0]["unreadCount"], 1);
        assert_eq!(list.data()[0]["lastMessage"]["content"], "hello");
        let again = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &s,
                json!({ "content": "x", "clientMessageId": "c" }),
            )
            .await;
        assert_eq!(again.status, StatusCode::CREATED);
        let dup = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &s,
                json!({ "content": "x", "clientMessageId": "c" }),
            )
            .await;
        assert_eq!(dup.status, StatusCode::OK);
        assert_eq!(dup.data()["id"], again.data()["id"]);
    }
);

/// `GET /openapi.json` answers the OpenAPI 3.1 document without a token; every REST
/// route is in it (`src/http/openapi/check.rs` holds it to the router).
#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let send = &doc["paths"]["/chat/rooms/{roomId}/messages"]["post"];
    assert_eq!(send["security"][0]["bearer"], json!([]));
    assert!(send["responses"]["429"]["headers"]["Retry-After"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    app.stop().await;
}
