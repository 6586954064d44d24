//! Every HTTP example of the original Coglex README (a copy in `fixtures/`), replayed through
//! the gateway with its exact method, path, query and body. Only the README's placeholders are
//! filled in (`your-server-secret`, `jwt-token`, `{collection}`, the OTP code, ...), and where a
//! section documents a response, the answer must have those fields with the same JSON types.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use test_support::multipart::Form;

use crate::helpers::*;

const README: &str = include_str!("../../fixtures/coglex-original-README.md");
const USER: &str = "user@example.com";
const COLLECTION: &str = "products";

/// Fields the original documents that Coglex deliberately does not send, and why.
const NOT_SENT: &[(&str, &str)] = &[(
    "filepath",
    "the server-side path of a stored file is an internal detail (and GridFS has none)",
)];

/// Fields whose content is the client's own (echoed back as sent), compared by type only.
const CLIENT_CONTENT: &[&str] = &["metadata"];

/// One ```http block, and the response its section documents (if any).
#[derive(Debug)]
struct Example {
    section: String,
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
    response: Option<Value>,
}

/// Parses the README's ```http blocks; a `Response:` ```json block documents the answer to the
/// first example of its section (`####` heading) that has none yet.
fn examples(readme: &str) -> Vec<Example> {
    let mut found: Vec<Example> = Vec::new();
    let mut section = String::new();
    let mut section_start = 0;
    let mut lines = readme.lines().peekable();
    let mut after_response_label = false;
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix("#### ") {
            section = heading.trim().to_owned();
            section_start = found.len();
        } else if line.trim() == "Response:" {
            after_response_label = true;
            continue;
        } else if line.trim() == "```json" && after_response_label {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let documented: Value = serde_json::from_str(&block.join("\n")).expect("README JSON");
            if let Some(first) = found[section_start..]
                .iter_mut()
                .find(|e| e.response.is_none())
            {
                first.response = Some(documented);
            }
        } else if line.trim() == "```http" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let (request_line, rest) = block.split_first().expect("a request line");
            let (method, target) = request_line.split_once(' ').expect("METHOD target");
            let mut headers = Vec::new();
            let mut body_lines = Vec::new();
            let mut in_body = false;
            for line in rest {
                if in_body {
                    body_lines.push(*line);
                } else if line.trim().is_empty() {
                    in_body = true;
                } else {
                    let (name, value) = line.split_once(':').expect("a header line");
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
            found.push(Example {
                section: section.clone(),
                method: Method::from_bytes(method.as_bytes()).expect("a method"),
                target: target.trim().to_owned(),
                headers,
                body: body_lines.join("\n"),
                response: None,
            });
        }
        if !line.trim().is_empty() {
            after_response_label = false;
        }
    }
    found
}

/// What earlier answers taught: the values the README's placeholders stand for.
#[derive(Default)]
struct Filled {
    token: String,
    document_id: String,
    file_reference: String,
    oauth_state: String,
    oauth_code: String,
    oauth_verifier: String,
    otp_token: String,
    otp_code: String,
}

impl Filled {
    fn path(&self, path: &str) -> String {
        path.replace("{user_key}", USER)
            .replace("{collection}", COLLECTION)
            .replace("{document_id}", &self.document_id)
            .replace("{file_reference}", &self.file_reference)
    }

    fn body(&self, body: &str) -> String {
        body.replace("jwt_state_token_from_authorization", &self.oauth_state)
            // Coglex also asks for the `verifier` `/oauth` gave the client that started the
            // sign-in, so a callback URL alone signs no one in.
            .replace(
                "\"authorization_code_from_provider\"",
                &format!(
                    "\"{}\", \"verifier\": \"{}\"",
                    self.oauth_code, self.oauth_verifier
                ),
            )
            .replace("jwt_token_from_passgen", &self.otp_token)
            .replace("\"123456\"", &format!("\"{}\"", self.otp_code))
    }
}

/// The URL of a README target: the path's placeholders filled, the query's raw JSON values
/// percent-encoded as any HTTP client would send them.
fn url(stack: &Stack, filled: &Filled, target: &str) -> url::Url {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut url = url::Url::parse(&stack.url(&filled.path(path))).expect("a URL");
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.append_pair(name, value);
        }
    }
    url
}

/// A multipart body from the README's `name: value` lines, with its content type;
/// `[binary ...]` values become `file_bytes` under `file_name`.
fn multipart(lines: &str, file_name: &str, file_bytes: &[u8]) -> (String, Vec<u8>) {
    let mut form = Form::new();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line.split_once(':').expect("name: value");
        form = match value.trim() {
            binary if binary.starts_with("[binary") => {
                assert_eq!(name, "file", "the README's file parts are named `file`");
                form.file(file_name, "application/octet-stream", file_bytes)
            }
            text => form.text(name, text),
        };
    }
    (form.content_type(), form.into_body())
}

/// A one-page PDF and a 1x1 PNG: real files, typed by their bytes.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44,
    0xAE, 0x42, 0x60, 0x82,
];

/// The JSON type of a value, for comparing shapes.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field `documented` shows is in `actual`, with the same JSON type, recursively
/// (arrays: the first documented element against every answered one).
fn assert_shape(documented: &Value, actual: &Value, at: &str) {
    assert_eq!(kind(documented), kind(actual), "{at}: {actual}");
    match (documented, actual) {
        (Value::Object(doc), Value::Object(got)) => {
            for (field, value) in doc {
                if NOT_SENT.iter().any(|(name, _)| name == field) {
                    assert!(got.get(field).is_none(), "{at}.{field} must not be sent");
                    continue;
                }
                let answered = got
                    .get(field)
                    .unwrap_or_else(|| panic!("{at}.{field} is missing from {actual}"));
                if CLIENT_CONTENT.contains(&field.as_str()) {
                    assert_eq!(kind(value), kind(answered), "{at}.{field}");
                    continue;
                }
                assert_shape(value, answered, &format!("{at}.{field}"));
            }
        }
        (Value::Array(doc), Value::Array(got)) => {
            if let Some(first) = doc.first() {
                for (i, item) in got.iter().enumerate() {
                    assert_shape(first, item, &format!("{at}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

/// Data the examples read, arranged through the API beforehand (not README examples).
async fn arrange(stack: &Stack, http: &reqwest::Client, token: &str) -> String {
    let products = json!({"documents": [
        {"name": "Lamp", "price": 40.0, "category": "electronics", "status": "active",
         "created_date": "2024-02-01T00:00:00Z"},
        {"name": "Radio", "price": 60.5, "category": "electronics", "status": "active",
         "created_date": "2024-03-01T00:00:00Z"},
        {"name": "Novel", "price": 12.0, "category": "books", "status": "active",
         "created_date": "2024-04-01T00:00:00Z"},
    ]});
    let inserted = http
        .post(stack.url(&format!("/service/storage/v1/{COLLECTION}")))
        .header("X-API-Key", API_KEY)
        .bearer_auth(token)
        .json(&products)
        .send()
        .await
        .unwrap();
    assert_eq!(inserted.status(), 201);
    let inserted = json(inserted).await;
    let (content_type, body) = multipart(
        "file: [binary]\nmetadata: {\"description\": \"arranged\"}",
        "arranged.pdf",
        PDF,
    );
    let uploaded = http
        .post(stack.url("/service/archive/v1/"))
        .header("X-API-Key", API_KEY)
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    stack.gemini.prepare_readme_examples(PNG);
    inserted["inserted_ids"][0]
        .as_str()
        .expect("an id")
        .to_owned()
}

#[tokio::test]
async fn every_http_example_of_the_original_readme_works_through_the_gateway() {
    replay_readme(Stack::start().await).await;
}

/// The same over HTTP/2 between the gateway and the real services.
#[tokio::test]
async fn every_http_example_works_with_http2_to_the_services_too() {
    replay_readme(Stack::start_with_gateway(&[("UPSTREAM_HTTP2", "true")]).await).await;
}

/// Sends every HTTP example of the original README, in order, through `stack`'s gateway,
/// filling in what earlier answers gave, and checks each answer and documented shape.
async fn replay_readme(stack: Stack) {
    let http = client();
    let all = examples(README);
    assert_eq!(
        all.len(),
        README.matches("```http").count(),
        "every block parsed"
    );
    assert_eq!(all.len(), 28);

    let mut filled = Filled::default();
    let mut replayed = 0;
    let mut checked_sections: HashMap<String, bool> = HashMap::new();
    for example in &all {
        let url = url(&stack, &filled, &example.target);
        let mut request = http.request(example.method.clone(), url.clone());
        let mut shown = example.headers.clone();
        // Examples that continue the one above show only the request line.
        if shown.is_empty() {
            shown.push(("X-API-Key".into(), "your-server-secret".into()));
            shown.push(("Authorization".into(), "Bearer jwt-token".into()));
        }
        let mut multipart_type = false;
        for (name, value) in &shown {
            match (name.as_str(), value.as_str()) {
                // The original's one key was the server secret, which could do anything; its
                // sign-up sets `role`, a field only admin keys may set here.
                ("X-API-Key", _) if example.section == "User Registration" => {
                    request = request.header("X-API-Key", ADMIN_API_KEY)
                }
                ("X-API-Key", _) => request = request.header("X-API-Key", API_KEY),
                ("Authorization", _) => request = request.bearer_auth(&filled.token),
                ("Content-Type", "multipart/form-data") => multipart_type = true,
                (name, value) => request = request.header(name, value),
            }
        }
        if multipart_type {
            let (file_name, bytes) = if example.target.contains("/generation/") {
                ("uploaded_image.png", PNG)
            } else {
                ("uploaded_document.pdf", PDF)
            };
            let (content_type, body) = multipart(&example.body, file_name, bytes);
            request = request.header("Content-Type", content_type).body(body);
        } else if !example.body.trim().is_empty() {
            request = request.body(filled.body(&example.body));
        }

        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let name = format!(
            "{} ({} {})",
            example.section, example.method, example.target
        );
        assert!(
            status.is_success(),
            "{name}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        replayed += 1;
        if example.section == "Download File" {
            assert_eq!(&bytes[..], PDF, "{name}: the uploaded bytes come back");
            continue;
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{name}: not JSON: {}", String::from_utf8_lossy(&bytes)));
        if let Some(documented) = &example.response {
            assert_shape(documented, &answer, &example.section);
            checked_sections.insert(example.section.clone(), true);
        }

        // What the next examples need.
        match example.section.as_str() {
            "User Authentication" => {
                filled.token = answer["token"]
                    .as_str()
                    .expect("a session token")
                    .to_owned();
                filled.document_id = arrange(&stack, &http, &filled.token).await;
            }
            "OAuth Authentication" if example.target.ends_with("/oauth") => {
                filled.oauth_state = answer["state"].as_str().unwrap().to_owned();
                filled.oauth_verifier = answer["verifier"].as_str().unwrap().to_owned();
                let callback = stack
                    .oauth
                    .consent(answer["authorization_url"].as_str().unwrap())
                    .await;
                filled.oauth_code = callback
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .expect("the provider sends a code");
            }
            "OTP Generation" => {
                filled.otp_token = answer["otp_token"].as_str().unwrap().to_owned();
                let mail = stack
                    .smtp
                    .wait_for(USER, Duration::from_secs(10))
                    .await
                    .expect("the code is mailed");
                filled.otp_code = mail
                    .body()
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|run| run.len() == 6)
                    .expect("a 6-digit code in the mail")
                    .to_owned();
            }
            // The code proves the address, which ends the sessions the sign-up's password
            // started (README: "An address belongs to whoever proves it"); the session the
            // code starts carries on, as a client would.
            "OTP Verification" => {
                filled.token = answer["token"]
                    .as_str()
                    .expect("a session token for the verified user")
                    .to_owned();
            }
            "Upload File" if example.target.contains("/archive/") => {
                filled.file_reference = answer["_id"].as_str().unwrap().to_owned();
            }
            _ => {}
        }
    }
    assert_eq!(replayed, all.len());
    let documented: Vec<&str> = all
        .iter()
        .filter(|e| e.response.is_some())
        .map(|e| e.section.as_str())
        .collect();
    for section in &documented {
        assert!(
            checked_sections.contains_key(*section),
            "{section} unchecked"
        );
    }
    assert_eq!(
        documented.len(),
        README.matches("Response:\n```json").count(),
        "every documented response is attached to an example: {documented:?}"
    );
}

#[tokio::test]
async fn the_readme_sign_up_sets_a_protected_field_only_with_an_admin_key() {
    let stack = Stack::start().await;
    let example = examples(README)
        .into_iter()
        .find(|e| e.section == "User Registration")
        .unwrap();
    let response = client()
        .post(stack.url("/service/auth/v1/signup"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "application/json")
        .body(example.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "`role` is in AUTH_PROTECTED_FIELDS by default"
    );
    assert!(json(response).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("role"));
}

#[test]
fn the_parser_reads_method_target_headers_body_and_documented_response() {
    let all = examples(README);
    let oauth = all
        .iter()
        .find(|e| e.target == "/service/auth/v1/oauth")
        .unwrap();
    assert_eq!(oauth.method, Method::POST);
    assert!(oauth
        .headers
        .iter()
        .any(|(n, v)| n == "X-API-Key" && v == "your-server-secret"));
    let body: Value = serde_json::from_str(&oauth.body).unwrap();
    assert_eq!(body["provider"], "google");
    assert!(oauth.response.as_ref().unwrap()["authorization_url"].is_string());
    let checkout: Vec<&Example> = all
        .iter()
        .filter(|e| e.section == "Create Checkout Session")
        .collect();
    assert_eq!(checkout.len(), 2);
    assert!(checkout[0].response.is_some() && checkout[1].response.is_none());
}
