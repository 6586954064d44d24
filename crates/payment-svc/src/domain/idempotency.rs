//! The key that makes a retried checkout return the session it already created.
//!
//! Stripe keys are at most 255 characters and are shared by everything using our Stripe
//! account, so a client's key is namespaced by who sent it: two users choosing the same key
//! never receive each other's session (Stripe: "Idempotent requests").

use sha2::{Digest, Sha256};

use super::Invalid;

/// Longest key a client may send (Stripe's own limit).
const MAX_LEN: usize = 255;

/// The key sent to Stripe as `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// From the client's `Idempotency-Key` header, scoped to `owner` (a user id, or the
    /// anonymous API-key caller).
    pub fn from_client(raw: &[u8], owner: Option<&str>) -> Result<Self, Invalid> {
        let invalid = || {
            Invalid(format!(
                "the Idempotency-Key header must be 1 to {MAX_LEN} visible ASCII characters"
            ))
        };
        if raw.is_empty() || raw.len() > MAX_LEN || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(invalid());
        }
        let mut hash = Sha256::new();
        hash.update(owner.unwrap_or("-").as_bytes());
        hash.update([0]);
        hash.update(raw);
        Ok(Self(format!("coglex-{}", hex(&hash.finalize()))))
    }

    /// A fresh key when the client sent none: one request, one session.
    pub fn generate() -> Self {
        Self(format!("coglex-{}", uuid::Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_client_key_gives_the_same_stripe_key_for_the_same_owner() {
        let a = IdempotencyKey::from_client(b"order-456", Some("u1")).unwrap();
        let b = IdempotencyKey::from_client(b"order-456", Some("u1")).unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().len() <= MAX_LEN);
    }

    #[test]
    fn owners_never_share_a_key() {
        let a = IdempotencyKey::from_client(b"order-456", Some("u1")).unwrap();
        let b = IdempotencyKey::from_client(b"order-456", Some("u2")).unwrap();
        let anonymous = IdempotencyKey::from_client(b"order-456", None).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, anonymous);
    }

    #[test]
    fn empty_long_or_non_ascii_keys_are_refused() {
        assert!(IdempotencyKey::from_client(b"", None).is_err());
        assert!(IdempotencyKey::from_client(&[b'k'; 256], None).is_err());
        assert!(IdempotencyKey::from_client("clé".as_bytes(), None).is_err());
        assert!(IdempotencyKey::from_client(b"a b", None).is_err());
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(IdempotencyKey::generate(), IdempotencyKey::generate());
    }
}
