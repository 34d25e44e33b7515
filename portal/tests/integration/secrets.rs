//! Secrets at rest: sealed values in the database, bound to where they are stored, and
//! rotated to a new key. Both databases.

use crate::backends;
use crate::harness::{TEST_SECRET_KEY, TestDb};
use portal::db::DbError;
use portal::secrets::Keyring;

const OTHER_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

async fn sealed_values_open_only_where_they_were_stored(t: TestDb) {
    let keys = Keyring::new(Some(TEST_SECRET_KEY), &[]).unwrap();
    let a = t.tenant("acme").await;
    let b = t.tenant("bravo").await;
    a.run(async |tx| tx.put_secret(&keys, "imap.main", b"hunter2").await)
        .await
        .unwrap();
    b.run(async |tx| tx.put_secret(&keys, "imap.main", b"swordfish").await)
        .await
        .unwrap();
    assert_eq!(
        a.read(async |tx| tx.secret(&keys, "imap.main").await)
            .await
            .unwrap(),
        b"hunter2"
    );

    // nothing readable in the table itself
    let mut c = t.admin().await;
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar::<sqlx::Any, Vec<u8>>("SELECT ciphertext FROM secrets")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|c| !c.windows(7).any(|w| w == b"hunter2"))
    );

    // a ciphertext copied onto another tenant's row (or another name) does not open
    sqlx::query::<sqlx::Any>(sqlx::AssertSqlSafe(format!(
        "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE tenant_id = {a}), \
           nonce = (SELECT nonce FROM secrets WHERE tenant_id = {a}) WHERE tenant_id = {b}",
        a = a.tenant_id().0,
        b = b.tenant_id().0
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let moved = b.read(async |tx| tx.secret(&keys, "imap.main").await).await;
    assert!(matches!(moved, Err(DbError::Refused(m)) if m.contains("altered or moved")));

    // replacing a secret keeps one row; an unknown name is not found
    a.run(async |tx| tx.put_secret(&keys, "imap.main", b"correct horse").await)
        .await
        .unwrap();
    assert_eq!(
        a.read(async |tx| tx.secret(&keys, "imap.main").await)
            .await
            .unwrap(),
        b"correct horse"
    );
    assert!(matches!(
        a.read(async |tx| tx.secret(&keys, "nope").await).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        a.run(async |tx| tx.put_secret(&keys, "bad name!", b"x").await)
            .await,
        Err(DbError::Refused(_))
    ));
}

async fn rotation_reseals_secrets_and_two_factor_seeds(t: TestDb) {
    let old = Keyring::new(Some(TEST_SECRET_KEY), &[]).unwrap();
    let db = t.tenant("acme").await;
    let user = db
        .run(async |tx| {
            crate::harness::active_user(
                tx,
                portal::users::UserKind::Staff,
                "ada@dealer.test",
                "admin",
            )
            .await
        })
        .await
        .unwrap();
    db.run(async |tx| {
        tx.put_secret(&old, "imap.main", b"hunter2").await?;
        tx.begin_totp(&old, user).await?;
        Ok(())
    })
    .await
    .unwrap();
    let seed = db
        .read(async |tx| tx.pending_totp_seed(&old, user).await)
        .await
        .unwrap()
        .unwrap();

    let rotating = Keyring::new(Some(OTHER_KEY), &[TEST_SECRET_KEY.to_owned()]).unwrap();
    let n = db
        .run(async |tx| tx.rotate_secrets(&rotating).await)
        .await
        .unwrap();
    assert_eq!(n, 2, "the named secret and the seed");
    assert_eq!(
        db.run(async |tx| tx.rotate_secrets(&rotating).await)
            .await
            .unwrap(),
        0
    );

    let new_only = Keyring::new(Some(OTHER_KEY), &[]).unwrap();
    assert_eq!(
        db.read(async |tx| tx.secret(&new_only, "imap.main").await)
            .await
            .unwrap(),
        b"hunter2"
    );
    assert_eq!(
        db.read(async |tx| tx.pending_totp_seed(&new_only, user).await)
            .await
            .unwrap()
            .unwrap(),
        seed
    );
    assert!(
        db.read(async |tx| tx.secret(&old, "imap.main").await)
            .await
            .is_err(),
        "the old key alone no longer opens it"
    );
}

backends!(
    sealed_values_open_only_where_they_were_stored,
    rotation_reseals_secrets_and_two_factor_seeds,
);
