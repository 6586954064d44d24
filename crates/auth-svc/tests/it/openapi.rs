//! The served OpenAPI document: exactly the routes the service answers, each with a summary,
//! the session requirement where one is needed, and response schemas that match real answers.

use serde_json::json;
use test_support::openapi::{required, sorted_keys, ServedDocument};

use crate::helpers::*;

#[tokio::test]
async fn the_document_lists_every_route_with_a_summary_and_its_security() {
    let app = spawn().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    assert_eq!(
        api.operations(),
        [
            "GET /service/auth/v1/health",
            "GET /service/auth/v1/ready",
            "GET /service/auth/v1/{user_key}",
            "PATCH /service/auth/v1/{user_key}",
            "POST /service/auth/v1/oauth",
            "POST /service/auth/v1/ocall",
            "POST /service/auth/v1/passgen",
            "POST /service/auth/v1/passver",
            "POST /service/auth/v1/refresh",
            "POST /service/auth/v1/signin",
            "POST /service/auth/v1/signout",
            "POST /service/auth/v1/signup",
        ]
    );
    let with_session = json!([{"api_key": [], "bearer": []}]);
    let key_only = json!([{"api_key": []}]);
    for (method, path) in [
        ("post", "/signout"),
        ("get", "/{user_key}"),
        ("patch", "/{user_key}"),
    ] {
        assert_eq!(
            api.operation(method, path)["security"],
            with_session,
            "{method} {path}"
        );
    }
    for path in ["/signup", "/signin", "/refresh", "/oauth", "/passgen"] {
        assert_eq!(api.operation("post", path)["security"], key_only, "{path}");
    }
    // A session token is optional there: with one of the account's own, a code keeps its
    // password, and a Facebook sign-in links to it.
    for path in ["/passver", "/ocall"] {
        assert_eq!(
            api.operation("post", path)["security"],
            json!([{"api_key": [], "bearer": []}, {"api_key": []}]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn documented_response_schemas_have_the_fields_of_real_answers() {
    let app = spawn().await;
    let api = ServedDocument::fetch(&app, BASE).await;

    let created = json(sign_up(&app, "ada@example.com", json!({ "name": "Ada" })).await).await;
    let user = api.response_schema("post", "/signup", "201");
    assert_eq!(required(user), ["_id", "_key"]);
    for field in required(user) {
        assert!(created[&field].is_string(), "{field} in {created}");
    }

    let session = json(sign_in(&app, "ada@example.com", PASSWORD).await).await;
    let tokens = &api.doc["components"]["schemas"]["SessionTokens"];
    assert_eq!(
        required(tokens),
        ["expires_in", "refresh_token", "token", "token_type"]
    );
    for field in required(tokens) {
        assert!(session.get(&field).is_some(), "{field} in {session}");
    }
    assert!(session["expires_in"].is_u64());
    assert!(session["user"]["_id"].is_string());

    let renewed = json(refresh(&app, session["refresh_token"].as_str().unwrap()).await).await;
    let refresh_schema = api.response_schema("post", "/refresh", "200");
    assert_eq!(required(refresh_schema), required(tokens));
    assert_eq!(sorted_keys(&renewed), required(tokens));

    let signed_out = json(sign_out(&app, token(&renewed), None).await).await;
    assert_eq!(
        required(api.response_schema("post", "/signout", "200")),
        ["signed_out"]
    );
    assert!(signed_out["signed_out"].is_u64());
}

#[tokio::test]
async fn the_session_token_is_documented_as_bearer_and_the_key_as_x_api_key() {
    let app = spawn().await;
    let api = ServedDocument::fetch(&app, BASE).await;
    let schemes = &api.doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let params = api.operation("get", "/{user_key}")["parameters"]
        .as_array()
        .unwrap();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0]["name"], "user_key");
    assert_eq!(params[0]["in"], "path");
}
