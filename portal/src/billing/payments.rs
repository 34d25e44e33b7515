//! Paying invoices. A payment is stored, with its first attempt and that attempt's idempotency
//! key, before the processor is called; the processor's answer is stored after. So a double
//! click finds the stored attempt and charges nothing more; a crash (or a timeout) between the
//! call and its answer leaves an attempt whose fate `reconcile` asks the processor for with
//! the same key — it is never charged again blindly. A refused charge that may succeed later
//! (insufficient funds, a processing error) is tried again after 1, 3 and 7 days; one that
//! cannot (a declined card) is not. An ACH debit can come back days later: R01/R09 (not enough
//! funds, uncollected) is presented again at most twice, R02/R03/R10 (closed, no account,
//! unauthorised) never.

use super::gateway::{Charge, GatewayError, Outcome, PaymentGateway};
use super::store::{MethodView, PaymentView};
use crate::audit::Actor;
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::http::ApiError;
use crate::ids::AccountId;

const DAY_MS: i64 = 86_400_000;
/// Days after a retryable failure of attempt 1, 2, 3 that the next attempt is made.
pub const RETRY_AFTER_DAYS: [i64; 3] = [1, 3, 7];
/// ACH returns that may be presented again, and how often at most.
pub const REPRESENTABLE: &[&str] = &["R01", "R09"];
pub const MAX_REPRESENTMENTS: i64 = 2;
/// An attempt with no answer after this long is asked about (`reconcile`).
pub const ANSWER_WITHIN_MS: i64 = 60_000;

/// When attempt `n` failed retryably at `at`, when to try again (`None`: no more).
pub fn next_retry(n: i64, at: i64) -> Option<i64> {
    usize::try_from(n - 1)
        .ok()
        .and_then(|i| RETRY_AFTER_DAYS.get(i))
        .map(|d| at + d * DAY_MS)
}

/// A payment as asked for: which invoices (oldest first), how much (all that is open when
/// left out), with which method, and the key of this one request.
#[derive(Debug, Clone)]
pub struct Pay {
    pub invoices: Vec<i64>,
    pub amount_cents: Option<i64>,
    pub method: i64,
    pub key: String,
}

/// Stores the payment and its first attempt, charges, stores the answer.
pub async fn pay<G: PaymentGateway>(
    db: &TenantDb,
    g: &G,
    p: &Principal,
    req: &Pay,
) -> Result<PaymentView, ApiError> {
    p.require(Permission::PaymentsMake)?;
    let key = crate::supplies::orders::check_key(&req.key)?.to_owned();
    let started = match start(db, p, req, &key).await {
        Ok(s) => s,
        // the same request, sent at the same moment, stored first
        Err(ApiError::Conflict(_)) => {
            return existing(db, p, &key)
                .await?
                .ok_or(ApiError::Conflict("try again".into()));
        }
        Err(e) => return Err(e),
    };
    let attempt = match started {
        Started::New(a) => a,
        Started::Again(view) => return Ok(view),
    };
    let outcome = g.charge(&attempt.charge).await;
    db.run(async |tx| settle(tx, &Actor::system(), &attempt, outcome.clone()).await)
        .await?;
    Ok(db
        .read(async |tx| tx.payment(attempt.payment).await)
        .await?)
}

async fn existing(
    db: &TenantDb,
    p: &Principal,
    key: &str,
) -> Result<Option<PaymentView>, ApiError> {
    let found = db.read(async |tx| tx.payment_by_key(key).await).await?;
    match found {
        Some(v) if p.sees_account(AccountId(v.account_id)) => Ok(Some(v)),
        Some(_) => Err(ApiError::Conflict(
            "that idempotency key belongs to another payment".into(),
        )),
        None => Ok(None),
    }
}

/// An attempt stored and about to be sent.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub payment: i64,
    pub id: i64,
    pub number: i64,
    pub charge: Charge,
}

enum Started {
    New(Attempt),
    Again(PaymentView),
}

async fn start(db: &TenantDb, p: &Principal, req: &Pay, key: &str) -> Result<Started, ApiError> {
    if let Some(v) = existing(db, p, key).await? {
        return Ok(Started::Again(v));
    }
    match start_new(db, p, req, key).await {
        // the same request, finished by another submission since the check above, leaves
        // nothing to pay: it is that payment
        Err(ApiError::Invalid(m)) => match existing(db, p, key).await? {
            Some(v) => Ok(Started::Again(v)),
            None => Err(ApiError::Invalid(m)),
        },
        other => other,
    }
}

async fn start_new(
    db: &TenantDb,
    p: &Principal,
    req: &Pay,
    key: &str,
) -> Result<Started, ApiError> {
    if req.invoices.is_empty() {
        return Err(ApiError::Invalid("choose at least one invoice".into()));
    }
    let mut tx = db.begin().await?;
    let mut open = Vec::new();
    for id in &req.invoices {
        let i = tx.invoice(*id).await?;
        if !p.sees_account(AccountId(i.account_id)) {
            return Err(ApiError::NotFound);
        }
        if !matches!(i.status.as_str(), "issued" | "partially_paid") {
            return Err(ApiError::Invalid(format!(
                "invoice {} is {}: nothing to pay",
                i.number, i.status
            )));
        }
        open.push(i);
    }
    open.sort_by_key(|i| (i.due_at, i.id));
    open.dedup_by_key(|i| i.id);
    let account = open[0].account_id;
    let currency = open[0].currency.clone();
    if open
        .iter()
        .any(|i| i.account_id != account || i.currency != currency)
    {
        return Err(ApiError::Invalid(
            "one payment is for invoices of one account in one currency".into(),
        ));
    }
    let outstanding: i64 = open
        .iter()
        .map(|i| i.total_cents - i.amount_paid_cents)
        .sum();
    let amount = req.amount_cents.unwrap_or(outstanding);
    if amount <= 0 || amount > outstanding {
        return Err(ApiError::Invalid(format!(
            "pay between 0.01 and {}.{:02} {currency}",
            outstanding / 100,
            outstanding % 100
        )));
    }
    let method = match tx.payment_method(req.method).await {
        Ok(m) if m.account_id == account && m.removed_at.is_none() => m,
        Ok(_) | Err(DbError::NotFound) => {
            return Err(ApiError::Invalid(
                "choose one of the account's payment methods".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(token) = method.token.clone() else {
        return Err(ApiError::Invalid(
            "a wire transfer is paid at the bank with the invoice number as reference; billing staff record it".into(),
        ));
    };
    let payment = tx
        .insert_payment(
            AccountId(account),
            method.id,
            amount,
            &currency,
            Some(p.user),
        )
        .await?;
    // oldest first, each invoice up to what is open on it
    let mut left = amount;
    for i in &open {
        let part = left.min(i.total_cents - i.amount_paid_cents);
        if part > 0 {
            tx.allocate(payment, i.id, part).await?;
            left -= part;
        }
    }
    let attempt = tx.insert_attempt(payment, 1, key).await?;
    tx.audit(
        &p.actor(),
        "payment.started",
        ("payment", Some(payment.to_string())),
        Some(AccountId(account)),
        serde_json::json!({ "amount_cents": amount, "invoices": open.iter().map(|i| i.number).collect::<Vec<_>>(),
            "method": method.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Started::New(Attempt {
        payment,
        id: attempt,
        number: 1,
        charge: Charge {
            idempotency_key: key.to_owned(),
            token,
            amount_cents: amount,
            currency,
            description: format!(
                "Invoices {}",
                open.iter()
                    .map(|i| i.number.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }))
}

/// Stores what the processor answered for an attempt.
pub async fn settle(
    tx: &mut TenantTx,
    actor: &Actor,
    a: &Attempt,
    outcome: Result<Outcome, GatewayError>,
) -> Result<(), DbError> {
    let now = tx.now_ms();
    let payment = tx.payment(a.payment).await?;
    match outcome {
        Ok(Outcome::Succeeded { reference }) => {
            tx.finish_attempt(a.id, "succeeded", Some(&reference), None, None)
                .await?;
            tx.set_payment_status(a.payment, "succeeded", Some(now))
                .await?;
            tx.apply_allocations(a.payment, 1).await?;
            tell(
                tx,
                &payment,
                "payment.succeeded",
                format!("Payment of {} received", money(&payment)),
            )
            .await?;
        }
        Ok(Outcome::Failed { code, retryable }) => {
            let retry = if retryable {
                next_retry(a.number, now)
            } else {
                None
            };
            tx.finish_attempt(a.id, "failed", None, Some(&code), retry)
                .await?;
            tx.set_payment_status(
                a.payment,
                if retry.is_some() { "pending" } else { "failed" },
                None,
            )
            .await?;
            let when = retry.map_or_else(String::new, |r| {
                format!("; tried again on {}", crate::web::when_utc(r))
            });
            tell(
                tx,
                &payment,
                "payment.failed",
                format!("Payment of {} failed ({code}){when}", money(&payment)),
            )
            .await?;
        }
        Err(e) => {
            // asked about by `reconcile`, with the same key
            tx.finish_attempt(a.id, "unknown", None, Some(&e.to_string()), None)
                .await?;
        }
    }
    tx.audit(
        actor,
        "payment.attempt",
        ("payment", Some(a.payment.to_string())),
        Some(AccountId(payment.account_id)),
        serde_json::json!({ "attempt": a.number, "key": a.charge.idempotency_key }),
    )
    .await?;
    Ok(())
}

fn money(p: &PaymentView) -> String {
    format!(
        "{}.{:02} {}",
        p.amount_cents / 100,
        p.amount_cents % 100,
        p.currency
    )
}

async fn tell(
    tx: &mut TenantTx,
    p: &PaymentView,
    event: &'static str,
    title: String,
) -> Result<(), DbError> {
    let to = tx
        .account_users_holding(AccountId(p.account_id), Permission::InvoicesRead)
        .await?;
    let received = event == "payment.succeeded";
    tx.notify(&crate::notifications::Note {
        event,
        subject: Some(p.id),
        title,
        // the receipt goes by e-mail with the notification (a link to its PDF)
        body: if received {
            "Your receipt is ready.".into()
        } else {
            String::new()
        },
        link: Some(if received {
            format!("/payments/{}/receipt", p.id)
        } else {
            "/payments".into()
        }),
        recipients: &to,
    })
    .await?;
    Ok(())
}

/// Asks the processor about attempts that got no answer (a timeout, a crash): what it says is
/// stored; an attempt it never saw was never charged and is tried again now, with a new key.
pub async fn reconcile<G: PaymentGateway>(db: &TenantDb, g: &G) -> Result<usize, DbError> {
    let now = db.now_ms();
    let open = db
        .read(async |tx| tx.unanswered_attempts(now - ANSWER_WITHIN_MS).await)
        .await?;
    let mut settled = 0;
    for a in open {
        let outcome = match g.lookup(&a.charge).await {
            Ok(Some(o)) => Ok(o),
            Ok(None) => Ok(Outcome::Failed {
                code: "not_received".into(),
                retryable: true,
            }),
            Err(_) => continue,
        };
        db.run(async |tx| settle(tx, &Actor::system(), &a, outcome.clone()).await)
            .await?;
        settled += 1;
    }
    Ok(settled)
}

/// Makes the attempts whose retry is due: each a new attempt with its own key.
pub async fn retry_due<G: PaymentGateway>(db: &TenantDb, g: &G) -> Result<usize, DbError> {
    let now = db.now_ms();
    let due = db.read(async |tx| tx.retries_due(now).await).await?;
    let mut made = 0;
    for (payment, last) in due {
        let next = db
            .run(async |tx| {
                let number = last + 1;
                let key = format!("{}-{number}", tx.first_key(payment).await?);
                let id = tx.insert_attempt(payment, number, &key).await?;
                tx.clear_retry(payment, last).await?;
                tx.set_payment_status(payment, "processing", None).await?;
                let charge = tx.charge_of(payment, &key).await?;
                Ok(Attempt {
                    payment,
                    id,
                    number,
                    charge,
                })
            })
            .await?;
        let outcome = g.charge(&next.charge).await;
        db.run(async |tx| settle(tx, &Actor::system(), &next, outcome.clone()).await)
            .await?;
        made += 1;
    }
    Ok(made)
}

/// An ACH debit came back: the payment is undone on its invoices; presented again (after a
/// day) when the code allows and it was not presented twice already.
pub async fn ach_return(tx: &mut TenantTx, payment: i64, code: &str) -> Result<bool, DbError> {
    let now = tx.now_ms();
    let p = tx.payment(payment).await?;
    if p.status != "succeeded" {
        return Ok(false);
    }
    let attempts = tx.attempt_count(payment).await?;
    tx.apply_allocations(payment, -1).await?;
    let again = REPRESENTABLE.contains(&code) && attempts <= MAX_REPRESENTMENTS;
    tx.return_last_attempt(payment, code, again.then_some(now + DAY_MS))
        .await?;
    tx.set_payment_status(payment, if again { "pending" } else { "returned" }, None)
        .await?;
    tell(
        tx,
        &p,
        "payment.failed",
        format!(
            "Your bank returned the payment of {} ({code}){}",
            money(&p),
            if again {
                "; it is presented again tomorrow"
            } else {
                ""
            }
        ),
    )
    .await?;
    tx.audit(
        &Actor::system(),
        "payment.returned",
        ("payment", Some(payment.to_string())),
        Some(AccountId(p.account_id)),
        serde_json::json!({ "code": code, "presented_again": again }),
    )
    .await?;
    Ok(again)
}

/// Adds a payment method from a processor token (the number itself never reaches the portal).
pub async fn add_method(
    db: &TenantDb,
    p: &Principal,
    kind: &str,
    processor: &str,
    token: &str,
    last4: Option<&str>,
) -> Result<MethodView, ApiError> {
    p.require(Permission::PaymentsMake)?;
    let account = p
        .account()
        .ok_or_else(|| ApiError::Invalid("payment methods belong to a customer account".into()))?;
    if !matches!(kind, "card" | "ach") {
        return Err(ApiError::Invalid(
            "a payment method is a card or a bank account (ach)".into(),
        ));
    }
    if token.is_empty()
        || token.len() > 200
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ApiError::Invalid("that is not a processor token".into()));
    }
    let mut tx = db.begin().await?;
    let id = tx
        .insert_method(account, kind, processor, token, last4)
        .await?;
    tx.audit(
        &p.actor(),
        "payment_method.added",
        ("payment_method", Some(id.to_string())),
        Some(account),
        serde_json::json!({ "kind": kind, "last4": last4 }),
    )
    .await?;
    let m = tx.payment_method(id).await?;
    tx.commit().await?;
    Ok(m.view())
}

/// Every five minutes for as long as the server runs: answers asked for, retries made.
pub async fn run<G: PaymentGateway>(db: crate::db::Db, g: G) {
    loop {
        if let Ok(tenants) = db.list_tenants().await {
            for t in tenants {
                let tdb = db.tenant(t.id);
                if let Err(e) = reconcile(&tdb, &g).await {
                    tracing::warn!(tenant = t.id.0, error = %e, "payments not reconciled; trying again");
                }
                if let Err(e) = autopay(&tdb, &g).await {
                    tracing::warn!(tenant = t.id.0, error = %e, "autopay not made; trying again");
                }
                if let Err(e) = retry_due(&tdb, &g).await {
                    tracing::warn!(tenant = t.id.0, error = %e, "payment retries not made; trying again");
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    }
}

/// What a processor's event says about an attempt (its key): an answer still missing is
/// stored; a debit that had succeeded and now failed is an ACH return. `false`: nothing of ours.
pub async fn event(tx: &mut TenantTx, key: &str, outcome: Outcome) -> Result<bool, DbError> {
    let Some((attempt, status)) = tx.attempt_by_key(key).await? else {
        return Ok(false);
    };
    match (status.as_str(), outcome) {
        ("started" | "unknown", o) => settle(tx, &Actor::system(), &attempt, Ok(o)).await?,
        ("succeeded", Outcome::Failed { code, .. }) => {
            ach_return(tx, attempt.payment, &code).await?;
        }
        // an answer already stored, said again
        _ => {}
    }
    Ok(true)
}

/// Pays the open invoices of accounts that pay automatically, once each (the key names the
/// invoice: a second run finds the first attempt).
pub async fn autopay<G: PaymentGateway>(db: &TenantDb, g: &G) -> Result<usize, DbError> {
    let due = db.read(async |tx| tx.autopay_due().await).await?;
    let mut paid = 0;
    for (invoice, method) in due {
        let started = db
            .run(async |tx| {
                let i = tx.invoice(invoice).await?;
                let amount = i.total_cents - i.amount_paid_cents;
                let key = format!("autopay-invoice-{invoice}");
                if amount <= 0 || tx.payment_by_key(&key).await?.is_some() {
                    return Ok(None);
                }
                let payment = tx.insert_payment(AccountId(i.account_id), method, amount, &i.currency, None).await?;
                tx.allocate(payment, invoice, amount).await?;
                let id = tx.insert_attempt(payment, 1, &key).await?;
                let charge = tx.charge_of(payment, &key).await?;
                tx.audit(
                    &Actor::system(),
                    "payment.started",
                    ("payment", Some(payment.to_string())),
                    Some(AccountId(i.account_id)),
                    serde_json::json!({ "amount_cents": amount, "invoices": [i.number], "autopay": true }),
                )
                .await?;
                Ok(Some(Attempt { payment, id, number: 1, charge }))
            })
            .await?;
        let Some(attempt) = started else { continue };
        let outcome = g.charge(&attempt.charge).await;
        db.run(async |tx| settle(tx, &Actor::system(), &attempt, outcome.clone()).await)
            .await?;
        paid += 1;
    }
    Ok(paid)
}

/// A wire transfer billing staff found on the bank statement, recorded against invoices of
/// one account (oldest first); its reference is kept.
pub async fn record_wire(
    db: &TenantDb,
    p: &Principal,
    invoices: &[i64],
    amount: i64,
    reference: &str,
) -> Result<PaymentView, ApiError> {
    p.require(Permission::PaymentsManage)?;
    let reference = crate::tenants::parse_name("reference", reference)?;
    let mut tx = db.begin().await?;
    let mut open = Vec::new();
    for id in invoices {
        open.push(tx.invoice(*id).await?);
    }
    open.sort_by_key(|i| (i.due_at, i.id));
    let Some(first) = open.first() else {
        return Err(ApiError::Invalid(
            "name the invoices the transfer pays".into(),
        ));
    };
    let (account, currency) = (first.account_id, first.currency.clone());
    if open.iter().any(|i| {
        i.account_id != account
            || i.currency != currency
            || !matches!(i.status.as_str(), "issued" | "partially_paid")
    }) {
        return Err(ApiError::Invalid(
            "a transfer pays open invoices of one account in one currency".into(),
        ));
    }
    let outstanding: i64 = open
        .iter()
        .map(|i| i.total_cents - i.amount_paid_cents)
        .sum();
    if amount <= 0 || amount > outstanding {
        return Err(ApiError::Invalid(format!(
            "record between 0.01 and {}.{:02} {currency}",
            outstanding / 100,
            outstanding % 100
        )));
    }
    let payment = tx
        .insert_wire(AccountId(account), amount, &currency, &reference, p.user)
        .await?;
    let mut left = amount;
    for i in &open {
        let part = left.min(i.total_cents - i.amount_paid_cents);
        if part > 0 {
            tx.allocate(payment, i.id, part).await?;
            left -= part;
        }
    }
    tx.apply_allocations(payment, 1).await?;
    let view = tx.payment(payment).await?;
    tell(
        &mut tx,
        &view,
        "payment.succeeded",
        format!("Payment of {} received", money(&view)),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "payment.wire",
        ("payment", Some(payment.to_string())),
        Some(AccountId(account)),
        serde_json::json!({ "amount_cents": amount, "reference": reference,
            "invoices": open.iter().map(|i| i.number).collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Turns automatic payment of new invoices on (with one of the account's methods) or off.
pub async fn set_autopay(
    db: &TenantDb,
    p: &Principal,
    enabled: bool,
    method: Option<i64>,
) -> Result<(), ApiError> {
    p.require(Permission::PaymentsMake)?;
    let account = p
        .account()
        .ok_or_else(|| ApiError::Invalid("autopay belongs to a customer account".into()))?;
    let mut tx = db.begin().await?;
    if let Some(m) = method {
        match tx.payment_method(m).await {
            Ok(row)
                if row.account_id == account.0
                    && row.removed_at.is_none()
                    && row.token.is_some() =>
            {
                tx.set_default_method(account, m).await?;
            }
            Ok(_) | Err(DbError::NotFound) => {
                return Err(ApiError::Invalid(
                    "choose one of the account's cards or bank accounts".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    } else if enabled
        && tx
            .methods_of(account)
            .await?
            .iter()
            .all(|m| m.kind == "wire")
    {
        return Err(ApiError::Invalid("add a card or bank account first".into()));
    }
    tx.update_account(
        account,
        &crate::accounts::AccountChanges {
            autopay: Some(enabled),
            ..Default::default()
        },
    )
    .await?;
    tx.audit(
        &p.actor(),
        "account.autopay",
        ("account", Some(account.0.to_string())),
        Some(account),
        serde_json::json!({ "enabled": enabled, "method": method }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_come_after_one_three_and_seven_days_then_stop() {
        assert_eq!(next_retry(1, 0), Some(DAY_MS));
        assert_eq!(next_retry(2, 0), Some(3 * DAY_MS));
        assert_eq!(next_retry(3, 0), Some(7 * DAY_MS));
        assert_eq!(next_retry(4, 0), None);
        assert_eq!(next_retry(0, 0), None);
    }
}
