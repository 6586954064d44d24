//! An ordered insert of a batch that leaves all of it or none of it.
//!
//! The insert runs to its end in a task of its own. Dropped at the request's deadline, or when
//! the client goes away, it would stop at a point nobody knows: the server may still write
//! any part of the batch. The task learns the outcome instead, and removes what the insert
//! wrote unless the request was told it worked.

use std::time::Duration;

use coglex_common::web::Background;
use coglex_common::ApiError;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::Collection;
use tokio::sync::oneshot;

use super::database_error;
use crate::collection_cap::Admission;
use crate::domain::policy::OWNER;

/// The documents to insert, in order, with their ids.
pub(super) struct Batch {
    pub documents: Vec<Document>,
    /// The `_id` of each document.
    pub ids: Vec<Bson>,
    /// The ids we made up: no document can have them yet, so they are always safe to remove.
    pub generated: Vec<Bson>,
    /// The collection's place under the cap when the insert may create it: held until the
    /// insert ends, even after its request gave up, since it can still create the collection.
    pub admission: Option<Admission>,
}

/// Inserts `batch` into `collection`, waiting up to `limit` for the outcome. An error or a
/// timeout means nothing of the batch stays: the task removes what was written, at once on
/// an error, or once the insert ends when the request gave up first. It waits for that end
/// one more `limit` at most, so an abandoned batch is held in memory no longer than a request.
pub(super) async fn insert_all_or_nothing(
    collection: Collection<Document>,
    batch: Batch,
    limit: Duration,
    background: &Background,
) -> Result<(), ApiError> {
    let (tell, answer) = oneshot::channel();
    let unsettled = Unsettled {
        collection: collection.clone(),
        ids: batch.generated.clone(),
        // A batch is one actor's: its rollback removes only their documents, never one
        // another user stored under a freed id meanwhile. Without an owner (an admin key's
        // batch), only ownerless documents can be its own.
        owner: match batch.documents.first().and_then(|d| d.get(OWNER)) {
            Some(owner) => owner.clone(),
            None => doc! { "$exists": false }.into(),
        },
        limit,
        background: background.clone(),
    };
    tokio::spawn(insert_and_settle(collection, batch, limit, tell, unsettled));
    coglex_common::mongo::outcome_within(limit, answer).await
}

async fn insert_and_settle(
    collection: Collection<Document>,
    batch: Batch,
    limit: Duration,
    tell: oneshot::Sender<Result<(), ApiError>>,
    unsettled: Unsettled,
) {
    let Batch {
        documents,
        ids,
        generated,
        admission,
    } = batch;
    let insert = collection.insert_many(&documents).ordered(true);
    let written = match tokio::time::timeout(2 * limit, insert).await {
        Ok(Ok(_)) => {
            // The collection exists now, whatever becomes of the documents.
            if let Some(admission) = admission {
                admission.created();
            }
            match tell.send(Ok(())) {
                Ok(()) => Vec::new(),
                // The request answered 503 (or its client left) before the insert ended.
                Err(_) => ids,
            }
        }
        Ok(Err(e)) => {
            let written = match written_before(&e) {
                Some(count) => ids[..count.min(ids.len())].to_vec(),
                None => generated,
            };
            unsettled.settle(written).await;
            let _ = tell.send(Err(database_error(e)));
            return;
        }
        // Still no outcome: only the ids we made up are certainly ours.
        Err(_) => generated,
    };
    unsettled.settle(written).await;
}

/// What an insert task removes should it be dropped before it settles (its worker stopping
/// at shutdown): the ids we made up, or those it was removing. That removal then runs in the
/// background, which outlives the worker.
struct Unsettled {
    collection: Collection<Document>,
    ids: Vec<Bson>,
    /// What the batch's documents have as `_owner` (a value, or a filter on it).
    owner: Bson,
    limit: Duration,
    background: Background,
}

impl Unsettled {
    /// Removes `ids` (none when the insert stands).
    async fn settle(mut self, ids: Vec<Bson>) {
        self.ids = ids;
        remove(&self.collection, &self.ids, &self.owner, self.limit).await;
        self.ids.clear();
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        let (collection, ids, owner, limit) = (
            self.collection.clone(),
            std::mem::take(&mut self.ids),
            std::mem::replace(&mut self.owner, Bson::Null),
            self.limit,
        );
        self.background
            .spawn(async move { remove(&collection, &ids, &owner, limit).await });
    }
}

/// How many documents an ordered insert wrote before it failed, when the failure says: an
/// ordered insert stops at its first failing document.
fn written_before(err: &mongodb::error::Error) -> Option<usize> {
    match err.kind.as_ref() {
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .and_then(|errors| errors.iter().map(|w| w.index).min()),
        _ => None,
    }
}

async fn remove(collection: &Collection<Document>, ids: &[Bson], owner: &Bson, limit: Duration) {
    if ids.is_empty() {
        return;
    }
    let removal = collection.delete_many(doc! { "_id": { "$in": ids.to_vec() }, OWNER: owner });
    if let Err(e) = coglex_common::mongo::bounded(limit, removal).await {
        tracing::error!(error = ?e, "could not roll back a failed insert");
    }
}
