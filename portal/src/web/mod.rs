//! What every server-rendered page shares: the frame around it (the dealer's name, the
//! signed-in user's menu and sign-out), rendering with the right status, redirects after a
//! post, the error page, and the pre-sign-in CSRF cookie. Templates live in
//! `portal/templates/` and are compiled into the binary (askama; every value is HTML-escaped).

pub mod chart;
pub mod formats;
pub mod i18n;

use crate::auth::session::ActiveSession;
use crate::auth::{Permission, Principal};
use crate::http::{AppState, cookies};
use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use i18n::Lang;
use std::collections::BTreeMap;
use std::fmt::Display;

/// One link of the signed-in menu.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// The signed-in user, as the frame shows them.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    /// Unread notifications (the badge; kept current by the page's live stream).
    pub unread: i64,
}

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub dealer: String,
    pub me: Option<Me>,
    /// A one-line confirmation shown at the top ("Your password was changed.").
    pub notice: Option<String>,
    /// The language of the page: the reader's choice, or their browser's before sign-in.
    pub lang: Lang,
}

/// The menu a principal sees: only what they may open.
fn nav_for(p: &Principal) -> Vec<NavItem> {
    let mut nav = vec![NavItem {
        href: "/",
        label: i18n::n_("Home"),
    }];
    nav.extend(
        NAV.iter()
            .filter(|(perm, _, _)| p.permissions.contains(perm))
            .map(|(_, href, label)| NavItem { href, label }),
    );
    nav.push(NavItem {
        href: "/profile",
        label: i18n::n_("Profile"),
    });
    nav
}

/// The menu's links and the permission each needs.
const NAV: &[(Permission, &str, &str)] = &[
    (
        Permission::EquipmentRead,
        "/equipment",
        i18n::n_("Equipment"),
    ),
    (Permission::ReadingsSubmit, "/meters", i18n::n_("Meters")),
    (Permission::ReadingsReview, "/review", i18n::n_("Review")),
    (Permission::RequestsRead, "/requests", i18n::n_("Service")),
    (
        Permission::RequestsManage,
        "/dispatch",
        i18n::n_("Dispatch"),
    ),
    (Permission::OrdersRead, "/orders", i18n::n_("Orders")),
    (Permission::InvoicesRead, "/invoices", i18n::n_("Invoices")),
    (Permission::InvoicesRead, "/payments", i18n::n_("Payments")),
    (
        Permission::CatalogueManage,
        "/admin/catalogue",
        i18n::n_("Catalogue"),
    ),
    (Permission::UsersRead, "/admin/users", i18n::n_("Users")),
    (Permission::RolesManage, "/admin/roles", i18n::n_("Roles")),
    (
        Permission::SettingsManage,
        "/admin/security",
        i18n::n_("Security"),
    ),
    (Permission::AuditRead, "/audit", i18n::n_("Activity")),
];

impl Chrome {
    /// The frame for a signed-in session.
    pub async fn signed_in(state: &AppState, s: &ActiveSession) -> Chrome {
        let (dealer, unread) = state
            .db
            .tenant(s.principal.tenant)
            .read(async |tx| {
                Ok((
                    tx.tenant().await?.name,
                    tx.unread_count(s.principal.user).await?,
                ))
            })
            .await
            .unwrap_or_else(|_| ("Printyx".into(), 0));
        Chrome {
            dealer,
            me: Some(Me {
                name: s.display_name.clone(),
                csrf: s.csrf.clone(),
                nav: if s.stage == crate::auth::SessionStage::Complete {
                    nav_for(&s.principal)
                } else {
                    Vec::new()
                },
                unread,
            }),
            notice: None,
            lang: s.principal.lang,
        }
    }

    /// The frame of a page shown before sign-in, in the language the browser asks for.
    pub fn public(dealer: Option<String>, headers: &HeaderMap) -> Chrome {
        Chrome {
            dealer: dealer.unwrap_or_else(|| "Printyx".into()),
            me: None,
            notice: None,
            lang: Lang::from_accept(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            ),
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Chrome {
        self.notice = notice;
        self
    }

    /// `text` in the page's language (see [`i18n`]).
    pub fn t<'a>(&self, text: &'a str) -> &'a str {
        self.lang.t(text)
    }

    /// The name of a stored code ("agent_snmp", "review") in the page's language.
    pub fn word<'a>(&self, code: &'a str) -> &'a str {
        self.lang.word(code)
    }

    pub fn t1(&self, text: &str, a: impl Display) -> String {
        self.lang.t1(text, a)
    }

    pub fn t2(&self, text: &str, a: impl Display, b: impl Display) -> String {
        self.lang.t2(text, a, b)
    }

    pub fn t3(&self, text: &str, a: impl Display, b: impl Display, c: impl Display) -> String {
        self.lang.t3(text, a, b, c)
    }
}

/// Messages next to the fields they are about.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// The message for `field`, empty when there is none.
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Renders a page with a status.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be shown",
            )
                .into_response()
        }
    }
}

pub fn ok(page: &impl Template) -> Response {
    render(StatusCode::OK, page)
}

/// The confirmations a page can show after a redirect, by code: the query names the code, never
/// the text (a link cannot make the portal say something of the sender's choosing).
const NOTICES: &[(&str, &str)] = &[
    ("profile-saved", i18n::n_("Your profile was saved.")),
    (
        "password-changed",
        i18n::n_("Your password was changed; your other sessions were ended."),
    ),
    ("sessions-ended", i18n::n_("Every other session was ended.")),
    ("two-factor-on", i18n::n_("Two-factor sign-in is on.")),
    ("two-factor-off", i18n::n_("Two-factor sign-in is off.")),
    ("token-revoked", i18n::n_("The token was revoked.")),
    (
        "reset-sent",
        i18n::n_(
            "If an account uses that address, an e-mail with a link is on its way. The link works for 30 minutes.",
        ),
    ),
    (
        "password-reset",
        i18n::n_("Your password was changed. Sign in with it."),
    ),
    ("signed-out", i18n::n_("You are signed out.")),
    ("invited", i18n::n_("The invitation was sent.")),
    ("user-saved", i18n::n_("The user was updated.")),
    (
        "user-erased",
        i18n::n_("The user's personal data was erased."),
    ),
    ("role-saved", i18n::n_("The role was saved.")),
    ("role-deleted", i18n::n_("The role was deleted.")),
    (
        "security-saved",
        i18n::n_("The security settings were saved."),
    ),
    (
        "preferences-saved",
        i18n::n_("Your notification settings were saved."),
    ),
    ("review-decided", i18n::n_("The decision was saved.")),
    (
        "order-placed",
        i18n::n_("Your order was placed. You will be told at each step."),
    ),
    ("order-updated", i18n::n_("The order was updated.")),
    (
        "catalogue-imported",
        i18n::n_("The catalogue was imported."),
    ),
    (
        "payment-made",
        i18n::n_("Thank you: the payment was received."),
    ),
    (
        "payment-not-made",
        i18n::n_("The payment did not go through; see its status below."),
    ),
    ("method-added", i18n::n_("The payment method was added.")),
    (
        "request-sent",
        i18n::n_("Your request was sent. You will be told at each step."),
    ),
];

/// After a successful post: to the next page (303, so a reload does not post again), with the
/// confirmation `notice` (a code of [`NOTICES`]) shown there.
pub fn see_other(to: &str, notice: Option<&'static str>) -> Response {
    let target = match notice {
        Some(code) => format!(
            "{to}{}notice={code}",
            if to.contains('?') { '&' } else { '?' }
        ),
        None => to.to_owned(),
    };
    Redirect::to(&target).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
}

/// A page that says what went wrong, with the status it deserves.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(
        status,
        &ErrorPage {
            chrome: Chrome::public(None, &HeaderMap::new()),
            title,
            message,
        },
    )
}

/// The token for forms shown before sign-in (double submit: the same value in a cookie and
/// the form). Returns it and, when the browser had none, the cookie to set.
pub fn pre_csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookies::get(headers, cookies::PRE_CSRF) {
        Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (v.to_owned(), None)
        }
        _ => {
            let token = hex::encode(rand::random::<[u8; 32]>());
            let cookie = cookies::set(cookies::PRE_CSRF, &token, None);
            (token, Some(cookie))
        }
    }
}

/// A page response with an optional cookie to set.
pub fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a path on this site, never elsewhere (`//evil`, `/\evil`
/// and absolute URLs are open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 500 =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A time in text written once for many readers (a timeline entry, an e-mail): on the UTC
/// clock and saying so. Pages show times on the reader's own clock ([`formats::Formats`]).
pub fn when_utc(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The confirmation named by a redirect's query (`?notice=code`); unknown codes show nothing.
pub fn notice_of(query: &BTreeMap<String, String>) -> Option<String> {
    let code = query.get("notice")?;
    NOTICES
        .iter()
        .find(|(c, _)| c == code)
        .map(|(_, text)| (*text).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every confirmation a page redirects with is one the next page can show.
    #[test]
    #[allow(clippy::disallowed_methods)] // the crate's own small source files
    fn every_notice_code_used_is_known() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        let mut used = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for call in text.split("see_other(").skip(1) {
                    let call: String = call.chars().take(200).collect();
                    if let Some(code) = call
                        .split("Some(\"")
                        .nth(1)
                        .and_then(|c| c.split('"').next())
                    {
                        used += 1;
                        assert!(
                            NOTICES.iter().any(|(c, _)| *c == code),
                            "{}: notice '{code}' is not in NOTICES",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(
            used > 10,
            "only {used} notices found: is the scan still reading the calls?"
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/audit?x=1")), "/audit?x=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\r\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn pre_sign_in_tokens_are_made_once_and_then_reused() {
        let (token, cookie) = pre_csrf(&HeaderMap::new());
        assert_eq!(token.len(), 64);
        let cookie = cookie.unwrap();
        let mut h = HeaderMap::new();
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        h.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        let (again, none) = pre_csrf(&h);
        assert_eq!(again, token);
        assert!(none.is_none());
    }
}
