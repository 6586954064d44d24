//! A service's routes, each registered together with its OpenAPI description.
//!
//! Services never touch actix's `ServiceConfig` directly: every route goes through
//! [`Routes::add`] (or [`Routes::add_public`]) with the `#[utoipa::path]` description of its
//! handler, so the router and the served `/openapi.json` are built from one list and cannot
//! disagree. The method and path come from the description itself.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder, Route};
use serde_json::{json, Value};
use utoipa::__dev::SchemaReferences;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::RefOr;

/// The security scheme names the descriptions use: `security(("bearer" = []))`.
pub const API_KEY_SCHEME: &str = "api_key";
pub const BEARER_SCHEME: &str = "bearer";

type MakeRoute = Arc<dyn Fn() -> Route + Send + Sync>;

struct Entry {
    /// Relative to the service prefix, as written in `#[utoipa::path(path = ...)]`.
    path: String,
    method: Method,
    /// Reachable without `X-API-Key`.
    public: bool,
    make: MakeRoute,
}

/// Every route of a service with its description. Built once at start-up; the router is
/// assembled from it on every actix worker.
#[derive(Default)]
pub struct Routes {
    entries: Vec<Entry>,
    /// `(path, method, operation)` in registration order.
    operations: Vec<(String, HttpMethod, Operation)>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Routes {
    /// A route that needs `X-API-Key` (on top of whatever its description's `security` says).
    pub fn add<P, H, Args>(&mut self, doc: P, handler: H) -> &mut Self
    where
        P: utoipa::Path + SchemaReferences,
        H: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        H::Output: Responder + 'static,
    {
        self.register(doc, handler, false)
    }

    /// A route reachable without `X-API-Key`, for callers that cannot send it and prove
    /// themselves otherwise (Stripe's webhook signs its body).
    pub fn add_public<P, H, Args>(&mut self, doc: P, handler: H) -> &mut Self
    where
        P: utoipa::Path + SchemaReferences,
        H: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        H::Output: Responder + 'static,
    {
        self.register(doc, handler, true)
    }

    fn register<P, H, Args>(&mut self, _doc: P, handler: H, public: bool) -> &mut Self
    where
        P: utoipa::Path + SchemaReferences,
        H: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        H::Output: Responder + 'static,
    {
        let path = P::path();
        let operation = with_security(P::operation(), public);
        P::schemas(&mut self.schemas);
        for http_method in P::methods() {
            let method = actix_method(&http_method);
            assert!(
                !self
                    .entries
                    .iter()
                    .any(|e| e.path == path && e.method == method),
                "{method} {path} is registered twice"
            );
            let handler = handler.clone();
            let route_method = method.clone();
            self.entries.push(Entry {
                path: path.clone(),
                method,
                public,
                make: Arc::new(move || web::method(route_method.clone()).to(handler.clone())),
            });
            self.operations
                .push((path.clone(), http_method, operation.clone()));
        }
        self
    }

    /// Mounts the public (`public == true`) or key-protected routes on `cfg`, one resource per
    /// path so a wrong method on a known path answers 405, in registration order (a catch-all
    /// segment such as `/{user_key}` must come after the fixed paths).
    pub(crate) fn mount(&self, cfg: &mut web::ServiceConfig, public: bool) {
        let mut seen: Vec<&str> = Vec::new();
        for entry in self.entries.iter().filter(|e| e.public == public) {
            if seen.contains(&entry.path.as_str()) {
                continue;
            }
            seen.push(&entry.path);
            assert!(
                !self
                    .entries
                    .iter()
                    .any(|e| e.path == entry.path && e.public != public),
                "{} mixes public and key-protected methods",
                entry.path
            );
            // The service root answers with and without its trailing slash.
            let patterns = if entry.path == "/" {
                vec!["".to_owned(), "/".to_owned()]
            } else {
                vec![entry.path.clone()]
            };
            let mut resource = web::resource(patterns);
            for same_path in self.entries.iter().filter(|e| e.path == entry.path) {
                resource = resource.route((same_path.make)());
            }
            cfg.service(resource);
        }
    }

    /// The OpenAPI 3.1 document of these routes, mounted under `prefix` (`/service/<name>/v1`).
    pub fn openapi(&self, service: &str, prefix: &str) -> Value {
        let mut path_items = serde_json::Map::new();
        for (path, method, operation) in &self.operations {
            let full_path = match path.as_str() {
                "/" => format!("{prefix}/"),
                p => format!("{prefix}{p}"),
            };
            let mut op = serde_json::to_value(operation).expect("operations serialise");
            op["tags"] = json!([service]);
            let id = op["operationId"].as_str().unwrap_or("operation").to_owned();
            op["operationId"] = json!(format!("{service}_{id}"));
            op["responses"]
                .as_object_mut()
                .expect("responses is an object")
                .entry("default")
                .or_insert_with(|| {
                    json!({
                        "description": "An error: `{\"error\": {\"code\", \"message\"}, \"request_id\"}`",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                    })
                });
            let item = path_items
                .entry(full_path)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("path items are objects");
            item.insert(method_name(method).to_owned(), op);
        }
        let mut schemas = serde_json::Map::new();
        for (name, schema) in &self.schemas {
            schemas.insert(
                name.clone(),
                serde_json::to_value(schema).expect("schemas serialise"),
            );
        }
        schemas.insert("Error".to_owned(), error_schema());
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": format!("Coglex {service} service"),
                "version": env!("CARGO_PKG_VERSION"),
            },
            "paths": path_items,
            "components": {
                "schemas": schemas,
                "securitySchemes": security_schemes(),
            },
        })
    }
}

/// ANDs the API key into every security requirement of a key-protected operation.
fn with_security(mut operation: Operation, public: bool) -> Operation {
    if public {
        return operation;
    }
    let requirements = operation
        .security
        .take()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| vec![SecurityRequirement::default()]);
    let with_key = requirements
        .into_iter()
        .map(|requirement| {
            let mut value = serde_json::to_value(&requirement).expect("requirements serialise");
            value[API_KEY_SCHEME] = json!([]);
            serde_json::from_value(value).expect("requirements deserialise")
        })
        .collect();
    operation.security = Some(with_key);
    operation
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

/// `{"error": {"code", "message"}, "request_id"}`: every error of every service and the gateway.
/// Descriptions name it as `body = ErrorBody`; it is the `Error` schema of the document.
#[derive(Debug)]
pub struct ErrorBody;

impl utoipa::PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        serde_json::from_value(error_schema()).expect("the error schema is a valid schema")
    }
}

impl utoipa::ToSchema for ErrorBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "Error".into()
    }
}

fn error_schema() -> Value {
    let codes: Vec<&str> = crate::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    json!({
        "type": "object",
        "required": ["error", "request_id"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": codes},
                    "message": {"type": "string"},
                },
            },
            "request_id": {"type": "string"},
        },
    })
}

fn security_schemes() -> Value {
    json!({
        API_KEY_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "One of the deployment's API keys (`API_KEYS`). Required on every route except Stripe's webhook.",
        },
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A session token from `POST /service/auth/v1/signin` (`access_token`).",
        },
    })
}
