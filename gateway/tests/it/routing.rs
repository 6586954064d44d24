use crate::helpers::*;

#[tokio::test]
async fn each_service_prefix_reaches_its_upstream_with_path_query_and_method_unchanged() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let response = gateway
        .http
        .patch(gateway.url("/service/storage/v1/products/42?query=%7B%22a%22%3A1%7D&limit=5"))
        .header("X-API-Key", API_KEY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = json(response).await;
    assert_eq!(seen["method"], "PATCH");
    assert_eq!(seen["path"], "/service/storage/v1/products/42");
    assert_eq!(seen["query"], "query=%7B%22a%22%3A1%7D&limit=5");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_401_and_never_reaches_the_service() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let missing = gateway
        .http
        .get(gateway.url("/service/auth/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let body = json(missing).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(body["request_id"].is_string());

    let wrong = gateway
        .http
        .get(gateway.url("/service/auth/v1/me"))
        .header("X-API-Key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let in_query = gateway
        .http
        .get(gateway.url(&format!("/service/auth/v1/me?api_key={API_KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        in_query.status(),
        401,
        "the key is never read from the query string"
    );
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn unknown_and_escaping_paths_are_404_and_never_reach_a_service() {
    let (gateway, upstream) = gateway_with(&[]).await;
    for path in [
        "/service/admin/v1/x",
        "/service/auth/v2/x",
        "/service/auth/v1/%2e%2e/%2e%2e/secret",
        "/service/auth/v1/a%2fb",
        "/service/auth/v1/..%5c..%5cwin.ini",
        "/service/auth/v1/%252e%252e/",
        "/service/auth/v1/%%32f%%32fsecret",
        "/etc/passwd",
    ] {
        let response = gateway.get(path).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(json(response).await["error"]["code"], "not_found", "{path}");
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn only_the_stripe_webhook_is_reachable_without_a_key() {
    let (gateway, upstream) = gateway_with(&[]).await;
    let webhook = gateway
        .http
        .post(gateway.url("/service/payment/v1/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 200);
    assert_eq!(upstream.hits(), 1);
    for (method, path) in [
        (reqwest::Method::GET, "/service/payment/v1/webhook"),
        (reqwest::Method::POST, "/service/payment/v1/webhook/x"),
        (reqwest::Method::POST, "/service/payment/v1/checkout"),
        (reqwest::Method::POST, "/service/storage/v1/webhook"),
    ] {
        let response = gateway
            .http
            .request(method.clone(), gateway.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let (gateway, upstream) = gateway_with(&[
        ("CORS_ALLOWED_ORIGINS", "https://app.example"),
        ("CORS_ALLOW_CREDENTIALS", "true"),
    ])
    .await;
    let preflight = |origin: &'static str| {
        gateway
            .http
            .request(
                reqwest::Method::OPTIONS,
                gateway.url("/service/storage/v1/products"),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-api-key, content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-api-key"));

    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));

    let actual = gateway
        .get("/service/storage/v1/products")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!actual.headers().contains_key("access-control-allow-origin"));
    let actual = gateway
        .get("/service/storage/v1/products")
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(upstream.hits(), 2, "preflights never reach a service");
}

#[tokio::test]
async fn metrics_need_an_admin_key_and_count_requests() {
    let (gateway, _upstream) = gateway_with(&[]).await;
    gateway.get("/service/auth/v1/x").send().await.unwrap();
    assert_eq!(
        gateway
            .http
            .get(gateway.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        gateway.get("/metrics").send().await.unwrap().status(),
        401,
        "a client key is not enough"
    );
    let text = gateway.metrics().await;
    assert!(
        text.contains("coglex_gateway_requests_total{service=\"auth\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("coglex_gateway_request_duration_seconds_count{service=\"auth\"} 1"));
}
