use super::{Channel, DIGEST_WINDOW_MS, Note, event_type};
use crate::db::{DbError, TenantTx, one_row};
use crate::ids::UserId;
use crate::mailer::{Mail, MailKind};
use sqlx::Row;
use std::collections::BTreeMap;

/// A notification as its reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub event: String,
    pub subject_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

fn view(row: &sqlx::any::AnyRow) -> Result<NotificationView, DbError> {
    Ok(NotificationView {
        id: row.try_get("id")?,
        event: row.try_get("event_type")?,
        subject_id: row.try_get("subject_id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

impl TenantTx {
    /// A user's choice for an event and channel, or the default (in the portal: on; e-mail:
    /// the event's default).
    pub async fn wants(
        &mut self,
        user: UserId,
        event: &str,
        channel: Channel,
    ) -> Result<bool, DbError> {
        let t = self.t();
        let chosen: Option<i64> = sqlx::query_scalar(
            "SELECT enabled FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2 \
             AND event_type = $3 AND channel = $4",
        )
        .bind(t)
        .bind(user.0)
        .bind(event)
        .bind(channel.as_str())
        .fetch_optional(self.conn())
        .await?;
        Ok(match chosen {
            Some(v) => v != 0,
            None => match channel {
                Channel::InApp => true,
                Channel::Email => event_type(event).is_some_and(|e| e.email_by_default),
            },
        })
    }

    /// Every (event, channel) choice of a user, defaults filled in.
    pub async fn preferences(
        &mut self,
        user: UserId,
    ) -> Result<BTreeMap<(String, Channel), bool>, DbError> {
        let mut out = BTreeMap::new();
        for e in super::EVENTS {
            for channel in [Channel::InApp, Channel::Email] {
                out.insert(
                    (e.code.to_owned(), channel),
                    self.wants(user, e.code, channel).await?,
                );
            }
        }
        Ok(out)
    }

    pub async fn set_preference(
        &mut self,
        user: UserId,
        event: &str,
        channel: Channel,
        enabled: bool,
    ) -> Result<(), DbError> {
        if event_type(event).is_none() {
            return Err(DbError::Refused(format!("there is no event '{event}'")));
        }
        let t = self.t();
        sqlx::query(
            "INSERT INTO notification_preferences (tenant_id, user_id, event_type, channel, enabled) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id, event_type, channel) \
             DO UPDATE SET enabled = excluded.enabled",
        )
        .bind(t)
        .bind(user.0)
        .bind(event)
        .bind(channel.as_str())
        .bind(i64::from(enabled))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Writes a notification for each recipient who wants it by some channel; returns those
    /// who get it in the portal (to wake their open pages once committed). `read_at` is set at
    /// once for someone who wants only the e-mail, `emailed_at` for someone who wants no
    /// e-mail ("when it went out, or when it was decided it would not").
    pub async fn notify(&mut self, note: &Note<'_>) -> Result<Vec<UserId>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let mut in_app = Vec::new();
        for user in note.recipients {
            let (app, email) = (
                self.wants(*user, note.event, Channel::InApp).await?,
                self.wants(*user, note.event, Channel::Email).await?,
            );
            if !app && !email {
                continue;
            }
            sqlx::query(
                "INSERT INTO notifications (tenant_id, user_id, event_type, subject_id, title, body, link, \
                   created_at, read_at, emailed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(t)
            .bind(user.0)
            .bind(note.event)
            .bind(note.subject)
            .bind(&note.title)
            .bind(&note.body)
            .bind(note.link.as_deref())
            .bind(now)
            .bind((!app).then_some(now))
            .bind((!email).then_some(now))
            .execute(self.conn())
            .await?;
            if app {
                in_app.push(*user);
            }
        }
        Ok(in_app)
    }

    /// A user's notifications, newest first, `limit` before `before` (an id).
    pub async fn notifications_of(
        &mut self,
        user: UserId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<NotificationView>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT id, event_type, subject_id, title, body, link, created_at, read_at FROM notifications \
             WHERE tenant_id = $1 AND user_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(t)
        .bind(user.0)
        .bind(before.unwrap_or(i64::MAX))
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(view).collect()
    }

    /// Unread notifications newer than `after` (an id), oldest first: what a live stream sends.
    pub async fn unread_after(
        &mut self,
        user: UserId,
        after: i64,
    ) -> Result<Vec<NotificationView>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT id, event_type, subject_id, title, body, link, created_at, read_at FROM notifications \
             WHERE tenant_id = $1 AND user_id = $2 AND id > $3 AND read_at IS NULL ORDER BY id LIMIT 100",
        )
        .bind(t)
        .bind(user.0)
        .bind(after)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(view).collect()
    }

    pub async fn unread_count(&mut self, user: UserId) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .fetch_one(self.conn())
        .await?)
    }

    /// The newest notification id of a user (0 when none): where a new stream starts.
    pub async fn last_notification_id(&mut self, user: UserId) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM notifications WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(t)
        .bind(user.0)
        .fetch_one(self.conn())
        .await?)
    }

    /// Marks one of the user's notifications read; another user's is `NotFound`.
    pub async fn mark_read(&mut self, user: UserId, id: i64) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE notifications SET read_at = COALESCE(read_at, $4) \
                 WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
            )
            .bind(t)
            .bind(user.0)
            .bind(id)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    pub async fn mark_all_read(&mut self, user: UserId) -> Result<u64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND read_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .bind(now)
        .execute(self.conn())
        .await?
        .rows_affected())
    }

    /// Queues one e-mail per user whose oldest pending notification has waited a digest
    /// window (a burst goes out as one message), and marks what it carries as e-mailed.
    pub async fn queue_digests(&mut self, dealer: &str, base_url: &str) -> Result<usize, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let due: Vec<i64> = sqlx::query_scalar(
            "SELECT n.user_id FROM notifications n JOIN users u ON u.tenant_id = n.tenant_id AND u.id = n.user_id \
             WHERE n.tenant_id = $1 AND n.emailed_at IS NULL AND u.status = 'active' \
             GROUP BY n.user_id HAVING MIN(n.created_at) <= $2 ORDER BY n.user_id",
        )
        .bind(t)
        .bind(now - DIGEST_WINDOW_MS)
        .fetch_all(self.conn())
        .await?;
        for user in &due {
            let user = self.user(UserId(*user)).await?;
            let rows = sqlx::query(
                "SELECT id, event_type, subject_id, title, body, link, created_at, read_at FROM notifications \
                 WHERE tenant_id = $1 AND user_id = $2 AND emailed_at IS NULL ORDER BY id LIMIT 50",
            )
            .bind(t)
            .bind(user.id.0)
            .fetch_all(self.conn())
            .await?;
            let notes = rows.iter().map(view).collect::<Result<Vec<_>, _>>()?;
            let base = base_url.trim_end_matches('/');
            let subject = match notes.as_slice() {
                [one] => one.title.clone(),
                many => format!("{} updates from {dealer}", many.len()),
            };
            let mut text = format!("Hello {},\n\n", user.display_name);
            for n in &notes {
                text.push_str(&format!("* {}\n  {}\n", n.title, n.body));
                if let Some(link) = &n.link {
                    text.push_str(&format!("  {base}{link}\n"));
                }
                text.push('\n');
            }
            text.push_str(&format!(
                "You can choose which of these you get by e-mail: {base}/notifications/preferences\n"
            ));
            self.queue_mail(&Mail {
                kind: MailKind::Digest,
                to: user.email.clone(),
                subject,
                text,
                reply_to: None,
            })
            .await?;
            let last = notes.last().map_or(0, |n| n.id);
            sqlx::query(
                "UPDATE notifications SET emailed_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
                 AND emailed_at IS NULL AND id <= $3",
            )
            .bind(t)
            .bind(user.id.0)
            .bind(last)
            .bind(now)
            .execute(self.conn())
            .await?;
        }
        Ok(due.len())
    }
}
