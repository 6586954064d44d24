//! Checking that a webhook came from Stripe, as Stripe documents it ("Verify webhook
//! signatures with your own code"): the `Stripe-Signature` header is `t=<unix seconds>`
//! plus one or more `v1=<hex>` entries; a `v1` is HMAC-SHA256 of `"{t}.{raw body}"` keyed
//! with the endpoint secret. Any one matching `v1` is enough (Stripe sends several while a
//! secret is being rolled), compared in constant time, and `t` must be within the tolerance
//! of our clock so a captured delivery cannot be replayed later.

use std::time::{SystemTime, UNIX_EPOCH};

use coglex_common::secret::Secret;
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

use crate::domain::Invalid;

type HmacSha256 = SimpleHmac<Sha256>;

/// Stripe's only current signature scheme.
const SCHEME: &str = "v1";

pub struct WebhookVerifier {
    secret: Secret,
    tolerance_secs: u64,
}

impl WebhookVerifier {
    pub fn new(secret: Secret, tolerance_secs: u64) -> Self {
        Self {
            secret,
            tolerance_secs,
        }
    }

    pub fn is_configured(&self) -> bool {
        !self.secret.is_empty()
    }

    /// Verifies `header` for `body` at `now` (unix seconds).
    pub fn verify_at(&self, header: Option<&[u8]>, body: &[u8], now: u64) -> Result<(), Invalid> {
        let header =
            header.ok_or_else(|| Invalid::new("the Stripe-Signature header is required"))?;
        let header = std::str::from_utf8(header)
            .map_err(|_| Invalid::new("the Stripe-Signature header is malformed"))?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
                Some((SCHEME, sig)) => signatures.extend(decode_hex(sig)),
                _ => {}
            }
        }
        let timestamp = timestamp
            .ok_or_else(|| Invalid::new("the Stripe-Signature header has no valid timestamp"))?;
        if signatures.is_empty() {
            return Err(Invalid::new(
                "the Stripe-Signature header has no v1 signature",
            ));
        }
        let mut mac = HmacSha256::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // `verify_slice` compares in constant time; every candidate is checked.
        let matched = signatures.iter().fold(false, |found, sig| {
            mac.clone().verify_slice(sig).is_ok() | found
        });
        if !matched {
            return Err(Invalid::new(
                "the Stripe-Signature does not match the payload",
            ));
        }
        if now.abs_diff(timestamp) > self.tolerance_secs {
            return Err(Invalid::new(
                "the Stripe-Signature timestamp is outside the tolerance; the delivery may be a replay",
            ));
        }
        Ok(())
    }

    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), Invalid> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        self.verify_at(header, body, now)
    }
}

/// A SHA-256 MAC in hex; anything else is not a candidate.
fn decode_hex(raw: &str) -> Option<[u8; 32]> {
    let raw = raw.as_bytes();
    if raw.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_for_unit_tests";
    const NOW: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    fn sign(secret: &str, t: u64, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new(Secret::new(SECRET), 300)
    }

    fn check(header: &str, now: u64) -> Result<(), Invalid> {
        verifier().verify_at(Some(header.as_bytes()), BODY, now)
    }

    #[test]
    fn a_signature_from_the_secret_is_accepted() {
        let header = format!("t={NOW},v1={}", sign(SECRET, NOW, BODY));
        assert_eq!(check(&header, NOW + 10), Ok(()));
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let header = format!(
            "t={NOW},v1={},v1={},v0={}",
            sign("whsec_old", NOW, BODY),
            sign(SECRET, NOW, BODY),
            "00".repeat(32)
        );
        assert_eq!(check(&header, NOW), Ok(()));
    }

    #[test]
    fn a_changed_body_or_another_secret_is_refused() {
        let header = format!("t={NOW},v1={}", sign(SECRET, NOW, b"{}"));
        assert!(check(&header, NOW)
            .unwrap_err()
            .0
            .contains("does not match"));
        let header = format!("t={NOW},v1={}", sign("whsec_other", NOW, BODY));
        assert!(check(&header, NOW).is_err());
    }

    #[test]
    fn a_signed_old_timestamp_is_refused_as_a_replay() {
        let header = format!("t={NOW},v1={}", sign(SECRET, NOW, BODY));
        assert!(check(&header, NOW + 301)
            .unwrap_err()
            .0
            .contains("tolerance"));
        assert!(check(&header, NOW + 300).is_ok());
    }

    #[test]
    fn a_timestamp_cannot_be_swapped_for_a_fresh_one() {
        let header = format!("t={},v1={}", NOW + 1000, sign(SECRET, NOW, BODY));
        assert!(check(&header, NOW + 1000).is_err());
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "",
            "t=abc,v1=00",
            &format!("t={NOW}"),
            "v1=zz",
            &format!("t={NOW},v1=short"),
        ] {
            assert!(check(header, NOW).is_err(), "{header}");
        }
        assert!(verifier().verify_at(None, BODY, NOW).is_err());
    }
}
