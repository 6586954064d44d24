use crate::helpers::*;

#[tokio::test]
async fn the_document_lists_exactly_the_registered_routes_with_the_key_scheme() {
    let app = spawn_app(build).await;
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "served without a key, for the gateway"
    );
    let doc = json(response).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            let security = op["security"].as_array().unwrap();
            assert!(
                security.iter().all(|r| r.get("api_key").is_some()),
                "{method} {path} must require the key: {security:?}"
            );
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
            assert!(op["operationId"].as_str().unwrap().starts_with("probe_"));
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "GET /service/probe/v1/caller",
            "GET /service/probe/v1/count",
            "GET /service/probe/v1/health",
            "GET /service/probe/v1/ready",
            "GET /service/probe/v1/whoami",
            "POST /service/probe/v1/echo",
        ]
    );
    // `whoami` needs a session as well as the key, in one requirement.
    assert_eq!(
        doc["paths"]["/service/probe/v1/whoami"]["get"]["security"],
        serde_json::json!([{"api_key": [], "bearer": []}])
    );
    assert!(doc["components"]["schemas"]["Error"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_and_an_unknown_path_404() {
    let app = spawn_app(build).await;
    let wrong = app.get("/service/probe/v1/echo").send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(json(wrong).await["error"]["code"], "method_not_allowed");
    let unknown = app.get("/service/probe/v1/nowhere").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}
