//! Request values parsed once, at the edge, into types that can only hold valid values.
//! The limits come from Stripe's API reference for Checkout Sessions and metadata.

pub mod checkout;
pub mod idempotency;
pub mod metadata;
pub mod redirect_url;

/// A refusal of client input: the message says which field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Invalid> for coglex_common::ApiError {
    fn from(invalid: Invalid) -> Self {
        coglex_common::ApiError::bad_request(invalid.0)
    }
}
