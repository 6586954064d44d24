//! generation-svc through HTTP, with a fake Gemini and a real SecantusDB.

mod helpers;

mod converse;
mod file_owners;
mod file_upload;
mod openapi;
mod refusals;
mod streaming;
mod tokens;
mod upstream_errors;
mod usage;
mod validation;
