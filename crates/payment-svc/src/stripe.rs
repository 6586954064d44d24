//! The typed Stripe client: creating Checkout Sessions through async-stripe, with the base
//! URL, timeout and key from configuration, and Stripe's failures turned into API errors.
//!
//! Mapping (Stripe: "Error handling"): a 4xx caused by the request is a 400 with Stripe's
//! message; reusing an idempotency key with other parameters is a 409; 429 stays 429;
//! authentication failures (our key), 5xx and unreachable Stripe are 502; a timeout is 504.
//! Stripe's text is never passed on for authentication failures, which quote our key.

use std::collections::{BTreeMap, HashMap};

use anyhow::anyhow;
use coglex_common::config::ConfigError;
use coglex_common::secret::Secret;
use coglex_common::{ApiError, ErrorCode};
use stripe::{
    ApiErrors, ApiErrorsType, Client, ClientBuilder, RequestStrategy, StripeError, StripeRequest,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval,
    CreateCheckoutSessionSubscriptionData, ProductData,
};
use stripe_checkout::{CheckoutSession, CheckoutSessionMode};

use crate::domain::checkout::{CheckoutRequest, Interval, LineItem, Mode, Price, Product};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::metadata::USER_ID;
use crate::settings::Settings;

/// Seconds a client should wait after Stripe rate-limited us.
const RATE_LIMIT_RETRY_SECS: u64 = 1;
/// `Retry-After` when Stripe is still processing another request with the same key.
const IN_USE_RETRY_SECS: u64 = 1;

/// What we keep of a session Stripe created.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedSession {
    pub id: String,
    pub url: Option<String>,
    pub status: Option<String>,
    pub payment_status: String,
    pub customer_email: Option<String>,
    pub mode: String,
    pub metadata: BTreeMap<String, String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Stripe, or the knowledge that it is not configured.
pub struct StripeApi {
    client: Option<Client>,
    secret: Secret,
}

impl StripeApi {
    pub fn new(settings: &Settings) -> Result<Self, ConfigError> {
        if settings.stripe_secret_key.is_empty() {
            return Ok(Self {
                client: None,
                secret: Secret::default(),
            });
        }
        let client = ClientBuilder::new(settings.stripe_secret_key.expose())
            .url(settings.api_base()?)
            .timeout(settings.stripe_timeout())
            .app_info("coglex", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|_| {
                ConfigError("STRIPE_SECRET_KEY or STRIPE_API_BASE is not usable".into())
            })?;
        Ok(Self {
            client: Some(client),
            secret: settings.stripe_secret_key.clone(),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// `POST /v1/checkout/sessions` with `key` as `Idempotency-Key`, sent once: a client
    /// that retries with the same key gets the same session back from Stripe.
    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest,
        key: &IdempotencyKey,
    ) -> Result<CreatedSession, ApiError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| ApiError::unavailable(anyhow!("STRIPE_SECRET_KEY is not set")))?;
        let key = stripe::IdempotencyKey::new(key.as_str()).map_err(ApiError::internal)?;
        let session = checkout_params(request)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(client)
            .await
            .map_err(|err| self.to_api_error(err))?;
        Ok(created_session(session))
    }

    fn to_api_error(&self, err: StripeError) -> ApiError {
        match err {
            StripeError::Stripe(error, status) => self.stripe_refusal(&error, status),
            StripeError::Timeout => ApiError::new(ErrorCode::GatewayTimeout, "")
                .with_source(anyhow!("Stripe did not answer in STRIPE_TIMEOUT_MS")),
            StripeError::ClientError(cause) => ApiError::new(ErrorCode::BadGateway, "")
                .with_source(anyhow!("Stripe is unreachable: {cause}")),
            StripeError::JSONDeserialize(cause) => ApiError::new(ErrorCode::BadGateway, "")
                .with_source(anyhow!("Stripe's answer was not understood: {cause}")),
            StripeError::ConfigError(cause) => {
                ApiError::internal(anyhow!("Stripe client: {cause}"))
            }
        }
    }

    fn stripe_refusal(&self, error: &ApiErrors, status: u16) -> ApiError {
        let summary = anyhow!(
            "Stripe answered {status}: type {}, code {:?}, param {:?}, log {:?}",
            error.type_.as_str(),
            error.code.as_ref().map(|c| c.as_str().to_owned()),
            error.param,
            error.request_log_url,
        );
        match status {
            429 => ApiError::new(
                ErrorCode::RateLimited,
                "Stripe is rate limiting requests; retry shortly",
            )
            .retry_after(RATE_LIMIT_RETRY_SECS)
            .with_source(summary),
            // Our key is wrong or lacks rights: the client can do nothing about it.
            401 | 403 => ApiError::new(ErrorCode::BadGateway, "").with_source(summary),
            // Another request with this key is still being processed: retrying soon is right.
            409 if error.code.as_ref().map(|c| c.as_str()) == Some("idempotency_key_in_use") => {
                ApiError::conflict(
                    "a request with this Idempotency-Key is still in progress; retry shortly",
                )
                .retry_after(IN_USE_RETRY_SECS)
                .with_source(summary)
            }
            400..=499 if error.type_ == ApiErrorsType::IdempotencyError => {
                ApiError::conflict("this Idempotency-Key was already used with a different request")
                    .with_source(summary)
            }
            400..=499 => ApiError::bad_request(self.safe_message(error.message.as_deref()))
                .with_source(summary),
            _ => ApiError::new(ErrorCode::BadGateway, "").with_source(summary),
        }
    }

    /// Stripe's own words, unless they could quote a key.
    fn safe_message(&self, message: Option<&str>) -> String {
        const GENERIC: &str = "Stripe refused the request";
        match message {
            Some(m)
                if !m.is_empty()
                    && !m.contains("sk_")
                    && !m.contains("rk_")
                    && (self.secret.is_empty() || !m.contains(self.secret.expose())) =>
            {
                m.to_owned()
            }
            _ => GENERIC.to_owned(),
        }
    }
}

fn checkout_params(request: &CheckoutRequest) -> CreateCheckoutSession {
    let metadata: HashMap<String, String> = request
        .metadata
        .entries()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut params = CreateCheckoutSession::new()
        .mode(match request.mode {
            Mode::Payment => CheckoutSessionMode::Payment,
            Mode::Subscription => CheckoutSessionMode::Subscription,
        })
        .success_url(request.success_url.as_str())
        .line_items(request.line_items.iter().map(line_item).collect::<Vec<_>>());
    if let Some(cancel_url) = &request.cancel_url {
        params = params.cancel_url(cancel_url.as_str());
    }
    if let Some(email) = &request.email {
        params = params.customer_email(email);
    }
    if let Some(user_id) = request.metadata.user_id() {
        // Stripe's documented field for linking a session to our user.
        params = params.client_reference_id(user_id);
        if request.mode == Mode::Subscription {
            // Subscription events carry the subscription's metadata, not the session's.
            let mut data = CreateCheckoutSessionSubscriptionData::new();
            data.metadata = Some(HashMap::from([(USER_ID.to_owned(), user_id.to_owned())]));
            params = params.subscription_data(data);
        }
    }
    if !metadata.is_empty() {
        params = params.metadata(metadata);
    }
    params
}

fn line_item(item: &LineItem) -> CreateCheckoutSessionLineItems {
    let mut out = CreateCheckoutSessionLineItems::new();
    out.quantity = item.quantity;
    match &item.price {
        Price::Id(id) => out.price = Some(id.clone()),
        Price::Data(data) => {
            let currency: stripe_types::Currency =
                data.currency.parse().unwrap_or_else(|never| match never {});
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
            // Bounded to 99,999,999 when parsed, so it always fits.
            price.unit_amount = i64::try_from(data.unit_amount).ok();
            match &data.product {
                Product::Id(id) => price.product = Some(id.clone()),
                Product::Data(product) => {
                    let mut out = ProductData::new(&product.name);
                    out.description = product.description.clone();
                    if !product.images.is_empty() {
                        out.images = Some(product.images.clone());
                    }
                    price.product_data = Some(out);
                }
            }
            price.recurring = data.recurring.as_ref().map(|r| {
                let mut recurring = CreateCheckoutSessionLineItemsPriceDataRecurring::new(match r
                    .interval
                {
                    Interval::Day => CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Day,
                    Interval::Week => {
                        CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Week
                    }
                    Interval::Month => {
                        CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Month
                    }
                    Interval::Year => {
                        CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Year
                    }
                });
                recurring.interval_count = r.interval_count;
                recurring
            });
            out.price_data = Some(price);
        }
    }
    out
}

fn created_session(session: CheckoutSession) -> CreatedSession {
    CreatedSession {
        id: session.id.as_str().to_owned(),
        url: session.url,
        status: session.status.map(|s| s.as_str().to_owned()),
        payment_status: session.payment_status.as_str().to_owned(),
        customer_email: session.customer_email,
        mode: session.mode.as_str().to_owned(),
        metadata: session.metadata.unwrap_or_default().into_iter().collect(),
        amount_total: session.amount_total,
        currency: session.currency.map(|c| c.to_string()),
        created: session.created,
        expires_at: session.expires_at,
    }
}
