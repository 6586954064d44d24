//! Gateway settings. Names follow the services' conventions; every value has a default that
//! matches the local stack (services on 127.0.0.1:8081..8085, gateway on 8080).

use std::time::Duration;

use coglex_common::config::{comma_list, ConfigError};
use serde::Deserialize;

use crate::h2c::Http2Settings;
use crate::routes::ServiceId;

#[derive(Debug, Clone, Deserialize)]
pub struct GatewaySettings {
    /// Base URL of auth-svc (`AUTH_SVC_URL`).
    #[serde(default = "defaults::auth_url")]
    pub auth_svc_url: String,
    /// Base URL of storage-svc (`STORAGE_SVC_URL`).
    #[serde(default = "defaults::storage_url")]
    pub storage_svc_url: String,
    /// Base URL of archive-svc (`ARCHIVE_SVC_URL`).
    #[serde(default = "defaults::archive_url")]
    pub archive_svc_url: String,
    /// Base URL of payment-svc (`PAYMENT_SVC_URL`).
    #[serde(default = "defaults::payment_url")]
    pub payment_svc_url: String,
    /// Base URL of generation-svc (`GENERATION_SVC_URL`).
    #[serde(default = "defaults::generation_url")]
    pub generation_svc_url: String,

    /// Milliseconds a client has to send its request head; stops slowloris (`HEADER_READ_TIMEOUT_MS`).
    #[serde(default = "defaults::header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// Milliseconds a response may wait for a client that has stopped reading before its
    /// connection is closed (`CLIENT_SEND_TIMEOUT_MS`, like nginx's `send_timeout`).
    #[serde(default = "defaults::client_send_timeout_ms")]
    pub client_send_timeout_ms: u64,
    /// Client connections served at once, over all event loops (`MAX_CONNECTIONS`); a
    /// connection over it gets one answer (503, or the gateway's health) and is closed.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Milliseconds to connect to a service before answering 502 (`UPSTREAM_CONNECT_TIMEOUT_MS`).
    #[serde(default = "defaults::upstream_connect_timeout_ms")]
    pub upstream_connect_timeout_ms: u64,
    /// Milliseconds for a service to start its response before answering 504
    /// (`UPSTREAM_RESPONSE_TIMEOUT_MS`), counted from the last piece of the request body the
    /// client sent: a slow upload still moving is not cut. Streaming responses are not cut
    /// by it either.
    #[serde(default = "defaults::upstream_response_timeout_ms")]
    pub upstream_response_timeout_ms: u64,
    /// Milliseconds a service's response body may stop moving before it is cut and the
    /// client's connection closed (`UPSTREAM_BODY_IDLE_TIMEOUT_MS`): a service that stalled
    /// after its head cannot hold a connection forever. generation-svc ends a silent event
    /// stream itself after `GENERATION_STREAM_IDLE_TIMEOUT_MS`, which must stay below this so
    /// its client gets the error event rather than a cut connection.
    #[serde(default = "defaults::upstream_body_idle_timeout_ms")]
    pub upstream_body_idle_timeout_ms: u64,
    /// Longest a request may take before its response starts, upload included
    /// (`UPSTREAM_REQUEST_MAX_MS`): a body still arriving then is cut with 408, so one that
    /// trickles in cannot hold a connection forever.
    #[serde(default = "defaults::upstream_request_max_ms")]
    pub upstream_request_max_ms: u64,
    /// The same for generation-svc (`GENERATION_UPSTREAM_RESPONSE_TIMEOUT_MS`): a generation
    /// may take up to its service's `GENERATION_TIMEOUT_MS` (120 s), which answers 504 itself.
    #[serde(default = "defaults::generation_upstream_response_timeout_ms")]
    pub generation_upstream_response_timeout_ms: u64,
    /// Speak HTTP/2 (h2c) to the services, over a few connections per event loop that all
    /// clients share (`UPSTREAM_HTTP2`); false (the default): one HTTP/1.1 connection per
    /// client connection. HTTP/2 pays on light routes and costs on heavy ones
    /// (bench/README.md).
    #[serde(default = "defaults::upstream_http2")]
    pub upstream_http2: bool,
    /// Per-service overrides of `UPSTREAM_HTTP2` (`AUTH_UPSTREAM_HTTP2`,
    /// `STORAGE_UPSTREAM_HTTP2`, ...): e.g. HTTP/2 to a service of light, frequent routes and
    /// HTTP/1.1 to one of heavy ones.
    #[serde(default)]
    pub auth_upstream_http2: Option<bool>,
    #[serde(default)]
    pub storage_upstream_http2: Option<bool>,
    #[serde(default)]
    pub archive_upstream_http2: Option<bool>,
    #[serde(default)]
    pub payment_upstream_http2: Option<bool>,
    #[serde(default)]
    pub generation_upstream_http2: Option<bool>,
    /// Shared HTTP/2 connections per service and event loop (`UPSTREAM_HTTP2_CONNECTIONS`).
    #[serde(default = "defaults::upstream_http2_connections")]
    pub upstream_http2_connections: usize,
    /// Seconds a shared HTTP/2 connection takes new requests, so that traffic spreads over
    /// service replicas as they scale (`UPSTREAM_HTTP2_MAX_AGE_SECS`).
    #[serde(default = "defaults::upstream_http2_max_age_secs")]
    pub upstream_http2_max_age_secs: u64,
    /// Idle keep-alive connections kept per service (`UPSTREAM_POOL_MAX_IDLE`).
    #[serde(default = "defaults::upstream_pool_max_idle")]
    pub upstream_pool_max_idle: usize,

    /// Largest request body in bytes for services without their own limit (`BODY_LIMIT_BYTES`).
    #[serde(default = "defaults::body_limit_bytes")]
    pub body_limit_bytes: u64,
    /// Largest upload to archive-svc, in bytes (`ARCHIVE_BODY_LIMIT_BYTES`); the service
    /// enforces `MAX_CONTENT_LENGTH` on the file itself.
    #[serde(default = "defaults::archive_body_limit_bytes")]
    pub archive_body_limit_bytes: u64,
    /// Largest request to generation-svc, in bytes (`GENERATION_BODY_LIMIT_BYTES`).
    #[serde(default = "defaults::generation_body_limit_bytes")]
    pub generation_body_limit_bytes: u64,

    /// Requests per second each client (API key + IP) may make to a service (`RATE_LIMIT_RPS`); 0 turns limiting off.
    #[serde(default = "defaults::rate_limit_rps")]
    pub rate_limit_rps: u32,
    /// Requests a client may make at once above the steady rate (`RATE_LIMIT_BURST`).
    #[serde(default = "defaults::rate_limit_burst")]
    pub rate_limit_burst: u32,
    /// Per-service overrides of the rate (`AUTH_RATE_LIMIT_RPS`, `STORAGE_RATE_LIMIT_RPS`, ...).
    #[serde(default)]
    pub auth_rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub storage_rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub archive_rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub payment_rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub generation_rate_limit_rps: Option<u32>,

    /// Origins allowed to call the API from a browser, exact matches (`CORS_ALLOWED_ORIGINS`).
    #[serde(default, deserialize_with = "comma_list")]
    pub cors_allowed_origins: Vec<String>,
    /// Whether browsers may send credentials cross-origin (`CORS_ALLOW_CREDENTIALS`).
    #[serde(default)]
    pub cors_allow_credentials: bool,
    /// Proxies in front of the gateway whose `X-Forwarded-*` headers are believed, as IPs or
    /// CIDRs (`TRUSTED_PROXIES`). Everyone else's are replaced.
    #[serde(default, deserialize_with = "comma_list")]
    pub trusted_proxies: Vec<String>,
}

mod defaults {
    pub fn auth_url() -> String {
        "http://127.0.0.1:8081".into()
    }
    pub fn storage_url() -> String {
        "http://127.0.0.1:8082".into()
    }
    pub fn archive_url() -> String {
        "http://127.0.0.1:8083".into()
    }
    pub fn payment_url() -> String {
        "http://127.0.0.1:8084".into()
    }
    pub fn generation_url() -> String {
        "http://127.0.0.1:8085".into()
    }
    pub fn header_read_timeout_ms() -> u64 {
        10_000
    }
    pub fn client_send_timeout_ms() -> u64 {
        60_000
    }
    pub fn max_connections() -> usize {
        4_096
    }
    pub fn upstream_connect_timeout_ms() -> u64 {
        2_000
    }
    pub fn upstream_response_timeout_ms() -> u64 {
        60_000
    }
    pub fn upstream_body_idle_timeout_ms() -> u64 {
        300_000
    }
    pub fn upstream_request_max_ms() -> u64 {
        600_000
    }
    pub fn generation_upstream_response_timeout_ms() -> u64 {
        130_000
    }
    pub fn upstream_http2() -> bool {
        false
    }
    pub fn upstream_http2_connections() -> usize {
        1
    }
    pub fn upstream_http2_max_age_secs() -> u64 {
        30
    }
    pub fn upstream_pool_max_idle() -> usize {
        256
    }
    pub fn body_limit_bytes() -> u64 {
        1024 * 1024
    }
    /// Above archive-svc's 16 MiB file limit, with room for the multipart framing.
    pub fn archive_body_limit_bytes() -> u64 {
        17 * 1024 * 1024
    }
    /// Above generation-svc's 32 MiB file limit, with room for the multipart framing.
    pub fn generation_body_limit_bytes() -> u64 {
        33 * 1024 * 1024
    }
    pub fn rate_limit_rps() -> u32 {
        100
    }
    pub fn rate_limit_burst() -> u32 {
        200
    }
}

impl GatewaySettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cors_allow_credentials && self.cors_allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError(
                "CORS_ALLOWED_ORIGINS may not contain `*` while CORS_ALLOW_CREDENTIALS is true"
                    .into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) || self.client_send_timeout_ms == 0 {
            return Err(ConfigError(
                "MAX_CONNECTIONS must be from 1 to 1000000 and CLIENT_SEND_TIMEOUT_MS positive"
                    .into(),
            ));
        }
        if self.upstream_body_idle_timeout_ms == 0 {
            return Err(ConfigError(
                "UPSTREAM_BODY_IDLE_TIMEOUT_MS must be positive".into(),
            ));
        }
        if !(1..=64).contains(&self.upstream_http2_connections)
            || self.upstream_http2_max_age_secs == 0
        {
            return Err(ConfigError(
                "UPSTREAM_HTTP2_CONNECTIONS must be from 1 to 64 and UPSTREAM_HTTP2_MAX_AGE_SECS positive"
                    .into(),
            ));
        }
        for service in ServiceId::ALL {
            let url = self.upstream_url(service);
            let parsed: http::Uri = url.parse().map_err(|_| {
                ConfigError(format!(
                    "{} is not a valid URL: {url}",
                    service.url_setting()
                ))
            })?;
            if parsed.scheme_str() != Some("http") || parsed.authority().is_none() {
                return Err(ConfigError(format!(
                    "{} must be an http:// URL with a host (services talk plain HTTP inside the cluster)",
                    service.url_setting()
                )));
            }
            // Requests keep their own path (`/service/<name>/v1/...`): a prefix here would
            // be dropped, so it is refused rather than ignored.
            if parsed.path_and_query().is_some_and(|p| p.as_str() != "/") {
                return Err(ConfigError(format!(
                    "{} must be the service's origin, without a path or query: {url}",
                    service.url_setting()
                )));
            }
        }
        Ok(())
    }

    /// How service connections are shared, when any service is spoken to in HTTP/2.
    pub fn http2(&self) -> Option<Http2Settings> {
        ServiceId::ALL
            .into_iter()
            .any(|service| self.upstream_http2(service))
            .then(|| Http2Settings {
                connections: self.upstream_http2_connections,
                max_age: Duration::from_secs(self.upstream_http2_max_age_secs),
            })
    }

    /// Whether `service` is spoken to in HTTP/2 over shared connections.
    pub fn upstream_http2(&self, service: ServiceId) -> bool {
        let specific = match service {
            ServiceId::Auth => self.auth_upstream_http2,
            ServiceId::Storage => self.storage_upstream_http2,
            ServiceId::Archive => self.archive_upstream_http2,
            ServiceId::Payment => self.payment_upstream_http2,
            ServiceId::Generation => self.generation_upstream_http2,
        };
        specific.unwrap_or(self.upstream_http2)
    }

    pub fn upstream_url(&self, service: ServiceId) -> &str {
        match service {
            ServiceId::Auth => &self.auth_svc_url,
            ServiceId::Storage => &self.storage_svc_url,
            ServiceId::Archive => &self.archive_svc_url,
            ServiceId::Payment => &self.payment_svc_url,
            ServiceId::Generation => &self.generation_svc_url,
        }
    }

    pub fn body_limit(&self, service: ServiceId) -> u64 {
        match service {
            ServiceId::Archive => self.archive_body_limit_bytes,
            ServiceId::Generation => self.generation_body_limit_bytes,
            _ => self.body_limit_bytes,
        }
    }

    /// How long `service` may take to start its response.
    pub fn response_timeout(&self, service: ServiceId) -> Duration {
        Duration::from_millis(match service {
            ServiceId::Generation => self.generation_upstream_response_timeout_ms,
            _ => self.upstream_response_timeout_ms,
        })
    }

    pub fn rate_limit_rps(&self, service: ServiceId) -> u32 {
        let specific = match service {
            ServiceId::Auth => self.auth_rate_limit_rps,
            ServiceId::Storage => self.storage_rate_limit_rps,
            ServiceId::Archive => self.archive_rate_limit_rps,
            ServiceId::Payment => self.payment_rate_limit_rps,
            ServiceId::Generation => self.generation_rate_limit_rps,
        };
        specific.unwrap_or(self.rate_limit_rps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: serde_json::Value) -> GatewaySettings {
        serde_json::from_value(pairs).expect("settings")
    }

    #[test]
    fn a_service_url_must_be_a_plain_http_origin() {
        for (url, fine) in [
            ("http://storage:8080", true),
            ("http://storage:8080/", true),
            ("http://[::1]:8080", true),
            ("https://storage:8080", false),
            ("http://storage:8080/prefix", false),
            ("http://storage:8080/?a=1", false),
            ("storage:8080", false),
        ] {
            let tuned = settings(serde_json::json!({ "storage_svc_url": url }));
            assert_eq!(tuned.validate().is_ok(), fine, "{url}");
        }
    }

    #[test]
    fn generation_waits_longer_than_its_own_generation_timeout() {
        let defaults = settings(serde_json::json!({}));
        assert_eq!(
            defaults.response_timeout(ServiceId::Generation),
            Duration::from_secs(130)
        );
        for service in [
            ServiceId::Auth,
            ServiceId::Storage,
            ServiceId::Archive,
            ServiceId::Payment,
        ] {
            assert_eq!(defaults.response_timeout(service), Duration::from_secs(60));
        }
        let tuned = settings(serde_json::json!({
            "upstream_response_timeout_ms": 5000,
            "generation_upstream_response_timeout_ms": 9000,
        }));
        assert_eq!(
            tuned.response_timeout(ServiceId::Storage),
            Duration::from_secs(5)
        );
        assert_eq!(
            tuned.response_timeout(ServiceId::Generation),
            Duration::from_secs(9)
        );
    }
}
