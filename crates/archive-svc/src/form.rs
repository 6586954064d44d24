//! The `multipart/form-data` request body (RFC 7578) read field by field and chunk by chunk,
//! with its errors in the API's shape.
//!
//! actix-multipart (0.7 at least) can wait forever on a body that ends in the middle of a
//! boundary (its parser answers "pending" after the end of the body, and nothing wakes it
//! again). So the body is watched: a parser still waiting once the body has ended is reading a
//! truncated form.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::web::{self, Bytes};
use futures_util::{Stream, StreamExt};

use coglex_common::{ApiError, ErrorCode};

/// A multipart form being read.
pub struct Form {
    multipart: Multipart,
    body_ended: Arc<AtomicBool>,
}

impl Form {
    pub fn new(headers: &HeaderMap, payload: web::Payload) -> Self {
        let body_ended = Arc::new(AtomicBool::new(false));
        let watched = Watched {
            inner: payload,
            ended: Arc::clone(&body_ended),
        };
        Self {
            multipart: Multipart::new(headers, watched),
            body_ended,
        }
    }

    /// The next field, or `None` after the last.
    pub async fn next_field(&mut self) -> Result<Option<Field>, ApiError> {
        next(&mut self.multipart, &self.body_ended).await
    }

    /// The next chunk of `field`'s content, or `None` at its end (poll no further then).
    pub async fn next_chunk(&self, field: &mut Field) -> Result<Option<Bytes>, ApiError> {
        next(field, &self.body_ended).await
    }
}

async fn next<T, S>(stream: &mut S, body_ended: &AtomicBool) -> Result<Option<T>, ApiError>
where
    S: Stream<Item = Result<T, MultipartError>> + Unpin,
{
    std::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
        Poll::Ready(item) => Poll::Ready(item.transpose().map_err(multipart_error)),
        Poll::Pending if body_ended.load(Ordering::Acquire) => Poll::Ready(Err(
            ApiError::bad_request("the multipart body ends too early"),
        )),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// The request body, noting when it has ended.
struct Watched {
    inner: web::Payload,
    ended: Arc<AtomicBool>,
}

impl Stream for Watched {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }
}

fn multipart_error(err: MultipartError) -> ApiError {
    match err {
        MultipartError::ContentTypeMissing | MultipartError::ContentTypeIncompatible => {
            ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the body must be multipart/form-data",
            )
        }
        // The route saw `multipart/form-data` already: what does not parse is its boundary.
        MultipartError::ContentTypeParse | MultipartError::BoundaryMissing => {
            ApiError::bad_request("the multipart boundary is missing or not valid")
        }
        MultipartError::Payload(e) => {
            ApiError::bad_request("the upload was cut short").with_source(anyhow::anyhow!("{e}"))
        }
        other => ApiError::bad_request("the multipart body is malformed")
            .with_source(anyhow::anyhow!("{other}")),
    }
}
