use super::{
    Account, AccountChanges, AccountStatus, Address, Contact, NewAccount, NewContact, Site,
};
use crate::db::{DbError, TenantTx, flag, one_row, page_limit};
use crate::ids::{AccountId, ContactId, SiteId};
use ingest::domain::EmailAddress;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! account_columns {
    () => {
        "id, parent_id, number, name, status, billing_email, autopay, created_at, updated_at"
    };
}
macro_rules! site_columns {
    () => {
        "id, account_id, name, line1, line2, city, region, postal_code, country"
    };
}
macro_rules! contact_columns {
    () => {
        "id, account_id, name, email, phone, role, receives_meter_requests"
    };
}

/// Stored values were validated on the way in; one that no longer parses is a refused row.
fn stored<T>(r: Result<T, ingest::domain::ParseError>) -> Result<T, DbError> {
    r.map_err(|e| DbError::Refused(format!("stored value no longer valid: {e}")))
}

fn email(row: &AnyRow, column: &str) -> Result<Option<EmailAddress>, DbError> {
    row.try_get::<Option<String>, _>(column)?
        .map(|s| stored(EmailAddress::parse(&s)))
        .transpose()
}

fn account(row: &AnyRow) -> Result<Account, DbError> {
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        parent_id: row.try_get::<Option<i64>, _>("parent_id")?.map(AccountId),
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        status: stored(AccountStatus::parse(&row.try_get::<String, _>("status")?))?,
        billing_email: email(row, "billing_email")?,
        autopay: flag(row, "autopay")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn site(row: &AnyRow) -> Result<Site, DbError> {
    Ok(Site {
        id: SiteId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        name: row.try_get("name")?,
        address: Address {
            line1: row.try_get("line1")?,
            line2: row.try_get("line2")?,
            city: row.try_get("city")?,
            region: row.try_get("region")?,
            postal_code: row.try_get("postal_code")?,
            country: row.try_get("country")?,
        },
    })
}

fn contact(row: &AnyRow) -> Result<Contact, DbError> {
    Ok(Contact {
        id: ContactId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        name: row.try_get("name")?,
        email: email(row, "email")?,
        phone: row.try_get("phone")?,
        role: row.try_get("role")?,
        receives_meter_requests: flag(row, "receives_meter_requests")?,
    })
}

impl TenantTx {
    pub async fn create_account(&mut self, new: &NewAccount) -> Result<Account, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(concat!("INSERT INTO accounts (tenant_id, parent_id, number, name, billing_email, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ", account_columns!()))
        .bind(t)
        .bind(new.parent_id.map(|p| p.0))
        .bind(&new.number)
        .bind(&new.name)
        .bind(new.billing_email.as_ref().map(EmailAddress::as_str))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        account(&row)
    }

    pub async fn account(&mut self, id: AccountId) -> Result<Account, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        account(&row)
    }

    /// The account with this customer number (what dealer staff know it by).
    pub async fn account_by_number(&mut self, number: &str) -> Result<Account, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE tenant_id = $1 AND number = $2"
        ))
        .bind(t)
        .bind(number.trim())
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        account(&row)
    }

    /// Accounts in id order, `limit` after `after` (keyset pagination).
    pub async fn list_accounts(
        &mut self,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(t)
        .bind(after.map_or(0, |a| a.0))
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(account).collect()
    }

    pub async fn child_accounts(&mut self, parent: AccountId) -> Result<Vec<Account>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(parent.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(account).collect()
    }

    pub async fn update_account(
        &mut self,
        id: AccountId,
        changes: &AccountChanges,
    ) -> Result<Account, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let (set_email, new_email) = match &changes.billing_email {
            None => (0_i64, None),
            Some(e) => (1, e.as_ref().map(|e| e.as_str().to_owned())),
        };
        let row = sqlx::query(concat!(
            "UPDATE accounts SET name = COALESCE($3, name), status = COALESCE($4, status), \
               billing_email = CASE WHEN $5 = 1 THEN $6 ELSE billing_email END, \
               autopay = COALESCE($7, autopay), updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2 RETURNING ",
            account_columns!()
        ))
        .bind(t)
        .bind(id.0)
        .bind(changes.name.as_deref())
        .bind(changes.status.map(AccountStatus::as_str))
        .bind(set_email)
        .bind(new_email)
        .bind(changes.autopay.map(i64::from))
        .bind(now)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        account(&row)
    }

    pub async fn create_site(
        &mut self,
        account_id: AccountId,
        name: &str,
        address: &Address,
    ) -> Result<Site, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let name = stored(crate::tenants::parse_name("site name", name))?;
        let row = sqlx::query(concat!("INSERT INTO sites (tenant_id, account_id, name, line1, line2, city, region, postal_code, country, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ", site_columns!()))
        .bind(t)
        .bind(account_id.0)
        .bind(name)
        .bind(&address.line1)
        .bind(address.line2.as_deref())
        .bind(&address.city)
        .bind(address.region.as_deref())
        .bind(&address.postal_code)
        .bind(&address.country)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        site(&row)
    }

    pub async fn site(&mut self, id: SiteId) -> Result<Site, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            site_columns!(),
            " FROM sites WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        site(&row)
    }

    pub async fn sites_of(&mut self, account_id: AccountId) -> Result<Vec<Site>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            site_columns!(),
            " FROM sites WHERE tenant_id = $1 AND account_id = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(site).collect()
    }

    pub async fn create_contact(
        &mut self,
        account_id: AccountId,
        new: &NewContact,
    ) -> Result<Contact, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(concat!("INSERT INTO contacts (tenant_id, account_id, name, email, phone, role, receives_meter_requests, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ", contact_columns!()))
        .bind(t)
        .bind(account_id.0)
        .bind(&new.name)
        .bind(new.email.as_ref().map(EmailAddress::as_str))
        .bind(new.phone.as_deref())
        .bind(new.role)
        .bind(i64::from(new.receives_meter_requests))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        contact(&row)
    }

    pub async fn contact(&mut self, id: ContactId) -> Result<Contact, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        contact(&row)
    }

    pub async fn contacts_of(&mut self, account_id: AccountId) -> Result<Vec<Contact>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE tenant_id = $1 AND account_id = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(contact).collect()
    }

    /// Contacts of any account with this address (the e-mail sender check starts here).
    pub async fn contacts_by_email(
        &mut self,
        email: &EmailAddress,
    ) -> Result<Vec<Contact>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE tenant_id = $1 AND email = $2 ORDER BY id"
        ))
        .bind(t)
        .bind(email.as_str())
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(contact).collect()
    }

    pub async fn delete_contact(&mut self, id: ContactId) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(id.0)
                .execute(self.conn())
                .await?,
        )
    }
}
