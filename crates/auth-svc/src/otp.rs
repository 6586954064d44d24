//! Email one-time codes. The code is drawn with the OS CSPRNG and only a keyed hash of it
//! (HMAC-SHA256 with a key derived from `SERVER_SECRET`) is stored, in `_OTPS`, with its
//! expiry and a count of wrong tries. The `otp_token` a client holds names the record and the
//! `_key`, never the code: unlike the original, decoding the token reveals nothing to guess
//! against offline.

use std::time::Duration;

use coglex_common::mongo::bounded;
use coglex_common::web::Core;
use coglex_common::ApiError;
use hmac::{Hmac, Mac};
use mongodb::bson::{doc, Binary, DateTime, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::UserKey;

pub const COLLECTION: &str = "_OTPS";

/// Claims of an `otp_token` beside `sub` (the `_key`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OtpClaims {
    /// The `_OTPS` record.
    pub oid: String,
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Valid,
    Wrong,
    /// Too many wrong tries: the code is dead.
    Exhausted,
    /// Expired, already used, or never issued.
    Unusable,
}

#[derive(Clone)]
pub struct Otps {
    codes: Collection<Document>,
    hash_key: [u8; 32],
    digits: u32,
    lifetime: Duration,
    max_attempts: i32,
    /// How long one database call may take (`AUTH_DATABASE_TIMEOUT_MS`).
    limit: Duration,
}

impl Otps {
    pub fn new(
        core: &Core,
        digits: u32,
        lifetime_secs: u64,
        max_attempts: i32,
        limit: Duration,
    ) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(core.settings.tokens.server_secret.expose().as_bytes())
                .expect("HMAC takes keys of any length");
        mac.update(b"coglex/otp/v1");
        Self {
            codes: core.db.collection(COLLECTION),
            hash_key: mac.finalize().into_bytes().into(),
            digits,
            lifetime: Duration::from_secs(lifetime_secs),
            max_attempts,
            limit,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Expiry, and the key's live codes, which a valid code retires.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        coglex_common::mongo::expire_records(&self.codes).await?;
        let by_key = IndexModel::builder()
            .keys(doc! { "key": 1, "used": 1 })
            .options(
                IndexOptions::builder()
                    .name("live_by_key".to_owned())
                    .build(),
            )
            .build();
        self.codes.create_index(by_key).await.map(|_| ())
    }

    /// Stores a new code for `key`; returns the record id and the code (to email, never to
    /// return). Earlier codes stay usable: anyone may ask for a code for any address, so
    /// retiring them would let a stranger void the owner's code as fast as it is mailed. The
    /// guesses over all of an address's codes are bounded by the per-address check limits.
    pub async fn issue(&self, key: &UserKey) -> Result<(String, String), ApiError> {
        let oid = uuid::Uuid::new_v4().simple().to_string();
        let code = self.draw_code();
        let record = doc! {
            "_id": &oid,
            "key": key.as_str(),
            "code_hash": Binary { subtype: mongodb::bson::spec::BinarySubtype::Generic, bytes: self.hash(&oid, key, &code).to_vec() },
            "attempts": 0,
            "used": false,
            "expires_at": DateTime::from_millis(DateTime::now().timestamp_millis() + self.lifetime.as_millis() as i64),
        };
        bounded(self.limit, self.codes.insert_one(record)).await?;
        Ok((oid, code))
    }

    /// Checks a code; a valid one is consumed (single use) and retires the key's other codes,
    /// a wrong one costs a try.
    pub async fn check(&self, oid: &str, key: &UserKey, code: &str) -> Result<Check, ApiError> {
        let usable = doc! {
            "_id": oid,
            "key": key.as_str(),
            "used": false,
            "expires_at": { "$gt": DateTime::now() },
            "attempts": { "$lt": self.max_attempts },
        };
        let attempt = self
            .codes
            .find_one_and_update(usable, doc! { "$inc": { "attempts": 1 } })
            .return_document(ReturnDocument::After);
        let record = bounded(self.limit, attempt).await?;
        let Some(record) = record else {
            let exhausted = self
                .codes
                .find_one(doc! { "_id": oid, "key": key.as_str(), "used": false, "attempts": { "$gte": self.max_attempts } });
            let exhausted = bounded(self.limit, exhausted).await?;
            return Ok(if exhausted.is_some() {
                Check::Exhausted
            } else {
                Check::Unusable
            });
        };
        let stored = record
            .get_binary_generic("code_hash")
            .map_err(ApiError::internal)?;
        let expected = self.hash(oid, key, code);
        if !bool::from(expected.as_slice().ct_eq(stored)) {
            return Ok(Check::Wrong);
        }
        // Two correct guesses racing: only the one that flips `used` wins.
        let consume = self.codes.update_one(
            doc! { "_id": oid, "used": false },
            doc! { "$set": { "used": true } },
        );
        let consumed = bounded(self.limit, consume).await?;
        if consumed.modified_count == 0 {
            return Ok(Check::Unusable);
        }
        // The address is proven; codes still in its mailbox must not sign in again later.
        let retire = self.codes.update_many(
            doc! { "key": key.as_str(), "used": false },
            doc! { "$set": { "used": true } },
        );
        bounded(self.limit, retire).await?;
        Ok(Check::Valid)
    }

    /// Gives a consumed code back when what it was for failed (a database outage while the
    /// session was being issued): otherwise the user would need a new mail for our failure.
    /// Only this code comes back, with the tries it had used; the others stay retired. Best
    /// effort: a restore that fails leaves the code spent, as before.
    pub async fn restore(&self, oid: &str) {
        let restore = self.codes.update_one(
            doc! { "_id": oid, "used": true, "expires_at": { "$gt": DateTime::now() } },
            doc! { "$set": { "used": false } },
        );
        if let Err(error) = bounded(self.limit, restore).await {
            tracing::warn!(%error, "could not give back a code whose sign-in failed");
        }
    }

    fn draw_code(&self) -> String {
        let mut rng = rand::rngs::OsRng;
        (0..self.digits)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect()
    }

    /// Bound to the record and the key, so a code cannot be replayed against another request.
    fn hash(&self, oid: &str, key: &UserKey, code: &str) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.hash_key).expect("HMAC takes keys of any length");
        for part in [oid, key.as_str(), code] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}
