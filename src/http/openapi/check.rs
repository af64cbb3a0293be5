//! The document against the router: every route of `routes.rs` with each of its methods
//! is an operation of the document and nothing else is, every operation id is unique,
//! and every error response names its codes.

use std::collections::BTreeSet;

use serde_json::Value;

use super::document;
use crate::http::routes::ROUTES;

fn doc() -> Value {
    serde_json::from_str(document()).unwrap()
}

/// axum's `{*path}` (the rest of the path) is `{path}` in OpenAPI.
fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(|m| (openapi_path(path), m.to_string())))
        .collect();
    let doc = doc();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().unwrap();
            item.keys().map(move |m| (path.clone(), m.clone()))
        })
        .filter(|(_, m)| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
        .collect();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes without documentation: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_unique_operation_ids() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_string()),
                "{method} {path}: operationId {id} twice"
            );
        }
    }
}

#[test]
fn every_error_response_has_the_error_body_and_its_codes() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].to_string().contains("bearer");
            assert!(
                !secured || op["responses"]["401"].is_object(),
                "{method} {path}: no 401"
            );
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.as_str() < "400" {
                    continue;
                }
                let schema = &resp["content"]["application/json"]["schema"];
                let codes =
                    &schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"];
                let n = codes.as_array().map_or(0, Vec::len);
                assert!(n > 0, "{method} {path} {status}: no error codes named");
            }
        }
    }
}

#[test]
fn codes_are_read_from_descriptions() {
    let d = "`room_not_found`: no such room; `too_many_mentions`, `too_many_attachments`: over `CLASSCHAT_X` or `limit`";
    assert_eq!(
        super::errors::codes(d),
        [
            "room_not_found",
            "too_many_mentions",
            "too_many_attachments"
        ]
    );
}

/// The `ErrorBody` schema is the type an error is answered with.
#[tokio::test]
async fn an_error_answers_the_error_body() {
    use axum::response::IntoResponse;
    let resp = crate::domain::error::AppError::rate_limited(3).into_response();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let schema = &doc()["components"]["schemas"]["ErrorBody"];
    assert_eq!(schema["required"], serde_json::json!(["error"]));
}
