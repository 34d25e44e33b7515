//! Tenant isolation, on both databases: by the shape of the schema (every key includes the
//! tenant), by the database itself (a cross-tenant reference is refused; on PostgreSQL
//! row-level security hides and protects other tenants' rows) and by the storage API (a handle
//! for tenant A cannot read or change tenant B's objects).

use crate::backends;
use crate::harness::TestDb;
use crate::schema::{self, Schema};
use portal::db::{Backend, DbError};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Connection, Executor, Row};

const A: i64 = 1001;
const B: i64 = 1002;

pub(crate) fn id_of(tenant: i64) -> i64 {
    tenant * 1000 + 1
}

/// Loads seed.sql for `tenant` as the owner (past row-level security).
pub(crate) async fn seed(c: &mut AnyConnection, backend: Backend, tenant: i64) {
    let blob = match backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    };
    let sql = include_str!("seed.sql")
        .replace("{T}", &tenant.to_string())
        .replace("{ID}", &id_of(tenant).to_string())
        .replace("{BLOB}", blob);
    let sql: String = sql
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        let stmt = stmt.trim_end_matches(';').to_owned();
        if let Err(e) = c.execute(AssertSqlSafe(stmt.clone())).await {
            panic!("seed statement failed: {e}\n{stmt}");
        }
    }
}

async fn seeded(t: &TestDb) -> (AnyConnection, Schema) {
    let mut admin = t.admin().await;
    seed(&mut admin, t.backend, A).await;
    seed(&mut admin, t.backend, B).await;
    let s = schema::read(&mut admin, t.backend).await;
    (admin, s)
}

async fn count(c: &mut AnyConnection, sql: String) -> i64 {
    sqlx::query_scalar::<Any, i64>(AssertSqlSafe(sql))
        .fetch_one(c)
        .await
        .unwrap()
}

/// The seed covers every table, so the sweeps below really cover every table.
async fn seed_reaches_every_table(t: TestDb) {
    let (mut admin, s) = seeded(&t).await;
    for table in s.tables() {
        for tenant in [A, B] {
            let n = count(
                &mut admin,
                format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = {tenant}"),
            )
            .await;
            assert!(
                n > 0,
                "seed.sql has no row in {table} for tenant {tenant}: add one"
            );
        }
    }
}

/// Every table carries a NOT NULL tenant_id, every primary/unique key that identifies a row
/// includes it, and every foreign key (except the one to tenants itself) carries it across.
async fn every_key_includes_the_tenant(t: TestDb) {
    let s = schema::read(&mut t.admin().await, t.backend).await;
    for (table, cols) in &s.columns {
        let tenant_col = cols.iter().find(|c| c.name == "tenant_id");
        assert!(
            tenant_col.is_some_and(|c| c.not_null),
            "{table} lacks a NOT NULL tenant_id"
        );
        let keys = &s.unique_keys[table];
        let rowid_form = keys.contains(&vec!["tenant_id".to_owned(), "id".to_owned()]);
        for key in keys
            .iter()
            .filter(|k| !(rowid_form && *k == &vec!["id".to_owned()]))
        {
            // globally unique secrets (token hashes, storage names, slugs) may stand alone
            let global = [
                "token_hash",
                "storage_name",
                "slug",
                "enrollment_code_hash",
                "tenant_id",
            ];
            assert!(
                key.contains(&"tenant_id".to_owned())
                    || (key.len() == 1 && global.contains(&key[0].as_str())),
                "{table} has a key {key:?} without tenant_id"
            );
        }
    }
    for fk in &s.foreign_keys {
        if fk.parent == "tenants" {
            assert_eq!(fk.columns, ["tenant_id"], "{fk:?}");
            continue;
        }
        let pos = fk.columns.iter().position(|c| c == "tenant_id");
        assert!(
            pos.is_some_and(|i| fk.parent_columns[i] == "tenant_id"),
            "foreign key {fk:?} does not carry tenant_id to the parent's tenant_id"
        );
    }
}

/// For every foreign key: pointing tenant A's row at a row only tenant B has is refused by the
/// database itself.
async fn a_row_cannot_point_at_another_tenants_row(t: TestDb) {
    let (mut admin, s) = seeded(&t).await;
    let mut checked = 0;
    for fk in s.foreign_keys.iter().filter(|fk| fk.parent != "tenants") {
        let pairs: Vec<(&String, &String)> = fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .filter(|(c, _)| *c != "tenant_id")
            .collect();
        // a parent row of B whose key A does not have
        let select = pairs
            .iter()
            .map(|(_, p)| format!("CAST(p.{p} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let same = pairs
            .iter()
            .map(|(_, p)| format!("q.{p} = p.{p}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let row = sqlx::query::<Any>(AssertSqlSafe(format!(
            "SELECT {select} FROM {parent} p WHERE p.tenant_id = {B} AND NOT EXISTS \
             (SELECT 1 FROM {parent} q WHERE q.tenant_id = {A} AND {same})",
            parent = fk.parent
        )))
        .fetch_optional(&mut admin)
        .await
        .unwrap()
        .unwrap_or_else(|| {
            panic!(
                "seed.sql gives {} no row of tenant B that A lacks",
                fk.parent
            )
        });
        let sets = pairs
            .iter()
            .enumerate()
            .map(|(i, (c, _))| {
                let v: String = row.get(i);
                // ids are integers, codes are text
                if v.parse::<i64>().is_ok() {
                    format!("{c} = {v}")
                } else {
                    format!("{c} = '{v}'")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let stmt = format!("UPDATE {} SET {sets} WHERE tenant_id = {A}", fk.child);
        let mut tx = admin.begin().await.unwrap();
        let result = tx.execute(AssertSqlSafe(stmt.clone())).await;
        let err = match result {
            Err(e) => e,
            Ok(done) => panic!(
                "{stmt} was accepted ({} rows): {fk:?}",
                done.rows_affected()
            ),
        };
        assert!(
            matches!(DbError::from(err), DbError::Refused(_)),
            "{stmt} failed, but not as a foreign-key violation"
        );
        tx.rollback().await.unwrap();
        checked += 1;
    }
    assert!(checked >= 80, "only {checked} foreign keys swept");
}

/// PostgreSQL: as the application role inside tenant A, every table shows only A's rows, and
/// B's rows can be neither changed nor deleted, nor can a row be written for B.
async fn postgres_row_level_security_walls_off_every_table(t: TestDb) {
    if t.backend != Backend::Postgres {
        return; // SQLite has no row-level security; see storage_sql_always_names_the_tenant
    }
    let (_admin, s) = seeded(&t).await;
    let mut app = t.db.pool().acquire().await.unwrap();
    for table in s.tables().filter(|t| *t != "tenants") {
        let mut tx = app.begin().await.unwrap();
        tx.execute(AssertSqlSafe(format!(
            "SELECT set_config('printyx.tenant_id', '{A}', true)"
        )))
        .await
        .unwrap();
        let all = count(&mut tx, format!("SELECT COUNT(*) FROM {table}")).await;
        let mine = count(
            &mut tx,
            format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = {A}"),
        )
        .await;
        assert!(
            mine > 0 && all == mine,
            "{table}: tenant A sees {all} rows, {mine} of them its own"
        );

        let updated = tx
            .execute(AssertSqlSafe(format!(
                "UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = {B}"
            )))
            .await;
        let deleted = tx
            .execute(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = {B}"
            )))
            .await;
        for (what, r) in [("UPDATE", updated), ("DELETE", deleted)] {
            match r {
                Ok(done) => assert_eq!(
                    done.rows_affected(),
                    0,
                    "{what} reached tenant B's rows in {table}"
                ),
                // audit_log: the role has no UPDATE/DELETE at all
                Err(e) => {
                    assert_eq!(table, "audit_log", "{what} on {table} failed: {e}");
                    break;
                }
            }
        }
        tx.rollback().await.unwrap();

        // a copy of A's row relabelled as B's is refused by the policy
        let cols: Vec<String> = s.columns[table].iter().map(|c| c.name.clone()).collect();
        let select = cols
            .iter()
            .map(|c| {
                if c == "tenant_id" {
                    B.to_string()
                } else {
                    c.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut tx = app.begin().await.unwrap();
        tx.execute(AssertSqlSafe(format!(
            "SELECT set_config('printyx.tenant_id', '{A}', true)"
        )))
        .await
        .unwrap();
        let insert = format!(
            "INSERT INTO {table} ({}) SELECT {select} FROM {table} WHERE tenant_id = {A} LIMIT 1",
            cols.join(", ")
        );
        let err = tx
            .execute(AssertSqlSafe(insert.clone()))
            .await
            .expect_err(&insert);
        assert!(
            matches!(DbError::from(err), DbError::OutsideTenant(_)),
            "{insert}"
        );
        tx.rollback().await.unwrap();
    }
}

/// PostgreSQL: a query that forgot to set the tenant sees no rows of any tenant table.
async fn postgres_without_a_tenant_nothing_is_visible(t: TestDb) {
    if t.backend != Backend::Postgres {
        return;
    }
    let (_admin, s) = seeded(&t).await;
    let mut app = t.db.pool().acquire().await.unwrap();
    for table in s.tables().filter(|t| *t != "tenants") {
        let n = count(&mut app, format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, 0, "{table} shows {n} rows without a tenant set");
    }
    // set in an earlier transaction and reset since: still nothing
    let mut tx = app.begin().await.unwrap();
    tx.execute(AssertSqlSafe(format!(
        "SELECT set_config('printyx.tenant_id', '{A}', true)"
    )))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        count(&mut app, "SELECT COUNT(*) FROM accounts".into()).await,
        0
    );
}

backends!(
    seed_reaches_every_table,
    every_key_includes_the_tenant,
    a_row_cannot_point_at_another_tenants_row,
    postgres_row_level_security_walls_off_every_table,
    postgres_without_a_tenant_nothing_is_visible,
);

/// SQLite has no row-level security, so the storage code is the wall: every statement in the
/// portal's stores that touches a tenant table must constrain or set tenant_id.
#[test]
fn storage_sql_always_names_the_tenant() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let schema = concat!(
        include_str!("../../../migrations/sqlite/0001_schema.sql"),
        include_str!("../../../migrations/sqlite/0002_sign_in.sql"),
    );
    let tables: Vec<&str> = schema
        .lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| *t != "tenants")
        .collect();
    let mut statements = 0;
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, piece) in text.split("sqlx::query").skip(1).enumerate() {
                // the SQL argument ends where the builder calls begin
                let end = [".bind(", ".fetch", ".execute("]
                    .iter()
                    .filter_map(|m| piece.find(m))
                    .min()
                    .unwrap_or(piece.len());
                // SQL built by a macro of the same file (`facts_sql!(…)`) is read with the
                // macro's body, where the tables are named
                let mut sql = piece[..end].to_owned();
                for (name, body) in macro_bodies(&text) {
                    if sql.contains(&format!("{name}!(")) {
                        sql.push_str(&body);
                    }
                }
                let sql = sql.as_str();
                let touches = tables.iter().any(|t| {
                    [" FROM ", " JOIN ", "UPDATE ", "INTO "]
                        .iter()
                        .any(|kw| sql.contains(&format!("{kw}{t} ")))
                });
                if touches {
                    statements += 1;
                    assert!(
                        sql.contains("tenant_id"),
                        "{}: statement #{} touches a tenant table without tenant_id:\n{sql}",
                        path.display(),
                        i + 1
                    );
                }
            }
            // statements written as string constants elsewhere (a list run in a loop)
            for literal in text.split('"').skip(1).step_by(2) {
                let starts_sql = ["SELECT ", "DELETE FROM ", "UPDATE ", "INSERT INTO "]
                    .iter()
                    .any(|kw| literal.starts_with(kw));
                let touches = tables.iter().any(|t| {
                    [" FROM ", " JOIN ", "UPDATE ", "INTO "]
                        .iter()
                        .any(|kw| literal.contains(&format!("{kw}{t} ")))
                });
                if starts_sql && touches {
                    assert!(
                        literal.contains("tenant_id"),
                        "{}: a statement touches a tenant table without tenant_id:\n{literal}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        statements > 30,
        "only {statements} statements found: is the scan still finding the SQL?"
    );
}

/// `macro_rules! name { … }` of a source file: (name, body up to the next item).
fn macro_bodies(text: &str) -> Vec<(String, String)> {
    text.split("macro_rules! ")
        .skip(1)
        .filter_map(|rest| {
            let (name, body) = rest.split_once(' ')?;
            let end = body.find("\n}\n").unwrap_or(body.len());
            Some((name.to_owned(), body[..end].to_owned()))
        })
        .collect()
}
