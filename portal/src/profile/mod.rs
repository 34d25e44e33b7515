//! The signed-in user's own account: name and preferences, password, sessions, the second
//! factor, API tokens, and their data. Pages (`pages.rs`) and the JSON API (`http.rs`) both
//! call these operations; each checks what it needs (the current password to change the
//! password or turn the second factor off) and leaves an audit entry.

pub mod http;
pub mod pages;

use crate::auth::password::{Hasher, PasswordError};
use crate::auth::session::{ActiveSession, NewSession};
use crate::auth::throttle::{Limit, ThrottleError, Throttled, bucket};
use crate::auth::{Permission, Principal, SessionPolicy, Via};
use crate::db::{DbError, TenantDb};
use crate::secrets::Keyring;
use crate::users::Profile;
use crate::web::formats::Formats;
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("your current password is not right")]
    WrongPassword,
    #[error("that code is not right; enter the one the app shows now")]
    WrongCode,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Throttled(Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ThrottleError> for ProfileError {
    fn from(e: ThrottleError) -> Self {
        match e {
            ThrottleError::Throttled(t) => ProfileError::Throttled(t),
            ThrottleError::Db(d) => ProfileError::Db(d),
        }
    }
}

impl From<crate::secrets::SecretError> for ProfileError {
    fn from(e: crate::secrets::SecretError) -> Self {
        ProfileError::Refused(format!(
            "two-factor sign-in is not available on this server: {e}"
        ))
    }
}

pub async fn update(db: &TenantDb, me: &Principal, p: &Profile) -> Result<(), DbError> {
    db.run(async |tx| {
        let before = tx.user(me.user).await?;
        tx.update_profile(me.user, p).await?;
        tx.audit(
            &me.actor(),
            "user.profile_changed",
            ("user", Some(me.user.to_string())),
            None,
            serde_json::json!({
                "before": described(&before.display_name, &before.locale, &before.formats),
                "after": described(&p.display_name, &p.locale, &p.formats),
            }),
        )
        .await?;
        Ok(())
    })
    .await
}

fn described(name: &str, locale: &str, f: &Formats) -> serde_json::Value {
    serde_json::json!({
        "display_name": name,
        "locale": locale,
        "time_zone": f.zone.name(),
        "date_format": f.date.code(),
        "number_format": f.number.code(),
    })
}

/// Checks the current password, counting the attempt (the same limit as strangers' sign-in
/// attempts: a stolen session must not become a password oracle).
async fn check_current_password(
    db: &TenantDb,
    hasher: &Hasher,
    me: &Principal,
    password: &str,
) -> Result<(), ProfileError> {
    let b = bucket("password-check:user", &me.user.0.to_string());
    let mut tx = db.begin().await?;
    tx.throttle(&b, Limit::SIGN_IN_ACCOUNT).await?;
    let stored = tx.password_hash_of(me.user).await?;
    tx.commit().await?;
    if !hasher.verify(password, stored.as_deref()).await {
        return Err(ProfileError::WrongPassword);
    }
    db.run(async |tx| tx.clear_throttle(&b).await).await?;
    Ok(())
}

/// The session a request came through, if it came through one (it is kept when the others end).
fn own_session(me: &Principal) -> Option<crate::auth::session::SessionId> {
    match me.via {
        Via::Session(s) => Some(s),
        Via::ApiToken(_) => None,
    }
}

/// Changes the password; every other session ends. Returns how many ended.
pub async fn change_password(
    db: &TenantDb,
    hasher: &Hasher,
    me: &Principal,
    current: &str,
    new: &str,
) -> Result<u64, ProfileError> {
    crate::auth::password::check_length(new)?;
    check_current_password(db, hasher, me, current).await?;
    let phc = hasher.hash(new).await?;
    Ok(db
        .run(async |tx| {
            tx.set_password_hash(me.user, &phc).await?;
            let ended = tx.end_sessions_of(me.user, own_session(me)).await?;
            tx.audit(
                &me.actor(),
                "user.password_changed",
                ("user", Some(me.user.to_string())),
                None,
                serde_json::json!({ "sessions_ended": ended }),
            )
            .await?;
            Ok(ended)
        })
        .await?)
}

/// Ends every session of the user, the current one included ("sign out everywhere").
pub async fn end_all_sessions(db: &TenantDb, me: &Principal) -> Result<u64, DbError> {
    db.run(async |tx| {
        let ended = tx.end_sessions_of(me.user, None).await?;
        tx.audit(
            &me.actor(),
            "auth.signed_out_everywhere",
            ("user", Some(me.user.to_string())),
            None,
            serde_json::json!({ "sessions_ended": ended }),
        )
        .await?;
        Ok(ended)
    })
    .await
}

/// The seed to show on the set-up page: the pending one, or a new one.
pub async fn two_factor_seed(
    db: &TenantDb,
    keys: &Keyring,
    me: &Principal,
) -> Result<Vec<u8>, ProfileError> {
    if !keys.can_seal() {
        return Err(crate::secrets::SecretError::NoKey.into());
    }
    let seed = db
        .run(
            async |tx| match tx.pending_totp_seed(keys, me.user).await? {
                Some(seed) => Ok(seed),
                None => tx.begin_totp(keys, me.user).await,
            },
        )
        .await?;
    Ok(seed)
}

/// Turns the second factor on with the first code from the app. The session it was done in is
/// replaced by one that has given the second factor (new cookie).
pub async fn two_factor_confirm(
    db: &TenantDb,
    keys: &Keyring,
    policy: SessionPolicy,
    session: &ActiveSession,
    code: &str,
) -> Result<NewSession, ProfileError> {
    let me = &session.principal;
    let b = bucket("second-factor:user", &me.user.0.to_string());
    let mut tx = db.begin().await?;
    tx.throttle(&b, Limit::SECOND_FACTOR).await?;
    tx.commit().await?;
    let mut tx = db.begin().await?;
    if !tx.check_totp(keys, me.user, code, true).await? {
        return Err(ProfileError::WrongCode);
    }
    tx.clear_throttle(&b).await?;
    let new = tx.promote_session(session.id, policy, &me.client).await?;
    tx.audit(
        &me.actor(),
        "user.two_factor_on",
        ("user", Some(me.user.to_string())),
        None,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Turns the second factor off (with the password), unless the dealer requires it.
pub async fn two_factor_disable(
    db: &TenantDb,
    hasher: &Hasher,
    me: &Principal,
    password: &str,
) -> Result<(), ProfileError> {
    let required = db
        .read(async |tx| tx.staff_need_second_factor().await)
        .await?;
    if required && me.is_staff() {
        return Err(ProfileError::Refused(
            "your dealer requires two-factor sign-in for staff".into(),
        ));
    }
    check_current_password(db, hasher, me, password).await?;
    db.run(async |tx| {
        tx.remove_totp(me.user).await?;
        tx.audit(
            &me.actor(),
            "user.two_factor_off",
            ("user", Some(me.user.to_string())),
            None,
            serde_json::json!({}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Issues an API token for the user, limited to `permissions` (each one the user holds).
pub async fn create_token(
    db: &TenantDb,
    me: &Principal,
    name: &str,
    permissions: &[String],
) -> Result<String, ProfileError> {
    let mut wanted = BTreeSet::new();
    for p in permissions {
        let parsed = Permission::parse(p.trim())
            .ok_or_else(|| ProfileError::Refused(format!("there is no permission '{p}'")))?;
        if !me.permissions.contains(&parsed) {
            return Err(ProfileError::Refused(format!("you do not hold {parsed}")));
        }
        wanted.insert(parsed);
    }
    db.run(async |tx| {
        let token = tx.create_api_token(me.user, name, &wanted).await?;
        tx.audit(
            &me.actor(),
            "api_token.created",
            ("user", Some(me.user.to_string())),
            None,
            serde_json::json!({ "name": name.trim(),
                    "permissions": wanted.iter().map(|p| p.as_str()).collect::<Vec<_>>() }),
        )
        .await?;
        Ok(token)
    })
    .await
    .map_err(|e| match e {
        DbError::Refused(m) => ProfileError::Refused(m),
        other => other.into(),
    })
}

pub async fn revoke_token(db: &TenantDb, me: &Principal, id: i64) -> Result<(), DbError> {
    db.run(async |tx| {
        tx.revoke_api_token(me.user, id).await?;
        tx.audit(
            &me.actor(),
            "api_token.revoked",
            ("api_token", Some(id.to_string())),
            None,
            serde_json::json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
