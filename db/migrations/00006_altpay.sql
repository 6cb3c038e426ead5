-- +goose Up
-- The Alternative Payments customer of a shop user or of a guest session,
-- created once. external_id is ours (random, so two shop databases sharing one
-- provider account never collide) and is stored BEFORE the provider call: a
-- retry after a lost answer sends the same external_id, and the provider's
-- "external id is already used" then leads to the customer made the first time.
CREATE TABLE altpay_customers (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    guest_id    TEXT UNIQUE,
    external_id TEXT NOT NULL UNIQUE,
    customer_id TEXT UNIQUE,               -- the provider's id; NULL until created
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (guest_id IS NULL))
) STRICT;

-- The provider invoice of an order, one per order. orders.provider_reference
-- holds the invoice id too; this row adds the customer the checkout token is
-- minted for and the invoice status the shop last saw from the provider.
CREATE TABLE altpay_invoices (
    order_id    INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    invoice_id  TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,             -- UPCOMING, OVERDUE, RECEIVED, PAID, ARCHIVED
    checked_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE altpay_invoices;
DROP TABLE altpay_customers;
