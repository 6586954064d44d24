//! The OpenAPI document a service serves, and the questions its tests ask of it.

use serde_json::Value;

use crate::TestApp;

/// A service's `/openapi.json`, with the base (`/service/<name>/v1`) its paths sit under.
pub struct ServedDocument {
    pub doc: Value,
    base: String,
}

impl ServedDocument {
    /// Fetches `/openapi.json` without a key, asserting it is served (200).
    pub async fn fetch(app: &TestApp, base: &str) -> Self {
        let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), 200, "served without a key");
        let doc = response.json().await.expect("a JSON document");
        Self {
            doc,
            base: base.to_owned(),
        }
    }

    /// Every operation as `METHOD /full/path`, sorted; asserts each has a summary and a
    /// `default` (error) response.
    pub fn operations(&self) -> Vec<String> {
        let mut listed = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                listed.push(format!("{} {path}", method.to_uppercase()));
                let summary = op["summary"].as_str().unwrap_or_default();
                assert!(!summary.trim().is_empty(), "{method} {path} has no summary");
                assert!(op["responses"]["default"].is_object(), "{method} {path}");
            }
        }
        listed.sort();
        listed
    }

    /// The operation for `method` (lowercase) at `path` below the base; asserts it is documented.
    pub fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][format!("{}{path}", self.base)][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        op
    }

    /// The schema a `$ref` points at in `components.schemas`, or `schema` itself.
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                &self.doc["components"]["schemas"][reference.rsplit('/').next().unwrap()]
            }
            None => schema,
        }
    }

    /// The resolved `application/json` request body schema of an operation.
    pub fn request_schema(&self, method: &str, path: &str) -> &Value {
        let body = &self.operation(method, path)["requestBody"];
        self.resolve(&body["content"]["application/json"]["schema"])
    }

    /// The resolved `application/json` schema of an operation's `status` response.
    pub fn response_schema(&self, method: &str, path: &str, status: &str) -> &Value {
        let response = &self.operation(method, path)["responses"][status];
        self.resolve(&response["content"]["application/json"]["schema"])
    }
}

/// A schema's `required` names, sorted (none when it has no `required`).
pub fn required(schema: &Value) -> Vec<String> {
    let mut names: Vec<String> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// An object's keys, sorted.
pub fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// A schema's `properties` names, sorted.
pub fn properties(schema: &Value) -> Vec<String> {
    sorted_keys(&schema["properties"])
}

/// The JSON a request is answered with, to hold against its documented schema.
pub async fn answer(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("the request is answered")
        .json()
        .await
        .expect("a JSON answer")
}
