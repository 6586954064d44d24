//! The served OpenAPI document: valid, complete, and true to the routers it describes.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(METHOD, path, operation)` for every operation of a document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                all.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    all
}

async fn served_document(stack: &Stack) -> Value {
    let response = client()
        .get(stack.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "public, without a key");
    assert_eq!(response.headers()["content-type"], "application/json");
    json(response).await
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(r)) => found.push(r.clone()),
                    _ => references(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let stack = Stack::start().await;
    let doc = served_document(&stack).await;
    assert_eq!(doc["openapi"], "3.1.0");

    // The specification's own validator.
    let file = std::env::temp_dir().join(format!("coglex-openapi-{}.json", std::process::id()));
    std::fs::write(&file, doc.to_string()).unwrap();
    let output = std::process::Command::new(python_tool("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("openapi-spec-validator runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "invalid document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // What the specification allows but the API promises on top.
    let mut refs = Vec::new();
    references(&doc, &mut refs);
    for reference in &refs {
        assert!(
            resolve(&doc, reference).is_some(),
            "{reference} does not resolve"
        );
    }
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let name = format!("{method} {path}");
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(!summary.trim().is_empty(), "{name} has no description");
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "{name}: duplicate operationId"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: no success response"
        );
        assert!(
            responses.contains_key("default"),
            "{name}: errors undocumented"
        );
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let param = segment.trim_matches(|c| c == '{' || c == '}');
            let declared = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "path" && p["name"] == param && p["required"] == true);
            assert!(declared, "{name}: path parameter `{param}` undeclared");
        }
        let security = op["security"].as_array();
        if path == "/service/payment/v1/webhook" {
            assert!(
                security.is_none_or(|s| s.is_empty()),
                "the webhook is signed, not keyed"
            );
        } else {
            let security = security.unwrap_or_else(|| panic!("{name}: no security"));
            assert!(
                !security.is_empty() && security.iter().all(|r| r.get("api_key").is_some()),
                "{name} must require X-API-Key: {security:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_document_lists_every_route_every_service_registers() {
    let stack = Stack::start().await;
    let merged = served_document(&stack).await;
    let merged_ops = operations(&merged);
    let mut total = 0;
    for (service, app) in &stack.services {
        // A service's own document is built from the very list its router is built from.
        let own: Value = json(client().get(app.url("/openapi.json")).send().await.unwrap()).await;
        let own_ops = operations(&own);
        assert!(own_ops.len() > 2, "{service} lists only its probes");
        for (method, path, op) in &own_ops {
            assert!(
                path.starts_with(&format!("/service/{service}/v1")),
                "{path}"
            );
            let listed = merged_ops
                .iter()
                .find(|(m, p, _)| m == method && p == path)
                .unwrap_or_else(|| panic!("{method} {path} of {service} is not in /openapi.json"));
            assert_eq!(listed.2["summary"], op["summary"]);
        }
        total += own_ops.len();
    }
    assert_eq!(
        merged_ops.len(),
        total,
        "the gateway's document adds nothing of its own"
    );

    // And the routers answer every documented operation (never "no such route").
    let http = client();
    for (method, path, _) in &merged_ops {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "e2e-probe" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let response = http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                stack.url(&concrete),
            )
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(status < 500, "{method} {concrete}: {status} {body}");
        assert_ne!(
            status, 405,
            "{method} {concrete} is documented but not routed"
        );
        assert!(
            !(status == 404 && (message == "Not Found" || message == "no route for this path")),
            "{method} {concrete} is documented but not routed: {body}"
        );
    }
}

#[tokio::test]
async fn the_docs_page_loads_a_pinned_viewer_under_a_strict_policy() {
    let stack = Stack::start().await;
    let page = client().get(stack.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src 'unsafe-inline'"),
        "{csp}"
    );
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("swagger-ui-bundle.js\" integrity=\"sha384-"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "no inline script: {html}");
    let init = client()
        .get(stack.url("/docs/init.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("'/openapi.json'"));
}
