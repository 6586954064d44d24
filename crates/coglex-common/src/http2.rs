//! Flow control of the HTTP/2 connections between the gateway and the services
//! (`UPSTREAM_HTTP2`, `<NAME>_UPSTREAM_HTTP2`). Both ends receive with the same windows.
//!
//! One such connection carries many clients' requests at once. A stream's window bounds what
//! one request or response may have in flight before its reader takes it; the connection's
//! window bounds all of them together. Were the connection's window only a few streams' worth,
//! a few slow readers (a client that stops reading a download, a handler that has not yet
//! read an upload) would hold all of it and stall every other request on the connection. So
//! the connection's window is as large as HTTP/2 allows, and only a stream's own window ever
//! holds back its data.

/// What one request or response may have in flight before its reader takes it.
pub const STREAM_WINDOW: u32 = 256 * 1024;

/// The largest window HTTP/2 allows (RFC 9113, 6.9.1).
pub const CONNECTION_WINDOW: u32 = (1 << 31) - 1;
