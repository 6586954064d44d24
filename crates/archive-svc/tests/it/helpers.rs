//! archive-svc on a free port with its own database, one client method per route, uploads
//! built with `test_support::multipart` (so tests control every header byte and can stream
//! hundreds of MB from a generator), and a look at what the backends hold.

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use mongodb::bson::{doc, Document};
use serde_json::Value;
use tempfile::TempDir;
use test_support::{SignedIn, TestApp};

pub use test_support::multipart::{Form, BOUNDARY};
pub use test_support::{sign_in, ADMIN_API_KEY};

pub const PREFIX: &str = "/service/archive/v1";

/// A 1x1 PNG: the smallest file every backend and the default allow-list accept.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\x0cIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

/// The first bytes of an MP4 (`ftyp` box, brand `isom`), followed by anything.
pub const MP4_HEAD: &[u8] = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";

/// Which blob backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    GridFs,
    Local,
}

/// A running archive-svc.
pub struct Archive {
    pub app: TestApp,
    /// The `local` backend's directory, removed with the app.
    pub dir: Option<TempDir>,
}

/// archive-svc with `backend` and the default settings.
pub async fn spawn(backend: Backend) -> Archive {
    spawn_with(backend, &[]).await
}

/// archive-svc with `backend` and extra settings.
pub async fn spawn_with(backend: Backend, overrides: &[(&str, &str)]) -> Archive {
    let dir = (backend == Backend::Local).then(|| TempDir::new().expect("temp dir"));
    let dir_path = dir
        .as_ref()
        .map(|d| d.path().to_string_lossy().into_owned());
    let mut settings: Vec<(&str, &str)> = match &dir_path {
        Some(path) => vec![("ARCHIVE_BACKEND", "local"), ("ARCHIVE_LOCAL_DIR", path)],
        None => vec![("ARCHIVE_BACKEND", "gridfs")],
    };
    settings.extend_from_slice(overrides);
    let app = test_support::spawn_app_with(archive_svc::build, &settings).await;
    Archive { app, dir }
}

/// Runs one test body against each backend, as two tests named `gridfs` and `local_dir`
/// inside a module named for the behaviour.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn gridfs() {
                check($crate::helpers::Backend::GridFs).await
            }

            #[tokio::test]
            async fn local_dir() {
                check($crate::helpers::Backend::Local).await
            }

            async fn check($backend: $crate::helpers::Backend) $body
        }
    )*};
}

impl Archive {
    pub async fn user(&self, email: &str) -> SignedIn {
        sign_in(&self.app, email).await
    }

    pub async fn upload(&self, user: &SignedIn, form: Form) -> reqwest::Response {
        self.post_upload(user, &form.content_type(), form.into_body())
            .await
            .expect("upload sent")
    }

    /// Posts `body` as `user`'s upload with this `Content-Type`: a form as built, or one made
    /// by hand to be malformed.
    pub async fn post_upload(
        &self,
        user: &SignedIn,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Result<reqwest::Response> {
        self.app
            .post(&format!("{PREFIX}/"))
            .bearer_auth(&user.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
    }

    /// Uploads `form` and returns the created file's JSON, failing unless it is 201.
    pub async fn upload_ok(&self, user: &SignedIn, form: Form) -> Value {
        let response = self.upload(user, form).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON answer");
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Uploads one file whose bytes come from `content` as it is polled: `form` holds the
    /// parts sent before the file's (e.g. `metadata`), the body is chunked.
    pub async fn upload_stream<S>(
        &self,
        user: &SignedIn,
        filename: &str,
        content: S,
    ) -> reqwest::Result<reqwest::Response>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        let head = Bytes::from(Form::new().open_file(filename, "application/octet-stream"));
        let tail = Bytes::from(format!("\r\n--{BOUNDARY}--\r\n"));
        let body = futures_util::stream::once(async { Ok(head) })
            .chain(content)
            .chain(futures_util::stream::once(async { Ok(tail) }));
        self.post_upload(
            user,
            &Form::new().content_type(),
            reqwest::Body::wrap_stream(body),
        )
        .await
    }

    pub fn download(&self, user: &SignedIn, id: &str) -> reqwest::RequestBuilder {
        self.app
            .get(&format!("{PREFIX}/{id}"))
            .bearer_auth(&user.token)
    }

    pub async fn download_bytes(&self, user: &SignedIn, id: &str) -> Vec<u8> {
        let response = self.download(user, id).send().await.expect("download sent");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body").to_vec()
    }

    /// A request with an admin API key (and the user's session) instead of the client key.
    pub fn as_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &SignedIn,
    ) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, self.app.url(&format!("{PREFIX}{path}")))
            .header("X-API-Key", ADMIN_API_KEY)
            .bearer_auth(&user.token)
    }

    pub fn list(&self, user: &SignedIn) -> reqwest::RequestBuilder {
        self.app.get(&format!("{PREFIX}/")).bearer_auth(&user.token)
    }

    pub async fn list_query(&self, user: &SignedIn, query: &str) -> reqwest::Response {
        self.list(user)
            .query(&[("query", query)])
            .send()
            .await
            .expect("list sent")
    }

    pub async fn delete(&self, user: &SignedIn, id: &str) -> reqwest::Response {
        self.app
            .request(reqwest::Method::DELETE, &format!("{PREFIX}/{id}"))
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("delete sent")
    }

    /// What is stored, records and blobs, for checks that nothing was left behind.
    pub async fn stored(&self) -> Stored {
        let records = count(&self.app, "_ARCHIVE").await;
        let blobs = match &self.dir {
            Some(dir) => std::fs::read_dir(dir.path()).expect("read dir").count() as u64,
            None => {
                count(&self.app, "_ARCHIVE.files").await + count(&self.app, "_ARCHIVE.chunks").await
            }
        };
        Stored { records, blobs }
    }

    /// Waits (a little) until nothing is stored: the driver removes the chunks of an upload
    /// dropped midway in a background task.
    pub async fn assert_empty_soon(&self) {
        let mut stored = self.stored().await;
        for _ in 0..50 {
            if stored == Stored::default() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            stored = self.stored().await;
        }
        assert_eq!(stored, Stored::default(), "something of the upload remains");
    }

    /// The record as stored in the database.
    pub async fn record(&self, id: &str) -> Document {
        let id = mongodb::bson::oid::ObjectId::parse_str(id).expect("hex id");
        self.app
            .database
            .collection::<Document>("_ARCHIVE")
            .find_one(doc! { "_id": id })
            .await
            .expect("find")
            .expect("the record exists")
    }
}

/// Records and blob objects (GridFS files and chunks, or directory entries).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub records: u64,
    pub blobs: u64,
}

async fn count(app: &TestApp, collection: &str) -> u64 {
    app.database
        .collection::<Document>(collection)
        .count_documents(doc! {})
        .await
        .expect("count")
}

/// A form with one file.
pub fn file(filename: &str, content_type: &str, bytes: &[u8]) -> Form {
    Form::new().file(filename, content_type, bytes)
}

/// `len` bytes that are not all alike (so a lost or swapped chunk shows), made on the fly in
/// chunks of `chunk` bytes, starting with `head`.
pub fn generated(
    head: &'static [u8],
    len: u64,
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures_util::stream::iter((0..len).step_by(chunk)).map(move |start| {
        let size = (len - start).min(chunk as u64) as usize;
        let bytes: Vec<u8> = (0..size)
            .map(|i| {
                let at = start as usize + i;
                head.get(at)
                    .copied()
                    .unwrap_or_else(|| (at.wrapping_mul(31) ^ (at >> 16)) as u8)
            })
            .collect();
        Ok(Bytes::from(bytes))
    })
}

/// Every byte of `stream`, for comparing small generated files.
pub async fn collect(stream: impl Stream<Item = Result<Bytes, std::io::Error>>) -> Vec<u8> {
    stream
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .expect("generated")
}

pub async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// The `error.code` of an error answer, after checking its status.
pub async fn error_code(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body = json(response).await;
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
        .to_owned()
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("printable header")
}
