use crate::helpers::*;

#[tokio::test]
async fn health_answers_without_a_key_for_probes() {
    let app = spawn_app(build).await;
    for path in ["/health", "/service/probe/v1/health"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = json(response).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "probe");
    }
}

#[tokio::test]
async fn ready_pings_the_database() {
    let app = spawn_app(build).await;
    let response = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ready");
}
