//! Full-text message search over REST on SQLite and PostgreSQL: found by word, best
//! first, with HTML-safe snippets; only rooms the caller can read; deleted messages never
//! match and edits re-index; paging covers every hit once; bad input is a 400, never a
//! 500; the language setting is checked at start-up; searches are rate limited and, on
//! PostgreSQL, cancelled past their timeout.

mod common;

use classchat::config::{Config, Rate};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Search and send rates no test reaches.
fn roomy(c: &mut Config) {
    c.limits.search.rate = Rate::new(1000, 1000);
    c.limits.send = Rate::new(1000, 1000);
}

/// `GET /chat/search` with these query parameters (URL-encoded).
async fn search(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Answer {
    let qs = serde_urlencoded::to_string(params).unwrap();
    app.get(&format!("/chat/search?{qs}"), token).await
}

/// The contents of the hits, in order (the answer must be a 200).
fn contents(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.data()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"]["content"].as_str().unwrap().to_string())
        .collect()
}

both_dbs_with!(
    messages_are_found_by_word_best_first_with_marked_snippets,
    roomy,
    |app: TestApp| async move {
        let (t, s) = (token("t1", "teacher"), token("s1", "student"));
        let room = app.group(&t, "Physics", &["s1"]).await;
        app.send(&t, &room, "the physics exam is on friday").await;
        let best = app
            .send(&t, &room, "physics physics physics revision")
            .await;
        app.send(&t, &room, "chemistry homework for monday").await;
        app.send(&s, &room, "is <b>physics</b> & maths \"hard\"?")
            .await;
        let best_id = best["id"].as_str().unwrap();
        let put = app
            .put(
                &format!("/chat/rooms/{room}/messages/{best_id}/reactions/%F0%9F%91%8D"),
                &s,
                json!({}),
            )
            .await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);

        let a = search(&app, &s, &[("q", "physics")]).await;
        let found = contents(&a);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "physics physics physics revision");
        assert!(a.body["nextCursor"].is_null());
        let top = &a.data()[0];
        assert_eq!(top["message"]["id"], best_id);
        assert_eq!(top["message"]["roomId"], room.as_str());
        // Decorated as history lists messages.
        assert_eq!(
            top["message"]["reactions"],
            json!([{ "emoji": "👍", "count": 1 }])
        );
        assert_eq!(top["message"]["replyCount"], 0);
        assert_eq!(top["message"]["pinned"], false);
        assert_eq!(top["message"]["attachments"], json!([]));
        assert!(top["message"]["forwardedFrom"].is_null());
        assert!(top["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>physics</mark>"));
        // The rest of a snippet is escaped HTML: only the marks are tags.
        let html = a.data().as_array().unwrap().iter().find(|h| {
            h["message"]["content"]
                .as_str()
                .unwrap()
                .starts_with("is <b>")
        });
        let snippet = html.unwrap()["snippet"].as_str().unwrap();
        assert!(snippet.contains("<mark>physics</mark>"), "{snippet}");
        assert!(!snippet.contains("<b>"), "{snippet}");
        assert!(snippet.contains("&amp; maths &quot;hard"), "{snippet}");
        if app.db == Db::Sqlite {
            // PostgreSQL's ts_headline leaves out what looks like a tag; FTS5 keeps it.
            assert!(snippet.contains("&lt;b&gt;"), "{snippet}");
        }

        // Every word must be there; case does not matter.
        let a = search(&app, &s, &[("q", "PHYSICS Friday")]).await;
        assert_eq!(contents(&a), ["the physics exam is on friday"]);
        assert!(contents(&search(&app, &s, &[("q", "biology")]).await).is_empty());
    }
);

both_dbs_with!(
    only_rooms_the_caller_can_read_are_searched_and_admins_read_all,
    roomy,
    |app: TestApp| async move {
        let (t1, t2) = (token("t1", "teacher"), token("t2", "teacher"));
        let s1 = token("s1", "student");
        let a = app.group(&t1, "A", &["s1"]).await;
        let b = app.group(&t2, "B", &["s2"]).await;
        app.send(&t1, &a, "secret plan in room a").await;
        app.send(&t2, &b, "secret plan in room b").await;

        assert_eq!(
            contents(&search(&app, &s1, &[("q", "secret")]).await),
            ["secret plan in room a"]
        );
        assert_eq!(
            contents(&search(&app, &s1, &[("q", "secret"), ("roomId", &a)]).await),
            ["secret plan in room a"]
        );
        let denied = search(&app, &s1, &[("q", "secret"), ("roomId", &b)]).await;
        assert_eq!(
            (denied.status, denied.code()),
            (StatusCode::NOT_FOUND, "room_not_found")
        );
        let missing = search(&app, &s1, &[("q", "secret"), ("roomId", "nope")]).await;
        assert_eq!(missing.code(), "room_not_found");
        // Words are looked for in the text only, never in a room id.
        assert!(contents(&search(&app, &s1, &[("q", &a)]).await).is_empty());
        // Someone in no room finds nothing.
        assert!(
            contents(&search(&app, &token("x", "student"), &[("q", "secret")]).await).is_empty()
        );

        let admin = token("root", "admin");
        let mut all = contents(&search(&app, &admin, &[("q", "secret")]).await);
        all.sort();
        assert_eq!(all, ["secret plan in room a", "secret plan in room b"]);
        assert_eq!(
            contents(&search(&app, &admin, &[("q", "plan"), ("roomId", &b)]).await),
            ["secret plan in room b"]
        );

        // A member who leaves stops finding the room's messages.
        let left = app
            .delete(&format!("/chat/rooms/{a}/members/s1"), &s1)
            .await;
        assert_eq!(left.status, StatusCode::OK, "{:?}", left.body);
        assert!(contents(&search(&app, &s1, &[("q", "secret")]).await).is_empty());
    }
);

both_dbs_with!(
    deleted_messages_never_match_and_edits_reindex,
    roomy,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Cooking", &["s1"]).await;
        let gone = app.send(&t, &room, "banana split recipe").await;
        let id = gone["id"].as_str().unwrap();
        assert_eq!(
            contents(&search(&app, &t, &[("q", "banana")]).await).len(),
            1
        );
        let d = app
            .delete(&format!("/chat/rooms/{room}/messages/{id}"), &t)
            .await;
        assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
        assert!(contents(&search(&app, &t, &[("q", "banana")]).await).is_empty());
        assert!(contents(&search(&app, &t, &[("q", "recipe")]).await).is_empty());

        let m = app.send(&t, &room, "apple pie tonight").await;
        let id = m["id"].as_str().unwrap();
        let e = app
            .call(
                Method::PATCH,
                &format!("/chat/rooms/{room}/messages/{id}"),
                Some(&t),
                Some(json!({ "content": "cherry pie tonight" })),
            )
            .await;
        assert_eq!(e.status, StatusCode::OK, "{:?}", e.body);
        assert!(contents(&search(&app, &t, &[("q", "apple")]).await).is_empty());
        assert_eq!(
            contents(&search(&app, &t, &[("q", "cherry")]).await),
            ["cherry pie tonight"]
        );
        let pie = search(&app, &t, &[("q", "pie")]).await;
        assert_eq!(contents(&pie), ["cherry pie tonight"]);
        assert!(pie.data()[0]["message"]["editedAt"].is_string());
    }
);

both_dbs_with!(
    pages_cover_every_hit_once_best_first,
    roomy,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Latin", &[]).await;
        for i in 0..23 {
            let k = i % 4 + 1;
            let text = format!("{}filler{i}", "lorem ".repeat(k));
            app.send(&t, &room, &text).await;
        }
        app.send(&t, &room, "nothing to see").await;
        let mut seen: Vec<String> = Vec::new();
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let a = search(
                &app,
                &t,
                &[("q", "lorem"), ("limit", "5"), ("cursor", &cursor)],
            )
            .await;
            let page = contents(&a);
            assert!(page.len() <= 5);
            seen.extend(page);
            pages += 1;
            match a.body["nextCursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 5);
        assert_eq!(seen.len(), 23);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 23, "a hit came twice");
        // Best first: more occurrences of the word rank higher, across pages too.
        let counts: Vec<usize> = seen.iter().map(|s| s.matches("lorem").count()).collect();
        assert!(
            counts.windows(2).all(|w| w[0] >= w[1]),
            "not best first: {counts:?}"
        );
        let bad = search(&app, &t, &[("q", "lorem"), ("cursor", "garbage")]).await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::BAD_REQUEST, "invalid_cursor")
        );
    }
);

both_dbs_with!(
    bad_input_is_a_400_and_query_syntax_never_a_500,
    roomy,
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Syntax", &[]).await;
        app.send(&t, &room, "an unbalanced quote and near misses")
            .await;
        let long = "x".repeat(257);
        for (params, code) in [
            (vec![], "invalid_query"),
            (vec![("q", "")], "invalid_query"),
            (vec![("q", "  \t ")], "invalid_query"),
            (vec![("q", long.as_str())], "query_too_long"),
            (vec![("q", "a"), ("limit", "0")], "invalid_query"),
            (vec![("q", "a"), ("limit", "101")], "invalid_query"),
            (vec![("q", "a"), ("limit", "ten")], "invalid_query"),
            (vec![("q", "a"), ("cursor", "0:x")], "invalid_cursor"),
        ] {
            let a = search(&app, &t, &params).await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::BAD_REQUEST, code),
                "{params:?}"
            );
        }
        for q in [
            "\"unbalanced",
            "AND OR (",
            "*",
            "NEAR(quote",
            "content:quote",
            "-",
            "'",
            "\\",
            "quote OR",
            "\"",
            "^quote",
            "quote*",
            "!!! ??? :::",
            "🙂",
        ] {
            let a = search(&app, &t, &[("q", q)]).await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
        }
        assert_eq!(
            contents(&search(&app, &t, &[("q", "\"unbalanced")]).await),
            ["an unbalanced quote and near misses"]
        );
        assert_eq!(
            contents(&search(&app, &t, &[("q", "\"near misses\"")]).await),
            ["an unbalanced quote and near misses"]
        );
        let anon = app
            .call(Method::GET, "/chat/search?q=quote", None, None)
            .await;
        assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    }
);

both_dbs_with!(
    searches_are_rate_limited_per_user,
    |c: &mut Config| c.limits.search.rate = Rate::new(1, 2),
    |app: TestApp| async move {
        let s = token("s1", "student");
        for _ in 0..2 {
            assert_eq!(search(&app, &s, &[("q", "x")]).await.status, StatusCode::OK);
        }
        let a = search(&app, &s, &[("q", "x")]).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert!(a.headers.contains_key("retry-after"));
        let other = search(&app, &token("s2", "student"), &[("q", "x")]).await;
        assert_eq!(other.status, StatusCode::OK);
    }
);

both_dbs_with!(
    the_english_language_stems_words,
    |c: &mut Config| {
        roomy(c);
        c.limits.search.language = "english".into();
    },
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Sport", &[]).await;
        app.send(&t, &room, "the students were running laps").await;
        assert_eq!(
            contents(&search(&app, &t, &[("q", "run")]).await),
            ["the students were running laps"]
        );
        // PostgreSQL's english drops stop words: alone they find nothing, and are no
        // error. SQLite's Porter stemmer keeps them as words.
        let stop = contents(&search(&app, &t, &[("q", "the were")]).await);
        assert_eq!(stop.is_empty(), app.db == Db::Postgres, "{stop:?}");
        assert_eq!(
            contents(&search(&app, &t, &[("q", "the student")]).await),
            ["the students were running laps"]
        );
    }
);

/// A database for a node started by hand: a new PostgreSQL database, or none (SQLite
/// in the data directory).
async fn database(db: Db) -> Option<String> {
    if db == Db::Sqlite {
        return None;
    }
    Some(fresh_pg_database().await)
}

/// Messages stored before a language change are found with the new one (the index is
/// rebuilt at start-up); a language the database lacks stops start-up, naming the setting.
async fn language_changes_rebuild_and_unknown_languages_stop_start_up(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = database(db).await;
    let config = |language: &str| {
        let mut c = test_config(dir.path().to_path_buf(), url.clone());
        roomy(&mut c);
        c.limits.search.language = language.into();
        c
    };
    let node = classchat::start(config("simple")).await.unwrap();
    let t = token("t1", "teacher");
    let http = reqwest::Client::new();
    let base = format!("http://{}", node.api_addr);
    let room = new_group(&http, &base, &t, "Sport").await;
    let sent = http
        .post(format!("{base}/chat/rooms/{room}/messages"))
        .bearer_auth(&t)
        .json(&json!({ "content": "we were running" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    node.shutdown().await;

    let node = classchat::start(config("english")).await.unwrap();
    let found: Value = reqwest::Client::new()
        .get(format!("http://{}/chat/search?q=run", node.api_addr))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"][0]["message"]["content"], "we were running");
    node.shutdown().await;

    let err = classchat::start(config("klingon")).await.err().unwrap();
    assert!(err.contains("CLASSCHAT_SEARCH_LANGUAGE"), "{err}");
    assert!(err.contains("klingon"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_changes_rebuild_and_unknown_languages_stop_start_up_on_sqlite() {
    language_changes_rebuild_and_unknown_languages_stop_start_up(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_changes_rebuild_and_unknown_languages_stop_start_up_on_postgres() {
    language_changes_rebuild_and_unknown_languages_stop_start_up(Db::Postgres).await;
}

/// PostgreSQL cancels a search past `CLASSCHAT_SEARCH_TIMEOUT_MS` (here 1 ms over 100,000
/// matching messages): 503 `search_timeout`, not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_over_its_time_is_cancelled_with_search_timeout_on_postgres() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = database(Db::Postgres).await.unwrap();
    let mut c = test_config(dir.path().to_path_buf(), Some(url.clone()));
    roomy(&mut c);
    c.limits.search.timeout_ms = 1;
    let node = classchat::start(c).await.unwrap();
    let t = token("t1", "teacher");
    let http = reqwest::Client::new();
    let base = format!("http://{}", node.api_addr);
    let room = new_group(&http, &base, &t, "Big").await;
    // 100,000 messages with a common word, written directly.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO messages (id, room_id, seq, sender_id, sender_name, content, created_at)
         SELECT 'bulk' || i, $1, i, 't1', 't1', 'common words number ' || i, 0
         FROM generate_series(1, 100000) AS i",
    )
    .bind(&room)
    .execute(&mut conn)
    .await
    .unwrap();
    let ask = |q: &'static str| {
        let (http, t, base) = (http.clone(), t.clone(), base.clone());
        async move {
            http.get(format!("{base}/chat/search?q={q}"))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap()
        }
    };
    let slow = ask("common").await;
    assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = slow.json().await.unwrap();
    assert_eq!(body["error"]["code"], "search_timeout");
    node.shutdown().await;
}

/// A group room made over REST on a node started by hand: its id.
async fn new_group(http: &reqwest::Client, base: &str, token: &str, name: &str) -> String {
    let room: Value = http
        .post(format!("{base}/chat/rooms/group"))
        .bearer_auth(token)
        .json(&json!({ "name": name, "memberIds": [] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    room["data"]["id"].as_str().unwrap().to_string()
}
