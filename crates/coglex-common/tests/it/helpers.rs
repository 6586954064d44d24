//! A probe service mounted with the common glue, exactly as real services are.

use actix_web::{web, HttpResponse};
use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, AuthUser, Caller, Core, Routes, ServiceDef};
use coglex_common::ApiError;
use mongodb::bson::doc;
use serde::Deserialize;
use test_support::TestApp;

pub use test_support::session::token_keys;
pub use test_support::{spawn_app, spawn_app_with, ADMIN_API_KEY, API_KEY};

/// `/service/probe/v1/...`: routes that exercise each piece of the glue.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let core = Core::connect(CoreSettings::from_source(&source)?, "probe").await?;
    Ok(Application::bind(
        core,
        ServiceDef::new("probe", (), routes),
        0,
    )?)
}

fn routes(routes: &mut Routes) {
    routes
        .add(__path_whoami, whoami)
        .add(__path_caller, caller)
        .add(__path_echo, echo)
        .add(__path_count, count);
}

/// Who the session token belongs to
#[utoipa::path(get, path = "/whoami", security(("bearer" = [])), responses((status = 200, description = "The user")))]
async fn whoami(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok()
        .json(serde_json::json!({ "user_id": user.user_id, "user_key": user.user_key }))
}

/// Whether the key is an admin key
#[utoipa::path(get, path = "/caller", responses((status = 200, description = "The caller")))]
async fn caller(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "admin": caller.admin }))
}

#[derive(Deserialize)]
struct Echo {
    value: i64,
}

/// Echoes `value`
#[utoipa::path(post, path = "/echo", responses((status = 200, description = "The value")))]
async fn echo(body: web::Json<Echo>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "value": body.value }))
}

/// Counts `things`
#[utoipa::path(get, path = "/count", responses((status = 200, description = "The count")))]
async fn count(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let n = core
        .db
        .collection::<mongodb::bson::Document>("things")
        .count_documents(doc! {})
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "count": n })))
}

/// Signs a user in (session document + token), as auth-svc does.
pub async fn signed_in(app: &TestApp) -> String {
    test_support::sign_in(app, "ada@example.com").await.token
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}
