-- Printyx schema, SQLite series. migrations/postgres/0001_schema.sql has the same meaning;
-- portal/tests/integration/schema_equivalence.rs compares the two after migrating.
--
-- Conventions: see the PostgreSQL file. Differences, all of form and none of meaning:
--   * SQLite assigns ids only to a lone INTEGER PRIMARY KEY, so `id` is that (the rowid) and
--     (tenant_id, id) is a UNIQUE key; every foreign key references (tenant_id, id) as in
--     PostgreSQL, so a cross-tenant reference is impossible here too.
--   * tables are STRICT, so a value of the wrong type is refused as PostgreSQL refuses it.
--   * regular-expression CHECKs are written with GLOB.
--   * no row-level security: the tenant-scoped handle is the wall, and audit_log is kept
--     append-only by triggers.

-- ───────────────────────────── tenants, settings, counters ─────────────────────────────

-- The dealer directory. Readable without a tenant (sign-in resolves a dealer by slug), but a
-- tenant's row can only be changed inside that tenant.
CREATE TABLE tenants (
    tenant_id   INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 63 AND slug GLOB '[a-z0-9]*' AND slug NOT GLOB '*[^a-z0-9-]*'),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tenant_settings (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;

-- Gap-free per-tenant numbering (invoice, order and service-request numbers).
CREATE TABLE number_sequences (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    name        TEXT NOT NULL,
    next_value  INTEGER NOT NULL DEFAULT 1 CHECK (next_value > 0),
    PRIMARY KEY (tenant_id, name)
) STRICT;

-- Service secrets (IMAP passwords, SNMPv3 keys, gateway keys), AES-256-GCM encrypted.
CREATE TABLE secrets (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    rotated_at  INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

-- ───────────────────────────── customers: accounts, sites, contacts ─────────────────────────────

CREATE TABLE accounts (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id             INTEGER PRIMARY KEY,
    parent_id      INTEGER,
    number         TEXT NOT NULL CHECK (length(number) BETWEEN 1 AND 40),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'on_hold', 'closed')),
    billing_email  TEXT,
    autopay        INTEGER NOT NULL DEFAULT 0 CHECK (autopay IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES accounts (tenant_id, id),
    CHECK (parent_id IS NULL OR parent_id <> id)
) STRICT;
CREATE INDEX accounts_parent_idx ON accounts (tenant_id, parent_id);

CREATE TABLE sites (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    line1        TEXT NOT NULL,
    line2        TEXT,
    city         TEXT NOT NULL,
    region       TEXT,
    postal_code  TEXT NOT NULL,
    country      TEXT NOT NULL CHECK (length(country) = 2),
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
) STRICT;
CREATE INDEX sites_account_idx ON sites (tenant_id, account_id);

CREATE TABLE contacts (
    tenant_id               INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                      INTEGER PRIMARY KEY,
    account_id              INTEGER NOT NULL,
    name                    TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email                   TEXT,
    phone                   TEXT,
    role                    TEXT NOT NULL DEFAULT 'general'
                            CHECK (role IN ('general', 'billing', 'meters', 'technical')),
    receives_meter_requests INTEGER NOT NULL DEFAULT 0 CHECK (receives_meter_requests IN (0, 1)),
    created_at              INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
) STRICT;
CREATE INDEX contacts_account_idx ON contacts (tenant_id, account_id);
CREATE INDEX contacts_email_idx ON contacts (tenant_id, email);

-- ───────────────────────────── users, roles, sessions, tokens ─────────────────────────────

CREATE TABLE roles (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    scope        TEXT NOT NULL CHECK (scope IN ('staff', 'customer')),
    builtin      INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

-- Permissions are data: a role's set of permission names (the list lives in portal::auth).
CREATE TABLE role_permissions (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    role_id     INTEGER NOT NULL,
    permission  TEXT NOT NULL CHECK (permission GLOB '[a-z_]*.[a-z_]*' AND permission NOT GLOB '*[^a-z_.]*' AND permission NOT GLOB '*.*.*'),
    PRIMARY KEY (tenant_id, role_id, permission),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Dealer staff have no account; a customer user is bound to exactly one account.
CREATE TABLE users (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('staff', 'customer')),
    account_id     INTEGER,
    email          TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name   TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash  TEXT,
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('invited', 'active', 'disabled', 'erased')),
    locale         TEXT NOT NULL DEFAULT 'en',
    time_zone      TEXT NOT NULL DEFAULT 'UTC',
    date_format    TEXT NOT NULL DEFAULT 'iso',
    number_format  TEXT NOT NULL DEFAULT 'en',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    last_login_at  INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CHECK ((kind = 'staff' AND account_id IS NULL) OR (kind = 'customer' AND account_id IS NOT NULL))
) STRICT;
CREATE INDEX users_account_idx ON users (tenant_id, account_id);

CREATE TABLE user_roles (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    user_id     INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
) STRICT;

-- Server-side sessions. Only the SHA-256 of the cookie token is stored.
CREATE TABLE sessions (
    tenant_id           INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                  INTEGER PRIMARY KEY,
    user_id             INTEGER NOT NULL,
    token_hash          TEXT NOT NULL UNIQUE,
    csrf_secret         TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    second_factor_at    INTEGER,
    ip                  TEXT,
    user_agent          TEXT,
    revoked_at          INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);

CREATE TABLE password_reset_tokens (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX password_reset_tokens_user_idx ON password_reset_tokens (tenant_id, user_id);

CREATE TABLE invitations (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL,
    account_id   INTEGER,
    role_id      INTEGER NOT NULL,
    invited_by   INTEGER NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    accepted_at  INTEGER,
    revoked_at   INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id),
    FOREIGN KEY (tenant_id, invited_by) REFERENCES users (tenant_id, id)
) STRICT;

-- TOTP second factor; the secret is AES-256-GCM encrypted like `secrets`.
CREATE TABLE totp_secrets (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (tenant_id),
    user_id         INTEGER NOT NULL,
    key_id          TEXT NOT NULL,
    nonce           BLOB NOT NULL,
    ciphertext      BLOB NOT NULL,
    confirmed_at    INTEGER,
    last_used_step  INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Integration tokens, scoped by permission (space-separated permission names).
CREATE TABLE api_tokens (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    permissions   TEXT NOT NULL,
    created_by    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
) STRICT;

-- ───────────────────────────── contracts and equipment ─────────────────────────────

CREATE TABLE contracts (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    number             TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('per_device', 'pooled')),
    billing_cycle      TEXT NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly')),
    billing_day        INTEGER NOT NULL DEFAULT 1 CHECK (billing_day BETWEEN 1 AND 28),
    base_charge_cents  INTEGER NOT NULL DEFAULT 0 CHECK (base_charge_cents >= 0),
    covers_supplies    INTEGER NOT NULL DEFAULT 0 CHECK (covers_supplies IN (0, 1)),
    currency           TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    starts_on          TEXT NOT NULL,
    ends_on            TEXT,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('draft', 'active', 'ended')),
    created_at         INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
) STRICT;
CREATE INDEX contracts_account_idx ON contracts (tenant_id, account_id);

-- Device models: rated speed and volume feed the rate-sanity stage; supplies name compatible models.
CREATE TABLE device_models (
    tenant_id             INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                    INTEGER PRIMARY KEY,
    make                  TEXT NOT NULL,
    model                 TEXT NOT NULL,
    color                 INTEGER NOT NULL DEFAULT 0 CHECK (color IN (0, 1)),
    rated_ppm             INTEGER CHECK (rated_ppm > 0),
    rated_monthly_volume  INTEGER CHECK (rated_monthly_volume > 0),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, make, model)
) STRICT;

CREATE TABLE equipment (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    site_id            INTEGER,
    contract_id        INTEGER,
    model_id           INTEGER,
    serial             TEXT NOT NULL CHECK (length(serial) BETWEEN 1 AND 64),
    -- upper-cased, separators removed, O→0, I/L→1: how ingest matches a serial read by OCR
    serial_key         TEXT NOT NULL,
    make               TEXT NOT NULL,
    model              TEXT NOT NULL,
    asset_tag          TEXT,
    mac                TEXT CHECK (mac IS NULL OR length(mac) = 17),
    last_ip            TEXT,
    install_date       TEXT,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'removed')),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_reported_at   INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, serial_key),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id),
    FOREIGN KEY (tenant_id, model_id) REFERENCES device_models (tenant_id, id)
) STRICT;
CREATE INDEX equipment_account_idx ON equipment (tenant_id, account_id, id);
CREATE INDEX equipment_contract_idx ON equipment (tenant_id, contract_id);
CREATE INDEX equipment_mac_idx ON equipment (tenant_id, mac);
CREATE INDEX equipment_asset_tag_idx ON equipment (tenant_id, asset_tag);
-- for the check that an agent is not reporting another dealer's device
CREATE INDEX equipment_serial_key_idx ON equipment (serial_key);

-- Addresses allowed to send meter e-mails for a device besides its account's contacts.
CREATE TABLE equipment_email_senders (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    equipment_id  INTEGER NOT NULL,
    email         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, equipment_id, email),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- ───────────────────────────── meters and readings ─────────────────────────────

-- Per tenant so a dealer can bill a vendor-specific counter; the standard kinds are created
-- with the tenant (total, mono, color, copy, print, scan, fax, large).
CREATE TABLE meter_kinds (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (tenant_id),
    code       TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 32 AND code GLOB '[a-z]*' AND code NOT GLOB '*[^a-z0-9_]*'),
    label      TEXT NOT NULL,
    billable   INTEGER NOT NULL DEFAULT 1 CHECK (billable IN (0, 1)),
    PRIMARY KEY (tenant_id, code)
) STRICT;

CREATE TABLE agents (
    tenant_id               INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                      INTEGER PRIMARY KEY,
    account_id              INTEGER,
    site_id                 INTEGER,
    name                    TEXT NOT NULL,
    enrollment_code_hash    TEXT UNIQUE,
    enrollment_expires_at   INTEGER,
    token_hash              TEXT UNIQUE,
    enrolled_at             INTEGER,
    last_seen_at            INTEGER,
    version                 TEXT,
    hostname                TEXT,
    created_at              INTEGER NOT NULL,
    revoked_at              INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id)
) STRICT;

-- One row per agent batch: the same batch again gets the stored answer.
CREATE TABLE agent_batches (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    agent_id       INTEGER NOT NULL,
    batch_id       TEXT NOT NULL,
    payload_hash   TEXT NOT NULL,
    response_json  TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, batch_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id)
) STRICT;

-- Devices an agent reported that no equipment matches: the dealer's "new devices" list.
-- Readings of such a device are never billed; registering it links the equipment.
CREATE TABLE discovered_devices (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id             INTEGER PRIMARY KEY,
    agent_id       INTEGER,
    -- the serial's matching key, else the MAC, else the asset tag
    identity_key   TEXT NOT NULL,
    serial         TEXT,
    mac            TEXT,
    asset_tag      TEXT,
    ip             TEXT,
    vendor         TEXT,
    model          TEXT,
    meters_json    TEXT NOT NULL DEFAULT '{}',
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'ignored', 'registered')),
    equipment_id   INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, identity_key),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id)
) STRICT;

CREATE TABLE files (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id             INTEGER PRIMARY KEY,
    -- generated name under the upload directory; never the client's name
    storage_name   TEXT NOT NULL UNIQUE,
    original_name  TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    uploaded_by    INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, uploaded_by) REFERENCES users (tenant_id, id)
) STRICT;

-- Where a number came from: SNMP varbinds, the e-mail, the photo and its OCR text.
CREATE TABLE evidence (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('snmp', 'mqtt', 'email', 'photo', 'manual', 'technician', 'estimate')),
    file_id       INTEGER,
    summary       TEXT NOT NULL,
    payload       TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id)
) STRICT;

CREATE TABLE readings (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    equipment_id     INTEGER NOT NULL,
    meter_kind       TEXT NOT NULL,
    -- a counter reset starts a new segment; usage is summed per segment, never across a drop
    segment          INTEGER NOT NULL DEFAULT 0 CHECK (segment >= 0),
    value            INTEGER NOT NULL CHECK (value >= 0),
    read_at          INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('agent_snmp', 'agent_mqtt', 'mqtt', 'device_email',
                         'reply_email', 'photo', 'manual', 'technician', 'estimate')),
    status           TEXT NOT NULL CHECK (status IN ('accepted', 'review', 'rejected', 'superseded')),
    -- JSON array of {stage, outcome, reason}
    reasons          TEXT NOT NULL DEFAULT '[]',
    confidence       REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    evidence_id      INTEGER,
    idempotency_key  TEXT NOT NULL,
    agent_id         INTEGER,
    submitted_by     INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id),
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code),
    FOREIGN KEY (tenant_id, evidence_id) REFERENCES evidence (tenant_id, id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id),
    FOREIGN KEY (tenant_id, submitted_by) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX readings_equipment_time_idx ON readings (tenant_id, equipment_id, meter_kind, read_at);
CREATE INDEX readings_status_idx ON readings (tenant_id, status, received_at);

-- A confirmed counter reset: readings from segment `segment` on start again from start_value.
CREATE TABLE counter_resets (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    equipment_id  INTEGER NOT NULL,
    meter_kind    TEXT NOT NULL,
    segment       INTEGER NOT NULL CHECK (segment > 0),
    reading_id    INTEGER NOT NULL,
    confirmed_by  INTEGER,
    confirmed_at  INTEGER NOT NULL,
    note          TEXT,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, equipment_id, meter_kind, segment),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id),
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code),
    FOREIGN KEY (tenant_id, reading_id) REFERENCES readings (tenant_id, id),
    FOREIGN KEY (tenant_id, confirmed_by) REFERENCES users (tenant_id, id)
) STRICT;

CREATE TABLE review_items (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    reading_id       INTEGER NOT NULL,
    reasons          TEXT NOT NULL,
    -- JSON: candidate values (e.g. OCR alternatives, the value the history predicts)
    candidates       TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'accepted', 'corrected', 'rejected', 'reset_confirmed')),
    corrected_value  INTEGER CHECK (corrected_value IS NULL OR corrected_value >= 0),
    decided_by       INTEGER,
    decided_at       INTEGER,
    decision_note    TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, reading_id),
    FOREIGN KEY (tenant_id, reading_id) REFERENCES readings (tenant_id, id),
    FOREIGN KEY (tenant_id, decided_by) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX review_items_open_idx ON review_items (tenant_id, created_at) WHERE status = 'open';

-- Customer corrections of OCR values, kept with the image as labelled examples.
CREATE TABLE photo_labels (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    file_id          INTEGER NOT NULL,
    reading_id       INTEGER,
    meter_kind       TEXT NOT NULL,
    ocr_value        INTEGER,
    confirmed_value  INTEGER NOT NULL CHECK (confirmed_value >= 0),
    labelled_by      INTEGER,
    created_at       INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id),
    FOREIGN KEY (tenant_id, reading_id) REFERENCES readings (tenant_id, id),
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code),
    FOREIGN KEY (tenant_id, labelled_by) REFERENCES users (tenant_id, id)
) STRICT;

-- Monthly pages per device and meter, maintained when readings are accepted (dashboards, charts).
CREATE TABLE usage_monthly (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    equipment_id  INTEGER NOT NULL,
    meter_kind    TEXT NOT NULL,
    month         TEXT NOT NULL CHECK (length(month) = 7),
    pages         INTEGER NOT NULL CHECK (pages >= 0),
    last_value    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, equipment_id, meter_kind, month),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id),
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code)
) STRICT;

-- Supply levels as reported (-1 other, -2 unknown, -3 some remaining are kept as such).
CREATE TABLE supply_levels (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    equipment_id  INTEGER NOT NULL,
    description   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    color         TEXT,
    level         INTEGER NOT NULL CHECK (level >= -3),
    max_capacity  INTEGER NOT NULL CHECK (max_capacity >= -2),
    percent       INTEGER CHECK (percent IS NULL OR percent BETWEEN 0 AND 100),
    observed_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id)
) STRICT;
CREATE INDEX supply_levels_equipment_idx ON supply_levels (tenant_id, equipment_id, observed_at);

CREATE TABLE device_alerts (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    equipment_id  INTEGER NOT NULL,
    code          TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    description   TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    cleared_at    INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id)
) STRICT;
CREATE INDEX device_alerts_active_idx ON device_alerts (tenant_id, equipment_id) WHERE cleared_at IS NULL;

-- Monthly meter-request e-mails; the signed reply token carries this row's id.
CREATE TABLE meter_requests (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    contact_id         INTEGER NOT NULL,
    cycle              TEXT NOT NULL,
    sent_at            INTEGER,
    due_at             INTEGER NOT NULL,
    reminder_sent_at   INTEGER,
    answered_at        INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, contact_id, cycle),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
) STRICT;

-- Every inbound e-mail and what became of it (processed, quarantined with the reason, junk).
CREATE TABLE inbound_messages (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    message_id    TEXT NOT NULL,
    from_address  TEXT,
    subject       TEXT,
    received_at   INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('device_report', 'customer_reply', 'junk', 'malformed')),
    status        TEXT NOT NULL CHECK (status IN ('processed', 'quarantined', 'ignored')),
    reason        TEXT,
    file_id       INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, message_id),
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id)
) STRICT;

-- ───────────────────────────── service requests ─────────────────────────────

CREATE TABLE service_requests (
    tenant_id         INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                INTEGER PRIMARY KEY,
    number            INTEGER NOT NULL,
    account_id        INTEGER NOT NULL,
    equipment_id      INTEGER,
    site_id           INTEGER,
    priority          TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent', 'emergency')),
    problem_type      TEXT NOT NULL,
    description       TEXT NOT NULL CHECK (length(description) <= 10000),
    status            TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'acknowledged',
                          'scheduled', 'in_progress', 'on_hold', 'completed', 'closed', 'cancelled')),
    source            TEXT NOT NULL DEFAULT 'customer' CHECK (source IN ('customer', 'staff', 'alert')),
    alert_code        TEXT,
    preferred_dates   TEXT,
    assigned_to       INTEGER,
    scheduled_start   INTEGER,
    scheduled_end     INTEGER,
    created_by        INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX service_requests_open_idx ON service_requests (tenant_id, account_id, created_at)
    WHERE status NOT IN ('completed', 'closed', 'cancelled');
CREATE INDEX service_requests_equipment_idx ON service_requests (tenant_id, equipment_id, status);

CREATE TABLE service_request_events (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('status', 'comment', 'assignment', 'schedule')),
    from_status  TEXT,
    to_status    TEXT,
    body         TEXT,
    internal     INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    author_id    INTEGER,
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES service_requests (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX service_request_events_request_idx ON service_request_events (tenant_id, request_id, created_at);

CREATE TABLE service_request_attachments (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    request_id  INTEGER NOT NULL,
    file_id     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, request_id, file_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES service_requests (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, file_id) REFERENCES files (tenant_id, id)
) STRICT;

-- ───────────────────────────── supplies, carts, orders ─────────────────────────────

CREATE TABLE supply_items (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    sku              TEXT NOT NULL,
    oem_part_number  TEXT,
    description      TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'toner' CHECK (kind IN ('toner', 'drum', 'waste', 'staples', 'paper', 'other')),
    color            TEXT CHECK (color IS NULL OR color IN ('black', 'cyan', 'magenta', 'yellow', 'other')),
    yield_pages      INTEGER CHECK (yield_pages IS NULL OR yield_pages > 0),
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    max_order_qty    INTEGER NOT NULL DEFAULT 10 CHECK (max_order_qty > 0),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, sku)
) STRICT;

CREATE TABLE supply_item_models (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (tenant_id),
    supply_item_id  INTEGER NOT NULL,
    model_id        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, supply_item_id, model_id),
    FOREIGN KEY (tenant_id, supply_item_id) REFERENCES supply_items (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, model_id) REFERENCES device_models (tenant_id, id)
) STRICT;
CREATE INDEX supply_item_models_model_idx ON supply_item_models (tenant_id, model_id);

CREATE TABLE carts (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE cart_lines (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id              INTEGER PRIMARY KEY,
    cart_id         INTEGER NOT NULL,
    supply_item_id  INTEGER NOT NULL,
    equipment_id    INTEGER NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, cart_id, supply_item_id, equipment_id),
    FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, supply_item_id) REFERENCES supply_items (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id)
) STRICT;

CREATE TABLE orders (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    number           INTEGER NOT NULL,
    account_id       INTEGER NOT NULL,
    site_id          INTEGER,
    ship_name        TEXT NOT NULL,
    ship_line1       TEXT NOT NULL,
    ship_line2       TEXT,
    ship_city        TEXT NOT NULL,
    ship_region      TEXT,
    ship_postal_code TEXT NOT NULL,
    ship_country     TEXT NOT NULL CHECK (length(ship_country) = 2),
    po_number        TEXT,
    status           TEXT NOT NULL DEFAULT 'submitted' CHECK (status IN ('suggested', 'submitted',
                         'approved', 'picked', 'shipped', 'delivered', 'cancelled')),
    source           TEXT NOT NULL DEFAULT 'customer' CHECK (source IN ('customer', 'staff', 'auto')),
    total_cents      INTEGER NOT NULL CHECK (total_cents >= 0),
    carrier          TEXT,
    tracking_number  TEXT,
    -- one checkout = one order, even when the form is submitted twice at once
    idempotency_key  TEXT,
    created_by       INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, site_id) REFERENCES sites (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX orders_account_idx ON orders (tenant_id, account_id, created_at);
CREATE INDEX orders_open_idx ON orders (tenant_id, status) WHERE status NOT IN ('delivered', 'cancelled');

CREATE TABLE order_lines (
    tenant_id         INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                INTEGER PRIMARY KEY,
    order_id          INTEGER NOT NULL,
    supply_item_id    INTEGER NOT NULL,
    equipment_id      INTEGER,
    color             TEXT,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents  INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    covered           INTEGER NOT NULL DEFAULT 0 CHECK (covered IN (0, 1)),
    line_total_cents  INTEGER NOT NULL CHECK (line_total_cents >= 0),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, supply_item_id) REFERENCES supply_items (tenant_id, id),
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id)
) STRICT;
CREATE INDEX order_lines_order_idx ON order_lines (tenant_id, order_id);
CREATE INDEX order_lines_equipment_idx ON order_lines (tenant_id, equipment_id, color);

CREATE TABLE order_events (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    note         TEXT,
    actor_id     INTEGER,
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, actor_id) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX order_events_order_idx ON order_events (tenant_id, order_id, created_at);

-- ───────────────────────────── billing and payments ─────────────────────────────

-- Included pages and overage rate per meter kind of a contract.
CREATE TABLE contract_rates (
    tenant_id           INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                  INTEGER PRIMARY KEY,
    contract_id         INTEGER NOT NULL,
    meter_kind          TEXT NOT NULL,
    included_pages      INTEGER NOT NULL DEFAULT 0 CHECK (included_pages >= 0),
    overage_millicents  INTEGER NOT NULL CHECK (overage_millicents >= 0),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, contract_id, meter_kind),
    FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code)
) STRICT;

-- Supplies a contract covers (price 0 at checkout).
CREATE TABLE contract_covered_supplies (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (tenant_id),
    contract_id     INTEGER NOT NULL,
    supply_item_id  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, contract_id, supply_item_id),
    FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, supply_item_id) REFERENCES supply_items (tenant_id, id)
) STRICT;

CREATE TABLE invoices (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    number             INTEGER NOT NULL,
    account_id         INTEGER NOT NULL,
    contract_id        INTEGER,
    period_start       TEXT NOT NULL,
    period_end         TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('draft', 'issued', 'partially_paid', 'paid', 'void')),
    currency           TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    subtotal_cents     INTEGER NOT NULL,
    tax_cents          INTEGER NOT NULL DEFAULT 0,
    total_cents        INTEGER NOT NULL,
    amount_paid_cents  INTEGER NOT NULL DEFAULT 0 CHECK (amount_paid_cents >= 0),
    issued_at          INTEGER,
    due_at             INTEGER,
    created_at         INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, contract_id) REFERENCES contracts (tenant_id, id),
    CHECK (period_end >= period_start)
) STRICT;
CREATE INDEX invoices_unpaid_idx ON invoices (tenant_id, account_id, due_at)
    WHERE status IN ('issued', 'partially_paid');
CREATE INDEX invoices_account_idx ON invoices (tenant_id, account_id, created_at);

CREATE TABLE invoice_lines (
    tenant_id              INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                     INTEGER PRIMARY KEY,
    invoice_id             INTEGER NOT NULL,
    kind                   TEXT NOT NULL CHECK (kind IN ('base', 'usage', 'overage', 'true_up', 'supply', 'adjustment')),
    description            TEXT NOT NULL,
    equipment_id           INTEGER,
    meter_kind             TEXT,
    start_reading_id       INTEGER,
    end_reading_id         INTEGER,
    quantity               INTEGER NOT NULL DEFAULT 1,
    unit_price_millicents  INTEGER NOT NULL DEFAULT 0,
    amount_cents           INTEGER NOT NULL,
    estimated              INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, equipment_id) REFERENCES equipment (tenant_id, id),
    FOREIGN KEY (tenant_id, meter_kind) REFERENCES meter_kinds (tenant_id, code),
    FOREIGN KEY (tenant_id, start_reading_id) REFERENCES readings (tenant_id, id),
    FOREIGN KEY (tenant_id, end_reading_id) REFERENCES readings (tenant_id, id)
) STRICT;
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (tenant_id, invoice_id);

-- Cards and bank accounts exist here only as processor tokens; wire has no token.
CREATE TABLE payment_methods (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('card', 'ach', 'wire')),
    processor        TEXT NOT NULL,
    processor_token  TEXT,
    brand            TEXT,
    last4            TEXT CHECK (last4 IS NULL OR length(last4) = 4),
    exp_month        INTEGER CHECK (exp_month IS NULL OR exp_month BETWEEN 1 AND 12),
    exp_year         INTEGER,
    is_default       INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at       INTEGER NOT NULL,
    removed_at       INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CHECK (kind = 'wire' OR processor_token IS NOT NULL)
) STRICT;
CREATE INDEX payment_methods_account_idx ON payment_methods (tenant_id, account_id);

CREATE TABLE payments (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    payment_method_id  INTEGER,
    amount_cents       INTEGER NOT NULL CHECK (amount_cents > 0),
    currency           TEXT NOT NULL DEFAULT 'USD',
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'succeeded', 'failed', 'returned', 'refunded')),
    -- wire transfers are reconciled by billing staff against the bank statement reference
    reference          TEXT,
    created_by         INTEGER,
    created_at         INTEGER NOT NULL,
    settled_at         INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_method_id) REFERENCES payment_methods (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX payments_account_idx ON payments (tenant_id, account_id, created_at);

CREATE TABLE payment_allocations (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    payment_id    INTEGER NOT NULL,
    invoice_id    INTEGER NOT NULL,
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (tenant_id, payment_id, invoice_id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
) STRICT;
CREATE INDEX payment_allocations_invoice_idx ON payment_allocations (tenant_id, invoice_id);

-- Stored before the gateway is called, so a crash or a double click never charges twice.
CREATE TABLE payment_attempts (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id                 INTEGER PRIMARY KEY,
    payment_id         INTEGER NOT NULL,
    attempt_no         INTEGER NOT NULL CHECK (attempt_no > 0),
    idempotency_key    TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('started', 'succeeded', 'failed', 'unknown')),
    gateway_reference  TEXT,
    failure_code       TEXT,
    retryable          INTEGER NOT NULL DEFAULT 0 CHECK (retryable IN (0, 1)),
    next_retry_at      INTEGER,
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    UNIQUE (tenant_id, payment_id, attempt_no),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id)
) STRICT;
CREATE INDEX payment_attempts_retry_idx ON payment_attempts (tenant_id, next_retry_at) WHERE next_retry_at IS NOT NULL;

-- Gateway webhook events already handled (replay protection).
CREATE TABLE gateway_events (
    tenant_id    INTEGER NOT NULL REFERENCES tenants (tenant_id),
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
) STRICT;

-- ───────────────────────────── notifications, mail, audit ─────────────────────────────

CREATE TABLE notifications (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    -- the object it is about (equipment, order, invoice…: the event type says which)
    subject_id  INTEGER,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    link        TEXT,
    created_at  INTEGER NOT NULL,
    read_at     INTEGER,
    emailed_at  INTEGER,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX notifications_unread_idx ON notifications (tenant_id, user_id, created_at) WHERE read_at IS NULL;
CREATE INDEX notifications_user_idx ON notifications (tenant_id, user_id, id);
CREATE INDEX notifications_subject_idx ON notifications (tenant_id, event_type, subject_id, created_at);

CREATE TABLE notification_preferences (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    user_id     INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    channel     TEXT NOT NULL CHECK (channel IN ('in_app', 'email')),
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (tenant_id, user_id, event_type, channel),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Outgoing mail, written in the same transaction as the change that causes it, sent by a worker.
CREATE TABLE outbound_emails (
    tenant_id        INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    to_address       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX outbound_emails_queue_idx ON outbound_emails (tenant_id, next_attempt_at) WHERE status = 'queued';

-- Append-only and hash-chained per tenant: hash = SHA-256(prev_hash || canonical row).
CREATE TABLE audit_log (
    tenant_id      INTEGER NOT NULL REFERENCES tenants (tenant_id),
    seq            INTEGER NOT NULL CHECK (seq > 0),
    occurred_at    INTEGER NOT NULL,
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_token', 'agent', 'system')),
    actor_id       INTEGER,
    account_id     INTEGER,
    action         TEXT NOT NULL,
    entity_type    TEXT NOT NULL,
    entity_id      TEXT,
    summary        TEXT NOT NULL DEFAULT '{}',
    ip             TEXT,
    user_agent     TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;
CREATE INDEX audit_log_account_idx ON audit_log (tenant_id, account_id, seq);

-- Audit log: append-only. `printyx audit verify` is what detects tampering by anyone who
-- can drop these triggers.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
