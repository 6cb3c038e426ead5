-- +goose Up
-- Key check: a value sealed with the shop's secret key, so a changed key fails
-- loudly at start instead of silently failing to open stored tokens later.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- scs sessions (github.com/alexedwards/scs/sqlite3store's schema).
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry REAL NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions(expiry);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL COLLATE NOCASE,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT,            -- NULL for accounts made by a provider sign-in
    created_at    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_idx ON users(email);

-- A cart belongs to a guest session (user_id NULL) or to a user. Guest carts
-- are merged into the user's cart at sign-in.
CREATE TABLE carts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE cart_items (
    cart_id    INTEGER NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   TEXT NOT NULL,
    PRIMARY KEY (cart_id, product_id)
) STRICT;

-- One row per payment attempt: a retry after a rejection is a new order with a
-- new idempotency key; a retry of the same call reuses the stored key.
CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY,
    public_id          TEXT NOT NULL UNIQUE,   -- in URLs; unguessable
    user_id            INTEGER REFERENCES users(id),
    guest_id           TEXT,                   -- the guest session that placed it
    cart_id            INTEGER REFERENCES carts(id) ON DELETE SET NULL,
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'authorized', 'captured', 'failed', 'cancelled')),
    provider           TEXT NOT NULL,
    provider_reference TEXT,
    idempotency_key    TEXT NOT NULL UNIQUE,
    currency           TEXT NOT NULL,
    total_amount       INTEGER NOT NULL,
    tax_amount         INTEGER NOT NULL,
    status_detail      TEXT NOT NULL DEFAULT '', -- a customer-safe note on the last change
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (guest_id IS NULL))
) STRICT;
CREATE INDEX orders_user_idx ON orders(user_id, created_at);
CREATE UNIQUE INDEX orders_provider_ref_idx ON orders(provider, provider_reference)
    WHERE provider_reference IS NOT NULL;

CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_id       TEXT NOT NULL,
    name             TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price       INTEGER NOT NULL,   -- minor units, tax included
    tax_rate         INTEGER NOT NULL,   -- two implied decimals: 1900 = 19%
    total_amount     INTEGER NOT NULL,
    total_tax_amount INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) STRICT;

-- +goose Down
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE cart_items;
DROP TABLE carts;
DROP TABLE users;
DROP TABLE sessions;
DROP TABLE meta;
