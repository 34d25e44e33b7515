//! Reads the migrated schema back from the database, the same shape for both backends, so
//! tests can compare the two series and sweep every table.

use portal::db::Backend;
use sqlx::{Any, AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub name: String,
    /// int, text, float or blob
    pub class: String,
    pub not_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    pub child: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub columns: BTreeMap<String, Vec<Column>>,
    pub foreign_keys: BTreeSet<ForeignKey>,
    /// Every primary or unique key, as column lists per table.
    pub unique_keys: BTreeMap<String, BTreeSet<Vec<String>>>,
    /// Explicitly created indexes: name → (table, columns).
    pub indexes: BTreeMap<String, (String, Vec<String>)>,
}

impl Schema {
    pub fn tables(&self) -> impl Iterator<Item = &String> {
        self.columns.keys()
    }
}

fn class_of(declared: &str) -> String {
    let d = declared.to_ascii_lowercase();
    match d.as_str() {
        "integer" | "bigint" | "smallint" => "int",
        "text" => "text",
        "real" | "double precision" => "float",
        "blob" | "bytea" => "blob",
        other => panic!("column type {other} is outside the schema conventions"),
    }
    .to_owned()
}

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn strings(
    c: &mut AnyConnection,
    sql: &'static str,
    arg: Option<&str>,
) -> Vec<sqlx::any::AnyRow> {
    let q = sqlx::query::<Any>(sql);
    let q = match arg {
        Some(a) => q.bind(a.to_owned()),
        None => q,
    };
    q.fetch_all(c).await.unwrap()
}

pub async fn read(c: &mut AnyConnection, backend: Backend) -> Schema {
    match backend {
        Backend::Sqlite => read_sqlite(c).await,
        Backend::Postgres => read_postgres(c).await,
    }
}

async fn read_sqlite(c: &mut AnyConnection) -> Schema {
    let mut s = Schema::default();
    let tables: Vec<String> = strings(
        c,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
        None,
    )
    .await
    .iter()
    .map(|r| r.get(0))
    .collect();
    for t in &tables {
        let cols = strings(
            c,
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
            Some(t),
        )
        .await;
        let mut out = Vec::new();
        for r in &cols {
            let declared: String = r.get(1);
            let pk: i64 = r.get(3);
            let is_rowid = pk == 1
                && declared == "INTEGER"
                && cols.iter().filter(|c| c.get::<i64, _>(3) > 0).count() == 1;
            out.push(Column {
                name: r.get(0),
                class: class_of(&declared),
                not_null: r.get::<i64, _>(2) == 1 || is_rowid,
            });
        }
        s.columns.insert(t.clone(), out.clone());

        let fks = strings(c, "SELECT \"id\", \"table\", \"from\", \"to\" FROM pragma_foreign_key_list($1) ORDER BY \"id\", \"seq\"", Some(t)).await;
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for r in &fks {
            let fk = by_id.entry(r.get(0)).or_insert_with(|| ForeignKey {
                child: t.clone(),
                columns: vec![],
                parent: r.get(1),
                parent_columns: vec![],
            });
            fk.columns.push(r.get(2));
            fk.parent_columns.push(r.get(3));
        }
        s.foreign_keys.extend(by_id.into_values());

        let mut keys = BTreeSet::new();
        if let Some(rowid) = out.iter().zip(&cols).find(|(_, r)| {
            r.get::<i64, _>(3) == 1
                && r.get::<String, _>(1) == "INTEGER"
                && cols.iter().filter(|c| c.get::<i64, _>(3) > 0).count() == 1
        }) {
            keys.insert(vec![rowid.0.name.clone()]);
        }
        for r in strings(
            c,
            "SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 1",
            Some(t),
        )
        .await
        {
            let idx: String = r.get(0);
            let cols: Vec<String> = strings(
                c,
                "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
                Some(&idx),
            )
            .await
            .iter()
            .map(|r| r.get(0))
            .collect();
            keys.insert(cols);
        }
        s.unique_keys.insert(t.clone(), keys);
    }
    for r in strings(
        c,
        // a unique index is how SQLite adds a unique key to an existing table (PostgreSQL: a
        // constraint); it is read with the keys above, not as an index
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
           AND sql NOT LIKE 'CREATE UNIQUE INDEX%'",
        None,
    )
    .await
    {
        let name: String = r.get(0);
        let cols: Vec<String> = strings(
            c,
            "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
            Some(&name),
        )
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
        s.indexes.insert(name, (r.get(1), cols));
    }
    s
}

async fn read_postgres(c: &mut AnyConnection) -> Schema {
    let mut s = Schema::default();
    for r in strings(
        c,
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position",
        None,
    )
    .await
    {
        let declared: String = r.get(2);
        s.columns.entry(r.get(0)).or_default().push(Column {
            name: r.get(1),
            class: class_of(&declared),
            not_null: r.get::<String, _>(3) == "NO",
        });
    }
    for r in strings(
        c,
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, \
           array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS u(n, o) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = u.n ORDER BY u.o), ','), \
           array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS u(n, o) \
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = u.n ORDER BY u.o), ',') \
         FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
        None,
    )
    .await
    {
        s.foreign_keys.insert(ForeignKey {
            child: r.get(0),
            parent: r.get(1),
            columns: split(&r.get::<String, _>(2)),
            parent_columns: split(&r.get::<String, _>(3)),
        });
    }
    for r in strings(
        c,
        "SELECT c.conrelid::regclass::text, \
           array_to_string(ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS u(n, o) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = u.n ORDER BY u.o), ',') \
         FROM pg_constraint c WHERE c.contype IN ('p', 'u') AND c.connamespace = current_schema()::regnamespace \
           AND c.conrelid::regclass::text <> '_sqlx_migrations'",
        None,
    )
    .await
    {
        s.unique_keys.entry(r.get(0)).or_default().insert(split(&r.get::<String, _>(1)));
    }
    for r in strings(
        c,
        "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, \
           array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(n, o) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.n ORDER BY u.o), ',') \
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         WHERE t.relnamespace = current_schema()::regnamespace \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        None,
    )
    .await
    {
        s.indexes.insert(r.get(0), (r.get(1), split(&r.get::<String, _>(2))));
    }
    s
}
