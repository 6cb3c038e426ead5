-- +goose Up
-- The back office (web/admin*.go). An account is a customer or one of the
-- shop's administrators; administrators are made only by cmd/shop
-- (SHOP_ADMIN_EMAIL, or `shop admin`), never by sign-up.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin'));

-- What the provider last reported of the order's money, in minor units of
-- the order's currency: reserved, taken, paid back, released. amounts_at is
-- when it was reported; NULL: never (the status alone says what the shop
-- knows).
ALTER TABLE orders ADD COLUMN authorized_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN captured_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN cancelled_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN amounts_at TEXT;

-- One row per back office operation on an order's payment: a capture (the
-- order ships), a refund or a cancel. Its Idempotency-Key is stored here
-- before the first call, so every retry (a second press, the sweep after a
-- crash) sends the same one. state: sent (the call may be under way), done,
-- refused (the provider said no, or has no record of it), unknown (no
-- answer, and the provider could not be asked yet). before_amount is the
-- order's total of that kind (captured, refunded, cancelled) when the
-- operation started: the provider's total past before + amount shows it was
-- made when its own answer was lost.
CREATE TABLE order_operations (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('capture', 'refund', 'cancel')),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('sent', 'done', 'refused', 'unknown')),
    answer          TEXT NOT NULL DEFAULT '', -- the provider's answer in words, for the back office
    before_amount   INTEGER NOT NULL,
    admin_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- At most one operation in flight per order, whatever the processes do
-- (a partial unique index: SQLite and PostgreSQL both have them).
CREATE UNIQUE INDEX order_operations_in_flight_idx ON order_operations(order_id) WHERE state IN ('sent', 'unknown');
CREATE INDEX order_operations_order_idx ON order_operations(order_id, id);
CREATE INDEX orders_created_idx ON orders(created_at);

-- +goose Down
DROP INDEX orders_created_idx;
DROP TABLE order_operations;
ALTER TABLE orders DROP COLUMN amounts_at;
ALTER TABLE orders DROP COLUMN cancelled_amount;
ALTER TABLE orders DROP COLUMN refunded_amount;
ALTER TABLE orders DROP COLUMN captured_amount;
ALTER TABLE orders DROP COLUMN authorized_amount;
ALTER TABLE users DROP COLUMN role;
