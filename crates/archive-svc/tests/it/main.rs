//! archive-svc through HTTP, on a real SecantusDB, for both blob backends (GridFS and a local
//! directory) wherever the backend could make a difference.

mod helpers;

mod active_content;
mod detection;
mod filenames;
mod limits;
mod listing;
mod memory;
mod openapi;
mod outage;
mod ownership;
mod ranges;
mod round_trip;
mod sweep;
mod validation;
