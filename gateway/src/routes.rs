//! Which service a path belongs to. Only `/service/<name>/v1/...` with a known name reaches a
//! service; any path that could mean something else once decoded (dot segments, encoded
//! dots, slashes or backslashes, NUL) is refused before anything is forwarded.

/// The services behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceId {
    Auth,
    Storage,
    Archive,
    Payment,
    Generation,
}

impl ServiceId {
    pub const ALL: [ServiceId; 5] = [
        Self::Auth,
        Self::Storage,
        Self::Archive,
        Self::Payment,
        Self::Generation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Storage => "storage",
            Self::Archive => "archive",
            Self::Payment => "payment",
            Self::Generation => "generation",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn url_setting(self) -> &'static str {
        match self {
            Self::Auth => "AUTH_SVC_URL",
            Self::Storage => "STORAGE_SVC_URL",
            Self::Archive => "ARCHIVE_SVC_URL",
            Self::Payment => "PAYMENT_SVC_URL",
            Self::Generation => "GENERATION_SVC_URL",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The one API version served.
const VERSION: &str = "v1";

/// Stripe's webhook: the one route reachable without `X-API-Key` (payment-svc checks
/// Stripe's signature instead).
pub const STRIPE_WEBHOOK_PATH: &str = "/service/payment/v1/webhook";

/// The service a raw (still percent-encoded) path is for, or `None` (404).
pub fn resolve(path: &str) -> Option<ServiceId> {
    let rest = path.strip_prefix("/service/")?;
    let (name, rest) = rest.split_once('/')?;
    let service = ServiceId::from_name(name)?;
    let after_version = rest.strip_prefix(VERSION)?;
    let versioned = after_version.is_empty() || after_version.starts_with('/');
    (versioned && is_plain(path)).then_some(service)
}

/// False for anything a server or a later decoding step could read as leaving the prefix:
/// `.` or `..` segments, empty segments inside the path (`//`), backslashes, and encoded
/// dots, slashes, backslashes or NULs. One pass, as it runs on every request.
fn is_plain(path: &str) -> bool {
    let mut segments = path.as_bytes().split(|&b| b == b'/').peekable();
    let mut first = true;
    while let Some(segment) = segments.next() {
        // An empty segment is fine before the leading `/` and after a trailing one.
        let inner = !first && segments.peek().is_some();
        first = false;
        if (inner && segment.is_empty())
            || segment == b"."
            || segment == b".."
            || !is_plain_segment(segment)
        {
            return false;
        }
    }
    true
}

fn is_plain_segment(segment: &[u8]) -> bool {
    segment.iter().enumerate().all(|(i, &b)| match b {
        b'\\' => false,
        // A `%` must start a well-formed escape (a stray one could combine with what follows
        // into an escape after one decoding: `%%32f`), and not of `.` (%2e), `/` (%2f), `\`
        // (%5c), NUL (%00) or `%` itself (%25, which would hide the others one level down).
        b'%' => match segment.get(i + 1..i + 3) {
            Some(&[high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => !matches!(
                [high, low.to_ascii_lowercase()],
                [b'2', b'e' | b'f' | b'5'] | [b'5', b'c'] | [b'0', b'0']
            ),
            _ => false,
        },
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_services_under_v1_resolve() {
        assert_eq!(resolve("/service/auth/v1/signin"), Some(ServiceId::Auth));
        assert_eq!(
            resolve("/service/storage/v1/products/abc"),
            Some(ServiceId::Storage)
        );
        assert_eq!(resolve("/service/archive/v1/"), Some(ServiceId::Archive));
        assert_eq!(
            resolve("/service/payment/v1/webhook"),
            Some(ServiceId::Payment)
        );
        assert_eq!(
            resolve("/service/generation/v1"),
            Some(ServiceId::Generation)
        );
        // Harmless escapes and dots inside names pass.
        assert_eq!(
            resolve("/service/storage/v1/a%20b/c.d/..e"),
            Some(ServiceId::Storage)
        );
    }

    #[test]
    fn unknown_services_versions_and_prefixes_do_not_resolve() {
        for path in [
            "/service/admin/v1/x",
            "/service/auth/v2/x",
            "/service/auth",
            "/auth/v1/signin",
            "/",
            "/service//v1",
            "/service/auth/v1x",
            "/service/auth/v10/x",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }

    #[test]
    fn escaping_paths_do_not_resolve() {
        for path in [
            "/service/auth/v1/../../admin",
            "/service/auth/v1/./x",
            "/service/auth/v1/%2e%2e/x",
            "/service/auth/v1/%2E%2E/x",
            "/service/auth/v1/a%2fb",
            "/service/auth/v1/a%5cb",
            "/service/auth/v1/a\\b",
            "/service/auth/v1/a%00",
            "/service/auth/v1/%252e%252e/x",
            "/service/auth/v1//x",
            "/service/auth/v1/x//",
            "/service/auth/v1/..",
            "/service/auth/v1/x%2F",
            "/service/auth/v1/%%32f",
            "/service/auth/v1/%2%65",
            "/service/auth/v1/a%",
            "/service/auth/v1/a%g1",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
    }
}
