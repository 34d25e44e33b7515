//! Notifications: what happened that a person should hear about, delivered in the portal (a
//! centre with read/unread, pushed live to open pages over SSE) and by e-mail (one digest per
//! burst). Each person chooses per event type and channel.
//!
//! A notification is written in the transaction of the change it is about
//! ([`TenantTx::notify`]); the live stream polls for new rows (and is woken at once by
//! [`Wake`] when this process wrote some), so it also sees what other server processes wrote.

pub mod http;
pub mod pages;
mod store;

pub use store::NotificationView;

use crate::ids::UserId;
use ingest::ids::TenantId;

/// The kinds of events, with how they are named to people and whether e-mail is on by default.
pub const EVENTS: &[EventType] = &[
    EventType {
        code: "equipment.silent",
        label: crate::web::i18n::n_("A device stopped reporting its meters"),
        email_by_default: true,
    },
    EventType {
        code: "reading.review",
        label: crate::web::i18n::n_("A meter reading waits for review"),
        email_by_default: false,
    },
    EventType {
        code: "reading.decided",
        label: crate::web::i18n::n_("A meter reading you sent was decided"),
        email_by_default: false,
    },
    EventType {
        code: "request.created",
        label: crate::web::i18n::n_("A service request was opened"),
        email_by_default: true,
    },
    EventType {
        code: "request.updated",
        label: crate::web::i18n::n_("A service request changed (status, schedule, technician)"),
        email_by_default: true,
    },
    EventType {
        code: "request.comment",
        label: crate::web::i18n::n_("A comment on a service request"),
        email_by_default: true,
    },
    EventType {
        code: "request.suggested",
        label: crate::web::i18n::n_("A device's alert suggests a service request"),
        email_by_default: false,
    },
    EventType {
        code: "order.submitted",
        label: crate::web::i18n::n_("A supply order waits for approval"),
        email_by_default: true,
    },
    EventType {
        code: "order.updated",
        label: crate::web::i18n::n_(
            "A supply order moved on (approved, shipped, delivered, cancelled)",
        ),
        email_by_default: true,
    },
    EventType {
        code: "order.suggested",
        label: crate::web::i18n::n_("Toner is running low: an order is suggested"),
        email_by_default: true,
    },
    EventType {
        code: "invoice.issued",
        label: crate::web::i18n::n_("An invoice was issued"),
        email_by_default: true,
    },
    EventType {
        code: "payment.succeeded",
        label: crate::web::i18n::n_("A payment was received"),
        email_by_default: true,
    },
    EventType {
        code: "payment.failed",
        label: crate::web::i18n::n_("A payment failed or came back"),
        email_by_default: true,
    },
    EventType {
        code: "meters.due",
        label: crate::web::i18n::n_("Meter readings are due"),
        email_by_default: true,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub code: &'static str,
    pub label: &'static str,
    pub email_by_default: bool,
}

pub fn event_type(code: &str) -> Option<&'static EventType> {
    EVENTS.iter().find(|e| e.code == code)
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
        }
    }
}

/// One notification to write: the same text for every recipient.
#[derive(Debug, Clone)]
pub struct Note<'a> {
    pub event: &'static str,
    /// The object it is about (the event type says which kind).
    pub subject: Option<i64>,
    pub title: String,
    pub body: String,
    /// Where in the portal to look (a path).
    pub link: Option<String>,
    pub recipients: &'a [UserId],
}

/// Tells open streams of this process that users have something new.
#[derive(Debug, Clone)]
pub struct Wake(tokio::sync::broadcast::Sender<(TenantId, UserId)>);

impl Default for Wake {
    fn default() -> Self {
        Wake(tokio::sync::broadcast::channel(1024).0)
    }
}

impl Wake {
    pub fn users(&self, tenant: TenantId, users: &[UserId]) {
        for u in users {
            // no receiver: nobody has a stream open, nothing to do
            let _ = self.0.send((tenant, *u));
        }
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<(TenantId, UserId)> {
        self.0.subscribe()
    }
}

/// How long notifications gather before one digest e-mail carries them.
pub const DIGEST_WINDOW_MS: i64 = 5 * 60_000;

/// Queues the e-mail digests that are due, for every tenant; returns how many.
pub async fn queue_digests(
    db: &crate::db::Db,
    base_url: &str,
) -> Result<usize, crate::db::DbError> {
    let mut queued = 0;
    for tenant in db.list_tenants().await? {
        queued += db
            .tenant(tenant.id)
            .run(async |tx| tx.queue_digests(&tenant.name, base_url).await)
            .await?;
    }
    Ok(queued)
}

/// Queues digests every minute for as long as the server runs, waking the mail sender when
/// there are some.
pub async fn run_digests(
    db: crate::db::Db,
    base_url: String,
    mail: std::sync::Arc<tokio::sync::Notify>,
) {
    loop {
        match queue_digests(&db, &base_url).await {
            Ok(0) => {}
            Ok(_) => mail.notify_one(),
            Err(e) => tracing::warn!(error = %e, "notification digests not queued; trying again"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_are_unique_and_known() {
        for (i, e) in EVENTS.iter().enumerate() {
            assert!(
                EVENTS[i + 1..].iter().all(|o| o.code != e.code),
                "{}",
                e.code
            );
            assert_eq!(event_type(e.code), Some(e));
        }
        assert!(event_type("nothing.like.this").is_none());
    }
}
