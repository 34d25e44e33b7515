//! Who may do what, and how people and programs prove who they are.
//!
//! Permissions are data: a role is a named set of permission names stored in
//! `role_permissions`; this module knows the vocabulary, the roles a tenant starts with, and
//! the [`Principal`] every route checks (declared with the route, see `http::routes`).
//! Sign-in (`signin`), sessions (`session`), the second factor (`totp`), password resets
//! (`reset`), attempt limits (`throttle`) and API tokens (`tokens`) all end in a `Principal`.

pub mod http;
pub mod pages;
pub mod password;
mod permissions;
pub mod reset;
pub mod session;
pub mod signin;
pub mod throttle;
mod tokens;
pub mod totp;

pub use permissions::{BUILTIN_ROLES, BuiltinRole, Permission};
pub use session::{SessionPolicy, SessionStage};
pub use tokens::ApiTokenInfo;

use crate::audit::Client;
use crate::ids::{AccountId, UserId};
use crate::users::UserKind;
use ingest::ids::TenantId;
use std::collections::BTreeSet;

/// Who is asking, and what they may do: built by authentication (a session cookie or an API
/// token) for every request that is not public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub user: UserId,
    pub kind: UserKind,
    pub permissions: BTreeSet<Permission>,
    /// How the request proved it (for the audit trail and for CSRF rules).
    pub via: Via,
    /// Where the request came from (for the audit trail).
    pub client: Client,
    /// How this person reads times and numbers (pages only; the API speaks plain values).
    pub formats: crate::web::formats::Formats,
    /// The language pages speak to this person.
    pub lang: crate::web::i18n::Lang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A browser session (cookie): state-changing requests need the CSRF token.
    Session(session::SessionId),
    /// An API token (bearer header): not sent by browsers on their own, no CSRF.
    ApiToken(i64),
}

impl Principal {
    /// The one place permissions are checked.
    pub fn require(&self, p: Permission) -> Result<(), Forbidden> {
        if self.permissions.contains(&p) {
            Ok(())
        } else {
            Err(Forbidden(p))
        }
    }

    pub fn is_staff(&self) -> bool {
        self.kind == UserKind::Staff
    }

    /// The customer's account; `None` for dealer staff, who act across accounts.
    pub fn account(&self) -> Option<AccountId> {
        match self.kind {
            UserKind::Staff => None,
            UserKind::Customer(a) => Some(a),
        }
    }

    /// Whether this principal may see objects of `account` (staff: every account).
    pub fn sees_account(&self, account: AccountId) -> bool {
        self.account().is_none_or(|own| own == account)
    }

    /// The principal as the audit trail records it.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            kind: "user",
            id: Some(self.user.0),
            account: self.account(),
            via: match self.via {
                Via::Session(_) => None,
                Via::ApiToken(id) => Some(format!("api_token:{id}")),
            },
            client: self.client.clone(),
        }
    }
}

/// A permission the principal lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this needs the {0} permission")]
pub struct Forbidden(pub Permission);

/// A bearer secret that names its tenant, `{prefix}_{tenant id}_{64 hex digits}` (256 random
/// bits): with row-level security nothing can be looked up before the tenant is known.
pub(crate) fn new_token(prefix: &str, tenant: TenantId) -> String {
    let secret: [u8; 32] = rand::random();
    format!("{prefix}_{}_{}", tenant.0, hex::encode(secret))
}

/// The tenant a well-formed token of this kind names; `None` for anything else.
pub(crate) fn token_tenant(prefix: &str, token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() != 64 || !secret.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    if tenant.is_empty() || tenant.len() > 18 || !tenant.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tenant.parse().ok().map(TenantId)
}

/// How tokens are stored: their SHA-256, never the token.
pub(crate) fn token_hash(token: &str) -> String {
    crate::agents::secret_hash(token)
}

/// Equality that takes the same time wherever the inputs differ (secrets compared to input).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_locate_their_tenant_and_nothing_else_does() {
        let token = new_token("pxs", TenantId(7));
        assert_eq!(token_tenant("pxs", &token), Some(TenantId(7)));
        assert_eq!(token_tenant("pxt", &token), None, "another kind of token");
        let good = format!("pxt_7_{}", "ab".repeat(32));
        assert_eq!(token_tenant("pxt", &good), Some(TenantId(7)));
        for bad in [
            "pxt_7_short".to_owned(),
            "pxa_7_00".to_owned(),
            String::new(),
            "pxt__00".to_owned(),
            format!("pxt_-7_{}", "ab".repeat(32)),
            format!("pxt_7_{}", "zz".repeat(32)),
            format!("pxt_99999999999999999999_{}", "ab".repeat(32)),
        ] {
            assert_eq!(token_tenant("pxt", &bad), None, "{bad}");
        }
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
