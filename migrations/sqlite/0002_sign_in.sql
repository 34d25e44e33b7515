-- Sign-in (the Auth issue): throttling of guesses and the browsers a user has signed in from.
-- migrations/postgres/0002_sign_in.sql has the same meaning.

-- Attempts counted per key within a fixed window: a network address, an account (attempts from
-- browsers it has not signed in from), a trusted browser, a reset or enrolment requester.
-- Rows whose window has long passed are deleted by the server's maintenance task.
CREATE TABLE auth_throttle (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    bucket        TEXT NOT NULL CHECK (length(bucket) BETWEEN 1 AND 400),
    window_start  INTEGER NOT NULL,
    attempts      INTEGER NOT NULL CHECK (attempts >= 0),
    PRIMARY KEY (tenant_id, bucket)
) STRICT;
CREATE INDEX auth_throttle_window_idx ON auth_throttle (tenant_id, window_start);

-- A browser that signed in as a user gets a device cookie; its attempts for that user are
-- counted apart from a stranger's, so an attacker guessing a password cannot lock the real
-- user out. Only the SHA-256 of the cookie is stored.
CREATE TABLE trusted_devices (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (tenant_id),
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    token_hash    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX trusted_devices_user_idx ON trusted_devices (tenant_id, user_id);

CREATE INDEX sessions_expiry_idx ON sessions (tenant_id, absolute_expires_at);
CREATE INDEX invitations_email_idx ON invitations (tenant_id, email);
