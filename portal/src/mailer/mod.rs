//! Outgoing e-mail: written to `outbound_emails` in the same transaction as the change that
//! causes it (an invitation, a reset request), then sent over SMTP by a worker (`smtp`), with
//! retries. A message whose body carries a secret link is cleared once sent, so the database
//! does not keep working links.

mod smtp;
mod store;

pub use smtp::{SmtpConfig, SmtpSecurity, run};
pub use store::QueuedMail;

use ingest::domain::EmailAddress;

/// One message to one recipient, plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// What it is (`invitation`, `password_reset`…): for logs and for clearing secrets.
    pub kind: MailKind,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    /// Where answers go, when not to the sender (a meter request's tokened address).
    pub reply_to: Option<EmailAddress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    PasswordReset,
    /// A digest of notifications.
    Digest,
    /// The monthly request for meter readings, and its reminder.
    MeterRequest,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::PasswordReset => "password_reset",
            MailKind::Digest => "digest",
            MailKind::MeterRequest => "meter_request",
        }
    }

    /// Whether the body holds a secret (a one-time link) that must not outlive sending.
    fn carries_secret(kind: &str) -> bool {
        matches!(kind, "invitation" | "password_reset")
    }
}

/// A subject line: one line, no control characters (a header cannot be smuggled in).
pub fn subject(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// How long after a failed attempt the next one is made; after the last, the mail is failed.
fn retry_delay_ms(attempts: i64) -> Option<i64> {
    const MINUTE: i64 = 60_000;
    match attempts {
        1 => Some(MINUTE),
        2 => Some(5 * MINUTE),
        3 => Some(30 * MINUTE),
        4 => Some(2 * 60 * MINUTE),
        5 => Some(6 * 60 * MINUTE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(subject("Reset\r\nBcc: x@y"), "Reset  Bcc: x@y");
    }

    #[test]
    fn retries_back_off_then_stop() {
        let delays: Vec<_> = (1..=6).map(retry_delay_ms).collect();
        assert!(delays.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            _ => false,
        }));
        assert_eq!(delays.last(), Some(&None));
    }
}
