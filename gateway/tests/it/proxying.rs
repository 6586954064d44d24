use crate::helpers::*;

#[tokio::test]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = gateway
        .get("/service/auth/v1/headers")
        .header("Connection", "X-Hop-Secret")
        .header("X-Hop-Secret", "1")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Connection", "keep-alive")
        .header("Upgrade", "h2c")
        .header("X-Kept", "yes")
        .send()
        .await
        .unwrap();
    let seen = json(response).await;
    let headers = seen["headers"].as_object().unwrap();
    for gone in ["x-hop-secret", "keep-alive", "proxy-connection", "upgrade"] {
        assert!(
            !headers.contains_key(gone),
            "{gone} reached the service: {headers:?}"
        );
    }
    assert_eq!(headers["x-kept"], "yes");
}

#[tokio::test]
async fn client_forwarded_headers_are_replaced_by_what_the_gateway_saw() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = gateway
        .get("/service/auth/v1/headers")
        .header("X-Forwarded-For", "6.6.6.6")
        .header("X-Forwarded-Proto", "https")
        .header("Forwarded", "for=6.6.6.6")
        .header("X-Real-IP", "6.6.6.6")
        .send()
        .await
        .unwrap();
    let headers = json(response).await["headers"].clone();
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-real-ip"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], gateway.host_port());
    assert!(headers.get("forwarded").is_none());
}

#[tokio::test]
async fn a_trusted_proxy_keeps_its_forwarded_chain() {
    let (gateway, _upstream) = gateway_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let response = gateway
        .get("/service/auth/v1/headers")
        .header("X-Forwarded-For", "203.0.113.7")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let headers = json(response).await["headers"].clone();
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-real-ip"], "203.0.113.7");
    assert_eq!(headers["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn request_ids_are_passed_on_or_made() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    let response = gateway
        .get("/service/auth/v1/headers")
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    assert_eq!(
        json(response).await["headers"]["x-request-id"],
        "trace-me-42"
    );

    let response = gateway
        .get("/service/auth/v1/headers")
        .header("X-Request-Id", "bad id\"")
        .send()
        .await
        .unwrap();
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(made, "bad id\"");
    assert_eq!(
        json(response).await["headers"]["x-request-id"],
        made.as_str()
    );

    let refused = gateway
        .http
        .get(gateway.url("/service/auth/v1/x"))
        .send()
        .await
        .unwrap();
    let id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        json(refused).await["request_id"],
        id.as_str(),
        "errors carry the id too"
    );
}

#[tokio::test]
async fn the_gateway_answers_its_own_health_without_a_key() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let response = gateway
        .http
        .get(gateway.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ok");

    // `/ready` needs no key: a burst of it is answered from one round of probes.
    let burst = (0..20).map(|_| gateway.http.get(gateway.url("/ready")).send());
    for response in futures_util::future::join_all(burst).await {
        let ready = response.unwrap();
        assert_eq!(ready.status(), 200, "the test upstream answers /health");
        assert_eq!(json(ready).await["upstreams"]["storage"], "up");
    }
    assert_eq!(upstream.hits(), 5, "one probe per service, for all of them");
}

#[tokio::test]
async fn a_burst_of_document_requests_asks_each_service_once_even_with_one_down() {
    let upstream = test_support::upstream::Upstream::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut settings = settings_for(&upstream.address);
    settings.push(("AUTH_SVC_URL".into(), down));
    let gateway = spawn_gateway(settings).await;

    let burst = (0..20).map(|_| gateway.http.get(gateway.url("/openapi.json")).send());
    for response in futures_util::future::join_all(burst).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        let document = json(response).await;
        assert_eq!(document["openapi"], "3.1.0", "{document}");
        // It says routes are missing, not whose: the page needs no key.
        let description = document["info"]["description"].as_str().unwrap();
        assert!(
            description.contains("have not answered yet"),
            "{description}"
        );
    }
    assert_eq!(upstream.hits(), 4, "one fetch per service that answers");
}

#[tokio::test]
async fn a_service_at_an_ipv6_address_is_reached() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let upstream = test_support::upstream::Upstream::start_on("[::1]").await;
    assert!(
        upstream.address.starts_with("http://[::1]:"),
        "{}",
        upstream.address
    );
    let gateway = spawn_gateway(settings_for(&upstream.address)).await;
    let response = gateway
        .get("/service/storage/v1/things")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["path"], "/service/storage/v1/things");
    assert_eq!(upstream.hits(), 1);
}
