use super::{Keyring, Sealed, SecretError, named_place, totp_place};
use crate::db::{DbError, TenantTx};
use sqlx::Row;

impl From<SecretError> for DbError {
    fn from(e: SecretError) -> Self {
        DbError::Refused(e.to_string())
    }
}

fn sealed(row: &sqlx::any::AnyRow) -> Result<Sealed, DbError> {
    Ok(Sealed {
        key_id: row.try_get("key_id")?,
        nonce: row.try_get("nonce")?,
        ciphertext: row.try_get("ciphertext")?,
    })
}

impl TenantTx {
    /// Stores (or replaces) the tenant's secret `name`, sealed under the current key.
    pub async fn put_secret(
        &mut self,
        keys: &Keyring,
        name: &str,
        value: &[u8],
    ) -> Result<(), DbError> {
        let name = super::parse_secret_name(name)?;
        let (t, now) = (self.t(), self.now_ms());
        let s = keys.seal(&named_place(t, &name), value)?;
        sqlx::query(
            "INSERT INTO secrets (tenant_id, name, key_id, nonce, ciphertext, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id, \
               nonce = excluded.nonce, ciphertext = excluded.ciphertext, rotated_at = excluded.created_at",
        )
        .bind(t)
        .bind(&name)
        .bind(&s.key_id)
        .bind(s.nonce)
        .bind(s.ciphertext)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The tenant's secret `name`, opened; `NotFound` when there is none.
    pub async fn secret(&mut self, keys: &Keyring, name: &str) -> Result<Vec<u8>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT key_id, nonce, ciphertext FROM secrets WHERE tenant_id = $1 AND name = $2",
        )
        .bind(t)
        .bind(name)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        Ok(keys.open(&named_place(t, name), &sealed(&row)?)?)
    }

    /// Seals every secret of this tenant that is not under the current key again under it
    /// (named secrets and TOTP seeds). Returns how many were re-sealed.
    pub async fn rotate_secrets(&mut self, keys: &Keyring) -> Result<usize, DbError> {
        let current = keys.current_key_id().ok_or(SecretError::NoKey)?.to_owned();
        let (t, now) = (self.t(), self.now_ms());
        let mut done = 0;
        let named = sqlx::query(
            "SELECT id, name, key_id, nonce, ciphertext FROM secrets \
             WHERE tenant_id = $1 AND key_id <> $2 ORDER BY id",
        )
        .bind(t)
        .bind(&current)
        .fetch_all(self.conn())
        .await?;
        for row in &named {
            let (id, name): (i64, String) = (row.try_get("id")?, row.try_get("name")?);
            let place = named_place(t, &name);
            let fresh = keys.seal(&place, &keys.open(&place, &sealed(row)?)?)?;
            sqlx::query(
                "UPDATE secrets SET key_id = $3, nonce = $4, ciphertext = $5, rotated_at = $6 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(id)
            .bind(&fresh.key_id)
            .bind(fresh.nonce)
            .bind(fresh.ciphertext)
            .bind(now)
            .execute(self.conn())
            .await?;
            done += 1;
        }
        let seeds = sqlx::query(
            "SELECT user_id, key_id, nonce, ciphertext FROM totp_secrets \
             WHERE tenant_id = $1 AND key_id <> $2 ORDER BY user_id",
        )
        .bind(t)
        .bind(&current)
        .fetch_all(self.conn())
        .await?;
        for row in &seeds {
            let user: i64 = row.try_get("user_id")?;
            let place = totp_place(t, user);
            let fresh = keys.seal(&place, &keys.open(&place, &sealed(row)?)?)?;
            sqlx::query(
                "UPDATE totp_secrets SET key_id = $3, nonce = $4, ciphertext = $5 \
                 WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(t)
            .bind(user)
            .bind(&fresh.key_id)
            .bind(fresh.nonce)
            .bind(fresh.ciphertext)
            .execute(self.conn())
            .await?;
            done += 1;
        }
        Ok(done)
    }
}
