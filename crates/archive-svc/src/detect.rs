//! What a file is, from its first bytes: magic numbers (the `infer` crate), then a text
//! fallback. The client's `Content-Type` is never trusted for what is stored or served; it only
//! tells JSON apart from other text, which are equally inert.

/// Bytes read before deciding the type (magic numbers sit in the first few hundred).
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The type of content that starts with `head`. `complete` says `head` is the whole file, so a
/// multi-byte character cut at its end is not an excuse.
pub fn detect(head: &[u8], complete: bool, declared: Option<&str>) -> &'static str {
    if let Some(kind) = infer::get(head) {
        return match kind.mime_type() {
            "text/xml" | "text/html" if mentions_svg(head) => "image/svg+xml",
            "audio/x-wav" => "audio/wav",
            other => other,
        };
    }
    if !is_text(head, complete) {
        return "application/octet-stream";
    }
    let start = trim_start(head);
    match start.first() {
        // Markup that infer's list of HTML tags missed (`<svg ...>`, `<html5-tag>`): treat it
        // as active content, never as plain text.
        Some(b'<') if mentions_svg(head) => "image/svg+xml",
        Some(b'<')
            if start
                .get(1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'!') =>
        {
            "text/html"
        }
        Some(b'{' | b'[') if declared.is_some_and(|d| normalise(d) == "application/json") => {
            "application/json"
        }
        _ => "text/plain",
    }
}

/// `type/subtype` in lower case, without parameters (`Text/Plain; charset=x` → `text/plain`).
pub fn normalise(mimetype: &str) -> String {
    mimetype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Printable UTF-8: no NUL and no control characters other than whitespace and escape.
fn is_text(head: &[u8], complete: bool) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A character cut by the sample's end is still text.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b'))
}

fn trim_start(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

fn mentions_svg(head: &[u8]) -> bool {
    head.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

    #[test]
    fn magic_bytes_win_over_the_declared_type() {
        assert_eq!(detect(PNG, true, Some("text/plain")), "image/png");
        assert_eq!(
            detect(b"%PDF-1.7\n", true, Some("image/png")),
            "application/pdf"
        );
    }

    #[test]
    fn plain_utf8_is_text() {
        assert_eq!(
            detect("héllo\nworld\t!".as_bytes(), true, None),
            "text/plain"
        );
        assert_eq!(detect(b"", true, None), "text/plain");
    }

    #[test]
    fn a_character_cut_at_the_end_of_the_sample_is_still_text() {
        let cut = &"abcé".as_bytes()[..4];
        assert_eq!(detect(cut, false, None), "text/plain");
        assert_eq!(detect(cut, true, None), "application/octet-stream");
    }

    #[test]
    fn binary_without_magic_is_octet_stream() {
        assert_eq!(
            detect(&[0, 1, 2, 3, 0xff, 0xfe], true, Some("text/plain")),
            "application/octet-stream"
        );
    }

    #[test]
    fn markup_is_html_or_svg_whatever_was_declared() {
        let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        assert_eq!(detect(html, true, Some("text/plain")), "text/html");
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        assert_eq!(detect(svg, true, Some("image/png")), "image/svg+xml");
        let xml_svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert_eq!(detect(xml_svg, true, None), "image/svg+xml");
        assert_eq!(
            detect(b"<custom-tag>x</custom-tag>", true, None),
            "text/html"
        );
    }

    #[test]
    fn json_is_recognised_only_when_declared_and_shaped_like_it() {
        assert_eq!(
            detect(b" {\"a\": 1}", true, Some("application/json")),
            "application/json"
        );
        assert_eq!(detect(b"{\"a\": 1}", true, None), "text/plain");
        assert_eq!(
            detect(b"hello", true, Some("application/json")),
            "text/plain"
        );
    }

    #[test]
    fn wav_uses_the_registered_name() {
        let wav = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0";
        assert_eq!(detect(wav, true, None), "audio/wav");
    }

    #[test]
    fn declared_types_are_normalised() {
        assert_eq!(
            normalise("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}
