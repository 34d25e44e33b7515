//! The reply token of the monthly meter request: `mr.<request id>.<signature>`, carried in the
//! request's Reply-To (`meters+mr.42.…@dealer.example`) so the answer names its request. The
//! signature (HMAC-SHA256 under the configured key, over tenant and request) makes a token
//! unguessable and unusable in another tenant; a reply maps only to that request's account.

use hmac::{Hmac, Mac};
use ingest::ids::TenantId;
use sha2::Sha256;

/// Hex digits of the signature kept in the token (80 bits).
const SIGNATURE_HEX: usize = 20;

fn signature(key: &[u8], tenant: TenantId, request: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen
        Err(_) => return String::new(),
    };
    mac.update(format!("printyx meter request:{}:{request}", tenant.0).as_bytes());
    hex::encode(mac.finalize().into_bytes())[..SIGNATURE_HEX].to_owned()
}

/// The token for one meter request.
pub fn sign(key: &[u8], tenant: TenantId, request: i64) -> String {
    format!("mr.{request}.{}", signature(key, tenant, request))
}

/// The request named by a valid token anywhere in `texts` (addresses, subject).
pub fn find(key: &[u8], tenant: TenantId, texts: &[&str]) -> Option<i64> {
    texts.iter().find_map(|text| {
        let lower = text.to_ascii_lowercase();
        lower.match_indices("mr.").find_map(|(i, _)| {
            let rest = &lower[i + 3..];
            let (id, rest) = rest.split_once('.')?;
            let request: i64 = id.parse().ok()?;
            let sig: String = rest.chars().take(SIGNATURE_HEX).collect();
            (sig.len() == SIGNATURE_HEX && constant_time_eq(&sig, &signature(key, tenant, request)))
                .then_some(request)
        })
    })
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_request_only_under_its_key_and_tenant() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = sign(key, TenantId(1), 42);
        let to = format!("Meter Desk <meters+{token}@dealer.example>");
        assert_eq!(find(key, TenantId(1), &["other@x", &to]), Some(42));
        assert_eq!(find(key, TenantId(2), &[&to]), None, "another tenant");
        assert_eq!(
            find(b"another key, just as long.......", TenantId(1), &[&to]),
            None
        );
        let forged = to.replace("mr.42.", "mr.43.");
        assert_eq!(find(key, TenantId(1), &[&forged]), None, "another request");
        assert_eq!(find(key, TenantId(1), &["mr.42.", "Re: mr.x.y"]), None);
    }
}
