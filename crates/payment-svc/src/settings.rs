//! payment-svc's own settings: Stripe credentials, where Stripe is, and the limits of a
//! checkout. Read from the same sources as every other setting (`ConfigSource`).

use std::time::Duration;

use coglex_common::config::{comma_list, ConfigError};
use coglex_common::mongo::check_private_collection;
use coglex_common::secret::Secret;
use serde::Deserialize;
use url::Url;

/// Settings read by payment-svc only.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Stripe secret or restricted key, `sk_...` or `rk_...` (`STRIPE_SECRET_KEY`). When
    /// unset the service starts, and checkout answers 503 until it is configured.
    #[serde(default)]
    pub stripe_secret_key: Secret,
    /// The webhook endpoint's signing secret, `whsec_...` (`STRIPE_WEBHOOK_SECRET`). When
    /// unset, webhooks answer 503 so Stripe keeps retrying them until it is configured.
    #[serde(default)]
    pub stripe_webhook_secret: Secret,
    /// Base URL of Stripe's API (`STRIPE_API_BASE`); tests point it at a local fake.
    #[serde(default = "default_api_base")]
    pub stripe_api_base: String,
    /// Milliseconds one call to Stripe may take before it is abandoned (`STRIPE_TIMEOUT_MS`).
    #[serde(default = "default_timeout_ms")]
    pub stripe_timeout_ms: u64,
    /// Seconds a webhook's signed timestamp may differ from our clock
    /// (`STRIPE_WEBHOOK_TOLERANCE_SECS`); Stripe's libraries use 300.
    #[serde(default = "default_tolerance_secs")]
    pub stripe_webhook_tolerance_secs: u64,
    /// Hosts `success_url` and `cancel_url` may point to, comma-separated exact matches
    /// (`CHECKOUT_ALLOWED_REDIRECT_HOSTS`); `*` allows any host. Unset allows any host with
    /// a test key only: a live key needs the list, or `*` said deliberately.
    #[serde(default, deserialize_with = "comma_list")]
    pub checkout_allowed_redirect_hosts: Vec<String>,
    /// Price ids a checkout may sell, comma-separated (`CHECKOUT_ALLOWED_PRICES`); when set,
    /// other ids and inline `price_data` are refused, so clients cannot set their own
    /// prices. `*` allows any, as the original did; so does unset, with a test key only.
    #[serde(default, deserialize_with = "comma_list")]
    pub checkout_allowed_prices: Vec<String>,
    /// Largest `quantity` of one line item (`CHECKOUT_MAX_QUANTITY`).
    #[serde(default = "default_max_quantity")]
    pub checkout_max_quantity: u64,
    /// Checkout sessions and subscriptions (`MONGODB_PAYMENTS_COLLECTION`).
    #[serde(default = "default_payments_collection")]
    pub mongodb_payments_collection: String,
    /// Ids of the Stripe events already recorded (`MONGODB_PAYMENT_EVENTS_COLLECTION`).
    #[serde(default = "default_events_collection")]
    pub mongodb_payment_events_collection: String,
}

fn default_api_base() -> String {
    "https://api.stripe.com/".into()
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_tolerance_secs() -> u64 {
    300
}

fn default_max_quantity() -> u64 {
    1_000
}

fn default_payments_collection() -> String {
    "_PAYMENTS".into()
}

fn default_events_collection() -> String {
    "_PAYMENT_EVENTS".into()
}

/// An allow-list of this one entry allows anything, deliberately.
const ANY: &str = "*";

/// Stripe's largest `quantity` for a Checkout line item.
const STRIPE_MAX_QUANTITY: u64 = 999_999;

impl Settings {
    /// Checks every value once, at start-up, naming the setting at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let key = self.stripe_secret_key.expose();
        if !key.is_empty()
            && !["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
                .iter()
                .any(|prefix| key.starts_with(prefix) && key.len() > prefix.len())
        {
            return Err(ConfigError(
                "STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_..., sk_live_...) or restricted key (rk_...)".into(),
            ));
        }
        let webhook = self.stripe_webhook_secret.expose();
        let webhook_is_signing_secret = webhook
            .strip_prefix("whsec_")
            .is_some_and(|rest| !rest.is_empty());
        if !webhook.is_empty() && !webhook_is_signing_secret {
            return Err(ConfigError(
                "STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret (whsec_...)".into(),
            ));
        }
        self.api_base()?;
        if self.stripe_timeout_ms == 0 {
            return Err(ConfigError("STRIPE_TIMEOUT_MS must be at least 1".into()));
        }
        if self.stripe_webhook_tolerance_secs == 0 {
            return Err(ConfigError(
                "STRIPE_WEBHOOK_TOLERANCE_SECS must be at least 1".into(),
            ));
        }
        if !(1..=STRIPE_MAX_QUANTITY).contains(&self.checkout_max_quantity) {
            return Err(ConfigError(format!(
                "CHECKOUT_MAX_QUANTITY must be between 1 and {STRIPE_MAX_QUANTITY}"
            )));
        }
        // With real money, where customers are sent and what they are charged is the
        // merchant's explicit choice, never an unset default.
        let live = ["sk_live_", "rk_live_"].iter().any(|p| key.starts_with(p));
        for (name, list, what) in [
            (
                "CHECKOUT_ALLOWED_REDIRECT_HOSTS",
                &self.checkout_allowed_redirect_hosts,
                "the hosts customers may be sent back to",
            ),
            (
                "CHECKOUT_ALLOWED_PRICES",
                &self.checkout_allowed_prices,
                "the price ids checkouts may sell",
            ),
        ] {
            if live && list.is_empty() {
                return Err(ConfigError(format!(
                    "{name} must be set with a live Stripe key: list {what}, or `{ANY}` for any"
                )));
            }
            if list.len() > 1 && list.iter().any(|entry| entry == ANY) {
                return Err(ConfigError(format!("`{ANY}` in {name} must stand alone")));
            }
        }
        if let Some(host) = self
            .redirect_hosts()
            .iter()
            .find(|h| h.contains(['/', ':', ' ', '@', '*']))
        {
            return Err(ConfigError(format!(
                "CHECKOUT_ALLOWED_REDIRECT_HOSTS must list bare host names; `{host}` is not one"
            )));
        }
        for (name, value) in [
            (
                "MONGODB_PAYMENTS_COLLECTION",
                &self.mongodb_payments_collection,
            ),
            (
                "MONGODB_PAYMENT_EVENTS_COLLECTION",
                &self.mongodb_payment_events_collection,
            ),
        ] {
            check_private_collection(name, value)?;
        }
        Ok(())
    }

    /// `STRIPE_API_BASE` as an http(s) URL ending in `/` (async-stripe appends `v1/...`).
    pub fn api_base(&self) -> Result<String, ConfigError> {
        let invalid = || ConfigError("STRIPE_API_BASE must be an absolute http(s) URL".into());
        let url = Url::parse(&self.stripe_api_base).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid());
        }
        let mut base = url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(base)
    }

    /// The hosts redirects may use; empty means any.
    pub fn redirect_hosts(&self) -> &[String] {
        any_as_empty(&self.checkout_allowed_redirect_hosts)
    }

    /// The prices checkouts may sell; empty means any, inline `price_data` included.
    pub fn prices(&self) -> &[String] {
        any_as_empty(&self.checkout_allowed_prices)
    }

    pub fn stripe_timeout(&self) -> Duration {
        Duration::from_millis(self.stripe_timeout_ms)
    }
}

fn any_as_empty(list: &[String]) -> &[String] {
    if list == [ANY] {
        &[]
    } else {
        list
    }
}

#[cfg(test)]
mod tests {
    use coglex_common::config::ConfigSource;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let settings: Settings = ConfigSource::from_pairs(pairs.iter().copied()).get()?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn defaults_point_at_stripe_and_the_payments_collections() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.api_base().unwrap(), "https://api.stripe.com/");
        assert_eq!(settings.mongodb_payments_collection, "_PAYMENTS");
        assert_eq!(settings.stripe_webhook_tolerance_secs, 300);
    }

    #[test]
    fn an_api_base_without_a_trailing_slash_gets_one() {
        let settings = settings(&[("STRIPE_API_BASE", "http://127.0.0.1:9999")]).unwrap();
        assert_eq!(settings.api_base().unwrap(), "http://127.0.0.1:9999/");
    }

    #[test]
    fn a_publishable_key_is_refused_without_being_echoed() {
        let err = settings(&[("STRIPE_SECRET_KEY", "pk_test_notasecret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("STRIPE_SECRET_KEY"), "{err}");
        assert!(!err.contains("pk_test_notasecret"), "{err}");
    }

    #[test]
    fn a_webhook_secret_without_its_prefix_is_refused() {
        let err = settings(&[("STRIPE_WEBHOOK_SECRET", "secret")]).unwrap_err();
        assert!(err.to_string().contains("STRIPE_WEBHOOK_SECRET"), "{err}");
    }

    #[test]
    fn a_relative_api_base_is_refused() {
        let err = settings(&[("STRIPE_API_BASE", "api.stripe.com")]).unwrap_err();
        assert!(err.to_string().contains("STRIPE_API_BASE"), "{err}");
    }

    #[test]
    fn redirect_hosts_are_a_comma_separated_list() {
        let settings = settings(&[(
            "CHECKOUT_ALLOWED_REDIRECT_HOSTS",
            "example.com, shop.example.com",
        )])
        .unwrap();
        assert_eq!(
            settings.checkout_allowed_redirect_hosts,
            ["example.com", "shop.example.com"]
        );
    }

    #[test]
    fn a_live_key_needs_both_allow_lists() {
        let live = ("STRIPE_SECRET_KEY", "sk_live_abc");
        let hosts = ("CHECKOUT_ALLOWED_REDIRECT_HOSTS", "shop.example.com");
        let prices = ("CHECKOUT_ALLOWED_PRICES", "price_1");
        for (pairs, missing) in [
            (vec![live], "CHECKOUT_ALLOWED_REDIRECT_HOSTS"),
            (vec![live, hosts], "CHECKOUT_ALLOWED_PRICES"),
            (vec![live, prices], "CHECKOUT_ALLOWED_REDIRECT_HOSTS"),
        ] {
            let err = settings(&pairs).unwrap_err().to_string();
            assert!(err.contains(missing), "{err}");
            assert!(!err.contains("sk_live_abc"), "{err}");
        }
        let chosen = settings(&[live, hosts, prices]).unwrap();
        assert_eq!(chosen.redirect_hosts(), ["shop.example.com"]);
        assert_eq!(chosen.prices(), ["price_1"]);
        assert!(settings(&[("STRIPE_SECRET_KEY", "sk_test_abc")]).is_ok());
    }

    #[test]
    fn a_star_allows_anything_but_only_alone() {
        let any = settings(&[
            ("STRIPE_SECRET_KEY", "rk_live_abc"),
            ("CHECKOUT_ALLOWED_REDIRECT_HOSTS", "*"),
            ("CHECKOUT_ALLOWED_PRICES", "*"),
        ])
        .unwrap();
        assert!(any.redirect_hosts().is_empty());
        assert!(any.prices().is_empty());
        let err = settings(&[("CHECKOUT_ALLOWED_PRICES", "price_1,*")]).unwrap_err();
        assert!(err.to_string().contains("CHECKOUT_ALLOWED_PRICES"), "{err}");
        let err = settings(&[("CHECKOUT_ALLOWED_REDIRECT_HOSTS", "*.example.com")]).unwrap_err();
        assert!(err.to_string().contains("bare host"), "{err}");
    }

    #[test]
    fn a_quantity_bound_above_stripes_is_refused() {
        let err = settings(&[("CHECKOUT_MAX_QUANTITY", "1000000")]).unwrap_err();
        assert!(err.to_string().contains("CHECKOUT_MAX_QUANTITY"), "{err}");
    }
}
