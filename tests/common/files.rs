//! Upload helpers for the API tests: sample files whose first bytes are real formats,
//! raw uploads (also chunked, without a length), downloads, and what is left on disk.

use reqwest::StatusCode;
use serde_json::Value;

use super::TestApp;

/// A PNG signature and the start of its header chunk, padded to `len` bytes.
pub fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    b.extend((0..len.saturating_sub(b.len())).map(|i| (i % 251) as u8));
    b
}

/// An Ogg page start (a voice message's container).
pub fn ogg() -> Vec<u8> {
    let mut b = b"OggS\0\x02\0\0\0\0\0\0\0\0".to_vec();
    b.extend(std::iter::repeat_n(7u8, 200));
    b
}

/// An MP4 `ftyp` box (a video message).
pub fn mp4() -> Vec<u8> {
    let mut b = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    b.extend(std::iter::repeat_n(1u8, 300));
    b
}

/// The answer to an upload, and its body.
pub struct Upload {
    pub status: StatusCode,
    pub body: Value,
}

impl Upload {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn id(&self) -> String {
        self.data()["id"]
            .as_str()
            .expect("an upload id")
            .to_string()
    }
}

impl TestApp {
    /// `POST /chat/uploads` with these headers (`name` as sent, already encoded).
    pub async fn upload(
        &self,
        token: &str,
        content_type: &str,
        name: &str,
        bytes: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Upload {
        let mut req = self
            .http
            .post(self.url("/chat/uploads"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .header("x-filename", name)
            .body(bytes);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("upload");
        let status = resp.status();
        let body = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or_default();
        Upload { status, body }
    }

    /// An upload sent chunked (no Content-Length), over a plain TCP connection: the
    /// status line's code.
    pub async fn upload_chunked(&self, token: &str, chunks: usize, chunk: usize) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.api)
            .await
            .expect("connect");
        let head = format!(
            "POST /chat/uploads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/octet-stream\r\nx-filename: big.bin\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("head");
        let data = vec![b'x'; chunk];
        for _ in 0..chunks {
            let framed = [format!("{chunk:x}\r\n").as_bytes(), &data, b"\r\n"].concat();
            if s.write_all(&framed).await.is_err() {
                break; // The server answered and closed.
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    /// `GET` of a path (a signed url, or with a token), with optional headers: the status,
    /// the headers and the bytes.
    pub async fn fetch(
        &self,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("fetch");
        let (status, headers) = (resp.status(), resp.headers().clone());
        (
            status,
            headers,
            resp.bytes().await.unwrap_or_default().to_vec(),
        )
    }

    /// The files under the node's uploads directory.
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir().join("uploads"), &mut out);
        out
    }
}
