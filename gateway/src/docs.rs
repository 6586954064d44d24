//! The API's documents: `/openapi.json` merges the document every service generates from its
//! own routes (served at the service's root, not through the proxy); `/docs` is a page that
//! renders it. Both are public: they describe the API, every call of which needs the key.

use serde_json::{json, Map, Value};

use crate::routes::ServiceId;

/// The viewer the docs page loads in the browser (the gateway itself downloads nothing). The
/// integrity hashes pin the exact files (`npm pack swagger-ui-dist@<v>`, then
/// `openssl dgst -sha384 -binary <file> | base64`), so a compromised CDN cannot serve other code.
const VIEWER_VERSION: &str = "5.32.0";
const VIEWER_SCRIPT_INTEGRITY: &str =
    "sha384-7xcoc6ZKDFF7Ek627QTC3Bg/K+5Y36NJ8MWAE43D2m6+3Sh9XO3tdsfHhrS8gNIQ";
const VIEWER_STYLE_INTEGRITY: &str =
    "sha384-3nuX7df3EaAoiqLBeyS1Ola0Gpg9ryJKVtarubwfnA1cOH8AWHUdbPSIvEqPZ9VH";

/// The documents to merge: each service's fresh one, or else the last one it served (`last`,
/// by service), so the page neither shrinks while a service restarts nor tells callers without
/// a key which service is down. Also whether some service has served none yet.
pub fn with_last_served(
    fetched: Vec<(ServiceId, Option<Value>)>,
    last: &mut [Option<Value>],
) -> (Vec<(ServiceId, Value)>, bool) {
    let mut documents = Vec::new();
    let mut incomplete = false;
    for (service, fresh) in fetched {
        let slot = &mut last[service.index()];
        if fresh.is_some() {
            *slot = fresh;
        }
        match slot {
            Some(document) => documents.push((service, document.clone())),
            None => incomplete = true,
        }
    }
    (documents, incomplete)
}

/// Merges the services' documents into one; `incomplete` when some service has none yet.
/// Paths never collide (each service owns its `/service/<name>/v1` prefix); a schema name two
/// services define differently is renamed `<Service><Name>` in the second, with its references
/// rewritten.
pub fn merge(documents: Vec<(ServiceId, Value)>, incomplete: bool) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut schemes = Map::new();
    let mut tags = Vec::new();
    for (service, mut document) in documents {
        let own = document["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, schema) in &own {
            match schemas.get(name) {
                Some(existing) if existing != schema => {
                    let renamed = format!("{}{name}", capitalized(service.name()));
                    rename_refs(&mut document, name, &renamed);
                }
                _ => {}
            }
        }
        if let Some(own) = document["components"]["schemas"].as_object() {
            for (name, schema) in own {
                schemas
                    .entry(name.clone())
                    .or_insert_with(|| schema.clone());
            }
        }
        if let Some(own) = document["components"]["securitySchemes"].as_object() {
            for (name, scheme) in own {
                schemes
                    .entry(name.clone())
                    .or_insert_with(|| scheme.clone());
            }
        }
        if let Some(own) = document["paths"].as_object() {
            paths.extend(own.clone());
        }
        tags.push(json!({"name": service.name(), "description": format!("The {} service", service.name())}));
    }
    let mut description = String::from(
        "Every route is reached through the gateway and needs `X-API-Key` (except Stripe's \
         webhook, which is signed). Routes with the `bearer` requirement also need a session \
         token from `POST /service/auth/v1/signin`.",
    );
    if incomplete {
        description
            .push_str("\n\nSome services have not answered yet: their routes are not listed.");
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Coglex API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": description,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": schemes},
    })
}

/// Renames `#/components/schemas/<from>` references (and the schema itself) in `document`.
fn rename_refs(document: &mut Value, from: &str, to: &str) {
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        if let Some(schema) = schemas.remove(from) {
            schemas.insert(to.to_owned(), schema);
        }
    }
    let (old, new) = (
        format!("#/components/schemas/{from}"),
        format!("#/components/schemas/{to}"),
    );
    rewrite(document, &old, &new);
}

fn rewrite(value: &mut Value, old: &str, new: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref" && child.as_str() == Some(old) {
                    *child = Value::String(new.to_owned());
                } else {
                    rewrite(child, old, new);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|child| rewrite(child, old, new)),
        _ => {}
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The docs page: Swagger UI rendering `/openapi.json`.
pub fn page() -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Coglex API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@{v}/swagger-ui.css" integrity="{css}" crossorigin="anonymous">
</head>
<body>
<div id="docs"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@{v}/swagger-ui-bundle.js" integrity="{js}" crossorigin="anonymous"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"#,
        v = VIEWER_VERSION,
        css = VIEWER_STYLE_INTEGRITY,
        js = VIEWER_SCRIPT_INTEGRITY,
    )
}

/// Starts the viewer; a separate file so the page's CSP needs no inline script.
pub const INIT_SCRIPT: &str =
    "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs', deepLinking: true });\n";

/// Only the pinned CDN and the gateway itself may provide code and styles to the page.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net; \
     style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, schemas: Value) -> Value {
        json!({
            "paths": {path: {"get": {"responses": {"200": {"content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
            "components": {"schemas": schemas, "securitySchemes": {"api_key": {"type": "apiKey"}}},
        })
    }

    #[test]
    fn paths_and_shared_schemas_are_merged_once() {
        let error = json!({"type": "object"});
        let merged = merge(
            vec![
                (
                    ServiceId::Auth,
                    doc(
                        "/service/auth/v1/a",
                        json!({"Item": {"type": "string"}, "Error": error}),
                    ),
                ),
                (
                    ServiceId::Storage,
                    doc(
                        "/service/storage/v1/b",
                        json!({"Item": {"type": "string"}, "Error": error}),
                    ),
                ),
            ],
            false,
        );
        assert_eq!(merged["paths"].as_object().unwrap().len(), 2);
        assert_eq!(
            merged["components"]["schemas"].as_object().unwrap().len(),
            2
        );
        assert_eq!(
            merged["components"]["securitySchemes"]["api_key"]["type"],
            "apiKey"
        );
    }

    #[test]
    fn a_conflicting_schema_name_is_renamed_with_its_references() {
        let merged = merge(
            vec![
                (
                    ServiceId::Auth,
                    doc("/service/auth/v1/a", json!({"Item": {"type": "string"}})),
                ),
                (
                    ServiceId::Storage,
                    doc(
                        "/service/storage/v1/b",
                        json!({"Item": {"type": "integer"}}),
                    ),
                ),
            ],
            true,
        );
        let schemas = &merged["components"]["schemas"];
        assert_eq!(schemas["Item"]["type"], "string");
        assert_eq!(schemas["StorageItem"]["type"], "integer");
        let reference = &merged["paths"]["/service/storage/v1/b"]["get"]["responses"]["200"]
            ["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(reference, "#/components/schemas/StorageItem");
        let unchanged = &merged["paths"]["/service/auth/v1/a"]["get"]["responses"]["200"]
            ["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(unchanged, "#/components/schemas/Item");
        assert!(merged["info"]["description"]
            .as_str()
            .unwrap()
            .contains("not answered yet"));
    }

    #[test]
    fn a_service_that_does_not_answer_keeps_the_document_it_served_last() {
        let mut last: [Option<Value>; ServiceId::ALL.len()] = Default::default();
        let auth = || doc("/service/auth/v1/a", json!({}));
        let storage = || doc("/service/storage/v1/b", json!({}));
        let (documents, incomplete) = with_last_served(
            vec![(ServiceId::Auth, Some(auth())), (ServiceId::Storage, None)],
            &mut last,
        );
        assert_eq!(documents, [(ServiceId::Auth, auth())]);
        assert!(incomplete, "storage has served nothing yet");

        let both = vec![
            (ServiceId::Auth, Some(auth())),
            (ServiceId::Storage, Some(storage())),
        ];
        assert!(!with_last_served(both, &mut last).1);
        // Auth is down now: its last document stands in, and nothing tells it is missing.
        let (documents, incomplete) = with_last_served(
            vec![
                (ServiceId::Auth, None),
                (ServiceId::Storage, Some(storage())),
            ],
            &mut last,
        );
        assert_eq!(
            documents,
            [(ServiceId::Auth, auth()), (ServiceId::Storage, storage())]
        );
        assert!(!incomplete);
        let merged = merge(documents, incomplete);
        assert!(merged["paths"]["/service/auth/v1/a"].is_object());
        let description = merged["info"]["description"].as_str().unwrap();
        assert!(!description.contains("not answered"), "{description}");
    }
}
