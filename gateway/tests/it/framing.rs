//! Request smuggling and slow clients, over raw sockets (reqwest would not send these).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn raw(gateway: &TestGateway, request: String) -> String {
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn smuggling_attempts_are_refused_and_never_reach_a_service() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let head = format!("POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n");
    for framing in [
        "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        "Content-Length: 4, 4\r\n\r\nabcd",
        "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "Content-Length: +4\r\n\r\nabcd",
    ] {
        let response = raw(&gateway, format!("{head}{framing}")).await;
        assert!(
            response.starts_with("HTTP/1.1 400"),
            "{framing:?} got {response:?}"
        );
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_request_with_both_lengths_is_refused_and_nothing_behind_it_is_read() {
    // hyper alone would read this as chunked and pass it on; the raw head shows both.
    let (gateway, upstream) = gateway_with(&[]).await;
    let smuggled = format!(
        "GET /service/auth/v1/smuggled HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n"
    );
    for both in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
    ] {
        let request = format!(
            "POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n{both}\r\n0\r\n\r\n{smuggled}"
        );
        let response = raw(&gateway, request).await;
        let body = only_a_framing_refusal(&response);
        assert_eq!(
            body["error"]["message"],
            "both Content-Length and Transfer-Encoding are set"
        );
        assert!(body["request_id"].is_string(), "{body}");
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_head_hidden_in_trailers_cannot_cover_a_request_with_both_lengths() {
    // hyper reads `0\r\n\n` on as a trailer line, so the "head" after it is trailers and
    // the request with both lengths is the next one it reads.
    let (gateway, upstream) = gateway_with(&[]).await;
    let ambiguous = format!(
        "POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         GET /service/auth/v1/smuggled HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n"
    );
    let request = format!(
        "POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n\
         GET /cover HTTP/1.1\r\nContent-Length: {}\r\n\r\n{ambiguous}",
        ambiguous.len()
    );
    let response = raw(&gateway, request).await;
    let refusal = response.rfind("HTTP/1.1 ").map(|at| &response[at..]);
    let body = only_a_framing_refusal(refusal.unwrap_or_default());
    assert_eq!(
        body["error"]["message"],
        "both Content-Length and Transfer-Encoding are set"
    );
    // The first request may have been answered before the rest was read; no other was.
    assert!(upstream.hits() <= 1, "{response}");
}

#[tokio::test]
async fn a_repeated_equal_length_is_refused_and_the_connection_closed() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let request = format!(
        "POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd\
         GET /service/storage/v1/next HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n"
    );
    let response = raw(&gateway, request).await;
    let body = only_a_framing_refusal(&response);
    assert_eq!(
        body["error"]["message"],
        "more than one Content-Length header"
    );
    assert!(response
        .to_ascii_lowercase()
        .contains("\r\nconnection: close\r\n"));
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn pipelined_requests_with_bodies_all_pass_through_one_connection() {
    // Bodies that hold what looks like a head with both lengths: only real heads count.
    let (gateway, upstream) = gateway_with(&[]).await;
    let decoy = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let head = |framing: String| {
        format!("POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n{framing}\r\n")
    };
    let request = [
        head(format!("Content-Length: {}\r\n", decoy.len())),
        decoy.to_owned(),
        head("Transfer-Encoding: chunked\r\n".into()),
        format!("{:x}\r\n{decoy}\r\n0\r\n\r\n", decoy.len()),
        head("Connection: close\r\n".into()),
    ]
    .concat();
    let response = raw(&gateway, request).await;
    assert_eq!(response.matches("HTTP/1.1 200 OK").count(), 3, "{response}");
    assert_eq!(upstream.hits(), 3);
}

/// The JSON body of `response`, which must be one 400 and nothing after it: what a request
/// hidden behind the refused one would have added.
fn only_a_framing_refusal(response: &str) -> serde_json::Value {
    assert_eq!(response.matches("HTTP/1.1 ").count(), 1, "{response}");
    let (status, body) = status_and_body(response);
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{response}");
    body
}

/// The status line and the JSON body of a raw response.
fn status_and_body(response: &str) -> (&str, serde_json::Value) {
    let status = response.lines().next().unwrap_or_default();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {response}"));
    (status, body)
}

#[tokio::test]
async fn methods_the_services_never_take_are_405_and_never_forwarded() {
    let (gateway, upstream) = gateway_with(&[]).await;
    for request in [
        format!("CONNECT /service/storage/v1/x HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"),
        format!("TRACE /service/storage/v1/x HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"),
        format!("PROPFIND /service/storage/v1/x HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"),
    ] {
        let response = raw(&gateway, request).await;
        let (status, body) = status_and_body(&response);
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed", "{response}");
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert!(body["request_id"].is_string(), "{body}");
        assert!(
            response.to_ascii_lowercase().contains("\r\nallow: get, head, post, put, patch, delete, options\r\n"),
            "{response}"
        );
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn two_host_headers_are_400_and_never_forwarded() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let response = raw(
        &gateway,
        format!("GET /service/storage/v1/x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{response}");
    assert_eq!(body["error"]["message"], "more than one Host header");
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn an_absolute_form_target_names_the_forwarded_host() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let response = raw(
        &gateway,
        format!("GET http://user:pw@api.example:8443/service/storage/v1/x?q=1 HTTP/1.1\r\nHost: other.example\r\nX-API-Key: {API_KEY}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let (status, seen) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    assert_eq!(seen["path"], "/service/storage/v1/x");
    assert_eq!(seen["query"], "q=1");
    assert_eq!(seen["headers"]["x-forwarded-host"], "api.example:8443");
    let service = upstream.address.trim_start_matches("http://");
    assert_eq!(seen["headers"]["host"], service, "the service's own Host");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let (gateway, upstream) = gateway_with(&[("HEADER_READ_TIMEOUT_MS", "300")]).await;
    let mut stream = TcpStream::connect(gateway.host_port()).await.unwrap();
    stream
        .write_all(b"GET /service/auth/v1/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the gateway kept a slowloris connection open");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn an_h2c_upgrade_is_not_tunnelled() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = raw(
        &gateway,
        format!(
            "GET /service/auth/v1/headers HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        !response.to_ascii_lowercase().contains("\"upgrade\""),
        "the service saw the upgrade: {response}"
    );
    assert!(
        !response.to_ascii_lowercase().contains("http2-settings"),
        "{response}"
    );
}

#[tokio::test]
async fn a_malformed_chunked_body_is_the_clients_400_not_a_service_failure() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = raw(
        &gateway,
        format!("POST /service/storage/v1/things HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\nzz\r\n"),
    )
    .await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{response}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let metrics = gateway.metrics().await;
    for kind in ["connect", "timeout", "other"] {
        let line = format!(
            "coglex_gateway_upstream_errors_total{{service=\"storage\",kind=\"{kind}\"}} 0"
        );
        assert!(metrics.contains(&line), "the service was blamed: {metrics}");
    }
}
