use crate::helpers::*;

#[tokio::test]
async fn health_answers_without_a_key_for_probes_and_with_one_in_the_api() {
    let app = spawn_app(build).await;
    for (path, with_key) in [("/health", false), ("/service/probe/v1/health", true)] {
        let mut request = app.http.get(app.url(path));
        if with_key {
            request = request.header("x-api-key", API_KEY);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = json(response).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "probe");
    }
    let without_key = app
        .http
        .get(app.url("/service/probe/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(without_key.status(), 401);
}

#[tokio::test]
async fn ready_pings_the_database() {
    let app = spawn_app(build).await;
    let response = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["status"], "ready");
}
