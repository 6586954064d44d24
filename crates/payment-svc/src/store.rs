//! The payment records: one document per Checkout Session and per subscription in
//! `MONGODB_PAYMENTS_COLLECTION` (told apart by `kind`), and the ids of the Stripe events
//! already applied in `MONGODB_PAYMENT_EVENTS_COLLECTION`.
//!
//! Stripe delivers events at least once and in no guaranteed order ("Webhooks: handle
//! duplicate events", "Event ordering"), so an event is applied only when it is newer than
//! the last one applied to the same record, and its id is written after it was applied: a
//! redelivery finds the id and changes nothing.

use std::collections::BTreeMap;

use coglex_common::mongo::is_duplicate_key;
use coglex_common::ApiError;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::{Collection, Database};
use serde::Serialize;
use utoipa::ToSchema;

use crate::events::{Effect, Event, InvoiceChange, SessionChange, SubscriptionChange};
use crate::settings::Settings;
use crate::stripe::CreatedSession;

/// Records of each kind `GET /payments` returns, newest first.
const LIST_LIMIT: i64 = 100;

pub mod kind {
    pub const SESSION: &str = "checkout_session";
    pub const SUBSCRIPTION: &str = "subscription";
}

/// What became of a delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// Older than what its record already reflects: nothing changed.
    Stale,
    /// A type we do not record; acknowledged so Stripe stops sending it.
    Ignored,
}

/// Longest a route waits for its database calls before answering 503 (Stripe retries a
/// webhook that got one).
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct PaymentStore {
    payments: Collection<Document>,
    events: Collection<Document>,
}

impl PaymentStore {
    pub fn new(db: &Database, settings: &Settings) -> Self {
        Self {
            payments: db.collection(&settings.mongodb_payments_collection),
            events: db.collection(&settings.mongodb_payment_events_collection),
        }
    }

    /// Records a session we just created. A retried creation, or a webhook that arrived
    /// first, already wrote it: nothing they wrote is overwritten.
    pub async fn record_created(
        &self,
        session: &CreatedSession,
        user_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let metadata = metadata_document(&session.metadata);
        let now = DateTime::now();
        let insert = doc! {
            "kind": kind::SESSION,
            "user_id": user_id,
            "mode": &session.mode,
            "status": session.status.as_deref().unwrap_or("open"),
            "payment_status": &session.payment_status,
            "customer_email": session.customer_email.as_deref(),
            "amount_total": session.amount_total,
            "currency": session.currency.as_deref(),
            "metadata": metadata,
            "url": session.url.as_deref(),
            "subscription_id": Bson::Null,
            "created_at": DateTime::from_millis(session.created.saturating_mul(1000)),
            "expires_at": DateTime::from_millis(session.expires_at.saturating_mul(1000)),
            "updated_at": now,
        };
        self.payments
            .update_one(doc! { "_id": &session.id }, doc! { "$setOnInsert": insert })
            .upsert(true)
            .await?;
        Ok(())
    }

    pub async fn find_session(&self, id: &str) -> Result<Option<Document>, ApiError> {
        Ok(self
            .payments
            .find_one(doc! { "_id": id, "kind": kind::SESSION })
            .await?)
    }

    /// The user's sessions and subscriptions, each newest first. Listed apart, so that
    /// checkouts started since (abandoned ones too) never push a live subscription out.
    pub async fn list_for_user(
        &self,
        user_id: &str,
    ) -> Result<(Vec<Document>, Vec<Document>), ApiError> {
        futures_util::try_join!(
            self.newest(user_id, kind::SESSION),
            self.newest(user_id, kind::SUBSCRIPTION),
        )
    }

    async fn newest(&self, user_id: &str, kind: &str) -> Result<Vec<Document>, ApiError> {
        let cursor = self
            .payments
            .find(doc! { "user_id": user_id, "kind": kind })
            .sort(doc! { "created_at": -1, "_id": 1 })
            .limit(LIST_LIMIT)
            .await?;
        Ok(cursor.try_collect().await?)
    }

    /// Applies `event` once, however often Stripe delivers it.
    pub async fn record_event(&self, event: &Event) -> Result<Recorded, ApiError> {
        if self
            .events
            .find_one(doc! { "_id": &event.id })
            .await?
            .is_some()
        {
            return Ok(Recorded::Duplicate);
        }
        let Some(effect) = event.effect() else {
            return Ok(Recorded::Ignored);
        };
        let changed = match &effect {
            Effect::Session(change) => self.apply_session(event.created, change).await?,
            Effect::Subscription(change) => self.apply_subscription(event.created, change).await?,
            Effect::Invoice(change) => self.apply_invoice(event.created, change).await?,
        };
        let seen = doc! {
            "_id": &event.id,
            "type": &event.kind,
            "object_id": event.object_id(),
            "created": event.created,
            "livemode": event.livemode,
            "received_at": DateTime::now(),
        };
        match self.events.insert_one(seen).await {
            Ok(_) if changed => Ok(Recorded::Applied),
            Ok(_) => Ok(Recorded::Stale),
            // A concurrent delivery of the same event recorded it first.
            Err(err) if is_duplicate_key(&err) => Ok(Recorded::Duplicate),
            Err(err) => Err(err.into()),
        }
    }

    async fn apply_session(&self, created: i64, change: &SessionChange) -> Result<bool, ApiError> {
        let mut set = Document::new();
        put(&mut set, "status", change.status.as_deref());
        put(&mut set, "payment_status", change.payment_status.as_deref());
        put(&mut set, "customer_email", change.customer_email.as_deref());
        put(&mut set, "customer_id", change.customer_id.as_deref());
        put(
            &mut set,
            "subscription_id",
            change.subscription_id.as_deref(),
        );
        put(&mut set, "amount_total", change.amount_total);
        put(&mut set, "currency", change.currency.as_deref());
        let mut insert = doc! {
            "kind": kind::SESSION,
            "user_id": change.user_id.as_deref(),
            "mode": change.mode.as_deref(),
            "created_at": DateTime::now(),
        };
        if let Some(metadata) = &change.metadata {
            insert.insert("metadata", metadata_document(metadata));
        }
        let changed = self
            .apply_guarded(&change.id, "last_event_created", created, set, insert)
            .await?;
        if let Some(subscription_id) = &change.subscription_id {
            // Links the subscription to its session and owner, whichever event came first.
            let mut set = doc! { "checkout_session_id": &change.id };
            put(&mut set, "user_id", change.user_id.as_deref());
            self.payments
                .update_one(
                    doc! { "_id": subscription_id },
                    doc! {
                        "$set": set,
                        "$setOnInsert": { "kind": kind::SUBSCRIPTION, "created_at": DateTime::now() },
                    },
                )
                .upsert(true)
                .await?;
        }
        Ok(changed)
    }

    async fn apply_subscription(
        &self,
        created: i64,
        change: &SubscriptionChange,
    ) -> Result<bool, ApiError> {
        let mut set = Document::new();
        put(&mut set, "status", change.status.as_deref());
        put(&mut set, "customer_id", change.customer_id.as_deref());
        put(
            &mut set,
            "cancel_at_period_end",
            change.cancel_at_period_end,
        );
        put(&mut set, "user_id", change.user_id.as_deref());
        if !change.price_ids.is_empty() {
            set.insert("price_ids", change.price_ids.clone());
        }
        let insert = doc! { "kind": kind::SUBSCRIPTION, "created_at": DateTime::now() };
        // Stripe's `created` counts whole seconds, and a checkout's `created` and `updated`
        // often share one: within a second, the later stage of the subscription's life wins.
        // The fraction keeps the order comparable with the whole seconds stored before.
        let order = created as f64 + f64::from(change.stage as u8) / 4.0;
        self.apply_guarded(&change.id, "last_event_created", order, set, insert)
            .await
    }

    async fn apply_invoice(&self, created: i64, change: &InvoiceChange) -> Result<bool, ApiError> {
        let set = doc! {
            "latest_invoice": {
                "id": &change.invoice_id,
                "status": change.status,
                "amount_paid": change.amount_paid,
                "amount_due": change.amount_due,
                "currency": change.currency.as_deref(),
            },
        };
        let insert = doc! { "kind": kind::SUBSCRIPTION, "created_at": DateTime::now() };
        // Invoices order among themselves, not against subscription events.
        self.apply_guarded(
            &change.subscription_id,
            "last_invoice_event_created",
            created,
            set,
            insert,
        )
        .await
    }

    /// `$set` on record `id` unless it already reflects a newer event (by `guard`); creates
    /// the record when it does not exist yet. Answers whether the record took the event.
    ///
    /// One upsert decides: it updates a record that is not newer, or creates a missing one.
    /// When it collides with an existing record (newer, or created meanwhile by a concurrent
    /// delivery), the guarded update runs once more against that record, which now exists:
    /// matching nothing then means it is newer, and this event is stale.
    async fn apply_guarded(
        &self,
        id: &str,
        guard: &str,
        order: impl Into<Bson>,
        mut set: Document,
        insert: Document,
    ) -> Result<bool, ApiError> {
        let order: Bson = order.into();
        set.insert(guard, order.clone());
        set.insert("updated_at", DateTime::now());
        let fresher = doc! {
            "_id": id,
            "$or": [ { guard: { "$exists": false } }, { guard: { "$lte": order.clone() } } ],
        };
        let upserted = self
            .payments
            .update_one(
                fresher.clone(),
                doc! { "$set": set.clone(), "$setOnInsert": insert },
            )
            .upsert(true)
            .await;
        match upserted {
            Ok(taken) => Ok(taken.matched_count == 1 || taken.upserted_id.is_some()),
            Err(err) if is_duplicate_key(&err) => {
                let taken = self
                    .payments
                    .update_one(fresher, doc! { "$set": set })
                    .await?;
                Ok(taken.matched_count == 1)
            }
            Err(err) => Err(err.into()),
        }
    }
}

fn put(document: &mut Document, key: &str, value: Option<impl Into<Bson>>) {
    if let Some(value) = value {
        document.insert(key, value.into());
    }
}

/// Stripe metadata as stored: plain strings, never read as Extended JSON (a `{"$date": ..}`
/// stays two strings).
fn metadata_document(metadata: &BTreeMap<String, String>) -> Document {
    metadata
        .iter()
        .map(|(key, value)| (key.clone(), Bson::String(value.clone())))
        .collect()
}

/// A Checkout Session as clients see it. Every field is always present; the ones the record
/// does not know (yet) are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionView {
    /// The Checkout Session id (`cs_...`).
    pub id: String,
    /// `payment` or `subscription`.
    #[schema(required = true)]
    pub mode: Option<String>,
    /// Stripe's session status: `open`, `complete` or `expired`.
    #[schema(required = true)]
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[schema(required = true)]
    pub payment_status: Option<String>,
    #[schema(required = true)]
    pub customer_email: Option<String>,
    /// In the currency's smallest unit (cents for usd).
    #[schema(required = true)]
    pub amount_total: Option<i64>,
    /// Lower-case ISO 4217 code.
    #[schema(required = true)]
    pub currency: Option<String>,
    /// The subscription this session started (`sub_...`), in subscription mode.
    #[schema(required = true)]
    pub subscription: Option<String>,
    /// The session's metadata (`user_id` is the signed-in user who created it).
    pub metadata: BTreeMap<String, String>,
    /// Stripe's hosted checkout page, while the session is open.
    #[schema(required = true)]
    pub url: Option<String>,
    /// RFC 3339.
    #[schema(required = true)]
    pub created_at: Option<String>,
    /// RFC 3339.
    #[schema(required = true)]
    pub updated_at: Option<String>,
}

/// A session record as clients see it.
pub fn session_view(record: &Document) -> SessionView {
    SessionView {
        id: record.get_str("_id").unwrap_or_default().to_owned(),
        mode: opt_str(record, "mode"),
        status: opt_str(record, "status"),
        payment_status: opt_str(record, "payment_status"),
        customer_email: opt_str(record, "customer_email"),
        amount_total: opt_i64(record, "amount_total"),
        currency: opt_str(record, "currency"),
        subscription: opt_str(record, "subscription_id"),
        metadata: record
            .get_document("metadata")
            .map(string_map)
            .unwrap_or_default(),
        url: opt_str(record, "url"),
        created_at: opt_time(record, "created_at"),
        updated_at: opt_time(record, "updated_at"),
    }
}

/// The latest invoice of a subscription, as the last `invoice.*` event described it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InvoiceView {
    /// The invoice id (`in_...`).
    #[schema(required = true)]
    pub id: Option<String>,
    /// `paid` or `payment_failed`.
    #[schema(required = true)]
    pub status: Option<String>,
    /// In the currency's smallest unit.
    #[schema(required = true)]
    pub amount_paid: Option<i64>,
    /// In the currency's smallest unit.
    #[schema(required = true)]
    pub amount_due: Option<i64>,
    #[schema(required = true)]
    pub currency: Option<String>,
}

/// A subscription as clients see it. Every field is always present; unknown ones are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The subscription id (`sub_...`).
    pub id: String,
    /// Stripe's subscription status (`active`, `past_due`, `canceled`, ...).
    #[schema(required = true)]
    pub status: Option<String>,
    #[schema(required = true)]
    pub cancel_at_period_end: Option<bool>,
    /// The Checkout Session that started it.
    #[schema(required = true)]
    pub checkout_session: Option<String>,
    /// The subscription's price ids.
    pub price_ids: Vec<String>,
    #[schema(required = true)]
    pub latest_invoice: Option<InvoiceView>,
    /// RFC 3339.
    #[schema(required = true)]
    pub created_at: Option<String>,
    /// RFC 3339.
    #[schema(required = true)]
    pub updated_at: Option<String>,
}

/// A subscription record as clients see it.
pub fn subscription_view(record: &Document) -> SubscriptionView {
    let latest_invoice = record
        .get_document("latest_invoice")
        .ok()
        .map(|invoice| InvoiceView {
            id: opt_str(invoice, "id"),
            status: opt_str(invoice, "status"),
            amount_paid: opt_i64(invoice, "amount_paid"),
            amount_due: opt_i64(invoice, "amount_due"),
            currency: opt_str(invoice, "currency"),
        });
    SubscriptionView {
        id: record.get_str("_id").unwrap_or_default().to_owned(),
        status: opt_str(record, "status"),
        cancel_at_period_end: record.get_bool("cancel_at_period_end").ok(),
        checkout_session: opt_str(record, "checkout_session_id"),
        price_ids: record
            .get_array("price_ids")
            .map(|a| {
                a.iter()
                    .filter_map(Bson::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        latest_invoice,
        created_at: opt_time(record, "created_at"),
        updated_at: opt_time(record, "updated_at"),
    }
}

fn opt_str(record: &Document, key: &str) -> Option<String> {
    record.get_str(key).ok().map(str::to_owned)
}

fn opt_i64(record: &Document, key: &str) -> Option<i64> {
    match record.get(key) {
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Int32(n)) => Some(i64::from(*n)),
        _ => None,
    }
}

fn opt_time(record: &Document, key: &str) -> Option<String> {
    record
        .get_datetime(key)
        .ok()
        .and_then(|t| t.try_to_rfc3339_string().ok())
}

fn string_map(document: &Document) -> BTreeMap<String, String> {
    document
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}
