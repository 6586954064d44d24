//! The whole Coglex stack in one process, for end-to-end tests: SecantusDB, the five services
//! built by their own `build` functions on real ports, the gateway in front of them, and
//! stand-ins for the third parties (Stripe, Gemini, Google OAuth, an SMTP server).
//!
//! Every service shares one database, as in the local stack, so a session made by auth-svc
//! is honoured by the others.

use std::future::Future;

use coglex_common::config::ConfigSource;
use coglex_common::web::Application;
use gateway::{Gateway, Running};
use test_support::fake_gemini::FakeGemini;
use test_support::fake_oauth::{FakeOAuth, Flavor, ProviderUser};
use test_support::fake_stripe::FakeStripe;
use test_support::smtp::SmtpServer;
use test_support::{gateway_settings, owned_pairs, spawn_app_with, TestApp, TestDb};

pub use test_support::{ADMIN_API_KEY, API_KEY};

/// The OAuth redirect and checkout hosts the stack allows (those of the original README).
pub const OAUTH_REDIRECT: &str = "http://localhost:3000/callback";
/// The Stripe webhook signing secret of the stack (test value).
pub const WEBHOOK_SECRET: &str = "whsec_coglex_e2e_test_secret";

/// A running stack. Dropping it stops the gateway; the services stop with the test runtime.
pub struct Stack {
    /// `http://127.0.0.1:<port>` of the gateway: the only address clients use.
    pub gateway: String,
    pub stripe: FakeStripe,
    pub gemini: FakeGemini,
    pub oauth: FakeOAuth,
    pub smtp: SmtpServer,
    /// The database every service uses.
    pub db: TestDb,
    pub services: Vec<(&'static str, TestApp)>,
    _gateway: Running,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with_gateway(&[]).await
    }

    /// The stack with extra gateway settings (e.g. `UPSTREAM_HTTP2`).
    pub async fn start_with_gateway(extra: &[(&str, &str)]) -> Self {
        let db = TestDb::new();
        let stripe = FakeStripe::start().await;
        let gemini = FakeGemini::start().await;
        let oauth = FakeOAuth::start(
            Flavor::Google,
            ProviderUser::new("google_user_id_123", "John Doe", "john@example.com"),
        )
        .await;
        let smtp = SmtpServer::start().await;

        let shared = [("MONGODB_DATABASE", db.name.clone())];
        let mut auth = smtp.settings();
        auth.extend(oauth.settings());
        auth.push(("OAUTH_REDIRECT_ALLOWLIST".into(), OAUTH_REDIRECT.into()));
        let mut payment = stripe.settings();
        payment.push(("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()));

        let services = vec![
            ("auth", spawn(auth_svc::build, &shared, auth).await),
            ("storage", spawn(storage_svc::build, &shared, vec![]).await),
            ("archive", spawn(archive_svc::build, &shared, vec![]).await),
            ("payment", spawn(payment_svc::build, &shared, payment).await),
            (
                "generation",
                spawn(generation_svc::build, &shared, gemini.settings()).await,
            ),
        ];

        let mut pairs = gateway_settings();
        pairs.extend(services.iter().map(|(name, app)| {
            let variable = format!("{}_SVC_URL", name.to_uppercase());
            (variable, app.address.clone())
        }));
        pairs.extend(owned_pairs(extra));
        let gateway = Gateway::build(ConfigSource::from_pairs(pairs))
            .await
            .expect("the gateway builds")
            .spawn();

        Self {
            gateway: gateway.address.clone(),
            _gateway: gateway,
            stripe,
            gemini,
            oauth,
            smtp,
            db,
            services,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }
}

async fn spawn<F, Fut>(build: F, shared: &[(&str, String)], own: Vec<(String, String)>) -> TestApp
where
    F: FnOnce(ConfigSource) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    let mut settings: Vec<(&str, &str)> = shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings.extend(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    spawn_app_with(build, &settings).await
}
