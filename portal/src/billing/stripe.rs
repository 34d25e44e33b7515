//! Stripe behind [`PaymentGateway`]: a charge is a PaymentIntent created and confirmed off
//! session with the saved payment method, sent with the attempt's key as Stripe's
//! `Idempotency-Key` (Stripe answers a repeated key with the first answer, so asking again is
//! how a lost answer is found). Webhooks are taken only with a valid `Stripe-Signature`
//! (HMAC-SHA256 of `"{t}.{body}"` with the endpoint's secret) no older than five minutes, and
//! each event once.

use super::gateway::{Charge, GatewayError, Outcome, PaymentGateway};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// How old a webhook's signature may be.
pub const TOLERANCE_S: i64 = 300;

/// Decline codes after which trying again later may succeed.
const RETRYABLE: &[&str] = &[
    "insufficient_funds",
    "processing_error",
    "try_again_later",
    "issuer_not_available",
    "approve_with_id",
    "reenter_transaction",
];

#[derive(Debug, Clone)]
pub struct Stripe {
    /// `https://api.stripe.com` (a local stand-in in tests).
    base: String,
    secret_key: String,
    http: reqwest::Client,
}

impl Stripe {
    pub fn new(base: &str, secret_key: &str) -> Stripe {
        // a client that cannot be built with a timeout (no TLS backend) falls back to the
        // default one rather than stopping the server
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Stripe {
            base: base.trim_end_matches('/').to_owned(),
            secret_key: secret_key.to_owned(),
            http,
        }
    }
}

/// What a PaymentIntent answer means for the attempt.
pub fn outcome_of(status: u16, body: &serde_json::Value) -> Result<Outcome, GatewayError> {
    let intent_outcome = |pi: &serde_json::Value| match pi["status"].as_str() {
        // an ACH debit is "processing" until it settles; a return comes later as an event
        Some("succeeded" | "processing") => Some(Outcome::Succeeded {
            reference: pi["id"].as_str().unwrap_or_default().to_owned(),
        }),
        _ => None,
    };
    match status {
        200 => intent_outcome(body).map_or_else(
            || {
                let e = &body["last_payment_error"];
                Ok(declined(e))
            },
            Ok,
        ),
        402 => Ok(declined(&body["error"])),
        409 => Err(GatewayError::Unavailable(
            "Stripe refused the idempotency key: it was used with other parameters".into(),
        )),
        429 | 500..=599 => Err(GatewayError::Unavailable(format!(
            "Stripe answered {status}"
        ))),
        _ => Ok(Outcome::Failed {
            code: body["error"]["code"]
                .as_str()
                .unwrap_or("invalid_request")
                .to_owned(),
            retryable: false,
        }),
    }
}

fn declined(e: &serde_json::Value) -> Outcome {
    let code = e["decline_code"]
        .as_str()
        .or_else(|| e["code"].as_str())
        .unwrap_or("payment_failed")
        .to_owned();
    Outcome::Failed {
        retryable: RETRYABLE.contains(&code.as_str()),
        code,
    }
}

impl PaymentGateway for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn charge(&self, c: &Charge) -> Result<Outcome, GatewayError> {
        let amount = c.amount_cents.to_string();
        let currency = c.currency.to_ascii_lowercase();
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("payment_method", c.token.as_str()),
            ("confirm", "true"),
            ("off_session", "true"),
            ("description", c.description.as_str()),
            ("metadata[idempotency_key]", c.idempotency_key.as_str()),
        ]
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let r = self
            .http
            .post(format!("{}/v1/payment_intents", self.base))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", &c.idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    GatewayError::Timeout
                } else {
                    GatewayError::Unavailable(e.to_string())
                }
            })?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r
            .json()
            .await
            .map_err(|e| GatewayError::Unavailable(format!("an answer that is not JSON: {e}")))?;
        outcome_of(status, &body)
    }

    /// Stripe keeps a key's first answer for a day: the same request with the same key tells
    /// what became of it (and makes it, exactly once, if it never arrived).
    async fn lookup(&self, c: &Charge) -> Result<Option<Outcome>, GatewayError> {
        self.charge(c).await.map(Some)
    }
}

/// `application/x-www-form-urlencoded` escaping.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no usable Stripe-Signature header")]
    Malformed,
    #[error("the signature is older than {TOLERANCE_S} seconds (or from the future)")]
    Stale,
    #[error("the signature does not match")]
    Forged,
}

/// Checks a webhook's `Stripe-Signature` against the endpoint's secret at `now` (seconds).
pub fn verify(secret: &[u8], header: &str, payload: &[u8], now: i64) -> Result<(), WebhookError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.ok_or(WebhookError::Malformed)?;
    if signatures.is_empty() {
        return Err(WebhookError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_S {
        return Err(WebhookError::Stale);
    }
    for s in signatures {
        let Ok(bytes) = hex::decode(s) else { continue };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return Err(WebhookError::Forged);
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        if mac.verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(WebhookError::Forged)
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `t` (tests, and the demo's
/// simulated events).
pub fn sign(secret: &[u8], payload: &[u8], t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable_key());
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// HMAC takes keys of any length; this cannot happen.
fn unreachable_key() -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    Hmac::<Sha256>::new_from_slice(b"k").expect("HMAC takes any key length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn only_fresh_signed_untampered_webhooks_pass() {
        let good = sign(SECRET, BODY, NOW - 10);
        assert_eq!(verify(SECRET, &good, BODY, NOW), Ok(()));
        let cases = [
            (
                "another secret",
                sign(b"whsec_other", BODY, NOW),
                BODY.to_vec(),
                WebhookError::Forged,
            ),
            (
                "tampered body",
                good.clone(),
                br#"{"id":"evt_1","type":"payment_intent.payment_failed"}"#.to_vec(),
                WebhookError::Forged,
            ),
            (
                "six minutes old",
                sign(SECRET, BODY, NOW - 360),
                BODY.to_vec(),
                WebhookError::Stale,
            ),
            (
                "from the future",
                sign(SECRET, BODY, NOW + 400),
                BODY.to_vec(),
                WebhookError::Stale,
            ),
            (
                "no timestamp",
                "v1=abcd".to_owned(),
                BODY.to_vec(),
                WebhookError::Malformed,
            ),
            (
                "no signature",
                format!("t={NOW}"),
                BODY.to_vec(),
                WebhookError::Malformed,
            ),
            (
                "junk",
                "🙂".to_owned(),
                BODY.to_vec(),
                WebhookError::Malformed,
            ),
        ];
        for (what, header, body, expected) in cases {
            assert_eq!(verify(SECRET, &header, &body, NOW), Err(expected), "{what}");
        }
        // during a secret roll Stripe signs with both: one valid v1 is enough
        let both = format!(
            "{},v1={}",
            sign(b"whsec_old", BODY, NOW),
            sign(SECRET, BODY, NOW).split("v1=").nth(1).unwrap()
        );
        assert_eq!(verify(SECRET, &both, BODY, NOW), Ok(()));
    }

    #[test]
    fn payment_intent_answers_become_outcomes() {
        let ok = json!({"id": "pi_3Mtw", "object": "payment_intent", "status": "succeeded"});
        assert_eq!(
            outcome_of(200, &ok),
            Ok(Outcome::Succeeded {
                reference: "pi_3Mtw".into()
            })
        );
        let ach = json!({"id": "pi_ach", "object": "payment_intent", "status": "processing"});
        assert!(matches!(
            outcome_of(200, &ach),
            Ok(Outcome::Succeeded { .. })
        ));
        let funds = json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}});
        assert_eq!(
            outcome_of(402, &funds),
            Ok(Outcome::Failed {
                code: "insufficient_funds".into(),
                retryable: true
            })
        );
        let stolen = json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"}});
        assert_eq!(
            outcome_of(402, &stolen),
            Ok(Outcome::Failed {
                code: "stolen_card".into(),
                retryable: false
            })
        );
        let needs_auth = json!({"id": "pi_x", "status": "requires_payment_method", "last_payment_error": {"code": "authentication_required"}});
        assert_eq!(
            outcome_of(200, &needs_auth),
            Ok(Outcome::Failed {
                code: "authentication_required".into(),
                retryable: false
            })
        );
        assert!(matches!(
            outcome_of(409, &json!({})),
            Err(GatewayError::Unavailable(_))
        ));
        assert!(matches!(
            outcome_of(503, &json!({})),
            Err(GatewayError::Unavailable(_))
        ));
        assert!(matches!(
            outcome_of(
                400,
                &json!({"error": {"code": "parameter_invalid_integer"}})
            ),
            Ok(Outcome::Failed {
                retryable: false,
                ..
            })
        ));
    }
}
