//! Uploads and attachments over REST on SQLite and PostgreSQL: stored and typed by their
//! bytes, attached to messages, downloaded whole or by range by those who may (token or
//! signed url), refused when they lie about their type or are too large (nothing kept),
//! and swept when never attached.

mod common;

use common::files::{mp4, ogg, png};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

both_dbs!(
    an_attached_image_reaches_history_and_members_download_it_whole_or_by_range,
    |app: TestApp| async move {
        let (t, s1, s2) = (
            token("t1", "teacher"),
            token("s1", "student"),
            token("s2", "student"),
        );
        let room = app.group(&t, "Biology", &["s1"]).await;
        let bytes = png(5000);
        let up = app
            .upload(&t, "image/png", "cell%20diagram.png", bytes.clone(), &[])
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{:?}", up.body);
        let a = up.data().clone();
        assert_eq!(
            (&a["name"], &a["contentType"], &a["size"], &a["kind"]),
            (
                &json!("cell diagram.png"),
                &json!("image/png"),
                &json!(5000),
                &json!("image")
            )
        );
        let id = up.id();
        let file = format!("/chat/uploads/{id}");
        // Before it is posted anywhere, only its uploader reads it.
        assert_eq!(
            app.fetch(&file, Some(&s1), &[]).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.fetch(&file, Some(&t), &[]).await.2, bytes);

        let sent = app
            .post(
                &format!("/chat/rooms/{room}/messages"),
                &t,
                json!({ "content": "", "attachmentIds": [id] }),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
        let m = sent.data();
        assert_eq!(m["content"], "");
        assert_eq!(m["attachments"][0]["id"], id.as_str());
        assert_eq!(m["forwardedFrom"], json!(null));
        let url = m["attachments"][0]["url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&format!("{file}?exp=")), "{url}");

        let (status, headers, body) = app.fetch(&file, Some(&s1), &[]).await;
        assert_eq!(
            (status, body.len()),
            (StatusCode::OK, 5000),
            "a member reads it"
        );
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers["accept-ranges"], "bytes");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let (status, headers, body) = app
            .fetch(&file, Some(&s1), &[("range", "bytes=100-199")])
            .await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(headers["content-range"], "bytes 100-199/5000");
        assert_eq!(body, bytes[100..200]);
        let (status, _, body) = app.fetch(&file, Some(&s1), &[("range", "bytes=-10")]).await;
        assert_eq!(
            (status, body.as_slice()),
            (StatusCode::PARTIAL_CONTENT, &bytes[4990..])
        );
        let (status, headers, _) = app
            .fetch(&file, Some(&s1), &[("range", "bytes=9000-")])
            .await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(headers["content-range"], "bytes */5000");

        assert_eq!(
            app.fetch(&file, Some(&s2), &[]).await.0,
            StatusCode::NOT_FOUND,
            "not a member"
        );
        assert_eq!(
            app.fetch(&file, Some(&token("a1", "admin")), &[]).await.0,
            StatusCode::OK
        );
        assert_eq!(
            app.fetch(&file, None, &[]).await.0,
            StatusCode::UNAUTHORIZED
        );
        // The signed url works without a token; a changed one does not.
        let (status, _, body) = app.fetch(&url, None, &[]).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 5000));
        // The last hex digit of the signature changed (to another digit, whatever it was).
        let last = if url.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &url[..url.len() - 1]);
        assert_eq!(app.fetch(&forged, None, &[]).await.0, StatusCode::NOT_FOUND);
        let expired = format!("{file}?exp=1000&sig=00");
        assert_eq!(
            app.fetch(&expired, None, &[]).await.0,
            StatusCode::NOT_FOUND
        );

        let h = app.get(&format!("/chat/rooms/{room}/messages"), &s1).await;
        let listed = &h.data()[0]["attachments"][0];
        assert_eq!(
            (&listed["id"], &listed["kind"]),
            (&json!(id), &json!("image"))
        );
        assert!(listed["url"].as_str().unwrap().contains("sig="));
        let rooms = app.get("/chat/rooms", &s1).await;
        let last = &rooms.data()[0]["lastMessage"]["attachments"][0];
        assert!(last["url"].as_str().unwrap().contains("sig="), "{rooms:?}");
    }
);

both_dbs!(
    voice_and_video_messages_are_audio_and_video_attachments_with_a_duration,
    |app: TestApp| async move {
        let s = token("s1", "student");
        let voice = app
            .upload(
                &s,
                "audio/ogg",
                "voice.ogg",
                ogg(),
                &[("x-duration-ms", "4200")],
            )
            .await;
        assert_eq!(voice.status, StatusCode::CREATED, "{:?}", voice.body);
        assert_eq!(
            (&voice.data()["kind"], &voice.data()["durationMs"]),
            (&json!("audio"), &json!(4200))
        );
        let video = app
            .upload(
                &s,
                "video/mp4",
                "clip.mp4",
                mp4(),
                &[("x-duration-ms", "15000")],
            )
            .await;
        assert_eq!(
            (&video.data()["kind"], &video.data()["durationMs"]),
            (&json!("video"), &json!(15000))
        );
        // A browser's voice recording: audio/webm, in the same container as video/webm.
        let webm = [&b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"[..], &[0u8; 300]].concat();
        let rec = app
            .upload(&s, "audio/webm;codecs=opus", "rec.webm", webm, &[])
            .await;
        assert_eq!(rec.data()["kind"], "audio", "{:?}", rec.body);
        let pic = app
            .upload(
                &s,
                "image/png",
                "a.png",
                png(100),
                &[("x-duration-ms", "5")],
            )
            .await;
        assert_eq!(
            pic.data().get("durationMs"),
            None,
            "only audio and video have one"
        );
        let bad = app
            .upload(
                &s,
                "audio/ogg",
                "v.ogg",
                ogg(),
                &[("x-duration-ms", "soon")],
            )
            .await;
        assert_eq!(
            (bad.status, bad.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_duration"))
        );
    }
);

both_dbs!(
    a_declared_type_the_bytes_contradict_is_refused_and_nothing_is_kept,
    |app: TestApp| async move {
        let s = token("s1", "student");
        for (ty, bytes) in [
            ("image/png", b"%PDF-1.7\n%%EOF".to_vec()),
            ("text/plain", png(64)),
            ("image/svg+xml", b"<svg onload=alert(1)></svg>".to_vec()),
            ("video/mp4", ogg()),
        ] {
            let r = app.upload(&s, ty, "x", bytes, &[]).await;
            assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ty}");
            assert_eq!(r.body["error"]["code"], "content_type_mismatch");
        }
        assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
        // A page is kept as a file and never shown as one.
        let page = app
            .upload(
                &s,
                "text/html",
                "page.html",
                b"<script>x</script>".to_vec(),
                &[],
            )
            .await;
        assert_eq!(page.data()["kind"], "file");
        let (_, headers, _) = app
            .fetch(&format!("/chat/uploads/{}", page.id()), Some(&s), &[])
            .await;
        assert!(headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"));
        for (name, code) in [
            ("a%2Fb.txt", "invalid_filename"),
            ("..", "invalid_filename"),
            ("a%0Ab", "invalid_filename"),
        ] {
            let r = app
                .upload(&s, "text/plain", name, b"hi".to_vec(), &[])
                .await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some(code)),
                "{name}"
            );
        }
        let r = app
            .upload(&s, "nonsense", "a.txt", b"hi".to_vec(), &[])
            .await;
        assert_eq!(r.body["error"]["code"], "invalid_content_type");
    }
);

both_dbs_with!(
    an_upload_over_the_limit_is_refused_with_nothing_kept,
    |c: &mut classchat::config::Config| c.limits.uploads.max_bytes = 64 * 1024,
    |app: TestApp| async move {
        let s = token("s1", "student");
        let r = app
            .upload(&s, "image/png", "big.png", png(64 * 1024 + 1), &[])
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
        );
        // Without a length: refused once the limit is passed, the parts written so far removed.
        assert_eq!(app.upload_chunked(&s, 40, 8192).await, 413);
        assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
        let ok = app
            .upload(&s, "image/png", "fits.png", png(64 * 1024), &[])
            .await;
        assert_eq!(ok.status, StatusCode::CREATED);
        assert_eq!(app.stored_files().len(), 1);
    }
);

both_dbs!(
    only_ones_own_complete_uploads_can_be_attached,
    |app: TestApp| async move {
        let (t, s) = (token("t1", "teacher"), token("s1", "student"));
        let room = app.group(&t, "Art", &["s1"]).await;
        let theirs = app
            .upload(&t, "image/png", "t.png", png(100), &[])
            .await
            .id();
        let path = format!("/chat/rooms/{room}/messages");
        for (body, status, code) in [
            (
                json!({ "attachmentIds": [theirs] }),
                400,
                "invalid_attachment",
            ),
            (
                json!({ "attachmentIds": ["nope"] }),
                400,
                "invalid_attachment",
            ),
            (
                json!({ "attachmentIds": (0..11).map(|i| format!("u{i}")).collect::<Vec<_>>() }),
                413,
                "too_many_attachments",
            ),
            (json!({ "content": "" }), 400, "invalid_content"),
        ] {
            let r = app.post(&path, &s, body.clone()).await;
            assert_eq!((r.status.as_u16(), r.code()), (status, code), "{body}");
        }
        let mine = app
            .upload(&s, "image/png", "s.png", png(100), &[])
            .await
            .id();
        let r = app
            .post(
                &path,
                &s,
                json!({ "content": "my drawing", "attachmentIds": [mine, mine] }),
            )
            .await;
        assert_eq!(
            r.data()["attachments"].as_array().unwrap().len(),
            1,
            "each file once"
        );
        // A deleted message shows no files.
        let id = r.data()["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.delete(&format!("{path}/{id}"), &s).await.status,
            StatusCode::OK
        );
        let h = app.get(&path, &t).await;
        assert_eq!(h.data()[0]["attachments"], json!([]));
    }
);

both_dbs!(
    a_forward_carries_the_original_and_needs_read_access_to_it_and_send_access_to_the_target,
    |app: TestApp| async move {
        let (t, s1, s2) = (
            token("t1", "teacher"),
            token("s1", "student"),
            token("s2", "student"),
        );
        let physics = app.group(&t, "Physics", &["s1"]).await;
        let chem = app.group(&t, "Chemistry", &["s1", "s2"]).await;
        let other = app.group(&t, "Staff", &[]).await;
        let pic = app
            .upload(&t, "image/png", "graph.png", png(300), &[])
            .await
            .id();
        let orig = app
            .post(
                &format!("/chat/rooms/{physics}/messages"),
                &t,
                json!({ "content": "homework: p. 12", "attachmentIds": [pic] }),
            )
            .await;
        let orig_id = orig.data()["id"].as_str().unwrap().to_string();
        let fwd = app
            .post(
                &format!("/chat/rooms/{chem}/messages"),
                &s1,
                json!({ "forwardFromId": orig_id }),
            )
            .await;
        assert_eq!(fwd.status, StatusCode::CREATED, "{:?}", fwd.body);
        let f = fwd.data();
        assert_eq!(
            (&f["content"], &f["senderId"]),
            (&json!("homework: p. 12"), &json!("s1"))
        );
        assert_eq!(f["forwardedFrom"]["messageId"], orig_id.as_str());
        assert_eq!(f["forwardedFrom"]["roomId"], physics.as_str());
        assert_eq!(f["forwardedFrom"]["senderId"], "t1");
        assert_eq!(f["forwardedFrom"]["createdAt"], orig.data()["createdAt"]);
        // Members of the target room read the forwarded file.
        let file = format!("/chat/uploads/{pic}");
        assert_eq!(app.fetch(&file, Some(&s2), &[]).await.0, StatusCode::OK);
        // A forward of a forward names the first message.
        let f_id = f["id"].as_str().unwrap();
        let again = app
            .post(
                &format!("/chat/rooms/{chem}/messages"),
                &s2,
                json!({ "forwardFromId": f_id }),
            )
            .await;
        assert_eq!(again.data()["forwardedFrom"]["messageId"], orig_id.as_str());
        let listed = app.get(&format!("/chat/rooms/{chem}/messages"), &s2).await;
        assert_eq!(listed.data()[0]["forwardedFrom"]["senderId"], "t1");

        let path = |r: &str| format!("/chat/rooms/{r}/messages");
        let r = app
            .post(&path(&chem), &s2, json!({ "forwardFromId": orig_id }))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "message_not_found"),
            "s2 cannot read Physics"
        );
        let r = app
            .post(&path(&other), &s1, json!({ "forwardFromId": orig_id }))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "room_not_found"),
            "s1 cannot send to Staff"
        );
        let r = app
            .post(
                &path(&chem),
                &s1,
                json!({ "forwardFromId": orig_id, "content": "look" }),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_payload")
        );
        app.delete(&format!("/chat/rooms/{physics}/messages/{orig_id}"), &t)
            .await;
        let r = app
            .post(&path(&chem), &s1, json!({ "forwardFromId": orig_id }))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "message_deleted")
        );
    }
);

both_dbs_with!(
    uploads_never_attached_are_swept_and_attached_ones_stay,
    |c: &mut classchat::config::Config| {
        c.limits.uploads.orphan_secs = 1;
        c.limits.uploads.sweep_secs = 1;
    },
    |app: TestApp| async move {
        let t = token("t1", "teacher");
        let room = app.group(&t, "Music", &[]).await;
        let kept = app
            .upload(&t, "image/png", "k.png", png(100), &[])
            .await
            .id();
        let lost = app
            .upload(&t, "image/png", "l.png", png(100), &[])
            .await
            .id();
        app.post(
            &format!("/chat/rooms/{room}/messages"),
            &t,
            json!({ "attachmentIds": [kept] }),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
        assert_eq!(
            app.fetch(&format!("/chat/uploads/{lost}"), Some(&t), &[])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.fetch(&format!("/chat/uploads/{kept}"), Some(&t), &[])
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(app.stored_files().len(), 1, "{:?}", app.stored_files());
        let m = app.metrics_text().await;
        let swept = m
            .lines()
            .find_map(|l| l.strip_prefix("classchat_uploads_swept_total "))
            .and_then(|v| v.parse::<f64>().ok());
        assert!(swept.is_some_and(|n| n >= 1.0), "{swept:?}");
    }
);

/// A download's path and query are read by the contract's extractors: an id that is no
/// text is a 404 and a malformed query a 400, both with the error body (axum's own
/// extractors answered these in plain text, which the OpenAPI document does not allow).
#[tokio::test]
async fn a_bad_download_path_or_query_answers_the_error_body() {
    let app = spawn_app().await;
    let t = token("u1", "student");
    let r = app.get("/chat/uploads/%FF%FE", &t).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    let r = app.get("/chat/uploads/x?exp=1&sig=%00", &t).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let r = app.get("/chat/uploads/x?exp=1&exp=2&sig=ab", &t).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "upload_not_found")
    );
    app.stop().await;
}
