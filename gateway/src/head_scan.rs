//! Framing that hyper settles before the gateway sees a request. hyper reads a request with
//! both `Content-Length` and `Transfer-Encoding` as chunked (dropping the length and closing
//! the connection after it), and merges repeated equal lengths, both as RFC 9112 allows. A
//! proxy in front that framed such a request by its length would read another message than
//! ours, so the gateway refuses them with 400, as it does the rest of ambiguous framing
//! (`forwarding::check_framing`).
//!
//! [`HeadScan`] reads the raw bytes as they come off the socket, follows each message's
//! framing the way hyper does (heads, then a length or chunked body), and marks its
//! connection's [`FramingFlag`] when a request head carries either. It only looks: the bytes
//! hyper gets are the bytes read. A head that cannot be followed (too large, or not HTTP)
//! stops the scan: hyper refuses such a connection itself.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request head followed; longer ones stop the scan (and are refused by hyper, whose
/// limit is lower).
const MAX_HEAD_BYTES: usize = 512 * 1024;
/// Most headers hyper takes in a request.
const MAX_HEADERS: usize = 100;

/// What the scan found on a connection, shared with the requests it carries.
#[derive(Debug, Default, Clone)]
pub struct FramingFlag(Arc<AtomicU8>);

const BOTH: u8 = 1;
const REPEATED: u8 = 2;

impl FramingFlag {
    /// Why a request on this connection must be refused, once one head was ambiguous. Every
    /// later answer on it is refused too: hyper may read the next request before the one
    /// before it is answered, and a client sending such framing is not one to serve.
    pub fn refusal(&self) -> Option<&'static str> {
        match self.0.load(Relaxed) {
            BOTH => Some("both Content-Length and Transfer-Encoding are set"),
            REPEATED => Some("more than one Content-Length header"),
            _ => None,
        }
    }

    fn mark(&self, why: u8) {
        let _ = self.0.compare_exchange(0, why, Relaxed, Relaxed);
    }
}

/// Where the scan is in the byte stream.
#[derive(Debug)]
enum State {
    /// Reading a head; `partial` holds its start when it spans reads.
    Head {
        partial: Vec<u8>,
    },
    /// Inside a body of known length: bytes left.
    Body(u64),
    Chunked(Chunk),
    /// Framing could not be followed any further.
    Stopped,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// The size line: the size so far, and whether an extension (`;...`) started.
    Size { size: u64, extension: bool },
    /// Chunk data: bytes left.
    Data(u64),
    /// The line end after chunk data.
    DataEnd,
    /// After the last chunk's size line, or a trailer line: a blank line ends the body,
    /// anything else starts a trailer line.
    EndCr,
    /// The `\n` that ends the body.
    EndLf,
    /// Inside a trailer line, which only `\r\n` ends: a bare `\n` is part of it for hyper.
    Trailer,
    /// The `\n` that ends a trailer line.
    TrailerLf,
}

/// Follows the framing of the requests in a byte stream.
#[derive(Debug)]
pub struct Scanner {
    state: State,
    flag: FramingFlag,
}

impl Scanner {
    pub fn new(flag: FramingFlag) -> Self {
        Self {
            state: State::Head {
                partial: Vec::new(),
            },
            flag,
        }
    }

    /// Takes the next bytes read from the client.
    pub fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            bytes = match &mut self.state {
                State::Stopped => return,
                State::Head { .. } => self.head(bytes),
                State::Body(left) => {
                    let taken = (*left).min(bytes.len() as u64);
                    *left -= taken;
                    if *left == 0 {
                        self.state = new_head();
                    }
                    &bytes[taken as usize..]
                }
                State::Chunked(chunk) => match step(chunk, bytes) {
                    Ok(Some(after)) => {
                        self.state = new_head();
                        after
                    }
                    Ok(None) => return,
                    Err(Malformed) => {
                        self.state = State::Stopped;
                        return;
                    }
                },
            };
        }
    }

    /// Feeds a head's bytes; answers what follows the head, if it ended here.
    fn head<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let State::Head { partial } = &mut self.state else {
            return bytes;
        };
        if partial.is_empty() {
            // Empty lines before a request line are skipped (RFC 9112 §2.2), as hyper does.
            let start = bytes
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(bytes.len());
            let bytes = &bytes[start..];
            // Most heads arrive in one read: they are read where they lie.
            if let Some(end) = find_head_end(bytes, 0) {
                self.state = self.framing_of(&bytes[..end]);
                return &bytes[end..];
            }
            partial.extend_from_slice(bytes);
            return &[];
        }
        let before = partial.len();
        partial.extend_from_slice(bytes);
        // The blank line may have started in the last read.
        let Some(end) = find_head_end(partial, before.saturating_sub(2)) else {
            if partial.len() > MAX_HEAD_BYTES {
                self.state = State::Stopped;
            }
            return &[];
        };
        let head = std::mem::take(partial);
        self.state = self.framing_of(&head[..end]);
        &bytes[end.saturating_sub(before)..]
    }

    /// The body framing a complete head announces, as hyper reads it, marking the flag
    /// on the way.
    fn framing_of(&self, head: &[u8]) -> State {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
            return State::Stopped;
        }
        let mut lengths = request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-length"));
        let mut encodings = request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
        let length = lengths.next();
        let repeated = lengths.next().is_some();
        let encoding = encodings.next_back();
        if length.is_some() && encoding.is_some() {
            self.flag.mark(BOTH);
        } else if repeated {
            self.flag.mark(REPEATED);
        }
        match (encoding, length) {
            (Some(encoding), _) if ends_chunked(encoding.value) => State::Chunked(Chunk::Size {
                size: 0,
                extension: false,
            }),
            // Refused by hyper, which closes the connection.
            (Some(_), _) => State::Stopped,
            (None, Some(length)) => match parse_length(length.value) {
                Some(0) => new_head(),
                Some(n) => State::Body(n),
                None => State::Stopped,
            },
            (None, None) => new_head(),
        }
    }
}

fn new_head() -> State {
    State::Head {
        partial: Vec::new(),
    }
}

/// Where a head that may have started at `bytes[0]` ends: after its blank line, searched for
/// from `from`. Bare `\n` line ends count, as they do for hyper.
fn find_head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(newline) = bytes.get(at..)?.iter().position(|&b| b == b'\n') {
        let after = at + newline + 1;
        match bytes.get(after..) {
            Some([b'\n', ..]) => return Some(after + 1),
            Some([b'\r', b'\n', ..]) => return Some(after + 2),
            _ => at = after,
        }
    }
    None
}

fn ends_chunked(value: &[u8]) -> bool {
    let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
    last.trim_ascii().eq_ignore_ascii_case(b"chunked")
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Chunks hyper refuses too.
struct Malformed;

/// Moves through chunked body bytes; answers the bytes after the body when it ended in them.
fn step<'a>(chunk: &mut Chunk, mut bytes: &'a [u8]) -> Result<Option<&'a [u8]>, Malformed> {
    while let Some((&byte, rest)) = bytes.split_first() {
        match chunk {
            Chunk::Size { size, extension } => {
                bytes = rest;
                match byte {
                    b'\n' if *size == 0 => *chunk = Chunk::EndCr,
                    b'\n' => *chunk = Chunk::Data(*size),
                    b'\r' => {}
                    _ if *extension => {}
                    b';' | b' ' | b'\t' => *extension = true,
                    _ => {
                        let digit = (byte as char).to_digit(16).ok_or(Malformed)?;
                        *size = size
                            .checked_mul(16)
                            .and_then(|size| size.checked_add(u64::from(digit)))
                            .ok_or(Malformed)?;
                    }
                }
            }
            Chunk::Data(left) => {
                let taken = (*left).min(bytes.len() as u64);
                *left -= taken;
                bytes = &bytes[taken as usize..];
                if *left == 0 {
                    *chunk = Chunk::DataEnd;
                }
            }
            Chunk::DataEnd => {
                bytes = rest;
                if byte == b'\n' {
                    *chunk = Chunk::Size {
                        size: 0,
                        extension: false,
                    };
                }
            }
            // hyper's end of a chunked body (`read_end_cr` and on) is strict: it is followed
            // byte for byte, or a bare `\n` would end the body here and not there.
            Chunk::EndCr | Chunk::Trailer => {
                bytes = rest;
                *chunk = match (byte, *chunk) {
                    (b'\r', Chunk::EndCr) => Chunk::EndLf,
                    (b'\r', _) => Chunk::TrailerLf,
                    _ => Chunk::Trailer,
                };
            }
            Chunk::EndLf | Chunk::TrailerLf => {
                bytes = rest;
                if byte != b'\n' {
                    return Err(Malformed);
                }
                if matches!(chunk, Chunk::EndLf) {
                    return Ok(Some(bytes));
                }
                *chunk = Chunk::EndCr;
            }
        }
    }
    Ok(None)
}

/// A client socket whose reads go through a [`Scanner`].
pub struct HeadScan<T> {
    io: T,
    scanner: Scanner,
}

impl<T> HeadScan<T> {
    pub fn new(io: T, flag: FramingFlag) -> Self {
        Self {
            io,
            scanner: Scanner::new(flag),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadScan<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let outcome = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = outcome {
            this.scanner.scan(&buf.filled()[before..]);
        }
        outcome
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadScan<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What scanning `stream` in pieces of `piece` bytes flags, and whether the scan kept up
    /// (is at a head's start at the end).
    fn scan(stream: &[u8], piece: usize) -> (Option<&'static str>, bool) {
        let flag = FramingFlag::default();
        let mut scanner = Scanner::new(flag.clone());
        stream.chunks(piece).for_each(|bytes| scanner.scan(bytes));
        let at_head = matches!(&scanner.state, State::Head { partial } if partial.is_empty());
        (flag.refusal(), at_head)
    }

    fn every_split(stream: &[u8]) -> Vec<(Option<&'static str>, bool)> {
        [1, 2, 3, 7, stream.len()]
            .into_iter()
            .map(|piece| scan(stream, piece))
            .collect()
    }

    /// Bodies that hold what looks like heads and blank lines: a scan that lost its place
    /// would end up in one.
    const PLAIN: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
        POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n\r\n\r\n\r\nabcde\
        POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
        5;ext=1\r\n\r\n\r\n0\r\n\
        1A\r\nContent-Length: 4\r\n\r\n01234\r\n\
        0\r\nTrailer: t\r\n\r\n\
        \r\nGET /d HTTP/1.1\nHost: x\n\n";

    #[test]
    fn well_framed_requests_are_followed_through_bodies_that_look_like_heads() {
        for outcome in every_split(PLAIN) {
            assert_eq!(outcome, (None, true));
        }
    }

    #[test]
    fn a_head_with_both_lengths_is_flagged_wherever_the_reads_split_it() {
        for both in [
            &b"POST /a HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            b"POST /a HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n",
            b"POST /a HTTP/1.1\nContent-Length: 4\nTransfer-Encoding: chunked\n\n0\r\n\r\n",
        ] {
            let stream = [PLAIN, both].concat();
            for outcome in every_split(&stream) {
                assert_eq!(
                    outcome,
                    (Some("both Content-Length and Transfer-Encoding are set"), true)
                );
            }
        }
    }

    /// For hyper a bare `\n` neither ends a chunked body nor a trailer line: what a lenient
    /// reader would take for the next request's head (whose length covers the ambiguous
    /// request after it) is trailers to hyper, which then reads the ambiguous request.
    #[test]
    fn a_bare_line_feed_after_the_last_chunk_does_not_end_the_body() {
        let ambiguous =
            &b"POST /h HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..];
        let hidden = format!(
            "GET /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            ambiguous.len()
        );
        for end in [&b"0\r\n\n"[..], b"0\r\nX: a\n\n", b"0\r\nX: a\r\n\n"] {
            let stream = [
                b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                end,
                hidden.as_bytes(),
                ambiguous,
            ]
            .concat();
            for outcome in every_split(&stream) {
                assert_eq!(
                    outcome,
                    (
                        Some("both Content-Length and Transfer-Encoding are set"),
                        true
                    )
                );
            }
        }
    }

    #[test]
    fn a_chunked_body_end_hyper_refuses_stops_the_scan() {
        let stream = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rY\r\n\r\n";
        assert_eq!(scan(stream, stream.len()), (None, false));
    }

    #[test]
    fn a_repeated_length_is_flagged_even_when_equal() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd";
        for outcome in every_split(stream) {
            assert_eq!(outcome, (Some("more than one Content-Length header"), true));
        }
    }

    #[test]
    fn what_cannot_be_followed_stops_the_scan() {
        for stream in [
            &b"\x16\x03\x01 not http\r\n\r\n"[..],
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let (flag, at_head) = scan(stream, stream.len());
            assert_eq!((flag, at_head), (None, false));
        }
    }

    #[test]
    fn a_head_end_is_found_across_reads_and_bare_line_feeds() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nrest", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\nrest", 0), Some(17));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert!(ends_chunked(b"gzip, Chunked "));
        assert!(!ends_chunked(b"chunked, gzip"));
    }
}
