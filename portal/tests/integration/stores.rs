//! The storage functions for the core entities, each body run on SQLite and on PostgreSQL.

use crate::backends;
use crate::harness::{T0, TestDb};
use ingest::domain::{
    EmailAddress, MacAddress, MeterKind, MeterValue, Outcome, ReadingSource, ReadingStatus, Reason,
    STANDARD_METER_KINDS, SerialNumber,
};
use portal::accounts::{AccountChanges, AccountStatus, Address, NewAccount, NewContact};
use portal::auth::Permission;
use portal::db::{DbError, TenantDb};
use portal::equipment::NewEquipment;
use portal::ids::{AccountId, EquipmentId};
use portal::readings::{NewReading, ReadingQuery, Stored};
use portal::tenants::TenantSlug;
use portal::users::{NewUser, UserKind};

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn address() -> Address {
    Address::new("1 Main St", None, "Springfield", Some("IL"), "62701", "US").unwrap()
}

async fn account(db: &TenantDb, number: &str) -> AccountId {
    db.run(async |tx| {
        tx.create_account(&NewAccount::new(number, "Acme Dental")?)
            .await
    })
    .await
    .unwrap()
    .id
}

async fn device(db: &TenantDb, account: AccountId, serial: &str) -> EquipmentId {
    let new = NewEquipment::new(
        account,
        SerialNumber::parse(serial).unwrap(),
        "Ricoh",
        "MP C3004",
    )
    .unwrap();
    db.run(async |tx| tx.create_equipment(&new).await)
        .await
        .unwrap()
        .id
}

fn reading(equipment: EquipmentId, value: i64, read_at: i64, key: &str) -> NewReading {
    NewReading {
        equipment_id: equipment,
        meter_kind: MeterKind::total(),
        segment: 0,
        value: MeterValue::new(value).unwrap(),
        read_at,
        source: ReadingSource::AgentSnmp,
        status: ReadingStatus::Accepted,
        reasons: vec![],
        confidence: None,
        evidence_id: None,
        idempotency_key: key.to_owned(),
        agent_id: None,
        submitted_by: None,
    }
}

async fn tenants_are_created_ready_to_use(t: TestDb) {
    let slug = TenantSlug::parse("acme").unwrap();
    let tenant = t.db.create_tenant(&slug, "ACME Copiers").await.unwrap();
    assert_eq!(tenant.created_at, T0);
    assert_eq!(t.db.tenant_by_slug(&slug).await.unwrap(), tenant);
    assert!(matches!(
        t.db.create_tenant(&slug, "Again").await,
        Err(DbError::Conflict(_))
    ));
    assert!(matches!(
        t.db.tenant_by_slug(&TenantSlug::parse("nobody").unwrap())
            .await,
        Err(DbError::NotFound)
    ));
    let db = t.db.tenant(tenant.id);
    let roles = db.run(async |tx| tx.roles().await).await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin",
            "service",
            "billing",
            "account_admin",
            "account_user"
        ]
    );
    assert!(roles.iter().all(|r| r.builtin));
    let (own, first_role) = db
        .run(async |tx| Ok((tx.tenant().await?, tx.role(roles[0].id).await?)))
        .await
        .unwrap();
    assert_eq!(own, tenant, "a handle reads its own directory row");
    assert_eq!(first_role, roles[0]);
    // the standard meter kinds exist: a reading of each kind can be stored
    let acc = account(&db, "A-1").await;
    let eq = device(&db, acc, "E1").await;
    for (i, (code, _, _)) in STANDARD_METER_KINDS.iter().enumerate() {
        let mut r = reading(eq, 10, T0, &format!("k{i}"));
        r.meter_kind = MeterKind::parse(code).unwrap();
        db.run(async |tx| tx.insert_reading(&r).await)
            .await
            .unwrap();
    }
    assert_eq!(t.db.list_tenants().await.unwrap().len(), 1);
}

async fn the_database_refuses_what_the_types_refuse(t: TestDb) {
    // a second wall under the newtypes: the schema's CHECKs, on both backends alike
    let mut admin = t.admin().await;
    use sqlx::Executor;
    for bad in ["Upper", "-dash", "with space", ""] {
        let r = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "INSERT INTO tenants (slug, name, created_at) VALUES ('{bad}', 'x', 0)"
            )))
            .await;
        assert!(r.is_err(), "slug {bad:?} was accepted by the database");
    }
    let db = t.tenant("checks").await;
    let acc = account(&db, "A-1").await;
    let eq = device(&db, acc, "E1").await;
    let mut r = reading(eq, 10, T0, "x");
    r.meter_kind = MeterKind::parse("nonexistent_kind").unwrap();
    let err = db
        .run(async |tx| tx.insert_reading(&r).await)
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Refused(_)), "{err:?}");
    let err = db
        .run(async |tx| tx.set_equipment_status(eq, "exploded").await)
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Refused(_)), "{err:?}");
}

async fn accounts_sites_and_contacts(t: TestDb) {
    let db = t.tenant("acme").await;
    let parent = account(&db, "HQ-1").await;
    let child = db
        .run(async |tx| {
            tx.create_account(
                &NewAccount::new("BR-2", "Acme Branch")?
                    .parent(parent)
                    .billing_email(email("ap@acme.test")),
            )
            .await
        })
        .await
        .unwrap();
    assert_eq!(child.parent_id, Some(parent));
    assert_eq!(child.status, AccountStatus::Active);
    assert!(!child.autopay);

    // numbers are unique per tenant
    let dup = db
        .run(async |tx| tx.create_account(&NewAccount::new("HQ-1", "Other")?).await)
        .await;
    assert!(matches!(dup, Err(DbError::Conflict(_))), "{dup:?}");

    t.clock.advance_ms(1_000);
    let changes = AccountChanges {
        status: Some(AccountStatus::OnHold),
        billing_email: Some(None),
        autopay: Some(true),
        ..AccountChanges::default()
    };
    let updated = db
        .run(async |tx| tx.update_account(child.id, &changes).await)
        .await
        .unwrap();
    assert_eq!(updated.status, AccountStatus::OnHold);
    assert_eq!(updated.billing_email, None);
    assert!(updated.autopay);
    assert_eq!(updated.name, "Acme Branch");
    assert_eq!(updated.updated_at, T0 + 1_000);

    let (children, page1, page2) = db
        .run(async |tx| {
            Ok((
                tx.child_accounts(parent).await?,
                tx.list_accounts(None, 1).await?,
                tx.list_accounts(Some(parent), 10).await?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        children.iter().map(|a| a.id).collect::<Vec<_>>(),
        [child.id]
    );
    assert_eq!(page1.iter().map(|a| a.id).collect::<Vec<_>>(), [parent]);
    assert_eq!(page2.iter().map(|a| a.id).collect::<Vec<_>>(), [child.id]);

    let site = db
        .run(async |tx| tx.create_site(parent, "Head office", &address()).await)
        .await
        .unwrap();
    assert_eq!(site.address.country, "US");
    let sites = db.run(async |tx| tx.sites_of(parent).await).await.unwrap();
    assert_eq!(sites, std::slice::from_ref(&site));
    assert_eq!(
        db.run(async |tx| tx.site(site.id).await).await.unwrap(),
        site
    );

    let c = NewContact::new("Mia Meters", Some(email("Mia@Acme.test")), "meters")
        .unwrap()
        .phone("+1 555 0100")
        .unwrap();
    let contact = db
        .run(async |tx| tx.create_contact(parent, &c).await)
        .await
        .unwrap();
    assert!(contact.receives_meter_requests);
    assert_eq!(contact.email, Some(email("mia@acme.test")));
    let found = db
        .run(async |tx| tx.contacts_by_email(&email("mia@acme.test")).await)
        .await
        .unwrap();
    assert_eq!(found, std::slice::from_ref(&contact));
    assert_eq!(
        db.run(async |tx| tx.contacts_of(parent).await)
            .await
            .unwrap(),
        std::slice::from_ref(&contact)
    );
    db.run(async |tx| tx.delete_contact(contact.id).await)
        .await
        .unwrap();
    assert!(matches!(
        db.run(async |tx| tx.contact(contact.id).await).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        db.run(async |tx| tx.delete_contact(contact.id).await).await,
        Err(DbError::NotFound)
    ));
}

async fn users_roles_and_permissions(t: TestDb) {
    let db = t.tenant("acme").await;
    let acc = account(&db, "A-1").await;
    let (staff, customer) = db
        .run(async |tx| {
            let admin = tx.role_by_name("admin").await?;
            let user_role = tx.role_by_name("account_user").await?;
            let staff = tx
                .create_user(
                    &NewUser::new(UserKind::Staff, email("ada@dealer.test"), "Ada")?
                        .password_hash("$argon2id$x".into()),
                    &[admin.id],
                )
                .await?;
            let customer = tx
                .create_user(
                    &NewUser::new(UserKind::Customer(acc), email("cy@acme.test"), "Cy")?,
                    &[user_role.id],
                )
                .await?;
            Ok((staff, customer))
        })
        .await
        .unwrap();
    assert_eq!(staff.status, "active");
    assert_eq!(customer.status, "invited", "no password yet");
    assert_eq!(customer.kind, UserKind::Customer(acc));

    let (staff_perms, customer_perms) = db
        .run(async |tx| {
            Ok((
                tx.permissions_of(staff.id).await?,
                tx.permissions_of(customer.id).await?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(staff_perms.len(), Permission::ALL.len());
    assert!(customer_perms.contains(&Permission::ReadingsSubmit));
    assert!(!customer_perms.contains(&Permission::ReadingsReview));

    // a customer user cannot hold a staff role, and e-mails are unique per tenant
    let err = db
        .run(async |tx| {
            let admin = tx.role_by_name("admin").await?;
            tx.grant_role(customer.id, admin.id).await
        })
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Refused(_)), "{err:?}");
    let dup = db
        .run(async |tx| {
            tx.create_user(
                &NewUser::new(UserKind::Staff, email("ADA@dealer.test"), "Ada 2")?,
                &[],
            )
            .await
        })
        .await;
    assert!(matches!(dup, Err(DbError::Conflict(_))), "{dup:?}");

    db.run(async |tx| tx.set_password_hash(customer.id, "$argon2id$y").await)
        .await
        .unwrap();
    let (hash, again, by_email, listed, of_account) = db
        .run(async |tx| {
            Ok((
                tx.password_hash_of(customer.id).await?,
                tx.user(customer.id).await?,
                tx.user_by_email(&email("cy@acme.test")).await?,
                tx.list_users(None, 10).await?,
                tx.users_of_account(acc).await?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$y"));
    assert_eq!(again.status, "active");
    assert_eq!(by_email.id, customer.id);
    assert_eq!(listed.len(), 2);
    assert_eq!(
        of_account.iter().map(|u| u.id).collect::<Vec<_>>(),
        [customer.id]
    );
}

async fn equipment_is_found_by_serial_mac_and_tag(t: TestDb) {
    let db = t.tenant("acme").await;
    let acc = account(&db, "A-1").await;
    let other = account(&db, "A-2").await;
    let site = db
        .run(async |tx| tx.create_site(acc, "HQ", &address()).await)
        .await
        .unwrap();
    let new = NewEquipment::new(
        acc,
        SerialNumber::parse("E174M-0I234").unwrap(),
        "Ricoh",
        "MP C3004",
    )
    .unwrap()
    .site(site.id)
    .mac(MacAddress::parse("00-1B-A9-12-34-56").unwrap())
    .asset_tag("ASSET-7")
    .unwrap()
    .install_date("2025-06-30")
    .unwrap();
    let eq = db
        .run(async |tx| tx.create_equipment(&new).await)
        .await
        .unwrap();
    assert_eq!(eq.serial.as_str(), "E174M-0I234");
    assert_eq!(
        eq.mac.as_ref().map(MacAddress::as_str),
        Some("00:1b:a9:12:34:56")
    );

    let typed = SerialNumber::parse("e174m o1234").unwrap();
    let by_serial = db
        .run(async |tx| tx.equipment_by_serial(&typed).await)
        .await
        .unwrap();
    assert_eq!(
        by_serial.map(|e| e.id),
        Some(eq.id),
        "O/0 and I/1 variants find the device"
    );
    let mac = MacAddress::parse("001ba9123456").unwrap();
    assert_eq!(
        db.run(async |tx| tx.equipment_by_mac(&mac).await)
            .await
            .unwrap(),
        std::slice::from_ref(&eq)
    );
    assert_eq!(
        db.run(async |tx| tx.equipment_by_asset_tag("ASSET-7").await)
            .await
            .unwrap(),
        std::slice::from_ref(&eq)
    );

    // the same serial key twice is a conflict; a site of another account is refused
    let twin = NewEquipment::new(
        other,
        SerialNumber::parse("E174M0I234").unwrap(),
        "Ricoh",
        "X",
    )
    .unwrap();
    assert!(matches!(
        db.run(async |tx| tx.create_equipment(&twin).await).await,
        Err(DbError::Conflict(_))
    ));
    let misplaced = NewEquipment::new(other, SerialNumber::parse("Z9").unwrap(), "Ricoh", "X")
        .unwrap()
        .site(site.id);
    assert!(matches!(
        db.run(async |tx| tx.create_equipment(&misplaced).await)
            .await,
        Err(DbError::Refused(_))
    ));

    db.run(async |tx| {
        tx.record_equipment_report(eq.id, Some("10.0.0.7"), T0 + 50)
            .await
    })
    .await
    .unwrap();
    db.run(async |tx| tx.record_equipment_report(eq.id, None, T0 + 10).await)
        .await
        .unwrap();
    db.run(async |tx| tx.set_equipment_status(eq.id, "inactive").await)
        .await
        .unwrap();
    let e = db.run(async |tx| tx.equipment(eq.id).await).await.unwrap();
    assert_eq!(e.last_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(
        e.last_reported_at,
        Some(T0 + 50),
        "an older report does not move it back"
    );
    assert_eq!(e.status, "inactive");

    let second = device(&db, acc, "E2").await;
    let page = db
        .run(async |tx| tx.equipment_of_account(acc, Some(eq.id), 10).await)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [second]);
}

async fn readings_are_stored_once_per_key_with_their_reasons(t: TestDb) {
    let db = t.tenant("acme").await;
    let acc = account(&db, "A-1").await;
    let eq = device(&db, acc, "E1").await;
    let evidence = db
        .run(async |tx| {
            tx.create_evidence(
                "snmp",
                "prtMarkerLifeCount.1.1 = 1000",
                Some("[{\"oid\":\"1.3.6.1.2.1.43.10.2.1.4.1.1\"}]"),
            )
            .await
        })
        .await
        .unwrap();
    let mut first = reading(eq, 1_000, T0, "agent-1:r1");
    first.evidence_id = Some(evidence.id);
    first.confidence = Some(0.98);
    let stored = db
        .run(async |tx| tx.insert_reading(&first).await)
        .await
        .unwrap();
    let Stored::New(r1) = stored else {
        panic!("first insert must be new")
    };
    assert_eq!(r1.received_at, T0);
    assert_eq!(r1.evidence_id, Some(evidence.id));
    assert_eq!(
        db.run(async |tx| tx.evidence(evidence.id).await)
            .await
            .unwrap(),
        evidence
    );

    // the same key again: the stored reading comes back, nothing new is written
    let mut resent = first.clone();
    resent.value = MeterValue::new(999).unwrap();
    let again = db
        .run(async |tx| tx.insert_reading(&resent).await)
        .await
        .unwrap();
    assert_eq!(again, Stored::Duplicate(r1.clone()));

    let mut flagged = reading(eq, 900, T0 + 86_400_000, "agent-1:r2");
    flagged.status = ReadingStatus::Review;
    flagged.reasons = vec![Reason::new(
        "monotonic",
        Outcome::Flag,
        "lower than 1000 read on the day before",
    )];
    let Stored::New(r2) = db
        .run(async |tx| tx.insert_reading(&flagged).await)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r2.reasons, flagged.reasons);

    let latest = db
        .run(async |tx| {
            tx.latest_reading(eq, &MeterKind::total(), ReadingStatus::Accepted)
                .await
        })
        .await
        .unwrap();
    assert_eq!(
        latest.map(|r| r.id),
        Some(r1.id),
        "a reading under review is not the latest accepted"
    );

    let decided = vec![Reason::new(
        "review",
        Outcome::Reject,
        "misread by the customer",
    )];
    let rejected = db
        .run(async |tx| {
            tx.set_reading_status(r2.id, ReadingStatus::Rejected, &decided)
                .await
        })
        .await
        .unwrap();
    assert_eq!(rejected.status, ReadingStatus::Rejected);
    assert_eq!(rejected.reasons, decided);

    for i in 0..5 {
        db.run(async |tx| {
            tx.insert_reading(&reading(
                eq,
                2_000 + i,
                T0 + 1_000 * (i + 10) * 86_400,
                &format!("p{i}"),
            ))
            .await
        })
        .await
        .unwrap();
    }
    let page1 = db
        .run(async |tx| {
            tx.readings_of(
                eq,
                &ReadingQuery {
                    limit: 3,
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    let last = page1.last().unwrap();
    let page2 = db
        .run(async |tx| {
            tx.readings_of(
                eq,
                &ReadingQuery {
                    limit: 10,
                    after: Some((last.read_at, last.id)),
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    assert_eq!(page1.len() + page2.len(), 7);
    let times: Vec<i64> = page1.iter().chain(&page2).map(|r| r.read_at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "time order across pages: {times:?}"
    );
    let windowed = db
        .run(async |tx| {
            tx.readings_of(
                eq,
                &ReadingQuery {
                    from_ms: Some(T0 + 1),
                    to_ms: Some(T0 + 86_400_001),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    assert_eq!(windowed.iter().map(|r| r.id).collect::<Vec<_>>(), [r2.id]);
    let mono = db
        .run(async |tx| {
            tx.readings_of(
                eq,
                &ReadingQuery {
                    meter_kind: Some(MeterKind::mono()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
        })
        .await
        .unwrap();
    assert!(mono.is_empty());

    let bad = NewReading {
        confidence: Some(1.5),
        ..reading(eq, 1, T0, "bad")
    };
    assert!(matches!(
        db.run(async |tx| tx.insert_reading(&bad).await).await,
        Err(DbError::Refused(_))
    ));
}

/// Through the API: tenant A's handle cannot see, change or point at tenant B's objects, and B's
/// objects are unchanged afterwards.
async fn a_tenant_handle_cannot_reach_another_tenant(t: TestDb) {
    let a = t.tenant("tenant-a").await;
    let b = t.tenant("tenant-b").await;
    let b_acc = account(&b, "B-1").await;
    let b_eq = device(&b, b_acc, "SHARED-SERIAL").await;
    let (b_site, b_contact, b_user, b_reading) = b
        .run(async |tx| {
            let site = tx.create_site(b_acc, "B site", &address()).await?;
            let contact = tx
                .create_contact(
                    b_acc,
                    &NewContact::new("B person", Some(email("b@b.test")), "general")?,
                )
                .await?;
            let role = tx.role_by_name("account_user").await?;
            let user = tx
                .create_user(
                    &NewUser::new(UserKind::Customer(b_acc), email("u@b.test"), "B user")?,
                    &[role.id],
                )
                .await?;
            let Stored::New(r) = tx.insert_reading(&reading(b_eq, 5, T0, "b-r1")).await? else {
                unreachable!()
            };
            Ok((site, contact, user, r))
        })
        .await
        .unwrap();
    let before = b.run(async |tx| tx.account(b_acc).await).await.unwrap();

    let not_found = |r: Result<_, DbError>| matches!(r, Err(DbError::NotFound));
    assert!(not_found(
        a.run(async |tx| tx.account(b_acc).await.map(|_| ())).await
    ));
    assert!(not_found(
        a.run(async |tx| tx
            .update_account(
                b_acc,
                &AccountChanges {
                    name: Some("hijacked".into()),
                    ..Default::default()
                }
            )
            .await
            .map(|_| ()))
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.site(b_site.id).await.map(|_| ())).await
    ));
    assert!(not_found(
        a.run(async |tx| tx.contact(b_contact.id).await.map(|_| ()))
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.delete_contact(b_contact.id).await)
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.user(b_user.id).await.map(|_| ())).await
    ));
    assert!(not_found(
        a.run(async |tx| tx.set_password_hash(b_user.id, "x").await)
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.equipment(b_eq).await.map(|_| ())).await
    ));
    assert!(not_found(
        a.run(async |tx| tx.set_equipment_status(b_eq, "removed").await)
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.record_equipment_report(b_eq, Some("1.2.3.4"), T0).await)
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx.reading(b_reading.id).await.map(|_| ()))
            .await
    ));
    assert!(not_found(
        a.run(async |tx| tx
            .set_reading_status(b_reading.id, ReadingStatus::Rejected, &[])
            .await
            .map(|_| ()))
            .await
    ));

    // lookups by natural keys come back empty
    let found = a
        .run(async |tx| {
            Ok((
                tx.equipment_by_serial(&SerialNumber::parse("SHARED-SERIAL")?)
                    .await?,
                tx.contacts_by_email(&email("b@b.test")).await?,
                tx.list_accounts(None, 100).await?,
                tx.equipment_of_account(b_acc, None, 100).await?,
                tx.readings_of(
                    b_eq,
                    &ReadingQuery {
                        limit: 100,
                        ..Default::default()
                    },
                )
                .await?,
                tx.users_of_account(b_acc).await?,
            ))
        })
        .await
        .unwrap();
    assert!(found.0.is_none() && found.1.is_empty() && found.2.is_empty());
    assert!(found.3.is_empty() && found.4.is_empty() && found.5.is_empty());

    // references to B's objects from A's new rows are refused by the database
    let refused = |r: Result<_, DbError>| matches!(r, Err(DbError::Refused(_)));
    let eq_for_b =
        NewEquipment::new(b_acc, SerialNumber::parse("A1").unwrap(), "HP", "M404").unwrap();
    assert!(refused(
        a.run(async |tx| tx.create_equipment(&eq_for_b).await.map(|_| ()))
            .await
    ));
    assert!(refused(
        a.run(async |tx| tx.create_site(b_acc, "x", &address()).await.map(|_| ()))
            .await
    ));
    assert!(refused(
        a.run(async |tx| tx
            .insert_reading(&reading(b_eq, 6, T0, "a-r1"))
            .await
            .map(|_| ()))
            .await
    ));
    let child = NewAccount::new("A-CHILD", "x").unwrap().parent(b_acc);
    assert!(refused(
        a.run(async |tx| tx.create_account(&child).await.map(|_| ()))
            .await
    ));

    // the same serial and idempotency key are free in A: keys are per tenant
    let a_acc = account(&a, "B-1").await;
    let a_eq = device(&a, a_acc, "SHARED-SERIAL").await;
    let stored = a
        .run(async |tx| tx.insert_reading(&reading(a_eq, 1, T0, "b-r1")).await)
        .await
        .unwrap();
    assert!(matches!(stored, Stored::New(_)));

    assert_eq!(
        b.run(async |tx| tx.account(b_acc).await).await.unwrap(),
        before
    );
    assert_eq!(
        b.run(async |tx| tx.contact(b_contact.id).await)
            .await
            .unwrap(),
        b_contact
    );
    assert_eq!(
        b.run(async |tx| tx.equipment(b_eq).await)
            .await
            .unwrap()
            .status,
        "active"
    );
}

/// A transaction that fails part-way leaves nothing behind.
async fn a_failed_transaction_changes_nothing(t: TestDb) {
    let db = t.tenant("acme").await;
    let result = db
        .run(async |tx| {
            tx.create_account(&NewAccount::new("A-1", "First")?).await?;
            tx.create_account(&NewAccount::new("A-1", "Duplicate number")?)
                .await
        })
        .await;
    assert!(matches!(result, Err(DbError::Conflict(_))));
    assert!(
        db.run(async |tx| tx.list_accounts(None, 10).await)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Transactions that read before they write, many at once, all succeed (on SQLite a deferred
/// transaction would fail with "database is locked" when another writer commits first).
async fn concurrent_read_then_write_transactions_all_commit(t: TestDb) {
    let db = t.tenant("acme").await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(async |tx| {
                    let seen = tx.list_accounts(None, 500).await?.len();
                    tokio::task::yield_now().await;
                    tx.create_account(&NewAccount::new(
                        &format!("C-{i}"),
                        &format!("Customer {i} after {seen}"),
                    )?)
                    .await
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let read = db
        .read(async |tx| tx.list_accounts(None, 500).await)
        .await
        .unwrap();
    assert_eq!(read.len(), 12);
}

/// Contracts with their rates and covered supplies; a device goes only on a contract of its own
/// account, and another tenant's contract is not there at all.
async fn contracts_rates_and_supply_cover(t: TestDb) {
    use portal::billing::arithmetic::Rate;
    use portal::contracts::NewContract;
    use portal::supplies::{CatalogueItem, RawItem};
    let db = t.tenant("acme").await;
    let other_db = t.tenant("other").await;
    let acc = account(&db, "A-1").await;
    let other_acc = account(&db, "A-2").await;
    let eq = device(&db, acc, "E-1").await;
    let start: chrono::NaiveDate = "2026-01-01".parse().unwrap();
    let (c, item) = db
        .run(async |tx| {
            let c = tx
                .create_contract(
                    &NewContract::new(acc, "C-100", start)?
                        .ending("2026-12-31".parse().unwrap())?,
                )
                .await?;
            let mono = Rate {
                meter_kind: "mono".into(),
                included_pages: 1_000,
                overage_millicents: 800,
            };
            tx.set_rate(c, &mono).await?;
            tx.set_rate(
                c,
                &Rate {
                    overage_millicents: 750,
                    ..mono
                },
            )
            .await?;
            let item = tx
                .put_supply_item(&CatalogueItem::parse(&RawItem {
                    sku: "PAPER".into(),
                    description: "Paper".into(),
                    kind: "paper".into(),
                    price: "5.00".into(),
                    compatible_models: "Ricoh MP C3004".into(),
                    ..RawItem::default()
                })?)
                .await?;
            tx.cover_supply(c, item).await?;
            tx.put_on_contract(eq, Some(c)).await?;
            Ok((c, item))
        })
        .await
        .unwrap();
    let (rates, cover) = db
        .read(async |tx| Ok((tx.rates(c).await?, tx.supply_cover(c).await?)))
        .await
        .unwrap();
    assert_eq!(rates.len(), 1, "set again: replaced");
    assert_eq!(rates[0].overage_millicents, 750);
    let cover = cover.unwrap();
    assert!(cover.items.contains(&item) && !cover.covers_consumables);
    assert!(
        cover.in_force("2026-06-01".parse().unwrap())
            && !cover.in_force("2027-01-01".parse().unwrap())
    );
    // the same number twice, a negative rate, another account's contract: refused
    let refused = db
        .run(async |tx| {
            tx.create_contract(&NewContract::new(acc, "C-100", start)?)
                .await
        })
        .await;
    assert!(matches!(refused, Err(DbError::Conflict(_))), "{refused:?}");
    let negative = db
        .run(async |tx| {
            tx.set_rate(
                c,
                &Rate {
                    meter_kind: "mono".into(),
                    included_pages: -1,
                    overage_millicents: 1,
                },
            )
            .await
        })
        .await;
    assert!(matches!(negative, Err(DbError::Refused(_))));
    let other_eq = device(&db, other_acc, "E-2").await;
    let wrong = db
        .run(async |tx| tx.put_on_contract(other_eq, Some(c)).await)
        .await;
    assert!(matches!(wrong, Err(DbError::Refused(_))), "{wrong:?}");
    assert!(
        NewContract::new(acc, "C-1", start)
            .unwrap()
            .ending("2025-12-31".parse().unwrap())
            .is_err()
    );
    // another tenant does not see it
    let theirs = other_db
        .read(async |tx| Ok((tx.supply_cover(c).await?, tx.rates(c).await?)))
        .await
        .unwrap();
    assert_eq!(theirs, (None, Vec::new()));
}

backends!(
    contracts_rates_and_supply_cover,
    concurrent_read_then_write_transactions_all_commit,
    tenants_are_created_ready_to_use,
    the_database_refuses_what_the_types_refuse,
    accounts_sites_and_contacts,
    users_roles_and_permissions,
    equipment_is_found_by_serial_mac_and_tag,
    readings_are_stored_once_per_key_with_their_reasons,
    a_tenant_handle_cannot_reach_another_tenant,
    a_failed_transaction_changes_nothing,
);
