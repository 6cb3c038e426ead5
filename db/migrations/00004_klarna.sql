-- +goose Up
-- A user's Klarna account link: the customer_token from the latest Klarna
-- answer, sealed with the shop's key (secret.Box, aad
-- "user:<id>:klarna_customer_token"). version grows on every change and never
-- repeats (unlinking clears the token but keeps the row), so writers
-- compare-and-swap on it: two orders finishing at once never leave the older
-- token stored.
CREATE TABLE klarna_links (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token_sealed TEXT,                      -- NULL once unlinked
    token_hint   TEXT NOT NULL DEFAULT '',  -- the masked token, for the account page
    version      INTEGER NOT NULL CHECK (version > 0),
    linked_at    TEXT,                      -- when the current link began
    refreshed_at TEXT,                      -- when Klarna last returned the token
    updated_at   TEXT NOT NULL
) STRICT;

-- One row per Klarna payment attempt (an orders row): the Klarna session the
-- widget uses, or, for "Buy again", the order it repeats.
CREATE TABLE klarna_payments (
    order_id        INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('widget', 'customer_token')),
    session_id      TEXT NOT NULL DEFAULT '',
    client_token    TEXT NOT NULL DEFAULT '', -- meant for the browser (Klarna.Payments.init)
    intent          TEXT NOT NULL DEFAULT '',
    sent_token      INTEGER NOT NULL DEFAULT 0 CHECK (sent_token IN (0, 1)), -- the session carried the stored customer_token
    source_order    TEXT NOT NULL DEFAULT '', -- "Buy again": the public id of the order repeated
    correlation_id  TEXT NOT NULL DEFAULT '', -- the last Klarna error's, for support
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX klarna_payments_session_idx ON klarna_payments(session_id) WHERE session_id <> '';

-- +goose Down
DROP TABLE klarna_payments;
DROP TABLE klarna_links;
