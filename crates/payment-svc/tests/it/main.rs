//! payment-svc through HTTP, with a fake Stripe and a real SecantusDB.

mod helpers;

mod api_key;
mod checkout;
mod idempotency;
mod openapi;
mod status;
mod stripe_errors;
mod validation;
mod webhook;
