//! Checkout metadata within Stripe's limits: at most 50 keys, keys up to 40 characters
//! without square brackets, values up to 500 characters (Stripe: "Metadata").
//!
//! `user_id` is reserved: the server sets it from the caller's session, so a client can
//! never attach a session to someone else.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Invalid;

pub const MAX_KEYS: usize = 50;
pub const MAX_KEY_LEN: usize = 40;
pub const MAX_VALUE_LEN: usize = 500;
/// The key the server owns.
pub const USER_ID: &str = "user_id";

/// Whether a document can hold `key` as it is: not read as an operator (`$` first) or a path
/// (`.`), and encodable (no NUL).
pub fn storable_key(key: &str) -> bool {
    !key.starts_with('$') && !key.contains(['.', '\0'])
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Strings, numbers and booleans are accepted (Stripe stores every value as a string);
    /// a client's `user_id` is dropped and replaced by `user_id` when the caller is signed in.
    pub fn parse(
        raw: Option<&serde_json::Map<String, Value>>,
        user_id: Option<&str>,
    ) -> Result<Self, Invalid> {
        let mut entries = BTreeMap::new();
        for (key, value) in raw.into_iter().flatten() {
            if key == USER_ID {
                continue;
            }
            if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
                return Err(Invalid(format!(
                    "metadata keys must be 1 to {MAX_KEY_LEN} characters"
                )));
            }
            if key.contains(['[', ']']) {
                return Err(Invalid("metadata keys must not contain `[` or `]`".into()));
            }
            if !storable_key(key) {
                return Err(Invalid(
                    "metadata keys must not start with `$` or contain `.` or a NUL character"
                        .into(),
                ));
            }
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(Invalid(format!(
                        "metadata.{key} must be a string, a number or a boolean"
                    )))
                }
            };
            if value.chars().count() > MAX_VALUE_LEN {
                return Err(Invalid(format!(
                    "metadata.{key} must be at most {MAX_VALUE_LEN} characters"
                )));
            }
            entries.insert(key.clone(), value);
        }
        if let Some(user_id) = user_id {
            entries.insert(USER_ID.to_owned(), user_id.to_owned());
        }
        if entries.len() > MAX_KEYS {
            return Err(Invalid(format!(
                "metadata must have at most {MAX_KEYS} keys"
            )));
        }
        Ok(Self(entries))
    }

    pub fn user_id(&self) -> Option<&str> {
        self.0.get(USER_ID).map(String::as_str)
    }

    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value, user: Option<&str>) -> Result<Metadata, Invalid> {
        Metadata::parse(value.as_object(), user)
    }

    #[test]
    fn a_client_user_id_is_replaced_by_the_signed_in_user() {
        let metadata = parse(json!({"user_id": "user_123", "plan": "pro"}), Some("abc")).unwrap();
        assert_eq!(metadata.user_id(), Some("abc"));
        assert_eq!(metadata.entries()["plan"], "pro");
    }

    #[test]
    fn a_client_user_id_is_dropped_without_a_session() {
        let metadata = parse(json!({"user_id": "user_123"}), None).unwrap();
        assert_eq!(metadata.user_id(), None);
    }

    #[test]
    fn numbers_and_booleans_become_strings() {
        let metadata = parse(json!({"n": 3, "b": true}), None).unwrap();
        assert_eq!(metadata.entries()["n"], "3");
        assert_eq!(metadata.entries()["b"], "true");
    }

    #[test]
    fn stripes_limits_are_enforced() {
        let fifty_one: serde_json::Map<String, Value> =
            (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(Metadata::parse(Some(&fifty_one), None).is_err());
        assert!(parse(json!({"k".repeat(41): "v"}), None).is_err());
        assert!(parse(json!({"k": "v".repeat(501)}), None).is_err());
        assert!(parse(json!({"a[b]": "v"}), None).is_err());
        assert!(parse(json!({"k": {"nested": 1}}), None).is_err());
        assert!(parse(json!({"k": "v".repeat(500)}), None).is_ok());
    }

    #[test]
    fn keys_a_document_would_read_as_operators_or_paths_are_refused() {
        for key in ["$date", "$oid", "a.b", "nul\0"] {
            assert!(parse(json!({ key: "v" }), None).is_err(), "{key:?}");
        }
        assert!(parse(json!({"price$": "v", "plan-id": "v"}), None).is_ok());
    }

    #[test]
    fn the_server_user_id_counts_towards_the_limit() {
        let fifty: serde_json::Map<String, Value> =
            (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(Metadata::parse(Some(&fifty), None).is_ok());
        assert!(Metadata::parse(Some(&fifty), Some("u")).is_err());
    }
}
