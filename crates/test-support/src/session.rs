//! A signed-in user for tests of services other than auth: a live session document and a
//! session token for it, exactly what auth-svc writes and issues at sign-in.

use std::time::Duration;

use coglex_common::config::ConfigSource;
use coglex_common::session::SessionClaims;
use coglex_common::token::{Purpose, TokenKeys};
use mongodb::bson::{doc, oid::ObjectId, DateTime};

use crate::app::{TestApp, SERVER_SECRET};

/// A user signed in to `app`'s database.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user's id (hex ObjectId), as `AuthUser::user_id` reports it.
    pub user_id: String,
    pub user_key: String,
    pub session_id: String,
    /// `Authorization: Bearer <token>`.
    pub token: String,
}

/// The token keys every spawned app uses.
pub fn token_keys() -> TokenKeys {
    TokenKeys::new(
        &ConfigSource::from_pairs([("SERVER_SECRET", SERVER_SECRET)])
            .get()
            .expect("token settings"),
    )
}

/// Signs `user_key` in: writes a user and a live session, returns a session token.
pub async fn sign_in(app: &TestApp, user_key: &str) -> SignedIn {
    let user_id = ObjectId::new();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let users = app.database.collection::<mongodb::bson::Document>("_USERS");
    users
        .insert_one(doc! { "_id": user_id, "_key": user_key })
        .await
        .expect("insert user");
    let sessions = app
        .database
        .collection::<mongodb::bson::Document>("_SESSIONS");
    sessions
        .insert_one(doc! {
            "_id": &session_id,
            "user_id": user_id.to_hex(),
            "user_key": user_key,
            "created_at": DateTime::now(),
            "expires_at": DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000),
            "revoked_at": null,
        })
        .await
        .expect("insert session");
    let claims = SessionClaims {
        sid: session_id.clone(),
        key: user_key.to_owned(),
    };
    let token = token_keys()
        .issue(
            Purpose::Session,
            &user_id.to_hex(),
            Duration::from_secs(900),
            claims,
        )
        .expect("sign a token")
        .token;
    SignedIn {
        user_id: user_id.to_hex(),
        user_key: user_key.to_owned(),
        session_id,
        token,
    }
}
