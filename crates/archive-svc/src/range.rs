//! `Range: bytes=...` requests (RFC 7233): one range is served as 206; several are answered
//! with the whole file, which §3.1 allows; a malformed or unsatisfiable byte range is 416.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// No usable Range header: the whole file, 200.
    Full,
    /// Bytes `start..end` (end exclusive), 206.
    Partial(Range<u64>),
    /// 416, with `Content-Range: bytes */<len>`.
    Unsatisfiable,
}

/// What a `Range` header value asks of a file of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> Requested {
    let Some(header) = header else {
        return Requested::Full;
    };
    let Some((unit, ranges)) = header.split_once('=') else {
        return Requested::Unsatisfiable;
    };
    // §3.1: a range unit the server does not understand is ignored.
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Requested::Full;
    }
    // §2.1: the list may hold empty elements.
    let specs: Vec<&str> = ranges
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let [spec] = specs.as_slice() {
        return match parse_spec(spec, len) {
            Some(Some(range)) => Requested::Partial(range),
            _ => Requested::Unsatisfiable,
        };
    }
    // Several ranges get the whole file, if well formed and one at least is inside it (§4.4).
    let parsed: Option<Vec<_>> = specs.iter().map(|spec| parse_spec(spec, len)).collect();
    match parsed {
        Some(ranges) if ranges.iter().any(Option::is_some) => Requested::Full,
        _ => Requested::Unsatisfiable,
    }
}

/// `None`: malformed; `Some(None)`: well formed but outside the file.
fn parse_spec(spec: &str, len: u64) -> Option<Option<Range<u64>>> {
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.trim().is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some(len.saturating_sub(suffix)..len));
    }
    let start = number(first)?;
    let end = match last.trim() {
        "" => len,
        last => {
            let last = number(last)?;
            if last < start {
                return None;
            }
            last.saturating_add(1).min(len)
        }
    };
    Some((start < len).then_some(start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(header: &str, len: u64) -> Requested {
        parse(Some(header), len)
    }

    #[test]
    fn no_header_is_the_whole_file() {
        assert_eq!(parse(None, 10), Requested::Full);
    }

    #[test]
    fn the_three_forms_of_a_byte_range() {
        assert_eq!(partial("bytes=0-3", 10), Requested::Partial(0..4));
        assert_eq!(partial("bytes=7-", 10), Requested::Partial(7..10));
        assert_eq!(partial("bytes=-3", 10), Requested::Partial(7..10));
        assert_eq!(partial("Bytes = 2-4 ", 10), Requested::Partial(2..5));
    }

    #[test]
    fn ranges_past_the_end_are_clamped_or_refused() {
        assert_eq!(partial("bytes=5-100", 10), Requested::Partial(5..10));
        assert_eq!(partial("bytes=-100", 10), Requested::Partial(0..10));
        assert_eq!(partial("bytes=10-", 10), Requested::Unsatisfiable);
        assert_eq!(partial("bytes=0-0", 0), Requested::Unsatisfiable);
        assert_eq!(partial("bytes=-0", 10), Requested::Unsatisfiable);
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for bad in [
            "bytes=5-2",
            "bytes=abc",
            "bytes=1-x",
            "bytes=",
            "bytes=--1",
            "bytes",
            "bytes=+1-2",
        ] {
            assert_eq!(partial(bad, 10), Requested::Unsatisfiable, "{bad}");
        }
    }

    #[test]
    fn other_units_are_ignored() {
        assert_eq!(partial("items=0-1", 10), Requested::Full);
    }

    #[test]
    fn several_ranges_get_the_whole_file() {
        assert_eq!(partial("bytes=0-1, 4-5", 10), Requested::Full);
        assert_eq!(partial("bytes=0-1,,2-3", 10), Requested::Full);
        assert_eq!(partial("bytes=0-1, 5-2", 10), Requested::Unsatisfiable);
        assert_eq!(partial("bytes=20-30, 40-50", 10), Requested::Unsatisfiable);
        assert_eq!(partial("bytes=20-30, 4-", 10), Requested::Full);
    }
}
