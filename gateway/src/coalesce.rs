//! Merges a request body's small data frames that are already at hand into one.
//!
//! A client may send its body in tiny pieces (chunked encoding with one-byte chunks). Passed on
//! as they come, each would be an HTTP/2 DATA frame to the service, and a service that has not
//! read its body yet keeps every frame with a bookkeeping cost many times its byte: its flow
//! control counts bytes, not frames. Merging only what is ready never delays data.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};

/// Frames from this size on pass as they are; smaller ones are merged up to it.
pub const MERGE_BELOW: usize = 16 * 1024;

/// `body` with its ready small data frames merged.
pub struct Coalesce<B: Body> {
    body: B,
    /// What the inner body gave after the data merged so far: a trailers frame, an error or
    /// its end, for the next poll.
    held: Option<Option<Result<Frame<Bytes>, B::Error>>>,
}

impl<B: Body> Coalesce<B> {
    pub fn new(body: B) -> Self {
        Self { body, held: None }
    }
}

impl<B> Body for Coalesce<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(held) = self.held.take() {
            return Poll::Ready(held);
        }
        let first = match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        let data = match first.into_data() {
            Ok(data) if data.len() < MERGE_BELOW => data,
            Ok(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
            Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
        };
        let mut merged: Option<BytesMut> = None;
        while merged.as_ref().map_or(data.len(), BytesMut::len) < MERGE_BELOW {
            let next = match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => break,
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(end_or_error) => {
                    self.held = Some(end_or_error);
                    break;
                }
            };
            match next.into_data() {
                // Not copied: it goes out as it is, next.
                Ok(more) if more.len() >= MERGE_BELOW => {
                    self.held = Some(Some(Ok(Frame::data(more))));
                    break;
                }
                Ok(more) => merged
                    .get_or_insert_with(|| BytesMut::from(&data[..]))
                    .extend_from_slice(&more),
                Err(trailers) => {
                    self.held = Some(Some(Ok(trailers)));
                    break;
                }
            }
        }
        let data = merged.map_or(data, BytesMut::freeze);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.held {
            Some(held) => held.is_none(),
            None => self.body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http::HeaderMap;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    type Frames = Vec<Result<Frame<Bytes>, &'static str>>;

    async fn frames_of(input: Frames) -> Frames {
        let mut body = Coalesce::new(StreamBody::new(stream::iter(input)));
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            out.push(frame);
        }
        out
    }

    fn data(bytes: &[u8]) -> Result<Frame<Bytes>, &'static str> {
        Ok(Frame::data(Bytes::copy_from_slice(bytes)))
    }

    fn as_data(frames: &Frames) -> Vec<Vec<u8>> {
        frames
            .iter()
            .map(|f| f.as_ref().unwrap().data_ref().unwrap().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn ready_small_frames_become_one() {
        let input: Frames = (0..1000u32).map(|i| data(&[i as u8])).collect();
        let out = frames_of(input).await;
        assert_eq!(out.len(), 1);
        let expected: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert_eq!(as_data(&out), vec![expected]);
    }

    #[tokio::test]
    async fn merging_stops_at_the_size_and_large_frames_pass_as_they_are() {
        let big = vec![7u8; MERGE_BELOW * 2];
        let mut input: Frames = (0..MERGE_BELOW + 10).map(|_| data(b"a")).collect();
        input.push(data(&big));
        let out = as_data(&frames_of(input).await);
        assert_eq!(out[0].len(), MERGE_BELOW);
        assert_eq!(out[1].len(), 10);
        assert_eq!(out[2], big);
        assert_eq!(out.len(), 3);
    }

    #[tokio::test]
    async fn trailers_and_errors_come_after_the_data_before_them() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-check", "1".parse().unwrap());
        let out = frames_of(vec![
            data(b"ab"),
            data(b"cd"),
            Ok(Frame::trailers(trailers)),
        ])
        .await;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_ref().unwrap().data_ref().unwrap(), "abcd");
        assert_eq!(
            out[1].as_ref().unwrap().trailers_ref().unwrap()["x-check"],
            "1"
        );

        let out = frames_of(vec![data(b"ab"), data(b"cd"), Err("cut")]).await;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_ref().unwrap().data_ref().unwrap(), "abcd");
        assert_eq!(out[1].as_ref().unwrap_err(), &"cut");
    }

    /// Data pieces, with `None` for a poll that finds nothing yet.
    struct Scripted(std::collections::VecDeque<Option<&'static [u8]>>);

    impl Body for Scripted {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            match self.0.pop_front() {
                Some(Some(piece)) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(piece))))),
                Some(None) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                None => Poll::Ready(None),
            }
        }
    }

    #[tokio::test]
    async fn nothing_waits_for_more_data() {
        // The second piece is not there when the first is polled: the first goes out alone.
        let script = [Some(&b"now"[..]), None, Some(&b"later"[..])];
        let mut body = Coalesce::new(Scripted(script.into_iter().collect()));
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.data_ref().unwrap(), "now");
        let second = body.frame().await.unwrap().unwrap();
        assert_eq!(second.data_ref().unwrap(), "later");
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }
}
