//! Which files `/file` accepts, decided from their first bytes (magic numbers, with `infer`),
//! never from what the client claims. The list is the original README's (images PNG, JPEG,
//! GIF, WebP, BMP, ICO, HEIC/HEIF; PDF and text documents; WAV, MP3, AIFF, AAC, OGG, FLAC;
//! MP4, MPEG, MOV, AVI, FLV, WebM, WMV, 3GPP), named with the MIME types Gemini's file
//! documentation uses. Text has no magic number: it is recognised as UTF-8 and typed by the
//! file name's extension.

use super::Invalid;

/// How many leading bytes are enough to decide a type.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// Longest display name Gemini accepts, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 512;

/// The Gemini MIME type for what `infer` detected, when the type is supported.
fn supported(detected: &str) -> Option<&'static str> {
    Some(match detected {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "image/bmp" => "image/bmp",
        "image/vnd.microsoft.icon" => "image/x-icon",
        "image/heif" => "image/heif",
        "application/pdf" => "application/pdf",
        "audio/x-wav" => "audio/wav",
        "audio/mpeg" => "audio/mp3",
        "audio/x-aiff" => "audio/aiff",
        "audio/aac" => "audio/aac",
        "audio/ogg" => "audio/ogg",
        "audio/x-flac" => "audio/flac",
        "video/mp4" => "video/mp4",
        "video/mpeg" => "video/mpeg",
        "video/quicktime" => "video/mov",
        "video/x-msvideo" => "video/avi",
        "video/x-flv" => "video/x-flv",
        "video/webm" => "video/webm",
        "video/x-ms-wmv" => "video/wmv",
        "text/html" => "text/html",
        "text/xml" => "text/xml",
        _ => return None,
    })
}

/// Text documents by extension; anything else that is text is `text/plain`.
fn text_type(file_name: Option<&str>) -> &'static str {
    let extension = file_name
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html" | "htm") => "text/html",
        Some("css") => "text/css",
        Some("js" | "mjs") => "text/javascript",
        Some("py") => "text/x-python",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        Some("xml") => "text/xml",
        Some("json") => "application/json",
        Some("rtf") => "text/rtf",
        _ => "text/plain",
    }
}

/// The MIME type to upload `head` (a file's first bytes) as, or why it is refused.
pub fn detect_file_type(head: &[u8], file_name: Option<&str>) -> Result<&'static str, Invalid> {
    if is_3gpp(head) {
        return Ok("video/3gpp");
    }
    match infer::get(head) {
        Some(kind) => {
            if let Some(mime) = supported(kind.mime_type()) {
                return Ok(mime);
            }
            // infer also guesses some text (`#!` scripts): a Python file with a shebang is text.
            if kind.mime_type().starts_with("text/") && looks_like_text(head) {
                return Ok(text_type(file_name));
            }
            Err(Invalid::new(format!(
                "files of type {} are not supported; send an image, a PDF or text document, audio or video",
                kind.mime_type()
            )))
        }
        None if looks_like_text(head) => Ok(text_type(file_name)),
        None => Err(Invalid::new(
            "the file's type is not recognised; send an image, a PDF or text document, audio or video",
        )),
    }
}

/// ISO base media files with a 3GPP brand (`ftyp3gp*`, `ftyp3g2*`).
fn is_3gpp(head: &[u8]) -> bool {
    head.len() >= 11 && &head[4..8] == b"ftyp" && (&head[8..11] == b"3gp" || &head[8..11] == b"3g2")
}

/// UTF-8 without NULs or stray control characters; a character cut at the sniff boundary is
/// allowed.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            // Only the last character is incomplete.
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && !valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// A file name fit to show in Gemini (`displayName`): no path, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// `None` when nothing usable is left of `raw`.
    pub fn from_file_name(raw: &str) -> Option<Self> {
        let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
        let clean: String = base
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DISPLAY_NAME_CHARS)
            .collect();
        let clean = clean.trim();
        (!clean.is_empty()).then(|| Self(clean.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";

    #[test]
    fn images_and_pdfs_are_recognised_by_their_bytes() {
        assert_eq!(
            detect_file_type(PNG, Some("photo.pdf")).unwrap(),
            "image/png"
        );
        assert_eq!(detect_file_type(PDF, None).unwrap(), "application/pdf");
        assert_eq!(detect_file_type(b"GIF89a....", None).unwrap(), "image/gif");
    }

    #[test]
    fn text_is_typed_by_its_extension() {
        let source = b"def main():\n    print('hi')\n";
        assert_eq!(
            detect_file_type(source, Some("main.py")).unwrap(),
            "text/x-python"
        );
        assert_eq!(
            detect_file_type(b"body { }", Some("a.CSS")).unwrap(),
            "text/css"
        );
        assert_eq!(detect_file_type(b"just words", None).unwrap(), "text/plain");
    }

    #[test]
    fn a_python_script_with_a_shebang_is_text() {
        let script = b"#!/usr/bin/env python3\nprint('hi')\n";
        assert_eq!(
            detect_file_type(script, Some("run.py")).unwrap(),
            "text/x-python"
        );
    }

    #[test]
    fn a_3gpp_video_is_recognised() {
        assert_eq!(
            detect_file_type(b"\0\0\0\x18ftyp3gp4\0\0\0\0", None).unwrap(),
            "video/3gpp"
        );
    }

    #[test]
    fn unsupported_binaries_are_refused_whatever_their_name() {
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        let err = detect_file_type(zip, Some("notes.txt")).unwrap_err();
        assert!(err.0.contains("application/zip"), "{err}");
        assert!(detect_file_type(b"\0\x01\x02\x03binary", Some("a.txt")).is_err());
    }

    #[test]
    fn a_character_cut_at_the_sniff_boundary_is_still_text() {
        let mut head = "é".repeat(10).into_bytes();
        head.pop();
        assert!(looks_like_text(&head));
    }

    #[test]
    fn display_names_lose_paths_and_control_characters() {
        let name = DisplayName::from_file_name("../../etc/pass\nwd.png").unwrap();
        assert_eq!(name.as_str(), "passwd.png");
        assert!(DisplayName::from_file_name("C:\\Users\\ada\\cat.png")
            .is_some_and(|n| n.as_str() == "cat.png"));
        assert!(DisplayName::from_file_name("  ").is_none());
    }
}
