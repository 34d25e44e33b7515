//! The tenant's sign-in policy: whether dealer staff must use a second factor.

use crate::auth::session::REQUIRE_STAFF_TOTP;
use crate::auth::{Forbidden, Permission, Principal};
use crate::db::{DbError, TenantDb};
use crate::secrets::Keyring;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub require_staff_two_factor: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub async fn get(db: &TenantDb, by: &Principal) -> Result<SecuritySettings, SettingsError> {
    by.require(Permission::SettingsManage)?;
    Ok(SecuritySettings {
        require_staff_two_factor: db
            .read(async |tx| tx.staff_need_second_factor().await)
            .await?,
    })
}

/// Changes the policy. Requiring a second factor needs a server that can keep its seeds.
pub async fn set(
    db: &TenantDb,
    keys: &Keyring,
    by: &Principal,
    wanted: SecuritySettings,
) -> Result<SecuritySettings, SettingsError> {
    by.require(Permission::SettingsManage)?;
    if wanted.require_staff_two_factor && !keys.can_seal() {
        return Err(SettingsError::Refused(
            "this server has no secret_key, so it cannot keep two-factor seeds; ask its operator to set one".into(),
        ));
    }
    db.run(async |tx| {
        let value = if wanted.require_staff_two_factor { "1" } else { "0" };
        let before = tx.set_setting(REQUIRE_STAFF_TOTP, value).await?;
        tx.audit(
            &by.actor(),
            "settings.security_changed",
            ("tenant_setting", Some(REQUIRE_STAFF_TOTP.to_owned())),
            None,
            serde_json::json!({ "before": before.as_deref() == Some("1"), "after": wanted.require_staff_two_factor }),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(wanted)
}
