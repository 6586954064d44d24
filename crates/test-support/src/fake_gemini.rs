//! A small real HTTP server standing in for the Gemini REST API (generativelanguage, v1beta).
//!
//! It checks requests the way Gemini does and answers with responses shaped like Gemini's
//! (<https://ai.google.dev/api>): the path and model (`/v1beta/models/{model}:{method}`), the
//! `x-goog-api-key` header (a key in the URL is refused outright, so a leak fails the test), the
//! JSON body (`contents` of `parts`, no unknown top-level field), `fileUri`s that name a file it
//! holds, and the Files API resumable upload (`X-Goog-Upload-Protocol`, `-Command`, `-Offset`,
//! chunk granularity, declared length).
//!
//! Answers: `generateContent` (`candidates`, `usageMetadata`), `streamGenerateContent?alt=sse`
//! (`data: {...}\r\n\r\n` chunks, [`FakeGemini::set_stream`] apart), `countTokens`
//! (`totalTokens`), uploads (`{"file": {name, uri, mimeType, sizeBytes, state, ...}}`).
//! Failures are programmed per request with [`FakeGemini::fail_next`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The key the fake accepts unless told of others (a test value, not a real key).
pub const FAKE_GEMINI_KEY: &str = "fake-gemini-key-0000-not-a-real-key";

/// The client key the original README's examples send in `key`.
pub const README_CLIENT_KEY: &str = "optional-google-ai-api-key";
/// The file the original README's multimodal example refers to (`files/<id>`).
pub const README_FILE_ID: &str = "abc123def456";

/// Models the fake knows; any other is 404, as Gemini answers for unknown models.
pub const KNOWN_MODELS: &[&str] = &[
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-2.0-flash",
    "gemini-2.0-flash-exp",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
];

/// Upload chunks other than the last must be a multiple of this (Gemini's
/// `X-Goog-Upload-Chunk-Granularity`).
pub const CHUNK_GRANULARITY: usize = 256 * 1024;

/// Where Gemini says uploaded files live, whatever address the fake listens on.
pub const FILES_URI_PREFIX: &str = "https://generativelanguage.googleapis.com/v1beta/files/";

/// Top-level fields of a `GenerateContentRequest`.
const REQUEST_FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];

/// The data fields of a `Part`, exactly one of which a part carries.
const PART_DATA: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];

/// A programmed answer to the next request, instead of the normal one.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Gemini's error body for this status (400, 403, 404, 429, 500, 503...).
    Status(u16),
    /// An error with this status and message (e.g. one that quotes the key).
    Message(u16, String),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// A stream that fails after its first chunk: 200, then Gemini's error body as an event
    /// (how Gemini reports an overload it meets mid-answer).
    StreamError(u16, String),
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A file the fake holds.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// The File resource, as Gemini returns it.
    pub resource: Value,
    pub bytes: Vec<u8>,
}

/// How streamed generations went, so tests can see a cancelled one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub started: usize,
    pub completed: usize,
    /// Streams whose reader went away before the last chunk.
    pub cancelled: usize,
}

struct Upload {
    /// The `files/<id>` the client asked for, if any.
    name: Option<String>,
    mime_type: String,
    display_name: Option<String>,
    declared_length: Option<usize>,
    bytes: Vec<u8>,
}

struct State {
    base: String,
    keys: HashSet<String>,
    failures: VecDeque<Failure>,
    requests: Vec<Recorded>,
    files: HashMap<String, StoredFile>,
    /// Names of the files `files.delete` removed, in order.
    deleted: Vec<String>,
    uploads: HashMap<String, Upload>,
    stream_chunks: usize,
    stream_interval: Duration,
    streams: StreamStats,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake Gemini.
pub struct FakeGemini {
    /// `http://127.0.0.1:<port>`: what `GENERATION_API_BASE` should be.
    pub url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
}

impl FakeGemini {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        Self::serve(listener)
    }

    /// Starts on a given address (to come up after a client already tried to connect).
    pub async fn start_at(address: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind(address).expect("bind the given address");
        Self::serve(listener)
    }

    fn serve(listener: std::net::TcpListener) -> Self {
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let state: Shared = Arc::new(Mutex::new(State {
            base: url.clone(),
            keys: HashSet::from([FAKE_GEMINI_KEY.to_owned()]),
            failures: VecDeque::new(),
            requests: Vec::new(),
            files: HashMap::new(),
            deleted: Vec::new(),
            uploads: HashMap::new(),
            stream_chunks: 3,
            stream_interval: Duration::from_millis(300),
            streams: StreamStats::default(),
        }));
        let shared = Arc::clone(&state);
        let handle = crate::serve::serve(listener, move |cfg| {
            cfg.app_data(web::Data::new(Arc::clone(&shared)))
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(answer));
        });
        Self { url, state, handle }
    }

    /// The settings that point generation-svc at this fake with the key it accepts.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("GENERATION_API_BASE".into(), self.url.clone()),
            ("GENERATION_KEY".into(), FAKE_GEMINI_KEY.into()),
        ]
    }

    /// Holds what the original README's examples rely on: their file (`image`, a PNG) and
    /// their client key.
    pub fn prepare_readme_examples(&self, image: &[u8]) {
        self.add_file(README_FILE_ID, "image/png", image);
        self.accept_key(README_CLIENT_KEY);
    }

    /// Accepts `key` too (a client's own key).
    pub fn accept_key(&self, key: &str) {
        lock(&self.state).keys.insert(key.to_owned());
    }

    /// Answers the next request with `failure` (queued: call again for the one after).
    pub fn fail_next(&self, failure: Failure) {
        lock(&self.state).failures.push_back(failure);
    }

    /// Streams answer with `chunks` events, `interval` apart.
    pub fn set_stream(&self, chunks: usize, interval: Duration) {
        let mut state = lock(&self.state);
        state.stream_chunks = chunks.max(1);
        state.stream_interval = interval;
    }

    /// Holds a file as if it had been uploaded: `id` is the part after `files/`.
    pub fn add_file(&self, id: &str, mime_type: &str, bytes: &[u8]) -> Value {
        let resource = file_resource(id, mime_type, None, bytes);
        lock(&self.state).files.insert(
            format!("files/{id}"),
            StoredFile {
                resource: resource.clone(),
                bytes: bytes.to_vec(),
            },
        );
        resource
    }

    /// The names of the files deleted so far.
    pub fn deleted(&self) -> Vec<String> {
        lock(&self.state).deleted.clone()
    }

    /// A held file, by its `name` (`files/...`).
    pub fn file(&self, name: &str) -> Option<StoredFile> {
        lock(&self.state).files.get(name).cloned()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        lock(&self.state).requests.len()
    }

    pub fn stream_stats(&self) -> StreamStats {
        lock(&self.state).streams
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let state: Shared = Arc::clone(&state);
    let failure = {
        let mut guard = lock(&state);
        guard.requests.push(Recorded {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        });
        guard.failures.pop_front()
    };
    match failure {
        Some(Failure::Status(status)) => return google_error(status, default_message(status)),
        Some(Failure::Message(status, message)) => return google_error(status, &message),
        Some(Failure::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Failure::StreamError(status, message)) => {
            let chunk = generated("models/any", &Value::Null, 1, Some(1), false);
            let error = error_body(status, &message, Value::Null);
            return HttpResponse::Ok()
                .content_type("text/event-stream")
                .body(format!("data: {chunk}\r\n\r\ndata: {error}\r\n\r\n"));
        }
        None => {}
    }
    if query_param(req.query_string(), "key").is_some() {
        return google_error(
            400,
            "fake Gemini: the API key must be sent in x-goog-api-key, never in the URL",
        );
    }
    let path = req.path();
    if req.method() == actix_web::http::Method::DELETE {
        return match check_key(&state, req.headers()) {
            Err(refused) => refused.respond(),
            Ok(()) => delete_file(&state, path),
        };
    }
    if req.method() != actix_web::http::Method::POST {
        return google_error(404, "Requested entity was not found.");
    }
    if path == "/upload/v1beta/files" {
        return match query_param(req.query_string(), "upload_id") {
            Some(id) => upload_chunk(&state, &id, req.headers(), &body),
            None => match check_key(&state, req.headers()) {
                Err(refused) => refused.respond(),
                Ok(()) => start_upload(&state, req.headers(), &body),
            },
        };
    }
    let Some((model, method)) = path
        .strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.split_once(':'))
    else {
        return google_error(404, "Requested entity was not found.");
    };
    if let Err(refused) = check_key(&state, req.headers()) {
        return refused.respond();
    }
    if !KNOWN_MODELS.contains(&model) {
        return google_error(
            404,
            &format!(
                "models/{model} is not found for API version v1beta, or is not supported for \
                 {method}. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => return google_error(400, &format!("Invalid JSON payload received. {e}")),
    };
    match method {
        "generateContent" => match check_generate_request(&state, &request) {
            Ok(prompt_tokens) => {
                HttpResponse::Ok().json(generated(model, &request, prompt_tokens, None, true))
            }
            Err(refused) => refused.respond(),
        },
        "streamGenerateContent" => match check_generate_request(&state, &request) {
            Ok(prompt_tokens) => stream(&state, model, req.query_string(), prompt_tokens),
            Err(refused) => refused.respond(),
        },
        "countTokens" => count_tokens(&state, &request),
        _ => google_error(404, "Requested entity was not found."),
    }
}

/// A request the checks refuse: Gemini's error, answered by [`Refusal::respond`]. (Small, so
/// the checks can return it by value.)
struct Refusal {
    status: u16,
    message: String,
    details: Value,
}

impl Refusal {
    fn respond(self) -> HttpResponse {
        if self.details.is_null() {
            google_error(self.status, &self.message)
        } else {
            google_error_with(self.status, &self.message, self.details)
        }
    }
}

fn refusal(status: u16, message: &str) -> Refusal {
    refusal_with(status, message, Value::Null)
}

fn refusal_with(status: u16, message: &str, details: Value) -> Refusal {
    Refusal {
        status,
        message: message.to_owned(),
        details,
    }
}

fn check_key(state: &Shared, headers: &HeaderMap) -> Result<(), Refusal> {
    match headers.get("x-goog-api-key").map(|v| v.as_bytes()) {
        None => Err(refusal(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )),
        Some(key) if lock(state).keys.contains(&*String::from_utf8_lossy(key)) => Ok(()),
        Some(_) => Err(refusal_with(
            400,
            "API key not valid. Please pass a valid API key.",
            json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }]),
        )),
    }
}

/// Checks a `GenerateContentRequest`; returns its prompt token count.
fn check_generate_request(state: &Shared, request: &Value) -> Result<u64, Refusal> {
    let object = request
        .as_object()
        .ok_or_else(|| refusal(400, "Invalid JSON payload received. Expected an object."))?;
    for key in object.keys() {
        if !REQUEST_FIELDS.contains(&key.as_str()) {
            return Err(refusal(
                400,
                &format!(
                    "Invalid JSON payload received. Unknown name \"{key}\": Cannot find field."
                ),
            ));
        }
    }
    let contents = object.get("contents").ok_or_else(|| {
        refusal(
            400,
            "* GenerateContentRequest.contents: contents is not specified",
        )
    })?;
    let mut tokens = check_contents(state, contents)?;
    if let Some(system) = object.get("systemInstruction") {
        tokens += check_content(state, system, "systemInstruction")?;
    }
    Ok(tokens)
}

fn check_contents(state: &Shared, contents: &Value) -> Result<u64, Refusal> {
    let items = contents
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(|| {
            refusal(
                400,
                "* GenerateContentRequest.contents: contents is not specified",
            )
        })?;
    let mut tokens = 0;
    for (i, content) in items.iter().enumerate() {
        tokens += check_content(state, content, &format!("contents[{i}]"))?;
    }
    Ok(tokens)
}

fn check_content(state: &Shared, content: &Value, at: &str) -> Result<u64, Refusal> {
    let bad = |what: &str| refusal(400, &format!("* GenerateContentRequest.{at}: {what}"));
    let object = content
        .as_object()
        .ok_or_else(|| bad("must be an object"))?;
    match object.get("role").map(Value::as_str) {
        None | Some(Some("user" | "model")) => {}
        _ => return Err(bad("Please use a valid role: user, model.")),
    }
    let parts = object
        .get("parts")
        .and_then(Value::as_array)
        .filter(|parts| !parts.is_empty())
        .ok_or_else(|| bad("contents.parts must not be empty."))?;
    let mut tokens = 0;
    for part in parts {
        let part = part
            .as_object()
            .ok_or_else(|| bad("parts must be objects"))?;
        let data: Vec<&String> = part
            .keys()
            .filter(|k| PART_DATA.contains(&k.as_str()))
            .collect();
        if data.len() != 1 {
            return Err(bad("a part must have exactly one data field"));
        }
        match data[0].as_str() {
            "text" => tokens += words(part["text"].as_str().unwrap_or_default()),
            "fileData" => {
                let uri = part["fileData"]["fileUri"].as_str().unwrap_or_default();
                let id = uri
                    .strip_prefix(FILES_URI_PREFIX)
                    .or_else(|| uri.strip_prefix("files/"))
                    .unwrap_or(uri);
                if !lock(state).files.contains_key(&format!("files/{id}")) {
                    return Err(refusal(
                        403,
                        &format!(
                            "You do not have permission to access the File {id} or it may not exist."
                        ),
                    ));
                }
                tokens += 258;
            }
            _ => tokens += 8,
        }
    }
    Ok(tokens)
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn last_user_text(request: &Value) -> String {
    request["contents"]
        .as_array()
        .and_then(|contents| contents.last())
        .and_then(|content| content["parts"].as_array())
        .and_then(|parts| parts.iter().find_map(|p| p["text"].as_str()))
        .unwrap_or("(no text)")
        .to_owned()
}

/// A `GenerateContentResponse`; `chunk` numbers a streamed piece.
fn generated(
    model: &str,
    request: &Value,
    prompt_tokens: u64,
    chunk: Option<usize>,
    last: bool,
) -> Value {
    let text = match chunk {
        Some(n) => format!("chunk {n} "),
        None => format!("Fake reply to: {}", last_user_text(request)),
    };
    let candidates_tokens = words(&text) * chunk.map_or(1, |n| n as u64);
    let mut candidate = json!({
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    });
    if last {
        candidate["finishReason"] = json!("STOP");
        candidate["safetyRatings"] = json!([
            {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
            {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
        ]);
    }
    // Like Gemini, a stream counts its output only in its last chunk.
    let usage = if chunk.is_some() && !last {
        json!({"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens})
    } else {
        json!({
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": candidates_tokens,
            "totalTokenCount": prompt_tokens + candidates_tokens,
        })
    };
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fake-response-id",
    })
}

/// Counts streams that end early: dropped by the server when the reader goes away.
struct StreamGuard {
    state: Shared,
    finished: bool,
}

impl StreamGuard {
    /// A chunk with a `finishReason` of `STOP` is the last one.
    fn observe(&mut self, chunk: &[u8]) {
        if chunk.windows(6).any(|w| w == b"\"STOP\"") {
            self.finished = true;
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if self.finished {
            state.streams.completed += 1;
        } else {
            state.streams.cancelled += 1;
        }
    }
}

fn stream(state: &Shared, model: &str, query: &str, prompt_tokens: u64) -> HttpResponse {
    if query_param(query, "alt").as_deref() != Some("sse") {
        // Without alt=sse Gemini answers one JSON array; the fake only speaks SSE.
        return google_error(
            400,
            "fake Gemini: streamGenerateContent is only served with alt=sse",
        );
    }
    let (chunks, interval) = {
        let mut guard = lock(state);
        guard.streams.started += 1;
        (guard.stream_chunks, guard.stream_interval)
    };
    let mut guard = StreamGuard {
        state: Arc::clone(state),
        finished: false,
    };
    let model = model.to_owned();
    let events = futures_util::stream::iter(1..=chunks).then(move |n| {
        let model = model.clone();
        async move {
            if n > 1 {
                tokio::time::sleep(interval).await;
            }
            let chunk = generated(&model, &Value::Null, prompt_tokens, Some(n), n == chunks);
            Ok::<_, actix_web::Error>(web::Bytes::from(format!("data: {chunk}\r\n\r\n")))
        }
    });
    // The guard lives as long as the body stream: it is marked finished after the last chunk.
    let events = events.map(move |item| {
        if let Ok(bytes) = &item {
            guard.observe(bytes);
        }
        item
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(events)
}

fn count_tokens(state: &Shared, request: &Value) -> HttpResponse {
    let inner = request.get("generateContentRequest").unwrap_or(request);
    let Some(contents) = inner.get("contents") else {
        return google_error(400, "* CountTokensRequest: contents is not specified");
    };
    match check_contents(state, contents) {
        Ok(tokens) => HttpResponse::Ok().json(json!({
            "totalTokens": tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
        })),
        Err(refused) => refused.respond(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn start_upload(state: &Shared, headers: &HeaderMap, body: &[u8]) -> HttpResponse {
    if header(headers, "x-goog-upload-protocol") != Some("resumable") {
        return google_error(400, "fake Gemini: X-Goog-Upload-Protocol must be resumable");
    }
    if header(headers, "x-goog-upload-command") != Some("start") {
        return google_error(400, "fake Gemini: the first upload command must be start");
    }
    let Some(mime_type) = header(headers, "x-goog-upload-header-content-type") else {
        return google_error(
            400,
            "fake Gemini: X-Goog-Upload-Header-Content-Type is required",
        );
    };
    let declared_length = match header(headers, "x-goog-upload-header-content-length") {
        None => None,
        Some(value) => match value.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                return google_error(400, "fake Gemini: bad X-Goog-Upload-Header-Content-Length")
            }
        },
    };
    let metadata: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return google_error(400, &format!("Invalid JSON payload received. {e}")),
        }
    };
    let display_name = metadata["file"]["displayName"]
        .as_str()
        .or_else(|| metadata["file"]["display_name"].as_str())
        .map(str::to_owned);
    let name = match &metadata["file"]["name"] {
        Value::Null => None,
        Value::String(name) if is_file_name(name) => Some(name.clone()),
        _ => {
            return google_error(
                400,
                "* File.name: the ID may contain up to 40 lower-case letters, digits or dashes, and may not start or end with a dash",
            )
        }
    };
    let id = new_id();
    let mut guard = lock(state);
    // A name is taken by a stored file or by an upload still in progress.
    let taken = |name: &String| {
        guard.files.contains_key(name)
            || guard
                .uploads
                .values()
                .any(|upload| upload.name.as_ref() == Some(name))
    };
    if name.as_ref().is_some_and(taken) {
        return google_error(409, "File already exists.");
    }
    guard.uploads.insert(
        id.clone(),
        Upload {
            name,
            mime_type: mime_type.to_owned(),
            display_name,
            declared_length,
            bytes: Vec::new(),
        },
    );
    let upload_url = format!(
        "{}/upload/v1beta/files?upload_id={id}&upload_protocol=resumable",
        guard.base
    );
    HttpResponse::Ok()
        .insert_header(("x-goog-upload-url", upload_url))
        .insert_header(("x-goog-upload-status", "active"))
        .insert_header((
            "x-goog-upload-chunk-granularity",
            CHUNK_GRANULARITY.to_string(),
        ))
        .finish()
}

fn upload_chunk(state: &Shared, id: &str, headers: &HeaderMap, body: &[u8]) -> HttpResponse {
    let mut guard = lock(state);
    let Some(upload) = guard.uploads.get_mut(id) else {
        return google_error(404, "fake Gemini: no such upload session");
    };
    let command = header(headers, "x-goog-upload-command").unwrap_or_default();
    let finalize = match command {
        "upload" => false,
        "upload, finalize" | "finalize" => true,
        _ => {
            return google_error(
                400,
                "fake Gemini: X-Goog-Upload-Command must be upload[, finalize]",
            )
        }
    };
    let offset = header(headers, "x-goog-upload-offset").and_then(|v| v.parse::<usize>().ok());
    if offset != Some(upload.bytes.len()) {
        return google_error(
            400,
            &format!(
                "fake Gemini: X-Goog-Upload-Offset must be {} (bytes received so far)",
                upload.bytes.len()
            ),
        );
    }
    if header(headers, "content-length").and_then(|v| v.parse::<usize>().ok()) != Some(body.len()) {
        return google_error(400, "fake Gemini: each chunk needs its Content-Length");
    }
    if !finalize && (body.is_empty() || !body.len().is_multiple_of(CHUNK_GRANULARITY)) {
        return google_error(
            400,
            "fake Gemini: chunks before the last must be a multiple of the granularity",
        );
    }
    upload.bytes.extend_from_slice(body);
    if !finalize {
        return HttpResponse::Ok()
            .insert_header(("x-goog-upload-status", "active"))
            .finish();
    }
    if upload
        .declared_length
        .is_some_and(|n| n != upload.bytes.len())
    {
        return google_error(
            400,
            "fake Gemini: the upload is shorter or longer than declared",
        );
    }
    let Some(upload) = guard.uploads.remove(id) else {
        return google_error(404, "fake Gemini: no such upload session");
    };
    let file_id = match &upload.name {
        Some(name) => name.trim_start_matches("files/").to_owned(),
        None => new_id(),
    };
    let resource = file_resource(
        &file_id,
        &upload.mime_type,
        upload.display_name.as_deref(),
        &upload.bytes,
    );
    guard.files.insert(
        format!("files/{file_id}"),
        StoredFile {
            resource: resource.clone(),
            bytes: upload.bytes,
        },
    );
    HttpResponse::Ok()
        .insert_header(("x-goog-upload-status", "final"))
        .json(json!({ "file": resource }))
}

/// `files.delete`: `{}` for a held file; Gemini answers 403 for one it does not hold.
fn delete_file(state: &Shared, path: &str) -> HttpResponse {
    let name = path.strip_prefix("/v1beta/").unwrap_or_default();
    if !is_file_name(name) {
        return google_error(404, "Requested entity was not found.");
    }
    let mut guard = lock(state);
    match guard.files.remove(name) {
        Some(_) => {
            guard.deleted.push(name.to_owned());
            HttpResponse::Ok().json(json!({}))
        }
        None => google_error(
            403,
            &format!(
                "You do not have permission to access the File {} or it may not exist.",
                name.trim_start_matches("files/")
            ),
        ),
    }
}

/// Gemini's rule for a client-chosen `File.name` (Files API reference).
fn is_file_name(name: &str) -> bool {
    name.strip_prefix("files/").is_some_and(|id| {
        !id.is_empty()
            && id.len() <= 40
            && !id.starts_with('-')
            && !id.ends_with('-')
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

fn file_resource(id: &str, mime_type: &str, display_name: Option<&str>, bytes: &[u8]) -> Value {
    let now = mongodb::bson::DateTime::now();
    let later = mongodb::bson::DateTime::from_millis(now.timestamp_millis() + 48 * 3_600_000);
    let stamp = |t: mongodb::bson::DateTime| t.try_to_rfc3339_string().unwrap_or_default();
    // Gemini reports the SHA-256 as base64 of its hex digest.
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut resource = Map::new();
    resource.insert("name".into(), json!(format!("files/{id}")));
    if let Some(name) = display_name {
        resource.insert("displayName".into(), json!(name));
    }
    let processing = mime_type.starts_with("video/");
    for (key, value) in [
        ("mimeType", json!(mime_type)),
        ("sizeBytes", json!(bytes.len().to_string())),
        ("createTime", json!(stamp(now))),
        ("updateTime", json!(stamp(now))),
        ("expirationTime", json!(stamp(later))),
        (
            "sha256Hash",
            json!(base64::engine::general_purpose::STANDARD.encode(hex)),
        ),
        ("uri", json!(format!("{FILES_URI_PREFIX}{id}"))),
        (
            "state",
            json!(if processing { "PROCESSING" } else { "ACTIVE" }),
        ),
        ("source", json!("UPLOADED")),
    ] {
        resource.insert(key.into(), value);
    }
    Value::Object(resource)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_owned())
    })
}

fn default_message(status: u16) -> &'static str {
    match status {
        400 => "Request contains an invalid argument.",
        403 => "The caller does not have permission",
        404 => "Requested entity was not found.",
        429 => "Resource has been exhausted (e.g. check quota).",
        500 => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        503 => "The model is overloaded. Please try again later.",
        _ => "Error",
    }
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn google_error(status: u16, message: &str) -> HttpResponse {
    let details = if status == 429 {
        json!([{
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": "37s",
        }])
    } else {
        Value::Null
    };
    google_error_with(status, message, details)
}

/// Gemini's error answer: this status with [`error_body`].
fn google_error_with(status: u16, message: &str, details: Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(error_body(status, message, details))
}

/// Gemini's error body: `{"error": {"code", "message", "status", "details"?}}`.
fn error_body(status: u16, message: &str, details: Value) -> Value {
    let mut error = json!({
        "code": status,
        "message": message,
        "status": status_name(status),
    });
    if !details.is_null() {
        error["details"] = details;
    }
    json!({ "error": error })
}
