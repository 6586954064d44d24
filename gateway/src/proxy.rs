//! The request path of the gateway, from the client's request to the service's response.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coglex_common::config::{ApiKeySettings, ConfigError};
use coglex_common::request_id;
use coglex_common::secret::KeySet;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Either, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::GatewaySettings;
use crate::cors::Cors;
use crate::docs;
use crate::forwarding::{
    authority_host, check_framing, check_method, ip_value, set_forwarded, strip_hop_by_hop,
    TrustedProxies, X_API_KEY, X_REAL_IP, X_REQUEST_ID,
};
use crate::h2c::{Http2Settings, SharedUpstreams};
use crate::head_scan::FramingFlag;
use crate::idle_body::IdleLimited;
use crate::limits::RateLimit;
use crate::memo::Memo;
use crate::metrics::{Metrics, UpstreamErrorKind};
use crate::respond::{GatewayError, ProxyBody};
use crate::routes::{self, ServiceId, STRIPE_WEBHOOK_PATH};
use crate::upstream::{BodyProgress, Capped, ConnUpstreams, UpstreamBody, UpstreamError};

/// How long `/ready` waits for each service's `/health`.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a readiness answer is reused: `/ready` needs no key.
const READY_TTL: Duration = Duration::from_secs(1);

struct Upstream {
    service: ServiceId,
    scheme: Scheme,
    authority: Authority,
    /// `Host` for requests to the service: its authority.
    host: HeaderValue,
    body_limit: u64,
    rate: RateLimit,
    /// Spoken to in HTTP/2 over the event loop's shared connections.
    http2: bool,
    /// How long it may take to start a response once the request's body stopped moving.
    response_timeout: Duration,
    /// How long its response body may stop moving before it is cut.
    body_idle_timeout: Duration,
}

impl Upstream {
    /// `path_and_query` at the service, as an absolute URI.
    fn uri(&self, path_and_query: PathAndQuery) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).expect("scheme, authority and path make a URI")
    }

    /// A bodiless GET of one of the service's own root paths (`/health`, `/openapi.json`), for
    /// the gateway's shared client.
    fn get(&self, path: &'static str) -> Request<UpstreamBody> {
        Request::get(self.uri(PathAndQuery::from_static(path)))
            .body(Either::Right(Empty::new()))
            .expect("a GET with a valid URI builds")
    }
}

/// One client connection, as the requests on it see it.
pub struct ClientConn {
    peer: IpAddr,
    /// `peer` as a header value, made once rather than per request.
    peer_value: HeaderValue,
    /// Its own HTTP/1.1 service connections.
    upstreams: ConnUpstreams,
    /// Its event loop's HTTP/2 service connections, used instead for the services spoken to
    /// in HTTP/2.
    shared: Option<Arc<SharedUpstreams>>,
    /// Framing hyper settled on its own that the raw bytes showed was ambiguous.
    framing: FramingFlag,
}

impl ClientConn {
    pub fn new(
        peer: IpAddr,
        upstreams: ConnUpstreams,
        shared: Option<Arc<SharedUpstreams>>,
        framing: FramingFlag,
    ) -> Self {
        Self {
            peer,
            peer_value: ip_value(peer),
            upstreams,
            shared,
            framing,
        }
    }
}

/// Everything the gateway needs per request, shared by all connections.
pub struct Proxy {
    upstreams: Vec<Upstream>,
    client: Client<HttpConnector, UpstreamBody>,
    keys: KeySet,
    admin_keys: KeySet,
    cors: Cors,
    trusted: TrustedProxies,
    connect_timeout: Duration,
    /// Longest an exchange may take before its response starts, upload included.
    request_max: Duration,
    http2: Option<Http2Settings>,
    ids: RequestIds,
    metrics: Metrics,
    /// The `/ready` body while every service answers; `None` while one does not.
    readiness: Memo<Option<Bytes>>,
    document: Memo<Bytes>,
    /// Each service's OpenAPI document as it last served it.
    last_documents: Mutex<[Option<serde_json::Value>; ServiceId::ALL.len()]>,
}

impl Proxy {
    pub fn new(settings: &GatewaySettings, keys: &ApiKeySettings) -> Result<Self, ConfigError> {
        settings.validate()?;
        keys.validate()?;
        let upstreams = ServiceId::ALL
            .into_iter()
            .map(|service| {
                let uri: Uri = settings
                    .upstream_url(service)
                    .parse()
                    .expect("validated above");
                let authority = uri.authority().cloned().expect("validated above");
                Upstream {
                    service,
                    scheme: uri.scheme().cloned().unwrap_or(Scheme::HTTP),
                    host: HeaderValue::from_str(authority.as_str())
                        .expect("an authority is a valid header value"),
                    authority,
                    body_limit: settings.body_limit(service),
                    rate: RateLimit::new(
                        settings.rate_limit_rps(service),
                        settings.rate_limit_burst,
                    ),
                    http2: settings.upstream_http2(service),
                    response_timeout: settings.response_timeout(service),
                    body_idle_timeout: Duration::from_millis(
                        settings.upstream_body_idle_timeout_ms,
                    ),
                }
            })
            .collect();
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(
            settings.upstream_connect_timeout_ms,
        )));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(settings.upstream_pool_max_idle)
            .build(connector);
        Ok(Self {
            upstreams,
            client,
            keys: keys.all_keys(),
            admin_keys: keys.admin_keys(),
            cors: Cors::new(
                &settings.cors_allowed_origins,
                settings.cors_allow_credentials,
            ),
            trusted: TrustedProxies::parse(&settings.trusted_proxies).map_err(ConfigError)?,
            connect_timeout: Duration::from_millis(settings.upstream_connect_timeout_ms),
            request_max: Duration::from_millis(settings.upstream_request_max_ms),
            http2: settings.http2(),
            ids: RequestIds::default(),
            metrics: Metrics::default(),
            readiness: Memo::default(),
            document: Memo::default(),
            last_documents: Mutex::default(),
        })
    }

    /// An event loop's shared HTTP/2 service connections, when any service is spoken to in
    /// HTTP/2.
    pub fn shared_upstreams(&self) -> Option<Arc<SharedUpstreams>> {
        self.http2
            .map(|settings| Arc::new(SharedUpstreams::new(settings)))
    }

    /// Answers one request that came on `client`: always a response, never an error or a
    /// panic.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        client: &ClientConn,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let request_id = self.ids.accept_or_new(request.headers().get(X_REQUEST_ID));
        let origin = request.headers().get(header::ORIGIN).cloned();
        let (service, result) = self.dispatch(request, client, &request_id).await;
        self.finish(service, result, origin, request_id, started)
    }

    /// Answers a request on a connection over `MAX_CONNECTIONS`: the gateway's own health, so
    /// probes still find it alive, and 503 for anything else.
    pub fn handle_over_capacity(&self, request: &Request<Incoming>) -> Response<ProxyBody> {
        let started = Instant::now();
        let request_id = self.ids.accept_or_new(request.headers().get(X_REQUEST_ID));
        let origin = request.headers().get(header::ORIGIN).cloned();
        let result = match request.uri().path() {
            "/health" => Ok(health_response()),
            _ => Err(GatewayError::OverCapacity),
        };
        self.finish(None, result, origin, request_id, started)
    }

    /// What every answer gets: the error as JSON, CORS, the request id, and its metrics.
    fn finish(
        &self,
        service: Option<ServiceId>,
        result: Result<Response<ProxyBody>, GatewayError>,
        origin: Option<HeaderValue>,
        request_id: HeaderValue,
        started: Instant,
    ) -> Response<ProxyBody> {
        let mut response = result.unwrap_or_else(|error| {
            tracing::debug!(?error, "answered by the gateway");
            error.to_response(request_id.to_str().unwrap_or("-"))
        });
        self.cors.decorate(origin.as_ref(), response.headers_mut());
        response.headers_mut().insert(X_REQUEST_ID, request_id);
        self.metrics
            .record(service, response.status().as_u16(), started.elapsed());
        response
    }

    async fn dispatch(
        &self,
        request: Request<Incoming>,
        client: &ClientConn,
        request_id: &HeaderValue,
    ) -> (Option<ServiceId>, Result<Response<ProxyBody>, GatewayError>) {
        match request.uri().path() {
            "/health" => return (None, Ok(health_response())),
            "/ready" => return (None, self.ready().await),
            "/metrics" => return (None, self.metrics_page(&request)),
            "/openapi.json" if request.method() == Method::GET => {
                return (None, Ok(self.openapi().await))
            }
            "/docs" if request.method() == Method::GET => return (None, Ok(docs_page())),
            "/docs/init.js" if request.method() == Method::GET => {
                return (None, Ok(docs_init_script()))
            }
            _ => {}
        }
        if Cors::is_preflight(request.method(), request.headers()) {
            return (
                None,
                Ok(self
                    .cors
                    .preflight(request.headers(), request_id.to_str().unwrap_or("-"))),
            );
        }
        if let Err(error) = check_method(request.method())
            .and_then(|()| check_framing(request.headers()))
            .and_then(|()| match client.framing.refusal() {
                Some(why) => Err(GatewayError::BadFraming(why)),
                None => Ok(()),
            })
        {
            return (None, Err(error));
        }
        let Some(service) = routes::resolve(request.uri().path()) else {
            return (None, Err(GatewayError::NotFound));
        };
        (
            Some(service),
            self.forward(
                &self.upstreams[service.index()],
                request,
                client,
                request_id,
            )
            .await,
        )
    }

    async fn forward(
        &self,
        upstream: &Upstream,
        request: Request<Incoming>,
        client: &ClientConn,
        request_id: &HeaderValue,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let headers = request.headers();
        let exempt =
            request.method() == Method::POST && request.uri().path() == STRIPE_WEBHOOK_PATH;
        // The webhook is keyless: a key sent to it is neither checked nor gives a bucket of its
        // own, so the limit there cannot tell a right key from a made-up one.
        let api_key = if exempt {
            None
        } else {
            match headers
                .get(X_API_KEY)
                .map(|key| self.keys.position(key.as_bytes()))
            {
                None => return Err(GatewayError::MissingApiKey),
                Some(None) => return Err(GatewayError::InvalidApiKey),
                Some(position) => position,
            }
        };
        let peer = client.peer;
        let client_ip = self.trusted.client_ip(peer, headers);
        upstream
            .rate
            .check(client_ip, api_key)
            .map_err(|retry_after_secs| GatewayError::RateLimited { retry_after_secs })?;
        if let Some(length) = headers.get(header::CONTENT_LENGTH) {
            // Framing was checked: the value is all digits; too many digits is too large too.
            let length = length
                .to_str()
                .ok()
                .and_then(|l| l.parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            if length > upstream.body_limit {
                return Err(GatewayError::PayloadTooLarge(upstream.body_limit));
            }
        }

        let (mut parts, body) = request.into_parts();
        // An absolute-form target names the host the client asked for; `Host` is ignored
        // then (RFC 9112 §3.2.2), so `X-Forwarded-Host` says the target's.
        if let Some(host) = parts.uri.authority().and_then(authority_host) {
            parts.headers.insert(header::HOST, host);
        }
        strip_hop_by_hop(&mut parts.headers);
        set_forwarded(
            &mut parts.headers,
            peer,
            &client.peer_value,
            self.trusted.contains(peer),
        );
        parts.headers.insert(X_REQUEST_ID, request_id.clone());
        // Always the gateway's own view of the client: a client-sent value is overwritten.
        let real_ip = if client_ip == peer {
            client.peer_value.clone()
        } else {
            ip_value(client_ip)
        };
        parts.headers.insert(X_REAL_IP, real_ip);
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        // This service's shared HTTP/2 connections, or the client connection's own HTTP/1.1.
        let shared = client.shared.as_ref().filter(|_| upstream.http2);
        if shared.is_some() {
            // HTTP/2 names the service in the URI (`:authority`) rather than in `Host`.
            parts.headers.remove(header::HOST);
            parts.uri = upstream.uri(path_and_query);
            parts.version = Version::HTTP_2;
            // Every request id is new: kept out of HPACK's table, it neither evicts the
            // repeated headers there nor lengthens the chain each lookup of its name walks.
            if let Some(id) = parts.headers.get_mut(X_REQUEST_ID) {
                id.set_sensitive(true);
            }
        } else {
            // Origin form: the connection already goes to the service.
            parts.headers.insert(header::HOST, upstream.host.clone());
            parts.uri = Uri::from(path_and_query);
            parts.version = Version::HTTP_11;
        }
        let limit = usize::try_from(upstream.body_limit).unwrap_or(usize::MAX);
        let (body, progress) = Capped::new(body, limit);
        let outgoing = Request::from_parts(parts, Either::Left(body));

        let (service, authority) = (upstream.service, &upstream.authority);
        let exchange = match shared {
            Some(shared) => futures_util::future::Either::Left(shared.send(
                service,
                authority,
                self.connect_timeout,
                outgoing,
            )),
            None => futures_util::future::Either::Right(client.upstreams.send(
                service,
                authority,
                self.connect_timeout,
                outgoing,
            )),
        };
        let timed = within_time(
            upstream.response_timeout,
            self.request_max,
            &progress,
            exchange,
        );
        let response = match timed.await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                return Err(self.upstream_failure(upstream, &progress, &error));
            }
            Err(TooSlow::Upload) => return Err(GatewayError::RequestTimeout),
            Err(TooSlow::Service) => {
                self.metrics
                    .upstream_error(upstream.service, UpstreamErrorKind::Timeout);
                tracing::warn!(service = upstream.service.name(), "upstream timed out");
                return Err(GatewayError::UpstreamTimeout);
            }
        };
        let (mut parts, body) = response.into_parts();
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            // No upgrade tunnels through the gateway.
            return Err(GatewayError::UpstreamFailed);
        }
        strip_hop_by_hop(&mut parts.headers);
        let body = IdleLimited::new(body, upstream.body_idle_timeout);
        Ok(Response::from_parts(parts, Either::Left(body)))
    }

    /// What a failed exchange tells the client. When the client's body was cut at the
    /// service's limit, or could not be read from the client, the exchange failed because of
    /// it: the client's fault, not the service's, so no upstream error is counted.
    fn upstream_failure(
        &self,
        upstream: &Upstream,
        progress: &BodyProgress,
        error: &UpstreamError,
    ) -> GatewayError {
        if progress.was_cut() {
            return GatewayError::PayloadTooLarge(upstream.body_limit);
        }
        if progress.was_broken() {
            return GatewayError::BadFraming(
                "the request body could not be read: malformed chunks, or it ended early",
            );
        }
        let (kind, error): (_, &(dyn std::error::Error + 'static)) = match error {
            UpstreamError::Connect(error) => (UpstreamErrorKind::Connect, error),
            UpstreamError::Http(error) => (UpstreamErrorKind::Other, error),
        };
        self.metrics.upstream_error(upstream.service, kind);
        tracing::warn!(service = upstream.service.name(), error = %display_chain(error), "upstream failed");
        match kind {
            UpstreamErrorKind::Connect => GatewayError::UpstreamUnreachable,
            _ => GatewayError::UpstreamFailed,
        }
    }

    /// Ready when every service answers its `/health`.
    async fn ready(&self) -> Result<Response<ProxyBody>, GatewayError> {
        let body = self
            .readiness
            .get(async { (self.probe_services().await, READY_TTL) })
            .await;
        match body {
            Some(body) => Ok(json_ok(body)),
            None => Err(GatewayError::Unready),
        }
    }

    async fn probe_services(&self) -> Option<Bytes> {
        let probes = self.upstreams.iter().map(|upstream| async move {
            let request = upstream.get("/health");
            let up = matches!(
                tokio::time::timeout(READY_PROBE_TIMEOUT, self.client.request(request)).await,
                Ok(Ok(response)) if response.status().is_success()
            );
            (upstream.service.name(), up)
        });
        let results = futures_util::future::join_all(probes).await;
        if results.iter().all(|(_, up)| *up) {
            let upstreams: serde_json::Map<String, serde_json::Value> = results
                .iter()
                .map(|(name, _)| ((*name).to_owned(), "up".into()))
                .collect();
            let body = serde_json::json!({ "status": "ready", "upstreams": upstreams });
            return Some(Bytes::from(body.to_string()));
        }
        let down: Vec<&str> = results
            .iter()
            .filter(|(_, up)| !up)
            .map(|(name, _)| *name)
            .collect();
        tracing::warn!(?down, "not ready");
        None
    }

    fn metrics_page(
        &self,
        request: &Request<Incoming>,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        match request.headers().get(X_API_KEY) {
            None => Err(GatewayError::MissingApiKey),
            Some(key) if !self.admin_keys.contains(key.as_bytes()) => {
                Err(GatewayError::InvalidApiKey)
            }
            Some(_) => {
                let mut response =
                    Response::new(Either::Right(Full::new(Bytes::from(self.metrics.render()))));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                Ok(response)
            }
        }
    }

    /// The merged document of every service, fetched by one request at a time and reused
    /// (briefly while a service is missing from it), so the page cannot be used to load the
    /// services.
    async fn openapi(&self) -> Response<ProxyBody> {
        json_ok(self.document.get(self.merge_documents()).await)
    }

    async fn merge_documents(&self) -> (Bytes, Duration) {
        let fetches = self.upstreams.iter().map(|upstream| async move {
            let request = upstream.get("/openapi.json");
            let document = async {
                let response = self.client.request(request).await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                    .collect()
                    .await
                    .ok()?
                    .to_bytes();
                serde_json::from_slice::<serde_json::Value>(&body).ok()
            };
            let document = tokio::time::timeout(DOCUMENT_FETCH_TIMEOUT, document)
                .await
                .ok()
                .flatten();
            (upstream.service, document)
        });
        let fetched = futures_util::future::join_all(fetches).await;
        let missing: Vec<&str> = fetched
            .iter()
            .filter(|(_, document)| document.is_none())
            .map(|(service, _)| service.name())
            .collect();
        if !missing.is_empty() {
            tracing::warn!(?missing, "services did not serve their OpenAPI document");
        }
        let (documents, incomplete) = {
            let mut last = self
                .last_documents
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            docs::with_last_served(fetched, &mut *last)
        };
        let merged = Bytes::from(docs::merge(documents, incomplete).to_string());
        let lifetime = if missing.is_empty() {
            DOCUMENT_TTL
        } else {
            PARTIAL_DOCUMENT_TTL
        };
        (merged, lifetime)
    }

    /// Drops rate-limit state of idle clients; called periodically.
    pub fn forget_idle_clients(&self) {
        for upstream in &self.upstreams {
            upstream.rate.forget_idle();
        }
    }
}

/// How long a fetched document is served before the services are asked again.
const DOCUMENT_TTL: Duration = Duration::from_secs(30);
/// The same for a document a service was missing from: it is asked again soon.
const PARTIAL_DOCUMENT_TTL: Duration = Duration::from_secs(5);
const DOCUMENT_FETCH_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_DOCUMENT_BYTES: usize = 4 << 20;

fn health_response() -> Response<ProxyBody> {
    json_ok(Bytes::from_static(
        br#"{"status":"ok","service":"gateway"}"#,
    ))
}

/// A JSON body the gateway made.
fn json_ok(body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn docs_page() -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(docs::page()))));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(docs::PAGE_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn docs_init_script() -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        docs::INIT_SCRIPT.as_bytes(),
    ))));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}

/// Request ids: the client's when acceptable, else a process prefix and a counter (unique,
/// cheap, and they sort by arrival within one gateway).
struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self {
            prefix: rand::random(),
            counter: AtomicU64::new(0),
        }
    }
}

impl RequestIds {
    fn accept_or_new(&self, client: Option<&HeaderValue>) -> HeaderValue {
        match client {
            Some(value) if request_id::is_acceptable(value.as_bytes()) => value.clone(),
            _ => {
                let n = self.counter.fetch_add(1, Relaxed);
                // 8 hex digits of prefix, 12 of counter; by hand, as this runs per request.
                let mut id = [0u8; 20];
                let digits = (u128::from(self.prefix) << 48) | u128::from(n & ((1 << 48) - 1));
                for (i, byte) in id.iter_mut().enumerate() {
                    let nibble = (digits >> (4 * (19 - i))) & 0xf;
                    *byte = b"0123456789abcdef"[nibble as usize];
                }
                HeaderValue::from_bytes(&id).expect("hex is a valid header value")
            }
        }
    }
}

/// How an exchange ran out of time.
enum TooSlow {
    /// The service did not start its response within its timeout after the body last moved.
    Service,
    /// The client was still sending its body when the exchange reached `UPSTREAM_REQUEST_MAX_MS`,
    /// or stopped sending it, with the service waiting, for the response timeout.
    Upload,
}

/// `exchange`, unless the service takes longer than `timeout` to start its response, counted
/// from when the client's body last moved (a slow upload that keeps moving is not cut, and a
/// bodiless request gets `timeout` from its start), or the whole exchange takes longer than
/// `max_total` (a body trickling in forever). Running out of time while the service waits for
/// more of the body is the client's stall (`Upload`), not the service's.
async fn within_time<F: std::future::Future>(
    timeout: Duration,
    max_total: Duration,
    progress: &BodyProgress,
    exchange: F,
) -> Result<F::Output, TooSlow> {
    let mut exchange = std::pin::pin!(exchange);
    let cap = progress.start() + max_total;
    let mut deadline = (progress.start() + timeout).min(cap);
    loop {
        let until = tokio::time::Instant::from_std(deadline);
        if let Ok(done) = tokio::time::timeout_at(until, exchange.as_mut()).await {
            return Ok(done);
        }
        let later = (progress.last_moved() + timeout).min(cap);
        if later <= deadline {
            let uploading = !progress.is_complete();
            return Err(
                if uploading && (deadline >= cap || progress.is_awaiting_client()) {
                    TooSlow::Upload
                } else {
                    TooSlow::Service
                },
            );
        }
        deadline = later;
    }
}

fn display_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_request_ids_are_the_prefix_then_a_counter_in_hex() {
        let ids = RequestIds {
            prefix: 0x0123_abcd,
            counter: AtomicU64::new(0xfe),
        };
        assert_eq!(ids.accept_or_new(None), "0123abcd0000000000fe");
        assert_eq!(ids.accept_or_new(None), "0123abcd0000000000ff");
        let client = HeaderValue::from_static("abc-123");
        assert_eq!(ids.accept_or_new(Some(&client)), "abc-123");
        let unsafe_id = HeaderValue::from_static("a b");
        assert_eq!(ids.accept_or_new(Some(&unsafe_id)), "0123abcd000000000100");
    }
}
