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
        // Another user has their own bucket.
        let s2 = token("s2", "student");
        let a = app
            .put("/chat/status", &s2, json!({ "status": "away" }))
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
);
