//! Index helpers shared by the collections auth-svc keeps short-lived state in.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

/// The field every short-lived record keeps its end of life in.
pub const EXPIRES_AT: &str = "expires_at";

/// A TTL index on `expires_at`: the database deletes each record once that moment has passed
/// (within its TTL monitor's period, so reads still check the expiry themselves).
pub async fn expire_records(collection: &Collection<Document>) -> mongodb::error::Result<()> {
    let ttl = IndexModel::builder()
        .keys(doc! { EXPIRES_AT: 1 })
        .options(
            IndexOptions::builder()
                .expire_after(Duration::ZERO)
                .name("expiry".to_owned())
                .build(),
        )
        .build();
    collection.create_index(ttl).await.map(|_| ())
}
