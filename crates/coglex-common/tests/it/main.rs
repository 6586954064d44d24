//! Integration tests of the shared service glue, through HTTP, on a real SecantusDB.

mod helpers;

mod api_key;
mod auth_user;
mod database_outage;
mod errors;
mod health;
mod openapi;
mod tcp;
