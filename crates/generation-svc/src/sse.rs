//! Server-sent events cut out of a byte stream, so each event Gemini sends is forwarded the
//! moment its last byte arrives. Events end with a blank line, whichever of the line endings
//! the SSE specification allows (`\r\n`, `\n`, `\r`) is used; Gemini uses `\r\n\r\n`.

use bytes::{Bytes, BytesMut};

/// Bytes of one event, terminator included, exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event(pub Bytes);

impl Event {
    /// The event's `data:` lines joined by `\n`, as an SSE client would deliver them.
    pub fn data(&self) -> String {
        let text = String::from_utf8_lossy(&self.0);
        let lines: Vec<&str> = text
            .split(['\r', '\n'])
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|value| value.strip_prefix(' ').unwrap_or(value))
            .collect();
        lines.join("\n")
    }
}

/// The event was larger than the buffer allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge;

/// Accumulates bytes and hands out complete events.
#[derive(Debug)]
pub struct EventSplitter {
    buffer: BytesMut,
    /// Bytes already searched for a blank line, so large events are not rescanned per chunk.
    scanned: usize,
    max_event_bytes: usize,
}

impl EventSplitter {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            scanned: 0,
            max_event_bytes,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), EventTooLarge> {
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() > self.max_event_bytes && self.find_end().is_none() {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    /// The next complete event, if one has arrived.
    pub fn next_event(&mut self) -> Option<Event> {
        let end = self.find_end()?;
        self.scanned = 0;
        Some(Event(self.buffer.split_to(end).freeze()))
    }

    /// Whatever is left when the stream ends: an event without its blank line, given one, as
    /// SSE clients drop an event that is not terminated (often the one with the usage).
    pub fn finish(&mut self) -> Option<Event> {
        self.scanned = 0;
        let mut rest = self.buffer.split();
        if rest.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        while rest.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            rest.truncate(rest.len() - 1);
        }
        rest.extend_from_slice(b"\n\n");
        Some(Event(rest.freeze()))
    }
}

impl EventSplitter {
    fn find_end(&mut self) -> Option<usize> {
        // A terminator is at most 4 bytes: it may have started in the last 3 scanned bytes.
        let from = self.scanned.saturating_sub(3);
        let end = end_of_event(&self.buffer, from);
        if end.is_none() {
            self.scanned = self.buffer.len();
        }
        end
    }
}

/// Index just past the first blank line at or after `from`, if the buffer holds one.
fn end_of_event(buffer: &[u8], from: usize) -> Option<usize> {
    (from..buffer.len()).find_map(|i| {
        let rest = &buffer[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            Some(i + 2)
        } else if rest.starts_with(b"\r\n\r") && rest.len() == 3 {
            // Might still become `\r\n\r\n`: wait for the next byte.
            None
        } else if rest.starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = EventSplitter::new(1024);
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk).unwrap();
            while let Some(event) = splitter.next_event() {
                out.push(String::from_utf8(event.0.to_vec()).unwrap());
            }
        }
        out
    }

    #[test]
    fn gemini_events_are_cut_at_crlf_blank_lines() {
        assert_eq!(
            events(&[b"data: {\"a\":1}\r\n\r\ndata: {\"a\":2}\r\n\r\n"]),
            ["data: {\"a\":1}\r\n\r\n", "data: {\"a\":2}\r\n\r\n"]
        );
    }

    #[test]
    fn an_event_split_across_chunks_comes_out_whole_once_complete() {
        assert_eq!(
            events(&[b"data: {\"a\"", b":1}\r\n", b"\r", b"\n"]),
            ["data: {\"a\":1}\r\n\r\n"]
        );
    }

    #[test]
    fn lf_only_events_are_cut_too() {
        assert_eq!(
            events(&[b"data: 1\n\ndata: 2\n\n"]),
            ["data: 1\n\n", "data: 2\n\n"]
        );
    }

    #[test]
    fn an_incomplete_event_waits() {
        assert!(events(&[b"data: 1\r\n"]).is_empty());
    }

    #[test]
    fn data_lines_are_joined() {
        let event = Event(Bytes::from_static(
            b"event: x\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n",
        ));
        assert_eq!(event.data(), "{\"a\":\n1}");
    }

    #[test]
    fn an_event_larger_than_the_limit_is_an_error() {
        let mut splitter = EventSplitter::new(8);
        assert_eq!(splitter.push(b"data: 123456789"), Err(EventTooLarge));
    }

    #[test]
    fn leftovers_are_handed_out_at_the_end_as_a_whole_event() {
        for leftover in [&b"data: last"[..], b"data: last\r\n", b"data: last\n"] {
            let mut splitter = EventSplitter::new(64);
            splitter.push(leftover).unwrap();
            assert!(splitter.next_event().is_none());
            assert_eq!(
                splitter.finish().unwrap().0,
                Bytes::from_static(b"data: last\n\n")
            );
            assert!(splitter.finish().is_none());
        }
    }
}
