//! A stored file's metadata record in `MONGODB_ARCHIVE_COLLECTION`, its JSON shape (the
//! original README's `{_id, filename, mimetype, size, uploaded_at, metadata}`, without server
//! paths) and who may see it.

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use coglex_common::web::{AuthUser, Caller};

/// The owner's user id: reserved (a leading `_`), so clients can neither filter nor set it.
pub const OWNER: &str = "_owner";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// Also the blob's id in the backend.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    #[serde(rename = "_owner")]
    pub owner: String,
    /// The client's filename, sanitised; a label only.
    pub filename: String,
    /// Detected from the content.
    pub mimetype: String,
    /// What the client declared, kept so a mismatch stays on record.
    pub declared_mimetype: Option<String>,
    /// Bytes.
    pub size: i64,
    pub uploaded_at: DateTime,
    pub sha256: String,
    pub metadata: Document,
    /// What the file counts against its owner's quota ([`crate::quota::charge`]); absent on
    /// records written before it was kept, which count their size.
    #[serde(
        rename = "_quota_bytes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub quota_bytes: Option<i64>,
}

/// A stored file as upload and list answer it (no owner, no server paths).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = File)]
pub struct FileView {
    /// The file's reference (24 hex digits): the `{file_reference}` of download and delete.
    #[serde(rename = "_id")]
    pub id: String,
    /// The client's filename, sanitised; a label only.
    pub filename: String,
    /// The type detected from the content (what downloads are served as).
    pub mimetype: String,
    /// The type the client declared for the file part, if any (kept for the record).
    #[schema(required = true)]
    pub declared_mimetype: Option<String>,
    /// Bytes.
    pub size: i64,
    /// When the upload finished (RFC 3339).
    #[schema(format = DateTime, required = true)]
    pub uploaded_at: Option<String>,
    /// The `metadata` sent with the upload (`{}` when none was).
    #[schema(value_type = Object)]
    pub metadata: Value,
}

impl FileRecord {
    /// The response shape of upload and list.
    pub fn to_json(&self) -> FileView {
        FileView {
            id: self.id.to_hex(),
            filename: self.filename.clone(),
            mimetype: self.mimetype.clone(),
            declared_mimetype: self.declared_mimetype.clone(),
            size: self.size,
            uploaded_at: self.uploaded_at.try_to_rfc3339_string().ok(),
            metadata: Bson::Document(self.metadata.clone()).into_relaxed_extjson(),
        }
    }

    /// A strong validator: the content never changes under an id.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }

    pub fn size(&self) -> u64 {
        self.size.unsigned_abs()
    }
}

/// The records a caller may reach: their own, or every one with an admin key.
pub fn scope(user: &AuthUser, caller: Caller) -> Document {
    if caller.admin {
        Document::new()
    } else {
        doc! { OWNER: &user.user_id }
    }
}

/// `filter` narrowed to what the caller may reach.
pub fn within_scope(filter: Document, user: &AuthUser, caller: Caller) -> Document {
    let scope = scope(user, caller);
    match (filter.is_empty(), scope.is_empty()) {
        (_, true) => filter,
        (true, false) => scope,
        (false, false) => doc! { "$and": [filter, scope] },
    }
}
