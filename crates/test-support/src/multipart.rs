//! `multipart/form-data` bodies (RFC 7578) built by hand, so tests control every byte.

/// The boundary of every form built here.
pub const BOUNDARY: &str = "coglex-test-boundary-7d1f";

/// A `multipart/form-data` body (RFC 7578), built by hand.
#[derive(Debug, Default)]
pub struct Form {
    body: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    /// A `file` part named `filename` (quoted, with `"` and `\` escaped as browsers and
    /// RFC 7578 §4.2 allow).
    pub fn file(self, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        let escaped = filename.replace('\\', "\\\\").replace('"', "\\\"");
        self.part(
            &format!("name=\"file\"; filename=\"{escaped}\""),
            Some(content_type),
            bytes,
        )
    }

    /// A part with exactly these `Content-Disposition` parameters.
    pub fn part(mut self, params: &str, content_type: Option<&str>, bytes: &[u8]) -> Self {
        self.head(params, content_type);
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A text part.
    pub fn text(self, name: &str, value: &str) -> Self {
        self.part(&format!("name=\"{name}\""), None, value.as_bytes())
    }

    /// The `metadata` text part archive-svc reads.
    pub fn metadata(self, json: &str) -> Self {
        self.text("metadata", json)
    }

    fn head(&mut self, params: &str, content_type: Option<&str>) {
        self.body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {params}\r\n").as_bytes(),
        );
        if let Some(content_type) = content_type {
            self.body
                .extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        self.body.extend_from_slice(b"\r\n");
    }

    /// The form so far, then the head of a `file` part whose bytes follow (for streaming
    /// a large file after it; end with `\r\n--BOUNDARY--\r\n`).
    pub fn open_file(mut self, filename: &str, content_type: &str) -> Vec<u8> {
        self.head(
            &format!("name=\"file\"; filename=\"{filename}\""),
            Some(content_type),
        );
        self.body
    }

    pub fn into_body(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }
}
