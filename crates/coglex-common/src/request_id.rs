//! Request ids: a client's `X-Request-Id` is kept when it is short and plain (safe in logs and
//! headers); otherwise a new one is made. The gateway and every service apply the same rule.

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// Longest id accepted from a client.
pub const MAX_LEN: usize = 128;

/// Whether a client-sent id may be used as is.
pub fn is_acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_accepted_and_others_refused() {
        assert!(is_acceptable(b"abc-123_x.y:z"));
        for bad in [
            &b""[..],
            b"has space",
            b"semi;colon",
            b"new\nline",
            &[b'x'; 129],
        ] {
            assert!(!is_acceptable(bad), "{bad:?}");
        }
    }
}
