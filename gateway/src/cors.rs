//! CORS (Fetch standard): only configured origins get `Access-Control-Allow-Origin`, echoed
//! exactly, never reflected blindly; `*` is allowed only without credentials. Preflights are
//! answered here and never reach a service.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::respond::{GatewayError, ProxyBody};

const ALLOW_METHODS: HeaderValue =
    HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static(
    "authorization, content-type, x-api-key, x-request-id, idempotency-key, range, if-none-match",
);
const EXPOSE_HEADERS: HeaderValue =
    HeaderValue::from_static("x-request-id, retry-after, content-disposition, etag, content-range");
const MAX_AGE: HeaderValue = HeaderValue::from_static("600");

#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<HeaderValue>,
    any_origin: bool,
    credentials: bool,
}

impl Cors {
    pub fn new(origins: &[String], credentials: bool) -> Self {
        Self {
            any_origin: origins.iter().any(|o| o == "*"),
            origins: origins
                .iter()
                .filter(|o| *o != "*")
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
            credentials,
        }
    }

    /// The value of `Access-Control-Allow-Origin` for this origin, if it is allowed.
    fn allowed(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.origins.iter().any(|o| o == origin) {
            Some(origin.clone())
        } else if self.any_origin {
            Some(HeaderValue::from_static("*"))
        } else {
            None
        }
    }

    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Answers a preflight: 204 with the allowed methods and headers, or 403.
    pub fn preflight(&self, headers: &HeaderMap, request_id: &str) -> Response<ProxyBody> {
        let origin = headers.get(header::ORIGIN);
        let Some(allowed) = origin.and_then(|o| self.allowed(o)) else {
            return GatewayError::Forbidden("this origin is not allowed").to_response(request_id);
        };
        let mut response = crate::respond::json_response(StatusCode::NO_CONTENT, Vec::new());
        response.headers_mut().remove(header::CONTENT_TYPE);
        let out = response.headers_mut();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        out.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        response
    }

    /// Adds CORS headers to an actual response for an allowed origin.
    pub fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        // The answer depends on the origin whenever origins are listed, allowed or not: a
        // shared cache must not hand one origin's answer to another.
        if !self.origins.is_empty() {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        let Some(allowed) = origin.and_then(|o| self.allowed(o)) else {
            return;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_origins_are_echoed() {
        let cors = Cors::new(&["https://app.example".into()], true);
        let mut headers = HeaderMap::new();
        cors.decorate(
            Some(&HeaderValue::from_static("https://evil.example")),
            &mut headers,
        );
        assert_eq!(headers.len(), 1, "only Vary: {headers:?}");
        assert_eq!(headers[header::VARY], "origin");
        let mut headers = HeaderMap::new();
        cors.decorate(None, &mut headers);
        assert_eq!(
            headers[header::VARY],
            "origin",
            "no origin is an answer too"
        );
        cors.decorate(
            Some(&HeaderValue::from_static("https://app.example")),
            &mut headers,
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    }

    #[test]
    fn wildcard_answers_star_not_the_origin() {
        let cors = Cors::new(&["*".into()], false);
        let mut headers = HeaderMap::new();
        cors.decorate(
            Some(&HeaderValue::from_static("https://any.example")),
            &mut headers,
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }
}
