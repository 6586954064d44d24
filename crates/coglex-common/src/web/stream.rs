//! Query results streamed to the client as one JSON array, rendered item by item as the cursor
//! yields them, in chunks of about [`FLUSH_BYTES`]: memory stays flat however many items a
//! query returns and however large each is.
//!
//! The status line is sent before the rest of the cursor is read, so a failure half-way (the
//! database going away, `maxTimeMS` running out on a later batch) cannot become an error
//! response: the connection is cut instead, and the client sees an incomplete body rather
//! than a short array that looks whole. A later batch that does not arrive in time is such a
//! failure too: a silent connection would otherwise hold the response open forever.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

/// Bytes gathered before a chunk is sent.
const FLUSH_BYTES: usize = 32 * 1024;

/// A 200 response whose body is the cursor's items, each as `render` shows it, as a JSON array.
/// Each item (a later batch, for the first of its items) must arrive within `limit`.
pub fn json_array<C, T, S, R>(cursor: C, limit: Duration, render: R) -> HttpResponse
where
    C: Stream<Item = mongodb::error::Result<T>> + Unpin + 'static,
    T: 'static,
    R: FnMut(T) -> S + 'static,
    S: Serialize,
{
    let cursor = Box::pin(crate::mongo::cursor_within(cursor, limit));
    let request_id = super::current_request_id();
    let mut opening = Vec::with_capacity(FLUSH_BYTES);
    opening.push(b'[');
    let start = Some((cursor, render, opening, true));
    let body = futures_util::stream::unfold(start, move |state| {
        let request_id = request_id.clone();
        async move {
            let (mut cursor, mut render, mut buffer, mut first) = state?;
            loop {
                match cursor.next().await {
                    Some(Ok(item)) => {
                        if !first {
                            buffer.push(b',');
                        }
                        first = false;
                        // Writing into memory cannot fail.
                        let _ = serde_json::to_writer(&mut buffer, &render(item));
                        if buffer.len() >= FLUSH_BYTES {
                            let chunk =
                                std::mem::replace(&mut buffer, Vec::with_capacity(FLUSH_BYTES));
                            return Some((
                                Ok(Bytes::from(chunk)),
                                Some((cursor, render, buffer, first)),
                            ));
                        }
                    }
                    Some(Err(e)) => {
                        tracing::error!(request_id = %request_id, error = %e, "cursor failed while streaming");
                        let cut = std::io::Error::other("the result could not be read to the end");
                        return Some((Err(cut), None));
                    }
                    None => {
                        buffer.push(b']');
                        return Some((Ok(Bytes::from(buffer)), None));
                    }
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body)
}
