//! The payment processor behind one trait. The portal never holds a card or bank account
//! number: a payment method is the processor's token, and every charge carries the attempt's
//! idempotency key, so that asking twice (a retry after a timeout, a reconciliation after a
//! crash) can never charge twice. The built-in sandbox gateway answers deterministically by
//! test number (the demo and the tests use it); a Stripe adapter goes behind the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A charge as the portal asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub idempotency_key: String,
    pub token: String,
    pub amount_cents: i64,
    pub currency: String,
    pub description: String,
}

/// What the processor answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        reference: String,
    },
    /// Refused; `retryable` when trying again later may succeed (insufficient funds, a
    /// processing error), not when it cannot (a declined or closed card).
    Failed {
        code: String,
        retryable: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer in time: the charge may or may not have happened; ask again with the same key.
    #[error("the payment processor did not answer in time")]
    Timeout,
    #[error("the payment processor is unavailable: {0}")]
    Unavailable(String),
}

pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// The processor's name, stored with each payment method.
    fn name(&self) -> &'static str;
    /// Charges once per idempotency key: the same key again answers as the first time.
    fn charge(&self, c: &Charge) -> impl Future<Output = Result<Outcome, GatewayError>> + Send;
    /// What became of the charge sent with this attempt's key, if it was made.
    fn lookup(
        &self,
        c: &Charge,
    ) -> impl Future<Output = Result<Option<Outcome>, GatewayError>> + Send;
}

/// Test numbers of the sandbox, as its tokenisation page accepts them.
pub const SANDBOX_CARDS: &[(&str, &str)] = &[
    ("4242424242424242", "success"),
    ("4000000000000002", "declined"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000000119", "processing_error"),
    ("4000000000000069", "timeout"),
];

/// Test bank accounts (routing 110000000): a success, and the ACH returns that follow a
/// successful debit days later.
pub const SANDBOX_ACCOUNTS: &[(&str, &str)] = &[
    ("000123456789", "success"),
    ("000111111116", "return_R01"),
    ("000111111113", "return_R02"),
];

/// The sandbox processor: tokens name their behaviour (`tok_sandbox_<behaviour>_<n>`), charges
/// are remembered by key for as long as the process runs.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    charges: Arc<Mutex<HashMap<String, (Charge, Outcome)>>>,
    issued: Arc<Mutex<u64>>,
}

impl Sandbox {
    /// What the hosted tokenisation page does with a test card number: a token, or why not.
    pub fn tokenize_card(&self, number: &str) -> Result<String, &'static str> {
        let digits: String = number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let behaviour = SANDBOX_CARDS
            .iter()
            .find(|(n, _)| *n == digits)
            .map(|(_, b)| *b)
            .ok_or("the sandbox takes its test card numbers only")?;
        Ok(self.token("card", behaviour, &digits[digits.len() - 4..]))
    }

    pub fn tokenize_account(&self, routing: &str, account: &str) -> Result<String, &'static str> {
        if routing.trim() != "110000000" {
            return Err("the sandbox takes routing number 110000000 only");
        }
        let behaviour = SANDBOX_ACCOUNTS
            .iter()
            .find(|(n, _)| *n == account.trim())
            .map(|(_, b)| *b)
            .ok_or("the sandbox takes its test account numbers only")?;
        let account = account.trim();
        Ok(self.token("ach", behaviour, &account[account.len() - 4..]))
    }

    /// `tok_sandbox_<card|ach>_<behaviour>_<last 4 digits>_<n>`
    fn token(&self, kind: &str, behaviour: &str, last4: &str) -> String {
        let mut n = self
            .issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        format!("tok_sandbox_{kind}_{behaviour}_{last4}_{n}")
    }

    /// (kind, behaviour, last 4 digits)
    fn parts(token: &str) -> Option<(&str, &str, &str)> {
        let (kind, rest) = token.strip_prefix("tok_sandbox_")?.split_once('_')?;
        let mut it = rest.rsplitn(3, '_');
        let _n = it.next()?;
        let last4 = it.next()?;
        Some((kind, it.next()?, last4))
    }

    fn behaviour(token: &str) -> &str {
        Self::parts(token).map_or("declined", |(_, b, _)| b)
    }

    /// The last four digits a token stands for (shown to the customer: "card ending 4242").
    pub fn last4(token: &str) -> Option<&str> {
        Self::parts(token).map(|(_, _, l)| l)
    }

    /// `card` or `ach`: what a token stands for.
    pub fn kind(token: &str) -> Option<&str> {
        Self::parts(token).map(|(k, _, _)| k)
    }

    /// How many charges the sandbox made with this token (tests count double charges).
    pub fn charges_of(&self, token: &str) -> usize {
        self.charges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|(c, o)| c.token == token && matches!(o, Outcome::Succeeded { .. }))
            .count()
    }
}

impl PaymentGateway for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn charge(&self, c: &Charge) -> Result<Outcome, GatewayError> {
        let mut charges = self
            .charges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, o)) = charges.get(&c.idempotency_key) {
            return Ok(o.clone());
        }
        let failed = |code: &str, retryable| Outcome::Failed {
            code: code.into(),
            retryable,
        };
        let behaviour = Self::behaviour(&c.token);
        let outcome = match behaviour {
            "success" | "timeout" | "return_R01" | "return_R02" => Outcome::Succeeded {
                reference: format!("ch_sandbox_{}", charges.len() + 1),
            },
            "insufficient_funds" => failed("insufficient_funds", true),
            "processing_error" => failed("processing_error", true),
            _ => failed("card_declined", false),
        };
        charges.insert(c.idempotency_key.clone(), (c.clone(), outcome.clone()));
        // the timeout card charges, then does not say so
        if behaviour == "timeout" {
            return Err(GatewayError::Timeout);
        }
        Ok(outcome)
    }

    async fn lookup(&self, c: &Charge) -> Result<Option<Outcome>, GatewayError> {
        Ok(self
            .charges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&c.idempotency_key)
            .map(|(_, o)| o.clone()))
    }
}

/// The processor the server charges through: Stripe when `[stripe]` is configured, else the
/// sandbox (whose hosted page and test numbers exist only then).
#[derive(Debug, Clone)]
pub enum Processor {
    Sandbox(Sandbox),
    Stripe(super::stripe::Stripe),
}

impl Processor {
    pub fn from_config(stripe: Option<&crate::config::StripeConfig>) -> Processor {
        match stripe {
            Some(s) => Processor::Stripe(super::stripe::Stripe::new(&s.api_base, &s.secret_key)),
            None => Processor::Sandbox(Sandbox::default()),
        }
    }

    /// The sandbox, when it is the processor.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        match self {
            Processor::Sandbox(s) => Some(s),
            Processor::Stripe(_) => None,
        }
    }
}

impl PaymentGateway for Processor {
    fn name(&self) -> &'static str {
        match self {
            Processor::Sandbox(g) => g.name(),
            Processor::Stripe(g) => g.name(),
        }
    }

    async fn charge(&self, c: &Charge) -> Result<Outcome, GatewayError> {
        match self {
            Processor::Sandbox(g) => g.charge(c).await,
            Processor::Stripe(g) => g.charge(c).await,
        }
    }

    async fn lookup(&self, c: &Charge) -> Result<Option<Outcome>, GatewayError> {
        match self {
            Processor::Sandbox(g) => g.lookup(c).await,
            Processor::Stripe(g) => g.lookup(c).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(key: &str, token: &str) -> Charge {
        Charge {
            idempotency_key: key.into(),
            token: token.into(),
            amount_cents: 1_000,
            currency: "USD".into(),
            description: "test".into(),
        }
    }

    #[tokio::test]
    async fn test_numbers_answer_as_documented_and_a_key_charges_once() {
        let g = Sandbox::default();
        let ok = g.tokenize_card("4242 4242 4242 4242").unwrap();
        assert!(matches!(
            g.charge(&charge("k1", &ok)).await,
            Ok(Outcome::Succeeded { .. })
        ));
        assert_eq!(
            g.charge(&charge("k1", &ok)).await,
            g.charge(&charge("k1", &ok)).await
        );
        assert_eq!(
            g.charges_of(&ok),
            1,
            "the same key again is the same charge"
        );
        let cases = [
            (
                "4000000000000002",
                Ok(Outcome::Failed {
                    code: "card_declined".into(),
                    retryable: false,
                }),
            ),
            (
                "4000000000009995",
                Ok(Outcome::Failed {
                    code: "insufficient_funds".into(),
                    retryable: true,
                }),
            ),
            (
                "4000000000000119",
                Ok(Outcome::Failed {
                    code: "processing_error".into(),
                    retryable: true,
                }),
            ),
            ("4000000000000069", Err(GatewayError::Timeout)),
        ];
        for (number, expected) in cases {
            let t = g.tokenize_card(number).unwrap();
            assert_eq!(g.charge(&charge(number, &t)).await, expected, "{number}");
        }
        // the timeout charged all the same: a lookup tells
        assert!(matches!(
            g.lookup(&charge("4000000000000069", "")).await,
            Ok(Some(Outcome::Succeeded { .. }))
        ));
        assert_eq!(g.lookup(&charge("never-sent", "")).await, Ok(None));
        assert!(
            g.tokenize_card("4111111111111111").is_err(),
            "a real-looking number is refused"
        );
        assert!(g.tokenize_account("021000021", "000123456789").is_err());
        let ach = g.tokenize_account("110000000", "000111111116").unwrap();
        assert!(ach.contains("return_R01"));
        assert_eq!(Sandbox::last4(&ach), Some("1116"));
        assert_eq!(Sandbox::last4(&ok), Some("4242"));
    }
}
