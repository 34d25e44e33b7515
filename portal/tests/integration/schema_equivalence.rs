//! The two migration series must mean the same thing. This is how that is checked: migrate a
//! SQLite and a PostgreSQL database, read both schemas back and compare tables, columns (name,
//! type class, nullability, order), primary/unique keys, foreign keys and named indexes.
//! (SQLite's rowid `id` stands for PostgreSQL's identity column; both have (tenant_id, id) as
//! a key.) CHECK constraints are compared by behaviour in the store tests, not by text.

use crate::harness::TestDb;
use crate::schema;
use portal::db::Backend;

#[test]
fn both_series_have_the_same_migration_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let names = |sub: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}

#[tokio::test]
async fn sqlite_and_postgres_define_the_same_schema() {
    let lite = TestDb::new(Backend::Sqlite).await;
    let pg = TestDb::new(Backend::Postgres).await;
    let a = schema::read(&mut lite.admin().await, Backend::Sqlite).await;
    let b = schema::read(&mut pg.admin().await, Backend::Postgres).await;

    let ta: Vec<_> = a.tables().collect();
    let tb: Vec<_> = b.tables().collect();
    assert_eq!(ta, tb, "the two series create different tables");
    assert!(
        ta.len() >= 50,
        "expected the whole product schema, found {} tables",
        ta.len()
    );
    for t in ta {
        assert_eq!(
            a.columns[t], b.columns[t],
            "columns of {t} differ (left SQLite, right PostgreSQL)"
        );
        // SQLite's rowid `id` is unique by itself; PostgreSQL's identity id is keyed with the
        // tenant. Where SQLite has both (id) and (tenant_id, id), (id) is that rowid form.
        let mut lite_keys = a.unique_keys.get(t).cloned().unwrap_or_default();
        let tenant_id_key = vec!["tenant_id".to_owned(), "id".to_owned()];
        if lite_keys.contains(&tenant_id_key) {
            lite_keys.remove(&vec!["id".to_owned()]);
        }
        assert_eq!(
            Some(&lite_keys),
            b.unique_keys.get(t),
            "primary/unique keys of {t} differ (left SQLite, right PostgreSQL)"
        );
    }
    let only_a: Vec<_> = a.foreign_keys.difference(&b.foreign_keys).collect();
    let only_b: Vec<_> = b.foreign_keys.difference(&a.foreign_keys).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "foreign keys only in SQLite: {only_a:#?}\nonly in PostgreSQL: {only_b:#?}"
    );
    assert_eq!(
        a.indexes, b.indexes,
        "named indexes differ (left SQLite, right PostgreSQL)"
    );
}
