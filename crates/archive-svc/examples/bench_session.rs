//! For `bench/archive.sh`: signs a benchmark user in, exactly as auth-svc records a sign-in
//! (a user, a live session document), and prints a session token for it.
//!
//! Reads `MONGODB_URI`, `MONGODB_DATABASE` and `SERVER_SECRET` like the services do.

use std::time::Duration;

use coglex_common::config::ConfigSource;
use coglex_common::session::SessionClaims;
use coglex_common::token::{Purpose, TokenKeys};
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let source = ConfigSource::load()?;
    let core = coglex_common::config::CoreSettings::from_source(&source)?;
    let db = coglex_common::mongo::connect(&core.mongo, "archive-bench").await?;
    let user_id = ObjectId::new();
    let session_id = format!("bench-{}", user_id.to_hex());
    db.collection::<Document>(&core.mongo.mongodb_auth_collection)
        .insert_one(doc! { "_id": user_id, "_key": "bench@example.com" })
        .await?;
    db.collection::<Document>(&core.sessions.mongodb_session_collection)
        .insert_one(doc! {
            "_id": &session_id,
            "user_id": user_id.to_hex(),
            "user_key": "bench@example.com",
            "created_at": DateTime::now(),
            "expires_at": DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000),
            "revoked_at": null,
        })
        .await?;
    let claims = SessionClaims {
        sid: session_id,
        key: "bench@example.com".into(),
    };
    let token = TokenKeys::new(&core.tokens)
        .issue(
            Purpose::Session,
            &user_id.to_hex(),
            Duration::from_secs(3600),
            claims,
        )?
        .token;
    println!("{token}");
    Ok(())
}
