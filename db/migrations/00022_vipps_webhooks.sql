-- +goose Up
-- The shop's registration with the Vipps MobilePay Webhooks API: one row per
-- Vipps environment (its API base URL) and webhook URL, shared by every shop
-- instance on this database. Inserting the row is the claim to register:
-- only the instance whose insert (or takeover, by claim) succeeded calls
-- Vipps; the others wait for webhook_id and secret. secret is sealed
-- (web/secret): Vipps shows it once, and it signs every delivery.
CREATE TABLE vipps_webhooks (
    environment   TEXT NOT NULL,
    url           TEXT NOT NULL,
    claim         TEXT NOT NULL,            -- a random token of the instance registering it
    claimed_at    TEXT NOT NULL,
    webhook_id    TEXT NOT NULL DEFAULT '', -- '' while its claimant registers
    secret        TEXT NOT NULL DEFAULT '', -- sealed; '' while its claimant registers
    registered_at TEXT,
    PRIMARY KEY (environment, url)
);

-- Every webhook event the shop received for one of its payments, once:
-- Vipps may deliver an event again (retries, overlapping registrations), and
-- (psp_reference, name) names it. settled_at is when the shop acted on it;
-- NULL: not yet (a repeat delivery then tries again, and so does the Vipps
-- sweep, at next_try_at, counting its failed tries).
CREATE TABLE vipps_webhook_events (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    msn             TEXT NOT NULL,
    reference       TEXT NOT NULL,
    psp_reference   TEXT NOT NULL,
    name            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,           -- the event's timestamp
    success         INTEGER NOT NULL,
    idempotency_key TEXT,                    -- NULL when the event carries none
    received_at     TEXT NOT NULL,
    settled_at      TEXT,
    tries           INTEGER NOT NULL DEFAULT 0, -- the sweep's failed tries
    next_try_at     TEXT,                    -- NULL: due
    UNIQUE (psp_reference, name)
);
CREATE INDEX vipps_webhook_events_order_idx ON vipps_webhook_events(order_id, occurred_at);
CREATE INDEX vipps_webhook_events_unsettled_idx ON vipps_webhook_events(received_at) WHERE settled_at IS NULL;

-- +goose Down
DROP TABLE vipps_webhook_events;
DROP TABLE vipps_webhooks;
