-- +goose Up
-- Back office operations (web/admin*.go), second step.
--
-- Klarna's Order Management adds two kinds: release (give up what a partly
-- captured order will not capture) and extend (extend the authorization's
-- time). A CHECK cannot be changed in place in SQLite, so the table is
-- rebuilt with its rows.
--
-- form_key is the key of the page an operation was asked from (a fresh one
-- per page): the same form sent twice is one operation, retried with its
-- Idempotency-Key; a new page makes a new one. For an extension,
-- before_amount is the authorization's expiry (Unix seconds) when it
-- started.
--
-- A new state, undetermined: settled by the sweep although the provider's
-- figures cannot tell whether the operation was made (Klarna: an
-- extension on a day the order was extended already gives the same date).
--
-- settle_tries and next_try_at are the sweep's tries at settling an
-- operation left in flight: one it cannot settle waits longer each time
-- (next_try_at), so it does not hold back the ones after it.
CREATE TABLE order_operations_next (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('capture', 'refund', 'cancel', 'release', 'extend')),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('sent', 'done', 'refused', 'unknown', 'undetermined')),
    answer          TEXT NOT NULL DEFAULT '',
    before_amount   INTEGER NOT NULL,
    admin_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    form_key        TEXT NOT NULL DEFAULT '',
    settle_tries    INTEGER NOT NULL DEFAULT 0,
    next_try_at     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- An operation stored before had no page: its page key is its
-- idempotency key (unique, never a page's), so one in flight can be
-- retried from the order's page like any other.
INSERT INTO order_operations_next(id, order_id, kind, amount, currency, idempotency_key, state, answer, before_amount, admin_id,
                                  form_key, next_try_at, created_at, updated_at)
SELECT id, order_id, kind, amount, currency, idempotency_key, state, answer, before_amount, admin_id,
       idempotency_key, updated_at, created_at, updated_at
FROM order_operations;
DROP TABLE order_operations;
ALTER TABLE order_operations_next RENAME TO order_operations;
CREATE UNIQUE INDEX order_operations_in_flight_idx ON order_operations(order_id) WHERE state IN ('sent', 'unknown');
CREATE INDEX order_operations_order_idx ON order_operations(order_id, id);
CREATE INDEX order_operations_form_idx ON order_operations(order_id, form_key);
CREATE INDEX order_operations_settle_idx ON order_operations(next_try_at) WHERE state IN ('sent', 'unknown');

-- Stored since 00003 and never sent: a capture is a back office operation
-- with its own key in order_operations.
ALTER TABLE vipps_payments DROP COLUMN capture_key;

-- +goose Down
-- The old table holds neither releases nor extensions. Settled ones are
-- dropped (the order's figures keep what they did); one still in flight
-- would be forgotten before anyone knew whether it was made, so down
-- refuses while there is one: the named CHECK below fails (goose runs down
-- in a transaction, so nothing changes) until the shop has settled it.
-- A temporary table, not a trigger: the same SQL works in PostgreSQL.
CREATE TEMPORARY TABLE down_00023_guard (
    in_flight INTEGER NOT NULL,
    CONSTRAINT release_or_extend_in_flight_settle_it_before_migrating_down CHECK (in_flight = 0)
);
INSERT INTO down_00023_guard(in_flight)
SELECT count(*) FROM order_operations WHERE kind IN ('release', 'extend') AND state IN ('sent', 'unknown');
DROP TABLE down_00023_guard;
ALTER TABLE vipps_payments ADD COLUMN capture_key TEXT NOT NULL DEFAULT '';
CREATE TABLE order_operations_prev (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('capture', 'refund', 'cancel')),
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('sent', 'done', 'refused', 'unknown')),
    answer          TEXT NOT NULL DEFAULT '',
    before_amount   INTEGER NOT NULL,
    admin_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
INSERT INTO order_operations_prev(id, order_id, kind, amount, currency, idempotency_key, state, answer, before_amount, admin_id, created_at, updated_at)
SELECT id, order_id, kind, amount, currency, idempotency_key, CASE state WHEN 'undetermined' THEN 'refused' ELSE state END,
       answer, before_amount, admin_id, created_at, updated_at
FROM order_operations WHERE kind IN ('capture', 'refund', 'cancel');
DROP TABLE order_operations;
ALTER TABLE order_operations_prev RENAME TO order_operations;
CREATE UNIQUE INDEX order_operations_in_flight_idx ON order_operations(order_id) WHERE state IN ('sent', 'unknown');
CREATE INDEX order_operations_order_idx ON order_operations(order_id, id);
