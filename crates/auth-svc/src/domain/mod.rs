//! Request values parsed once, at the edge, into types that cannot hold bad input.

mod credentials;
mod user_document;

pub use credentials::{Password, UserKey};
pub use user_document::{check_profile_update, check_user_fields};
