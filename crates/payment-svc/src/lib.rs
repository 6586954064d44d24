//! payment-svc: Stripe Checkout sessions, webhooks and payment records, under `/service/payment/v1`.
//!
//! [`build`] assembles the service from configuration; the binary, the tests and the local
//! stack all run this same function.

pub mod domain;
pub mod events;
mod routes;
pub mod settings;
pub mod store;
pub mod stripe;
pub mod webhook_signature;

use coglex_common::config::{ConfigSource, CoreSettings};
use coglex_common::web::{Application, Core, ServiceDef};

use crate::settings::Settings;
use crate::store::PaymentStore;
use crate::stripe::StripeApi;
use crate::webhook_signature::WebhookVerifier;

/// Routing name: the service answers under `/service/payment/v1`.
pub const NAME: &str = "payment";
/// Port used when `SERVER_PORT` is not set (the local stack's layout).
pub const DEFAULT_PORT: u16 = 8084;

/// What the handlers share, registered as `web::Data<PaymentState>`.
pub struct PaymentState {
    pub settings: Settings,
    pub stripe: StripeApi,
    pub store: PaymentStore,
    pub webhooks: WebhookVerifier,
}

/// Builds the service from configuration; call `run_until_stopped` on the result.
pub async fn build(source: ConfigSource) -> anyhow::Result<Application> {
    let settings: Settings = source.get()?;
    settings.validate()?;
    let core = Core::connect(CoreSettings::from_source(&source)?, "payment-svc").await?;
    let stripe = StripeApi::new(&settings)?;
    if !stripe.is_configured() {
        tracing::warn!("STRIPE_SECRET_KEY is not set: checkout answers 503 until it is");
    }
    let webhooks = WebhookVerifier::new(
        settings.stripe_webhook_secret.clone(),
        settings.stripe_webhook_tolerance_secs,
    );
    if !webhooks.is_configured() {
        tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: webhooks answer 503 until it is");
    }
    let state = PaymentState {
        store: PaymentStore::new(&core.db, &settings),
        stripe,
        webhooks,
        settings,
    };
    Ok(Application::bind(
        core,
        ServiceDef::new(NAME, state, routes::configure),
        DEFAULT_PORT,
    )?)
}
