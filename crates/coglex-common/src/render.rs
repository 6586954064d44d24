//! BSON rendered as the plain JSON our API speaks: ObjectIds as their 24-hex string, dates as
//! ISO-8601 (RFC 3339) strings, 64-bit integers as numbers, decimals as strings, binary as
//! base64. Clients never see Extended JSON wrappers in responses.

use mongodb::bson::{Bson, Document};
use serde_json::{Map, Number, Value};

pub fn document(doc: Document) -> Value {
    Value::Object(
        doc.into_iter()
            .map(|(k, v)| (k, bson(v)))
            .collect::<Map<_, _>>(),
    )
}

pub fn bson(value: Bson) -> Value {
    match value {
        Bson::Double(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => Value::String(s),
        Bson::Array(items) => Value::Array(items.into_iter().map(bson).collect()),
        Bson::Document(doc) => document(doc),
        Bson::Boolean(b) => Value::Bool(b),
        Bson::Null | Bson::Undefined | Bson::MaxKey | Bson::MinKey => Value::Null,
        Bson::Int32(i) => Value::from(i),
        Bson::Int64(i) => Value::from(i),
        Bson::ObjectId(id) => Value::String(id.to_hex()),
        Bson::DateTime(at) => Value::String(
            at.try_to_rfc3339_string()
                .unwrap_or_else(|_| at.timestamp_millis().to_string()),
        ),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        Bson::Timestamp(t) => Value::from(t.time),
        Bson::Binary(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.bytes))
        }
        Bson::RegularExpression(r) => Value::String(format!("/{}/{}", r.pattern, r.options)),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, oid::ObjectId, DateTime};

    #[test]
    fn ids_and_dates_become_plain_strings() {
        let id = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let at = DateTime::from_millis(1_705_314_600_000);
        let rendered = document(doc! { "_id": id, "at": at, "n": 5_i64, "nested": [{"x": 1.5}] });
        assert_eq!(
            rendered,
            serde_json::json!({"_id": "65a1b2c3d4e5f60718293a4b", "at": "2024-01-15T10:30:00Z", "n": 5, "nested": [{"x": 1.5}]})
        );
    }
}
