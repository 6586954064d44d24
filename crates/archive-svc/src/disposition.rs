//! Filenames: what is kept of a client's name, and how it goes back out in
//! `Content-Disposition` (RFC 6266 with RFC 8187's `filename*`), so that no name can split a
//! header, traverse a path or pass for another extension.

/// Longest filename kept, in bytes (the common file-system limit).
const MAX_FILENAME_BYTES: usize = 255;
/// Longest ending after the last dot that is kept as an extension when a name is cut.
const MAX_EXTENSION_BYTES: usize = 16;

/// Bidirectional controls, which make `evil\u{202e}gnp.exe` display as `evilexe.png`.
const BIDI_CONTROLS: &[char] = &[
    '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}',
    '\u{2067}', '\u{2068}', '\u{2069}',
];

/// The name kept for a client's filename: its last path part, without control characters,
/// at most 255 bytes; `file` when nothing usable is left. Only ever a label: blobs are stored
/// under server-generated ids.
pub fn sanitise_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !BIDI_CONTROLS.contains(c))
        .collect();
    match shorten(cleaned.trim()) {
        name if matches!(name.as_str(), "" | "." | "..") => "file".to_owned(),
        name => name,
    }
}

/// `name` cut to [`MAX_FILENAME_BYTES`] on a character boundary, keeping its extension: a cut
/// through `<...>.html.txt` must not leave `.html` showing.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_FILENAME_BYTES {
        return name.to_owned();
    }
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    };
    let mut end = MAX_FILENAME_BYTES - extension.len();
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{extension}", &stem[..end])
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`.
pub fn attachment(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%') => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(filename)
    )
}

/// RFC 8187 §3.2.1: everything but `attr-char` as `%XX` of its UTF-8 bytes.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_are_dropped() {
        assert_eq!(sanitise_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_filename("C:\\Users\\ada\\cv.pdf"), "cv.pdf");
        assert_eq!(sanitise_filename("dir/.."), "file");
        assert_eq!(sanitise_filename(""), "file");
    }

    #[test]
    fn control_and_bidi_characters_are_dropped() {
        assert_eq!(
            sanitise_filename("a\r\nSet-Cookie: x=1.txt"),
            "aSet-Cookie: x=1.txt"
        );
        assert_eq!(sanitise_filename("evil\u{202e}gnp.exe"), "evilgnp.exe");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = sanitise_filename(&"é".repeat(200));
        assert!(name.len() <= MAX_FILENAME_BYTES);
        assert!(name.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_cut_name_keeps_its_extension() {
        let name = sanitise_filename(&format!("{}.html.txt", "a".repeat(260)));
        assert_eq!(name.len(), MAX_FILENAME_BYTES);
        assert!(name.ends_with("aaa.txt"), "{name}");
        let name = sanitise_filename(&format!("{}.txt", "é".repeat(200)));
        assert!(name.len() <= MAX_FILENAME_BYTES && name.ends_with("é.txt"));
        // No dot near the end: a plain cut.
        assert_eq!(sanitise_filename(&"b".repeat(300)), "b".repeat(255));
    }

    #[test]
    fn quotes_and_non_ascii_never_reach_the_quoted_fallback() {
        let header = attachment("say \"hi\"\\ 100% café.txt");
        assert_eq!(
            header,
            "attachment; filename=\"say _hi__ 100_ caf_.txt\"; \
             filename*=UTF-8''say%20%22hi%22%5C%20100%25%20caf%C3%A9.txt"
        );
    }

    #[test]
    fn the_header_value_is_always_one_printable_line() {
        let header = attachment("x\r\n\"; filename=evil.html");
        assert!(
            header.bytes().all(|b| (b' '..=b'~').contains(&b)),
            "{header}"
        );
        assert_eq!(header.matches('"').count(), 2, "{header}");
    }
}
