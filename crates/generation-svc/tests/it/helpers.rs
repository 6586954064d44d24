//! generation-svc on a free port with its own database and a fake Gemini, plus the request
//! bodies of the original README.

use std::ops::Deref;

use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use test_support::fake_gemini::{FakeGemini, Recorded};
use test_support::multipart::Form;
use test_support::TestApp;

pub use test_support::fake_gemini::{Failure, FILES_URI_PREFIX};
pub use test_support::{sign_in, API_KEY};

pub use test_support::fake_gemini::{README_CLIENT_KEY as CLIENT_KEY, README_FILE_ID};

/// A tiny PNG: signature and the start of its header chunk.
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// The start of a PDF document.
pub const PDF: &[u8] =
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n";

/// A running generation-svc and the fake Gemini it talks to.
pub struct GenerationApp {
    pub app: TestApp,
    pub gemini: FakeGemini,
}

impl Deref for GenerationApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn spawn_app() -> GenerationApp {
    spawn_app_with(&[]).await
}

/// [`spawn_app`] with extra settings (they win over the defaults here).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> GenerationApp {
    let gemini = FakeGemini::start().await;
    spawn_app_against(gemini, overrides).await
}

/// The service in front of an already running fake Gemini.
pub async fn spawn_app_against(gemini: FakeGemini, overrides: &[(&str, &str)]) -> GenerationApp {
    // The original README's multimodal example names this file and sends its own key.
    gemini.prepare_readme_examples(PNG);
    let fake = gemini.settings();
    let mut settings: Vec<(&str, &str)> =
        fake.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    settings.extend([
        ("GENERATION_TIMEOUT_MS", "3000"),
        ("GENERATION_RETRY_BACKOFF_MS", "50"),
    ]);
    settings.extend_from_slice(overrides);
    let app = test_support::spawn_app_with(generation_svc::build, &settings).await;
    GenerationApp { app, gemini }
}

impl GenerationApp {
    /// `POST /converse` with the API key.
    pub fn converse(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post("/service/generation/v1/converse").json(body)
    }

    /// `POST /converse` of the README's simple text example, signed in as `user`.
    pub async fn converse_as(&self, user: &test_support::SignedIn) -> reqwest::Response {
        self.converse(&simple_text_example())
            .bearer_auth(&user.token)
            .send()
            .await
            .expect("generation-svc answers")
    }

    /// `POST /converse/stream` with the API key.
    pub fn converse_stream(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post("/service/generation/v1/converse/stream")
            .json(body)
    }

    /// `POST /tokens` with the API key.
    pub fn tokens(&self, body: &Value) -> reqwest::RequestBuilder {
        self.post("/service/generation/v1/tokens").json(body)
    }

    /// `POST /file` with `file` (named `file_name`) and, if given, `key` after it, as the
    /// original README orders them.
    pub fn upload(
        &self,
        bytes: &[u8],
        file_name: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut form = Form::new().file(file_name, "application/octet-stream", bytes);
        if let Some(key) = key {
            form = form.text("key", key);
        }
        self.post("/service/generation/v1/file")
            .header("Content-Type", form.content_type())
            .body(form.into_body())
    }

    /// The one request the fake Gemini received.
    pub fn only_request(&self) -> Recorded {
        let requests = self.gemini.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected one call to Gemini: {requests:#?}"
        );
        requests.into_iter().next().expect("one request")
    }

    /// Every record of who uploaded a file, read beside the API.
    pub async fn file_records(&self) -> Vec<Document> {
        use futures_util::TryStreamExt;
        self.database
            .collection::<Document>("_GEMINI_FILES")
            .find(doc! {})
            .await
            .expect("query")
            .try_collect()
            .await
            .expect("records")
    }

    /// A user's usage document for today, read beside the API.
    pub async fn usage_of(&self, user_id: &str) -> Option<Document> {
        self.database
            .collection::<Document>("_USAGE")
            .find_one(doc! { "user_id": user_id })
            .await
            .expect("query")
    }
}

/// The original README's multimodal example: a file, a system instruction, tools, generation
/// config, safety settings, its own model and key.
pub fn multimodal_example() -> Value {
    json!({
        "contents": [{
            "role": "user",
            "parts": [
                {"text": "Analyze this image and describe what you see in detail."},
                {"fileData": {
                    "mimeType": "image/png",
                    "fileUri": format!("{FILES_URI_PREFIX}{README_FILE_ID}")
                }}
            ]
        }],
        "systemInstruction": {
            "parts": [{"text": "You are an expert image analyst. Provide detailed, accurate descriptions of images including objects, people, settings, colors, and any text visible in the image."}]
        },
        "tools": [{
            "functionDeclarations": [{
                "name": "getWeatherInfo",
                "description": "Get current weather information for a specific location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and country, e.g. 'New York, USA'"},
                        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}
                    },
                    "required": ["location"]
                }
            }]
        }],
        "generationConfig": {
            "temperature": 0.7,
            "topK": 40,
            "topP": 0.95,
            "maxOutputTokens": 2048,
            "stopSequences": ["END"]
        },
        "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_MEDIUM_AND_ABOVE"},
            {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_MEDIUM_AND_ABOVE"}
        ],
        "model": "models/gemini-2.0-flash-exp",
        "key": CLIENT_KEY
    })
}

/// The original README's simple text generation.
pub fn simple_text_example() -> Value {
    json!({
        "contents": [{
            "role": "user",
            "parts": [{"text": "Write a short story about a robot learning to paint."}]
        }]
    })
}

/// The original README's multi-turn conversation.
pub fn multi_turn_example() -> Value {
    json!({
        "contents": [
            {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
            {"role": "model", "parts": [{"text": "The capital of France is Paris."}]},
            {"role": "user", "parts": [{"text": "What is its population?"}]}
        ]
    })
}

/// A body with one user text `text`.
pub fn text(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// An error body's status, `error.code` and `error.message`.
pub async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
