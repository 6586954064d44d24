//! Sends one-time codes over SMTP with lettre (`SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`,
//! `SMTP_PASSWORD`, `SMTP_FROM`, `SMTP_TLS`).

use std::time::Duration;

use coglex_common::config::ConfigError;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::domain::UserKey;
use crate::settings::{Settings, SmtpTls};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Result<Self, ConfigError> {
        let from: Mailbox = settings.smtp_from.parse().map_err(|_| {
            ConfigError(format!(
                "SMTP_FROM `{}` is not a valid mailbox",
                settings.smtp_from
            ))
        })?;
        let host = settings.smtp_host.as_str();
        let builder = match settings.smtp_tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|_| ConfigError(format!("SMTP_HOST `{host}` cannot be used")))?;
        let mut builder = builder
            .port(settings.smtp_port)
            .timeout(Some(Duration::from_millis(settings.smtp_timeout_ms)));
        if let Some(user) = settings.smtp_username.as_ref().filter(|u| !u.is_empty()) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                settings.smtp_password.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Emails a one-time code. The key was validated as an address, so it cannot inject headers.
    pub async fn send_code(
        &self,
        to: &UserKey,
        code: &str,
        valid_for: Duration,
    ) -> anyhow::Result<()> {
        let minutes = valid_for.as_secs().div_ceil(60);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.as_str().parse()?)
            .subject("Your verification code")
            .body(format!(
                "Your verification code is {code}\n\nIt is valid for {minutes} minutes and can be used once.\nIf you did not ask for it, ignore this message.\n"
            ))?;
        self.transport.send(message).await?;
        Ok(())
    }
}
