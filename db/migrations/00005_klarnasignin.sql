-- +goose Up
-- Sign in with Klarna.
--
-- A shop account is connected to at most one Klarna identity (its OIDC "sub")
-- and a Klarna identity to at most one account. Accounts are never joined by
-- email alone: users.email stays UNIQUE, and a first Klarna sign-in whose
-- email belongs to an existing account creates nothing; the shop explains how
-- to connect Klarna from that account instead (sign in with its password,
-- then "Connect Klarna"), which proves control of both.
CREATE TABLE klarna_identities (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    sub          TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL DEFAULT '',  -- as Klarna said at connection, for the account page
    name         TEXT NOT NULL DEFAULT '',
    connected_at TEXT NOT NULL
) STRICT;

-- The grant behind an identity: the refresh token (single use: each refresh
-- returns a new one that replaces it, see
-- https://docs.klarna.com/sign-in-with-klarna/additional-resources/other-operations)
-- and the current access token, both sealed with the shop's key (secret.Box,
-- bound to the user id).
--
-- Times compared in SQL are unix milliseconds.
--
-- version:     bumped by every change of the tokens; writers compare-and-swap on it.
-- lease_*:     a refresh in progress: the process named lease_owner holds the
--              refresh token until lease_until (wall clock); others wait for
--              the next version instead of sending the same refresh token.
-- dead_at:     Klarna refused the refresh token (invalid_grant, token_inactive)
--              or its outcome is unknown: the customer must sign in with Klarna
--              again. The tokens are gone then.
CREATE TABLE klarna_grants (
    user_id            INTEGER PRIMARY KEY REFERENCES klarna_identities(user_id) ON DELETE CASCADE,
    version            INTEGER NOT NULL DEFAULT 1,
    refresh_token      TEXT,              -- sealed; NULL once dead
    refresh_expires_ms INTEGER,
    access_token       TEXT,              -- sealed; NULL once expired and swept
    access_expires_ms  INTEGER,
    scope              TEXT NOT NULL DEFAULT '',
    lease_owner        TEXT,
    lease_until_ms     INTEGER,
    dead_at            TEXT,
    dead_reason        TEXT NOT NULL DEFAULT '',
    updated_at         TEXT NOT NULL,
    CHECK ((dead_at IS NULL) = (refresh_token IS NOT NULL)),
    CHECK ((lease_owner IS NULL) = (lease_until_ms IS NULL))
) STRICT;
CREATE INDEX klarna_grants_access_expiry_idx ON klarna_grants(access_expires_ms) WHERE access_token IS NOT NULL;

-- +goose Down
DROP TABLE klarna_grants;
DROP TABLE klarna_identities;
