//! Sessions: a sign-in creates one session document (in the shared `_SESSIONS` collection that
//! every service checks) and a pair of tokens. The access token is short-lived; the refresh
//! token is single use: each refresh rotates it, and presenting an old one again (a sign it
//! was stolen) revokes the whole session (OAuth 2.0 Security BCP, refresh token rotation).

use std::time::Duration;

use coglex_common::mongo::bounded;
use coglex_common::session::{fields, SessionClaims};
use coglex_common::token::{Purpose, TokenError};
use coglex_common::web::{AuthUser, Core};
use coglex_common::{ApiError, ErrorCode};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use serde::Serialize;
use utoipa::ToSchema;

const REFRESH_JTI: &str = "refresh_jti";

#[derive(Clone)]
pub struct Sessions {
    core: Core,
    lifetime: Duration,
    access_ttl: Duration,
    /// How long one database call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    limit: Duration,
}

/// The tokens handed out at sign-in and refresh, as every response that starts or renews a
/// session carries them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SessionTokens)]
pub struct Tokens {
    /// The session (access) token, a JWT: send it as `Authorization: Bearer <token>`.
    #[serde(rename = "token")]
    access: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until `token` expires (`ACCESS_TOKEN_TTL_SECS`).
    expires_in: u64,
    /// Single use: `POST /refresh` exchanges it for a new pair; presenting it twice ends the
    /// session.
    #[serde(rename = "refresh_token")]
    refresh: String,
    /// The session they belong to; never sent.
    #[serde(skip)]
    session_id: String,
}
impl Tokens {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn access(&self) -> &str {
        &self.access
    }

    pub fn token_type(&self) -> &'static str {
        self.token_type
    }

    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    pub fn refresh(&self) -> &str {
        &self.refresh
    }
}

impl Sessions {
    pub fn new(core: &Core, lifetime_secs: u64, access_ttl_secs: u64, limit: Duration) -> Self {
        Self {
            core: core.clone(),
            lifetime: Duration::from_secs(lifetime_secs),
            access_ttl: Duration::from_secs(access_ttl_secs),
            limit,
        }
    }

    /// Ended sessions disappear after their expiry; sign-out of every session finds them by user.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        let sessions = self.core.sessions.collection();
        coglex_common::mongo::expire_records(sessions).await?;
        let by_user = IndexModel::builder()
            .keys(doc! { fields::USER_ID: 1 })
            .options(IndexOptions::builder().name("user".to_owned()).build())
            .build();
        sessions.create_index(by_user).await.map(|_| ())
    }

    /// Starts a session for a user and issues its first tokens.
    pub async fn start(&self, user_id: &str, user_key: &str) -> Result<Tokens, ApiError> {
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let claims = SessionClaims {
            sid: sid.clone(),
            key: user_key.to_owned(),
        };
        let refresh =
            self.core
                .tokens
                .issue(Purpose::Refresh, user_id, self.lifetime, claims.clone())?;
        let now = DateTime::now();
        let session = doc! {
            "_id": &sid,
            fields::USER_ID: user_id,
            "user_key": user_key,
            REFRESH_JTI: &refresh.jti,
            "created_at": now,
            fields::EXPIRES_AT: DateTime::from_millis(now.timestamp_millis() + self.lifetime.as_millis() as i64),
            fields::REVOKED_AT: null,
        };
        let record = self.core.sessions.collection().insert_one(session);
        bounded(self.limit, record).await?;
        let access = self
            .core
            .tokens
            .issue(Purpose::Session, user_id, self.access_ttl, claims)?;
        Ok(Tokens {
            access: access.token,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
            refresh: refresh.token,
            session_id: sid,
        })
    }

    /// Exchanges a refresh token for a new pair. Reusing a rotated token ends the session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ApiError> {
        let claims = self
            .core
            .tokens
            .verify::<SessionClaims>(refresh_token, Purpose::Refresh)
            .map_err(refused)?;
        let sid = claims.extra.sid.clone();
        let remaining =
            Duration::from_secs(claims.exp.saturating_sub(coglex_common::token::now_secs()));
        let next = self.core.tokens.issue(
            Purpose::Refresh,
            &claims.sub,
            remaining,
            claims.extra.clone(),
        )?;
        let live = doc! {
            "_id": &sid,
            REFRESH_JTI: &claims.jti,
            fields::REVOKED_AT: null,
            fields::EXPIRES_AT: { "$gt": DateTime::now() },
        };
        let rotate = self
            .core
            .sessions
            .collection()
            .update_one(live, doc! { "$set": { REFRESH_JTI: &next.jti } });
        let rotated = bounded(self.limit, rotate).await?;
        if rotated.modified_count != 1 {
            // Signed by us but no longer current: replayed after rotation, or the session ended.
            self.end_session(&sid).await?;
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "the refresh token is no longer valid; sign in again",
            ));
        }
        let access =
            self.core
                .tokens
                .issue(Purpose::Session, &claims.sub, self.access_ttl, claims.extra)?;
        Ok(Tokens {
            access: access.token,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
            refresh: next.token,
            session_id: sid,
        })
    }

    /// Ends the caller's session, or every session of the user; returns how many ended.
    pub async fn end(&self, user: &AuthUser, all: bool) -> Result<u64, ApiError> {
        if !all {
            return self.end_session(&user.session_id).await;
        }
        let ended = self.end_all(&user.user_id).await?;
        self.core.sessions.forget(&user.session_id);
        Ok(ended)
    }

    /// Whether the caller's session is live as the database has it now (not as cached).
    pub async fn is_live(&self, user: &AuthUser) -> Result<bool, ApiError> {
        self.core
            .sessions
            .is_active_now(&user.session_id, &user.user_id)
            .await
    }

    /// Ends the session `session_id`, at once in this process; returns how many ended.
    pub async fn end_session(&self, session_id: &str) -> Result<u64, ApiError> {
        let ended = self
            .revoke(doc! { "_id": session_id, fields::REVOKED_AT: null })
            .await?;
        self.core.sessions.forget(session_id);
        Ok(ended)
    }

    /// Ends every session of `user_id`; returns how many ended.
    pub async fn end_all(&self, user_id: &str) -> Result<u64, ApiError> {
        self.revoke(doc! { fields::USER_ID: user_id, fields::REVOKED_AT: null })
            .await
    }

    async fn revoke(&self, filter: Document) -> Result<u64, ApiError> {
        let revoke = self.core.sessions.collection().update_many(
            filter,
            doc! { "$set": { fields::REVOKED_AT: DateTime::now() } },
        );
        let result = bounded(self.limit, revoke).await?;
        Ok(result.modified_count)
    }
}

fn refused(err: TokenError) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidToken,
        format!("the refresh token is not valid: {err}"),
    )
}
