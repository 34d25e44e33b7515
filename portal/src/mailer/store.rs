use super::{Mail, MailKind, retry_delay_ms};
use crate::db::{DbError, TenantTx};

/// A message claimed for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub kind: String,
    #[sqlx(rename = "to_address")]
    pub to: String,
    pub subject: String,
    #[sqlx(rename = "body_text")]
    pub text: String,
    pub attempts: i64,
    pub reply_to: Option<String>,
}

/// How long a claimed message is left to its sender before another worker may take it.
const LEASE_MS: i64 = 5 * 60_000;

impl TenantTx {
    /// Queues a message; it is sent after this transaction commits.
    pub async fn queue_mail(&mut self, mail: &Mail) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO outbound_emails (tenant_id, kind, to_address, subject, body_text, reply_to, \
               next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(t)
        .bind(mail.kind.as_str())
        .bind(mail.to.as_str())
        .bind(super::subject(&mail.subject))
        .bind(&mail.text)
        .bind(mail.reply_to.as_ref().map(|a| a.as_str().to_owned()))
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// Takes up to `limit` messages that are due, leasing them to the caller.
    pub async fn claim_mail(&mut self, limit: i64) -> Result<Vec<QueuedMail>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_as::<_, QueuedMail>(
            "UPDATE outbound_emails SET next_attempt_at = $3, attempts = attempts + 1 \
             WHERE tenant_id = $1 AND id IN (SELECT id FROM outbound_emails \
               WHERE tenant_id = $1 AND status = 'queued' AND next_attempt_at <= $2 \
               ORDER BY next_attempt_at, id LIMIT $4) \
             RETURNING id, kind, to_address, subject, body_text, attempts, reply_to",
        )
        .bind(t)
        .bind(now)
        .bind(now + LEASE_MS)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// Records a message as sent (clearing a secret body).
    pub async fn mail_sent(&mut self, mail: &QueuedMail) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let scrub = MailKind::carries_secret(&mail.kind);
        sqlx::query(
            "UPDATE outbound_emails SET status = 'sent', sent_at = $3, last_error = NULL, \
               body_text = CASE WHEN $4 = 1 THEN '(sent; the one-time link is not kept)' ELSE body_text END \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(mail.id)
        .bind(now)
        .bind(i64::from(scrub))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried later, or failed for good (`permanent`, or out of
    /// attempts).
    pub async fn mail_failed(
        &mut self,
        mail: &QueuedMail,
        error: &str,
        permanent: bool,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let next = if permanent {
            None
        } else {
            retry_delay_ms(mail.attempts)
        };
        let error: String = error.chars().take(500).collect();
        sqlx::query(
            "UPDATE outbound_emails SET status = $3, next_attempt_at = $4, last_error = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(mail.id)
        .bind(if next.is_some() { "queued" } else { "failed" })
        .bind(now + next.unwrap_or(0))
        .bind(error)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
