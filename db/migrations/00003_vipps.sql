-- +goose Up
-- One Vipps MobilePay ePayment per order (an order is one payment attempt).
-- The Idempotency-Keys of each operation are derived from the order's own key
-- and stored here before the first call, so every retry (in this process or
-- after a restart) sends the same key.
CREATE TABLE vipps_payments (
    order_id      INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    reference     TEXT NOT NULL UNIQUE,       -- the ePayment reference
    create_key    TEXT NOT NULL,
    capture_key   TEXT NOT NULL,
    cancel_key    TEXT NOT NULL,
    redirect_url  TEXT NOT NULL DEFAULT '',   -- the landing page, while the customer may still answer
    psp_reference TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT '',   -- Vipps's last reported state; '' until create answered
    captured      INTEGER NOT NULL DEFAULT 0, -- aggregate.capturedAmount.value, last read
    settle_after  TEXT NOT NULL,              -- past this, a pending payment is settled by the sweep
    checked_at    TEXT,                       -- when the shop last asked Vipps
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX vipps_payments_settle_idx ON vipps_payments(settle_after);

-- The payment's event log as Vipps last reported it, for the order page.
CREATE TABLE vipps_events (
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    name            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    occurred_at     TEXT NOT NULL,
    idempotency_key TEXT,               -- NULL for the customer's own actions
    success         INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq)
) STRICT;

-- +goose Down
DROP TABLE vipps_events;
DROP TABLE vipps_payments;
