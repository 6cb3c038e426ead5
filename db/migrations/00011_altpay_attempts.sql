-- +goose Up
-- Alternative Payments ids belong to one environment: the API base URL the
-- shop talked to (the sandbox, demo or production). Every stored id now names
-- its environment, and the shop looks up and sends only ids of the one it is
-- configured with, so sandbox ids never reach a real API. Rows made before
-- carry '' (unknown) and are never sent anywhere.
--
-- A guest's provider customer is per email and name typed (the API cannot
-- change a customer's email or name), so a second invoice in one session goes
-- to the details given for it. A user's is one per account and environment.
CREATE TABLE altpay_customers_new (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    guest_id    TEXT,
    email       TEXT NOT NULL DEFAULT '' COLLATE NOCASE, -- what the customer was made with
    name        TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL UNIQUE,
    customer_id TEXT,                      -- the provider's id; NULL until created, or once the provider lost it
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (guest_id IS NULL))
) STRICT;
INSERT INTO altpay_customers_new(id, environment, user_id, guest_id, external_id, customer_id, created_at, updated_at)
    SELECT id, '', user_id, guest_id, external_id, customer_id, created_at, updated_at FROM altpay_customers;
DROP TABLE altpay_customers;
ALTER TABLE altpay_customers_new RENAME TO altpay_customers;
CREATE UNIQUE INDEX altpay_customers_user_idx ON altpay_customers(environment, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX altpay_customers_guest_idx ON altpay_customers(environment, guest_id, email, name) WHERE guest_id IS NOT NULL;
CREATE UNIQUE INDEX altpay_customers_provider_idx ON altpay_customers(environment, customer_id) WHERE customer_id IS NOT NULL;

-- An order's invoice is recorded BEFORE the provider is asked for it: the
-- customer, the Idempotency-Key and the due date, so that every try, after a
-- lost answer or a restart, sends the same request and gets the same invoice.
-- invoice_id stays NULL until an answer is recorded; past settle_after the
-- order page and the background reconciliation ask again, settle_tries
-- counting the background's failures.
CREATE TABLE altpay_invoices_new (
    order_id        INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    environment     TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    due_date        TEXT NOT NULL,
    invoice_id      TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT '',  -- UPCOMING, OVERDUE, RECEIVED, PAID, ARCHIVED
    checked_at      TEXT,
    settle_after    TEXT NOT NULL,
    settle_tries    INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
) STRICT;
INSERT INTO altpay_invoices_new(order_id, environment, customer_id, idempotency_key, due_date, invoice_id, status,
                                checked_at, settle_after, created_at)
    SELECT i.order_id, '', i.customer_id, 'invoice-' || o.idempotency_key, '', i.invoice_id, i.status,
           i.checked_at, i.created_at, i.created_at
    FROM altpay_invoices i JOIN orders o ON o.id = i.order_id;
DROP TABLE altpay_invoices;
ALTER TABLE altpay_invoices_new RENAME TO altpay_invoices;
CREATE INDEX altpay_invoices_settle_idx ON altpay_invoices(settle_after) WHERE invoice_id IS NULL;

-- +goose Down
CREATE TABLE altpay_invoices_old (
    order_id    INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    invoice_id  TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    checked_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
INSERT INTO altpay_invoices_old SELECT order_id, customer_id, invoice_id, status, COALESCE(checked_at, created_at), created_at
    FROM altpay_invoices WHERE invoice_id IS NOT NULL;
DROP TABLE altpay_invoices;
ALTER TABLE altpay_invoices_old RENAME TO altpay_invoices;

CREATE TABLE altpay_customers_old (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    guest_id    TEXT UNIQUE,
    external_id TEXT NOT NULL UNIQUE,
    customer_id TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (guest_id IS NULL))
) STRICT;
-- One row per user or guest: the newest.
INSERT INTO altpay_customers_old
    SELECT id, user_id, guest_id, external_id, customer_id, created_at, updated_at FROM altpay_customers c
    WHERE id = (SELECT MAX(id) FROM altpay_customers d WHERE d.user_id IS c.user_id AND d.guest_id IS c.guest_id);
DROP TABLE altpay_customers;
ALTER TABLE altpay_customers_old RENAME TO altpay_customers;
