-- +goose Up
-- Every stored provider id belongs to the provider environment it was made in,
-- named by the provider's base URL as Alternative Payments' ids are (00011): a
-- Klarna customer_token by the Klarna API URL, a Sign in with Klarna identity
-- and grant by the issuer URL, a Vipps payment by the Vipps API URL. The shop
-- reads and sends only the ids of the environment it is configured with, so
-- sandbox ids never reach a real API. Rows made before carry '' (unknown) and
-- are never sent anywhere.

-- A user's Klarna link, one per environment; versions count per row.
CREATE TABLE klarna_links_new (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    token_sealed TEXT,
    token_hint   TEXT NOT NULL DEFAULT '',
    version      INTEGER NOT NULL CHECK (version > 0),
    linked_at    TEXT,
    refreshed_at TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, environment)
) STRICT;
INSERT INTO klarna_links_new(user_id, environment, token_sealed, token_hint, version, linked_at, refreshed_at, updated_at)
    SELECT user_id, '', token_sealed, token_hint, version, linked_at, refreshed_at, updated_at FROM klarna_links;
DROP TABLE klarna_links;
ALTER TABLE klarna_links_new RENAME TO klarna_links;

-- An account's Klarna identity and grant, one per issuer: an OIDC sub is
-- unique only within its issuer.
CREATE TABLE klarna_identities_new (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issuer       TEXT NOT NULL,
    sub          TEXT NOT NULL,
    email        TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    connected_at TEXT NOT NULL,
    PRIMARY KEY (user_id, issuer),
    UNIQUE (issuer, sub)
) STRICT;
CREATE TABLE klarna_grants_new (
    user_id            INTEGER NOT NULL,
    issuer             TEXT NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1,
    refresh_token      TEXT,
    refresh_expires_ms INTEGER,
    access_token       TEXT,
    access_expires_ms  INTEGER,
    scope              TEXT NOT NULL DEFAULT '',
    lease_owner        TEXT,
    lease_until_ms     INTEGER,
    lease_sending      INTEGER NOT NULL DEFAULT 0 CHECK (lease_sending IN (0, 1)),
    dead_at            TEXT,
    dead_reason        TEXT NOT NULL DEFAULT '',
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (user_id, issuer),
    FOREIGN KEY (user_id, issuer) REFERENCES klarna_identities_new(user_id, issuer) ON DELETE CASCADE,
    CHECK ((dead_at IS NULL) = (refresh_token IS NOT NULL)),
    CHECK ((lease_owner IS NULL) = (lease_until_ms IS NULL))
) STRICT;
INSERT INTO klarna_identities_new(user_id, issuer, sub, email, name, connected_at)
    SELECT user_id, '', sub, email, name, connected_at FROM klarna_identities;
INSERT INTO klarna_grants_new(user_id, issuer, version, refresh_token, refresh_expires_ms, access_token, access_expires_ms,
                              scope, lease_owner, lease_until_ms, lease_sending, dead_at, dead_reason, updated_at)
    SELECT user_id, '', version, refresh_token, refresh_expires_ms, access_token, access_expires_ms,
           scope, lease_owner, lease_until_ms, lease_sending, dead_at, dead_reason, updated_at FROM klarna_grants;
DROP TABLE klarna_grants;
DROP TABLE klarna_identities;
-- Renaming rewrites klarna_grants_new's reference to the new name.
ALTER TABLE klarna_identities_new RENAME TO klarna_identities;
ALTER TABLE klarna_grants_new RENAME TO klarna_grants;
CREATE INDEX klarna_grants_access_expiry_idx ON klarna_grants(access_expires_ms) WHERE access_token IS NOT NULL;

-- A Vipps payment's reference belongs to the API it was created at.
ALTER TABLE vipps_payments ADD COLUMN environment TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE vipps_payments DROP COLUMN environment;

-- One identity and grant per account: the most recently connected.
CREATE TABLE klarna_identities_old (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sub          TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL DEFAULT '',
    connected_at TEXT NOT NULL
) STRICT;
CREATE TABLE klarna_grants_old (
    user_id            INTEGER PRIMARY KEY REFERENCES klarna_identities_old(user_id) ON DELETE CASCADE,
    version            INTEGER NOT NULL DEFAULT 1,
    refresh_token      TEXT,
    refresh_expires_ms INTEGER,
    access_token       TEXT,
    access_expires_ms  INTEGER,
    scope              TEXT NOT NULL DEFAULT '',
    lease_owner        TEXT,
    lease_until_ms     INTEGER,
    dead_at            TEXT,
    dead_reason        TEXT NOT NULL DEFAULT '',
    updated_at         TEXT NOT NULL,
    lease_sending      INTEGER NOT NULL DEFAULT 0 CHECK (lease_sending IN (0, 1)),
    CHECK ((dead_at IS NULL) = (refresh_token IS NOT NULL)),
    CHECK ((lease_owner IS NULL) = (lease_until_ms IS NULL))
) STRICT;
INSERT INTO klarna_identities_old(user_id, sub, email, name, connected_at)
    SELECT user_id, sub, email, name, connected_at FROM klarna_identities i
    WHERE rowid = (SELECT rowid FROM klarna_identities j WHERE j.user_id = i.user_id ORDER BY connected_at DESC LIMIT 1)
      AND NOT EXISTS (SELECT 1 FROM klarna_identities k WHERE k.sub = i.sub AND k.rowid > i.rowid);
INSERT INTO klarna_grants_old(user_id, version, refresh_token, refresh_expires_ms, access_token, access_expires_ms,
                              scope, lease_owner, lease_until_ms, dead_at, dead_reason, updated_at, lease_sending)
    SELECT g.user_id, g.version, g.refresh_token, g.refresh_expires_ms, g.access_token, g.access_expires_ms,
           g.scope, g.lease_owner, g.lease_until_ms, g.dead_at, g.dead_reason, g.updated_at, g.lease_sending
    FROM klarna_grants g JOIN klarna_identities i ON i.user_id = g.user_id AND i.issuer = g.issuer
    JOIN klarna_identities_old o ON o.user_id = i.user_id AND o.sub = i.sub;
DROP TABLE klarna_grants;
DROP TABLE klarna_identities;
ALTER TABLE klarna_identities_old RENAME TO klarna_identities;
ALTER TABLE klarna_grants_old RENAME TO klarna_grants;
CREATE INDEX klarna_grants_access_expiry_idx ON klarna_grants(access_expires_ms) WHERE access_token IS NOT NULL;

-- One link per user: the most recently updated.
CREATE TABLE klarna_links_old (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_sealed TEXT,
    token_hint   TEXT NOT NULL DEFAULT '',
    version      INTEGER NOT NULL CHECK (version > 0),
    linked_at    TEXT,
    refreshed_at TEXT,
    updated_at   TEXT NOT NULL
) STRICT;
INSERT INTO klarna_links_old(user_id, token_sealed, token_hint, version, linked_at, refreshed_at, updated_at)
    SELECT user_id, token_sealed, token_hint, version, linked_at, refreshed_at, updated_at FROM klarna_links l
    WHERE rowid = (SELECT rowid FROM klarna_links m WHERE m.user_id = l.user_id ORDER BY updated_at DESC LIMIT 1);
DROP TABLE klarna_links;
ALTER TABLE klarna_links_old RENAME TO klarna_links;
