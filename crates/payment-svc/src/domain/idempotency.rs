//! The key that makes a retried checkout return the session it already created.
//!
//! Stripe keys are at most 255 characters and are shared by everything using our Stripe
//! account, so a client's key is namespaced by who sent it: two users choosing the same key
//! never receive each other's session (Stripe: "Idempotent requests").

use sha2::{Digest, Sha256};

use super::Invalid;

/// Longest key a client may send (Stripe's own limit).
const MAX_LEN: usize = 255;

/// Whose keys a client key is one of.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A signed-in user, by id.
    User(&'a str),
    /// A caller without a session, by the API key it sent: the apps holding different keys
    /// never share one.
    ApiKey(&'a [u8]),
}

/// The key sent to Stripe as `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// From the client's `Idempotency-Key` header, within `scope`.
    pub fn from_client(raw: &[u8], scope: Scope<'_>) -> Result<Self, Invalid> {
        let invalid = || {
            Invalid(format!(
                "the Idempotency-Key header must be 1 to {MAX_LEN} visible ASCII characters"
            ))
        };
        if raw.is_empty() || raw.len() > MAX_LEN || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(invalid());
        }
        let mut hash = Sha256::new();
        match scope {
            Scope::User(id) => hash.update(id.as_bytes()),
            // User ids are hex, so no user id is ever `key:...`.
            Scope::ApiKey(key) => hash.update(format!("key:{}", hex(&Sha256::digest(key)))),
        }
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
        let a = IdempotencyKey::from_client(b"order-456", Scope::User("u1")).unwrap();
        let b = IdempotencyKey::from_client(b"order-456", Scope::User("u1")).unwrap();
        assert_eq!(a, b);
        assert!(a.as_str().len() <= MAX_LEN);
    }

    #[test]
    fn owners_never_share_a_key() {
        let a = IdempotencyKey::from_client(b"order-456", Scope::User("u1")).unwrap();
        let b = IdempotencyKey::from_client(b"order-456", Scope::User("u2")).unwrap();
        let anonymous =
            IdempotencyKey::from_client(b"order-456", Scope::ApiKey(b"app-key-1")).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, anonymous);
        let other_app = IdempotencyKey::from_client(b"order-456", Scope::ApiKey(b"app-key-2"));
        assert_ne!(anonymous, other_app.unwrap());
    }

    #[test]
    fn empty_long_or_non_ascii_keys_are_refused() {
        assert!(IdempotencyKey::from_client(b"", Scope::ApiKey(b"k")).is_err());
        assert!(IdempotencyKey::from_client(&[b'k'; 256], Scope::ApiKey(b"k")).is_err());
        assert!(IdempotencyKey::from_client("clé".as_bytes(), Scope::ApiKey(b"k")).is_err());
        assert!(IdempotencyKey::from_client(b"a b", Scope::ApiKey(b"k")).is_err());
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(IdempotencyKey::generate(), IdempotencyKey::generate());
    }
}
