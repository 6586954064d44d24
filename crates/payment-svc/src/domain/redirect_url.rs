//! Where Stripe sends the customer after checkout: an absolute http(s) URL, optionally on a
//! configured host. Stripe substitutes `{CHECKOUT_SESSION_ID}` in it, so that template is
//! kept verbatim (Stripe: "Checkout: custom success page").

use url::Url;

use super::Invalid;

/// The template Stripe replaces with the session id.
const SESSION_ID_TEMPLATE: &str = "{CHECKOUT_SESSION_ID}";
/// Stripe's limit on `success_url` and `cancel_url`.
const MAX_LEN: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(String);

impl RedirectUrl {
    /// `field` names the value in messages; `allowed_hosts` empty means any host.
    pub fn parse(field: &str, raw: &str, allowed_hosts: &[String]) -> Result<Self, Invalid> {
        let invalid = || Invalid(format!("{field} must be an absolute http(s) URL"));
        if raw.len() > MAX_LEN {
            return Err(Invalid(format!(
                "{field} must be at most {MAX_LEN} characters"
            )));
        }
        // Braces are not valid in a URL; the template is checked as a plain word.
        let url = Url::parse(&raw.replace(SESSION_ID_TEMPLATE, "CHECKOUT_SESSION_ID"))
            .map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid());
        }
        let Some(host) = url.host_str() else {
            return Err(invalid());
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Invalid(format!("{field} must not contain credentials")));
        }
        if !allowed_hosts.is_empty() && !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
        {
            return Err(Invalid(format!(
                "{field} must point to one of the allowed hosts"
            )));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<RedirectUrl, Invalid> {
        RedirectUrl::parse("success_url", raw, &[])
    }

    #[test]
    fn the_session_id_template_is_kept_verbatim() {
        let raw = "https://example.com/success?session_id={CHECKOUT_SESSION_ID}";
        assert_eq!(parse(raw).unwrap().as_str(), raw);
    }

    #[test]
    fn relative_and_non_http_urls_are_refused() {
        for raw in [
            "/success",
            "example.com/ok",
            "javascript:alert(1)",
            "ftp://example.com/",
            "",
        ] {
            assert!(parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        assert!(parse("https://user:pw@example.com/").is_err());
    }

    #[test]
    fn only_configured_hosts_pass_when_some_are_configured() {
        let allowed = vec!["example.com".to_owned()];
        assert!(RedirectUrl::parse("cancel_url", "https://EXAMPLE.com/c", &allowed).is_ok());
        let err = RedirectUrl::parse("cancel_url", "https://evil.test/c", &allowed).unwrap_err();
        assert_eq!(err.0, "cancel_url must point to one of the allowed hosts");
    }
}
