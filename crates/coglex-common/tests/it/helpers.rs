//! A probe service mounted with the common glue, exactly as real services are.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::session::SessionClaims;
use coglex_common::token::{Purpose, TokenKeys};
use coglex_common::web::{Application, AuthUser, Caller, Core, ServiceDef};
use coglex_common::ApiError;
use mongodb::bson::{doc, DateTime};
use serde::Deserialize;
use test_support::TestApp;

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

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/whoami", web::get().to(whoami))
        .route("/caller", web::get().to(caller))
        .service(web::resource("/echo").post(echo))
        .route("/count", web::get().to(count));
}

async fn whoami(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok()
        .json(serde_json::json!({ "user_id": user.user_id, "user_key": user.user_key }))
}

async fn caller(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "admin": caller.admin }))
}

#[derive(Deserialize)]
struct Echo {
    value: i64,
}

async fn echo(body: web::Json<Echo>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "value": body.value }))
}

async fn count(core: web::Data<Core>) -> Result<HttpResponse, ApiError> {
    let n = core
        .db
        .collection::<mongodb::bson::Document>("things")
        .count_documents(doc! {})
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "count": n })))
}

pub fn token_keys() -> TokenKeys {
    let source = ConfigSource::from_pairs([("SERVER_SECRET", test_support::SERVER_SECRET)]);
    TokenKeys::new(&source.get().unwrap())
}

/// Writes a live session and signs a session token for it, as auth-svc does.
pub async fn signed_in(app: &TestApp, sid: &str) -> String {
    app.database
        .collection("_SESSIONS")
        .insert_one(doc! {
            "_id": sid,
            "user_id": "u1",
            "user_key": "ada@example.com",
            "expires_at": DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000),
            "revoked_at": null,
        })
        .await
        .unwrap();
    let claims = SessionClaims {
        sid: sid.into(),
        key: "ada@example.com".into(),
    };
    token_keys()
        .issue(Purpose::Session, "u1", Duration::from_secs(900), claims)
        .unwrap()
        .token
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}
