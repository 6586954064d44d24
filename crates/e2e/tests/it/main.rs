//! The whole stack through the gateway: the API contract (OpenAPI), the original README's
//! examples replayed, and property-based fuzzing with schemathesis.

mod contract;
mod fuzz;
mod helpers;
mod limits;
mod readme;
