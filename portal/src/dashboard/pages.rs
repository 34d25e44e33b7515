//! The start page.

use super::Summary;
use crate::auth::Permission;
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::web::chart::{self, Series};
use crate::web::formats::Formats;
use crate::web::i18n::{Lang, n_};
use crate::web::{self, Chrome};
use askama::Template;
use axum::extract::State;
use axum::response::Response;

struct Card {
    label: &'static str,
    value: String,
    detail: String,
    href: Option<&'static str>,
    /// Something to act on (drawn in the warning colour).
    attention: bool,
}

struct Action {
    href: &'static str,
    label: &'static str,
}

struct LegendItem {
    class: String,
    name: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    name: String,
    cards: Vec<Card>,
    actions: Vec<Action>,
    chart: Option<String>,
    legend: Vec<LegendItem>,
    months: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

fn cards(s: &Summary, f: &Formats, lang: Lang) -> Vec<Card> {
    let mut cards = Vec::new();
    let devices = |n: i64| {
        if n == 1 {
            lang.t("device")
        } else {
            lang.t("devices")
        }
    };
    if let Some(n) = s.open_requests {
        cards.push(Card {
            label: n_("Open service requests"),
            value: f.number(n),
            detail: String::new(),
            href: Some("/requests"),
            attention: false,
        });
    }
    if let Some(m) = &s.meters_due {
        let n = i64::try_from(m.devices).unwrap_or(i64::MAX);
        cards.push(Card {
            label: n_("Meters to send"),
            value: f.number(n),
            detail: match m.due_by {
                Some(at) => lang.t2("{} due by {}", devices(n), f.day(at - 1)),
                None => lang.t("nothing owed this cycle").into(),
            },
            href: Some("/meters"),
            attention: n > 0,
        });
    }
    if let Some(n) = s.low_toner {
        cards.push(Card {
            label: n_("Low on toner"),
            value: f.number(n),
            detail: devices(n).into(),
            href: Some("/equipment"),
            attention: n > 0,
        });
    }
    if let Some(n) = s.stopped_reporting {
        cards.push(Card {
            label: n_("Stopped reporting"),
            value: f.number(n),
            detail: lang.t1("{} not heard from", devices(n)),
            href: Some("/equipment"),
            attention: n > 0,
        });
    }
    if let Some(unpaid) = &s.unpaid {
        let invoices: i64 = unpaid.iter().map(|u| u.invoices).sum();
        let overdue: i64 = unpaid.iter().map(|u| u.overdue).sum();
        let due = unpaid
            .iter()
            .map(|u| f.money(u.due_cents, &u.currency))
            .collect::<Vec<_>>()
            .join(" + ");
        cards.push(Card {
            label: n_("Unpaid invoices"),
            value: f.number(invoices),
            detail: match (invoices, overdue) {
                (0, _) => lang.t("all paid").into(),
                (_, 0) => lang.t1("{} due", due),
                _ => lang.t2("{} due, {} overdue", due, f.number(overdue)),
            },
            href: Some("/invoices"),
            attention: overdue > 0,
        });
    }
    cards
}

fn actions(session: &ActiveSession) -> Vec<Action> {
    let p = &session.principal;
    [
        (
            Permission::ReadingsSubmit,
            "/meters",
            n_("Send meter readings"),
        ),
        (
            Permission::RequestsCreate,
            "/requests/new",
            n_("Report a problem"),
        ),
        (Permission::OrdersCreate, "/supplies", n_("Order supplies")),
        (Permission::ReadingsReview, "/review", n_("Review readings")),
        (
            Permission::RequestsManage,
            "/dispatch",
            n_("Dispatch board"),
        ),
        (
            Permission::UsersManage,
            "/admin/users",
            n_("Invite someone"),
        ),
    ]
    .into_iter()
    .filter(|(perm, ..)| p.permissions.contains(perm))
    .map(|(_, href, label)| Action { href, label })
    .collect()
}

pub async fn home(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    let summary = match super::summary(&state.db.tenant(p.tenant), p, state.silence_ms()).await {
        Ok(s) => s,
        Err(e) => return crate::equipment::pages::failure(e),
    };
    let f = &p.formats;
    let (mut chart, mut legend, mut months, mut rows) = (None, Vec::new(), Vec::new(), Vec::new());
    if let Some(m) = summary
        .monthly_pages
        .as_ref()
        .filter(|m| !m.devices.is_empty())
    {
        let series: Vec<Series> = m
            .devices
            .iter()
            .map(|d| Series {
                name: d.name.clone(),
                values: d.pages.clone(),
            })
            .collect();
        let month_labels: Vec<String> = m.months.iter().map(|l| p.lang.month(l)).collect();
        chart = Some(chart::stacked(
            p.lang.t("Pages printed per month, by device"),
            &month_labels,
            &series,
            f,
        ));
        legend = m
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| LegendItem {
                class: format!("s{}", i % 8),
                name: d.name.clone(),
            })
            .collect();
        months = month_labels;
        rows = m
            .devices
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    d.pages
                        .iter()
                        .map(|v| {
                            v.map(|v| f.number(crate::readings::submit::saturating(v)))
                                .unwrap_or_else(|| "—".into())
                        })
                        .collect(),
                )
            })
            .collect();
    }
    web::ok(&HomePage {
        chrome: Chrome::signed_in(&state, &session).await,
        name: session.display_name.clone(),
        cards: cards(&summary, f, p.lang),
        actions: actions(&session),
        chart,
        legend,
        months,
        rows,
    })
}
