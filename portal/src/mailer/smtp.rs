//! The sending side: every tenant's due messages, over one SMTP relay (lettre), woken when a
//! message is queued and otherwise every half minute for retries.

use super::QueuedMail;
use crate::db::Db;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The dealer's outgoing mail relay (`[smtp]`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. `Printyx <no-reply@dealer.example>`.
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_port() -> u16 {
    587
}

fn default_timeout() -> u64 {
    30
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS on the submission port (587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Tls,
    /// Plain text: only for a relay on the same host or in tests.
    None,
}

impl SmtpConfig {
    /// Checks the sender address and builds the transport.
    pub fn transport(&self) -> Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), String> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|e| format!("smtp.from '{}' is not an address: {e}", self.from))?;
        let builder = match self.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)
                    .map_err(|e| format!("smtp.host '{}': {e}", self.host))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host)
                .map_err(|e| format!("smtp.host '{}': {e}", self.host))?,
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(self.timeout_seconds)));
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok((builder.build(), from))
    }
}

/// Sends queued mail until `stop` completes. Without a relay it only says so: messages stay
/// queued and go out once one is configured.
pub async fn run(
    db: Db,
    config: Option<SmtpConfig>,
    wake: Arc<Notify>,
    stop: impl Future<Output = ()> + Send,
) {
    let Some(config) = config else {
        tracing::warn!("no [smtp] relay configured: invitations and reset e-mails stay queued");
        return;
    };
    let (transport, from) = match config.transport() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot send e-mail");
            return;
        }
    };
    tokio::pin!(stop);
    loop {
        if let Err(e) = send_due(&db, &transport, &from).await {
            tracing::warn!(error = %e, "sending queued e-mail failed; retrying later");
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
            () = &mut stop => return,
        }
    }
}

/// One round over every tenant's due messages.
async fn send_due(
    db: &Db,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
) -> Result<(), crate::db::DbError> {
    for tenant in db.list_tenants().await? {
        let tdb = db.tenant(tenant.id);
        loop {
            let batch = tdb.run(async |tx| tx.claim_mail(20).await).await?;
            if batch.is_empty() {
                break;
            }
            for mail in &batch {
                match send_one(transport, from, &tenant.name, mail).await {
                    Ok(()) => tdb.run(async |tx| tx.mail_sent(mail).await).await?,
                    Err((error, permanent)) => {
                        tracing::warn!(tenant = %tenant.slug.as_str(), mail = mail.id, %error, "e-mail not sent");
                        tdb.run(async |tx| tx.mail_failed(mail, &error, permanent).await)
                            .await?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Sends one message from the relay's address in the dealer's name. `Err((why, permanent))`.
async fn send_one(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    dealer: &str,
    mail: &QueuedMail,
) -> Result<(), (String, bool)> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| (format!("recipient '{}': {e}", mail.to), true))?;
    let sender = Mailbox::new(Some(dealer.to_owned()), from.email.clone());
    let mut message = Message::builder().from(sender).to(to);
    if let Some(reply_to) = &mail.reply_to {
        let reply_to: Mailbox = reply_to
            .parse()
            .map_err(|e| (format!("reply-to '{reply_to}': {e}"), true))?;
        message = message.reply_to(reply_to);
    }
    let message = message
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone())
        .map_err(|e| (e.to_string(), true))?;
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| (e.to_string(), e.is_permanent()))
}
