//! What a Stripe event changes in our records. Only the fields we keep are read, so new
//! fields and API versions do not break parsing (Stripe: "Event object", "Webhook events").
//!
//! - `checkout.session.*`: the session's status, payment status, totals and subscription;
//! - `customer.subscription.*`: the subscription's status;
//! - `invoice.paid`, `invoice.payment_failed`: the subscription's latest invoice. The
//!   invoice names its subscription at `subscription` (API versions before 2025-03-31) or
//!   at `parent.subscription_details.subscription` (later versions); both are read.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::domain::metadata::{storable_key, USER_ID};
use crate::domain::Invalid;

/// An event as Stripe delivers it, reduced to what we need.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// Unix seconds; orders deliveries, which Stripe does not guarantee to be in order.
    pub created: i64,
    pub livemode: bool,
    pub object: Map<String, Value>,
}

impl Event {
    pub fn parse(body: &[u8]) -> Result<Self, Invalid> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| Invalid::new("the event is not JSON"))?;
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| id.starts_with("evt_") && id.len() <= 255)
            .ok_or_else(|| Invalid::new("the event has no valid id"))?
            .to_owned();
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Invalid::new("the event has no type"))?
            .to_owned();
        let created = value
            .get("created")
            .and_then(Value::as_i64)
            .ok_or_else(|| Invalid::new("the event has no created time"))?;
        let object = value
            .pointer("/data/object")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| Invalid::new("the event has no data.object"))?;
        Ok(Self {
            id,
            kind,
            created,
            livemode: value
                .get("livemode")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            object,
        })
    }

    pub fn object_id(&self) -> Option<&str> {
        str_at(&self.object, "id")
    }

    /// The change this event makes, if it is one we record.
    pub fn effect(&self) -> Option<Effect> {
        let id = self.object_id()?.to_owned();
        let object = &self.object;
        match self.kind.as_str() {
            "checkout.session.completed"
            | "checkout.session.expired"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed" => Some(Effect::Session(SessionChange {
                id,
                user_id: metadata_user_id(object),
                mode: str_at(object, "mode").map(str::to_owned),
                status: str_at(object, "status").map(str::to_owned),
                payment_status: str_at(object, "payment_status").map(str::to_owned),
                customer_email: object
                    .get("customer_details")
                    .and_then(|d| d.get("email"))
                    .and_then(Value::as_str)
                    .or_else(|| str_at(object, "customer_email"))
                    .map(str::to_owned),
                customer_id: expandable_id(object.get("customer")),
                subscription_id: expandable_id(object.get("subscription")),
                amount_total: object.get("amount_total").and_then(Value::as_i64),
                currency: str_at(object, "currency").map(str::to_owned),
                metadata: object
                    .get("metadata")
                    .and_then(Value::as_object)
                    .map(strings_only),
            })),
            kind if kind.starts_with("customer.subscription.") => {
                Some(Effect::Subscription(SubscriptionChange {
                    id,
                    stage: Stage::of(kind),
                    user_id: metadata_user_id(object),
                    status: str_at(object, "status").map(str::to_owned),
                    customer_id: expandable_id(object.get("customer")),
                    cancel_at_period_end: object
                        .get("cancel_at_period_end")
                        .and_then(Value::as_bool),
                    price_ids: object
                        .get("items")
                        .and_then(|items| items.get("data"))
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|item| {
                                    item.pointer("/price/id").and_then(Value::as_str)
                                })
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                }))
            }
            "invoice.paid" | "invoice.payment_failed" => {
                let subscription_id = expandable_id(object.get("subscription")).or_else(|| {
                    expandable_id(
                        object
                            .get("parent")
                            .and_then(|p| p.pointer("/subscription_details/subscription")),
                    )
                })?;
                Some(Effect::Invoice(InvoiceChange {
                    subscription_id,
                    invoice_id: id,
                    status: if self.kind == "invoice.paid" {
                        "paid"
                    } else {
                        "payment_failed"
                    },
                    amount_paid: object.get("amount_paid").and_then(Value::as_i64),
                    amount_due: object.get("amount_due").and_then(Value::as_i64),
                    currency: str_at(object, "currency").map(str::to_owned),
                }))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Session(SessionChange),
    Subscription(SubscriptionChange),
    Invoice(InvoiceChange),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionChange {
    pub id: String,
    pub user_id: Option<String>,
    pub mode: Option<String>,
    pub status: Option<String>,
    pub payment_status: Option<String>,
    pub customer_email: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionChange {
    pub id: String,
    /// Which event of the subscription's life this is, to order events of one second.
    pub stage: Stage,
    pub user_id: Option<String>,
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub cancel_at_period_end: Option<bool>,
    pub price_ids: Vec<String>,
}

/// Where in a subscription's life an event comes: `created` first, `deleted` last, and
/// every other change (`updated`, `paused`, `resumed`, ...) between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Created = 0,
    Changed = 1,
    Deleted = 2,
}

impl Stage {
    fn of(kind: &str) -> Self {
        match kind {
            "customer.subscription.created" => Self::Created,
            "customer.subscription.deleted" => Self::Deleted,
            _ => Self::Changed,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceChange {
    pub subscription_id: String,
    pub invoice_id: String,
    pub status: &'static str,
    pub amount_paid: Option<i64>,
    pub amount_due: Option<i64>,
    pub currency: Option<String>,
}

fn str_at<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// Stripe's metadata maps strings to strings; anything else in a (signed) event is dropped
/// rather than stored, as are keys a document cannot hold as they are (`$` first, a `.` or
/// a NUL: checkouts through this service never send them).
fn strings_only(metadata: &Map<String, Value>) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter(|(key, _)| storable_key(key))
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
}

/// Our server wrote `user_id` into the metadata (clients cannot), so it names the owner.
fn metadata_user_id(object: &Map<String, Value>) -> Option<String> {
    object
        .get("metadata")
        .and_then(|m| m.get(USER_ID))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// An id field Stripe may send as the id or, when expanded, as the object.
fn expandable_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => str_at(object, "id").map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, object: Value) -> Event {
        let body = json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_700_000_000, "livemode": false, "data": {"object": object}});
        Event::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn only_string_metadata_is_kept() {
        let completed = event(
            "checkout.session.completed",
            json!({"id": "cs_1", "status": "complete", "payment_status": "paid",
                   "metadata": {"order": "o1", "huge": 18446744073709551615u64, "nested": {"a": 1}}}),
        );
        let Some(Effect::Session(change)) = completed.effect() else {
            panic!("a session change")
        };
        let kept = change.metadata.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["order"], "o1");
    }

    #[test]
    fn a_completed_session_carries_its_status_and_owner() {
        let e = event(
            "checkout.session.completed",
            json!({"id": "cs_1", "status": "complete", "payment_status": "paid", "metadata": {"user_id": "u1"}, "subscription": null}),
        );
        let Some(Effect::Session(change)) = e.effect() else {
            panic!("a session change expected");
        };
        assert_eq!(change.status.as_deref(), Some("complete"));
        assert_eq!(change.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn an_invoice_finds_its_subscription_in_old_and_new_api_versions() {
        let old = event(
            "invoice.paid",
            json!({"id": "in_1", "subscription": "sub_1"}),
        );
        let new = event(
            "invoice.payment_failed",
            json!({"id": "in_2", "parent": {"subscription_details": {"subscription": "sub_2"}}}),
        );
        let ids: Vec<_> = [old, new]
            .iter()
            .map(|e| match e.effect() {
                Some(Effect::Invoice(change)) => (change.subscription_id, change.status),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("sub_1".to_owned(), "paid"),
                ("sub_2".to_owned(), "payment_failed")
            ]
        );
    }

    #[test]
    fn other_event_types_change_nothing() {
        assert_eq!(
            event("charge.succeeded", json!({"id": "ch_1"})).effect(),
            None
        );
    }

    #[test]
    fn an_event_without_an_id_is_refused() {
        let body = json!({"type": "invoice.paid", "created": 1, "data": {"object": {}}});
        assert!(Event::parse(body.to_string().as_bytes()).is_err());
        assert!(Event::parse(b"not json").is_err());
    }
}
