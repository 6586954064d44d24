//! storage-svc over HTTP on a real SecantusDB.

mod aggregate;
mod delete;
mod find;
mod helpers;
mod indexes;
mod insert;
mod openapi;
mod outage;
mod policies;
mod safety;
mod update;
