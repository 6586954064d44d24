//! Query results streamed to the client as one JSON array, rendered document by document as the
//! cursor yields them, in chunks of about [`FLUSH_BYTES`]: memory stays flat however many
//! documents a query returns.
//!
//! The status line is sent before the rest of the cursor is read, so a failure half-way (the
//! database going away, `maxTimeMS` running out on a later batch) cannot become an error
//! response: the connection is cut instead, and the client sees an incomplete body rather
//! than a short array that looks whole.

use actix_web::HttpResponse;
use bytes::{BufMut, BytesMut};
use coglex_common::render;
use futures_util::{Stream, StreamExt};
use mongodb::bson::Document;

use crate::domain::policy::OWNER;

/// Bytes gathered before a chunk is sent.
const FLUSH_BYTES: usize = 32 * 1024;

/// A 200 response whose body is the cursor's documents as a JSON array.
pub(crate) fn json_array<C>(cursor: C, hide_owner: bool) -> HttpResponse
where
    C: Stream<Item = mongodb::error::Result<Document>> + Unpin + 'static,
{
    let request_id = coglex_common::web::current_request_id();
    let mut opening = BytesMut::with_capacity(FLUSH_BYTES);
    opening.put_u8(b'[');
    let body = futures_util::stream::unfold(Some((cursor, opening, true)), move |state| {
        let request_id = request_id.clone();
        async move {
            let (mut cursor, mut buffer, mut first) = state?;
            loop {
                match cursor.next().await {
                    Some(Ok(document)) => {
                        if !first {
                            buffer.put_u8(b',');
                        }
                        first = false;
                        write_document(&mut buffer, document, hide_owner);
                        if buffer.len() >= FLUSH_BYTES {
                            let chunk = buffer.split().freeze();
                            return Some((Ok(chunk), Some((cursor, buffer, first))));
                        }
                    }
                    Some(Err(e)) => {
                        tracing::error!(request_id = %request_id, error = %e, "cursor failed while streaming");
                        let cut = std::io::Error::other("the result could not be read to the end");
                        return Some((Err(cut), None));
                    }
                    None => {
                        buffer.put_u8(b']');
                        return Some((Ok(buffer.freeze()), None));
                    }
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body)
}

/// One document as the API's plain JSON, without its owner when the caller may not see it.
pub(crate) fn render_document(mut document: Document, hide_owner: bool) -> serde_json::Value {
    if hide_owner {
        document.remove(OWNER);
    }
    render::document(document)
}

fn write_document(buffer: &mut BytesMut, document: Document, hide_owner: bool) {
    let value = render_document(document, hide_owner);
    // Writing a `Value` into memory cannot fail.
    let _ = serde_json::to_writer(BufMut::writer(&mut *buffer), &value);
}
