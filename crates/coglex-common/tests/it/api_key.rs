use crate::helpers::*;

#[tokio::test]
async fn a_request_without_a_key_is_refused_with_json() {
    let app = spawn_app(build).await;
    let response = app
        .http
        .get(app.url("/service/probe/v1/caller"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json(response).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["message"], "the X-API-Key header is required");
    assert_eq!(body["request_id"], request_id.as_str());
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let app = spawn_app(build).await;
    let wrong = format!("{API_KEY}x");
    let response = app
        .http
        .get(app.url("/service/probe/v1/caller"))
        .header("X-API-Key", wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        json(response).await["error"]["message"],
        "the API key is not valid"
    );
}

#[tokio::test]
async fn client_and_admin_keys_are_told_apart() {
    let app = spawn_app(build).await;
    let client = app.get("/service/probe/v1/caller").send().await.unwrap();
    assert_eq!(json(client).await["admin"], false);
    let admin = app
        .http
        .get(app.url("/service/probe/v1/caller"))
        .header("X-API-Key", ADMIN_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(json(admin).await["admin"], true);
}

#[tokio::test]
async fn a_rotated_in_key_works_beside_the_old_one() {
    let new_key = "rotated-in-key-0000000000000000000000000000";
    let keys = format!("{API_KEY},{new_key}");
    let app = spawn_app_with(build, &[("API_KEYS", keys.as_str())]).await;
    for key in [API_KEY, new_key] {
        let response = app
            .http
            .get(app.url("/service/probe/v1/caller"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}
