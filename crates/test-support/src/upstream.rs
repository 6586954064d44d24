//! A small real HTTP server to stand behind the gateway in its tests. It answers any path under
//! any service prefix by the path's last segment:
//!
//! - `.../bytes/<n>`: streams `n` bytes in 64 KiB chunks, never holding them all;
//! - `.../echo-body`: streams the request body back as it arrives;
//! - `.../sse`: three server-sent events, 300 ms apart;
//! - `.../slow`: answers after 2 s;
//! - `.../hold`: answers after 10 s, never reading the request body;
//! - anything else: JSON with the method, path, query, headers and body length it received.
//!
//! It counts the requests that reach it, so tests can prove a refused request never did.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

/// Delay between the events of `.../sse`.
pub const SSE_INTERVAL: Duration = Duration::from_millis(300);

pub struct Upstream {
    pub address: String,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Upstream {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// The server on `ip` (`"[::1]"` for IPv6 loopback).
    pub async fn start_on(ip: &str) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let (listener, address) = crate::serve::listener_on(ip);
        let handle = crate::serve::serve(listener, move |cfg| {
            cfg.app_data(web::Data::new(Arc::clone(&counter)))
                .default_service(web::to(answer));
        });
        Self {
            address,
            hits,
            handle,
        }
    }

    /// Requests that reached this server so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn answer(
    req: HttpRequest,
    mut body: web::Payload,
    hits: web::Data<Arc<AtomicUsize>>,
) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    let segments: Vec<&str> = req.path().rsplit('/').take(2).collect();
    match segments.as_slice() {
        [n, "bytes", ..] => {
            let total: usize = n.parse().unwrap_or(0);
            let chunks =
                futures_util::stream::iter((0..total).step_by(64 * 1024).map(move |start| {
                    let len = (total - start).min(64 * 1024);
                    Ok::<_, actix_web::Error>(web::Bytes::from(vec![b'x'; len]))
                }));
            HttpResponse::Ok()
                .content_type("application/octet-stream")
                .streaming(chunks)
        }
        ["echo-body", ..] => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .streaming(body),
        ["sse", ..] => {
            let events = futures_util::stream::iter(1..=3).then(|n| async move {
                if n > 1 {
                    tokio::time::sleep(SSE_INTERVAL).await;
                }
                Ok::<_, actix_web::Error>(web::Bytes::from(format!("data: {{\"event\":{n}}}\n\n")))
            });
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .streaming(events)
        }
        ["slow", ..] => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            HttpResponse::Ok().finish()
        }
        ["hold", ..] => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            HttpResponse::Ok().finish()
        }
        _ => {
            let mut length = 0usize;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => length += chunk.len(),
                    Err(_) => return HttpResponse::BadRequest().finish(),
                }
            }
            let headers: serde_json::Map<String, serde_json::Value> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            HttpResponse::Ok().json(serde_json::json!({
                "method": req.method().as_str(),
                "path": req.path(),
                "query": req.query_string(),
                "headers": headers,
                "body_length": length,
            }))
        }
    }
}
