//! The invoice and the receipt as documents (PDF), written in the reader's number and date
//! formats.

use super::pdf::{Line, render};
use super::store::{InvoiceLine, InvoiceView, MethodView, PaymentView};
use crate::web::formats::Formats;

const RIGHT: f32 = 400.0;

pub fn invoice(
    dealer: &str,
    i: &InvoiceView,
    lines: &[InvoiceLine],
    f: &Formats,
    wire: Option<&str>,
) -> Vec<u8> {
    let money = |c: i64| f.money(c, &i.currency);
    let mut doc = vec![
        Line::Title(format!("{dealer} — Invoice {}", i.number)),
        Line::Text(format!(
            "{} · {} to {}",
            i.account, i.period_start, i.period_end
        )),
        Line::Text(match (i.issued_at, i.due_at) {
            (Some(a), Some(d)) => format!("Issued {} · due by {}", f.day(a), f.day(d)),
            _ => String::new(),
        }),
        Line::Gap,
        Line::Row(vec![
            (0.0, "Line".into()),
            (300.0, "Pages".into()),
            (RIGHT, "Amount".into()),
        ]),
    ];
    for l in lines {
        let mut text = l.description.clone();
        if l.estimated {
            text.push_str(" (estimate)");
        }
        doc.push(Line::Row(vec![
            (0.0, text.chars().take(58).collect()),
            (
                300.0,
                if l.kind == "base" {
                    String::new()
                } else {
                    f.number(l.quantity)
                },
            ),
            (RIGHT, money(l.amount_cents)),
        ]));
    }
    doc.push(Line::Gap);
    doc.push(Line::Row(vec![
        (0.0, "Total".into()),
        (RIGHT, money(i.total_cents)),
    ]));
    if i.amount_paid_cents > 0 {
        doc.push(Line::Row(vec![
            (0.0, "Paid".into()),
            (RIGHT, money(i.amount_paid_cents)),
        ]));
        doc.push(Line::Row(vec![
            (0.0, "Open".into()),
            (RIGHT, money(i.total_cents - i.amount_paid_cents)),
        ]));
    }
    if let Some(w) = wire {
        doc.push(Line::Gap);
        doc.push(Line::Bold("Paying by wire transfer".into()));
        for l in w.lines() {
            doc.push(Line::Text(l.to_owned()));
        }
        doc.push(Line::Text(format!("Reference: invoice {}", i.number)));
    }
    render(&doc)
}

pub fn receipt(
    dealer: &str,
    p: &PaymentView,
    invoices: &[(i64, i64)],
    method: Option<&MethodView>,
    f: &Formats,
) -> Vec<u8> {
    let money = |c: i64| f.money(c, &p.currency);
    let mut doc = vec![
        Line::Title(format!("{dealer} — Receipt")),
        Line::Text(format!(
            "Payment {} · {}",
            p.id,
            p.settled_at.map(|t| f.when(t)).unwrap_or_default()
        )),
        Line::Text(match method {
            Some(m) => format!(
                "Paid by {} ending {}",
                m.kind,
                m.last4.as_deref().unwrap_or("····")
            ),
            None => "Paid by wire transfer".into(),
        }),
        Line::Gap,
        Line::Row(vec![(0.0, "Invoice".into()), (RIGHT, "Amount".into())]),
    ];
    for (number, cents) in invoices {
        doc.push(Line::Row(vec![
            (0.0, format!("Invoice {number}")),
            (RIGHT, money(*cents)),
        ]));
    }
    doc.push(Line::Gap);
    doc.push(Line::Row(vec![
        (0.0, "Total paid".into()),
        (RIGHT, money(p.amount_cents)),
    ]));
    render(&doc)
}
