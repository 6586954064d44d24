//! Who owns each file uploaded on the server's `GENERATION_KEY`. Every such file lives in one
//! Gemini project, where any caller who knows its name could use it; so each upload is
//! recorded against the party that made it (a signed-in user, or all callers without a session
//! together, as in `usage`) and a call on the server's key may name only that party's files.
//!
//! The name is chosen here and recorded before the upload starts (Gemini takes a client-chosen
//! `File.name`), so no file is ever usable without its owner on record; a failed upload
//! withdraws its record. Records end with the file itself, 48 hours after the upload.

use std::collections::BTreeSet;
use std::time::Duration;

use coglex_common::mongo::{deadline, expire_records, EXPIRES_AT};
use coglex_common::{ApiError, ErrorCode};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::Collection;

use crate::usage::Spender;

/// How long Gemini keeps an uploaded file.
const FILE_LIFETIME: Duration = Duration::from_secs(48 * 3600);
/// Longest a record read or write may take before the call answers 503.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct FileOwners {
    collection: Collection<Document>,
}

impl FileOwners {
    pub fn new(collection: Collection<Document>) -> Self {
        Self { collection }
    }

    /// Records go when their file does.
    pub async fn ensure_indexes(&self) -> mongodb::error::Result<()> {
        expire_records(&self.collection).await
    }

    /// A fresh file name (`files/<id>`), recorded as `owner`'s.
    pub async fn reserve(&self, owner: &Spender) -> Result<String, ApiError> {
        let name = format!("files/{}", uuid::Uuid::new_v4().simple());
        let expires_at = DateTime::from_millis(
            DateTime::now().timestamp_millis() + FILE_LIFETIME.as_millis() as i64,
        );
        let record = doc! { "_id": &name, "owner": owner.id(), EXPIRES_AT: expires_at };
        deadline(DEADLINE, self.collection.insert_one(record)).await??;
        Ok(name)
    }

    /// Withdraws the record of an upload that did not complete. Best effort: a record left
    /// behind names no file, and expires anyway.
    pub async fn release(&self, name: &str) {
        let removal = self.collection.delete_one(doc! { "_id": name });
        if !matches!(deadline(DEADLINE, removal).await, Ok(Ok(_))) {
            tracing::warn!(
                file = name,
                "could not withdraw the record of a failed upload"
            );
        }
    }

    /// Refuses with 404 a call naming a file `owner` did not upload (or whose time is up),
    /// the same answer as for a file that does not exist, so names of others' files cannot be
    /// probed.
    pub async fn check(&self, owner: &Spender, names: &BTreeSet<String>) -> Result<(), ApiError> {
        if names.is_empty() {
            return Ok(());
        }
        let listed: Vec<&str> = names.iter().map(String::as_str).collect();
        let filter = doc! {
            "_id": { "$in": &listed },
            "owner": owner.id(),
            EXPIRES_AT: { "$gt": DateTime::now() },
        };
        let owned = deadline(DEADLINE, self.collection.count_documents(filter)).await??;
        if owned == names.len() as u64 {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::NotFound,
            "a referenced file does not exist or was not uploaded by you",
        ))
    }
}
