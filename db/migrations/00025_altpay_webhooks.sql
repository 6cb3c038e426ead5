-- +goose Up
-- Alternative Payments webhooks (web/altpay_webhook.go).
--
-- The shop's subscription, one per environment, topic and endpoint URL. The
-- secret_key is the shop's own random value, sealed with the shop's key
-- (web/secret) and bound to this row; the provider shows only its last four
-- characters and presents it whole, as a Bearer token, on every delivery.
-- The row is written before the subscribe call: subscription_id NULL means
-- the call's outcome is not known yet (the next start finds it by listing).
CREATE TABLE altpay_webhooks (
    environment     TEXT NOT NULL,
    topic           TEXT NOT NULL,
    endpoint_url    TEXT NOT NULL,
    secret_sealed   TEXT NOT NULL,
    subscription_id TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (environment, topic, endpoint_url)
);

-- One row per event the shop received, by invoice and topic: a second
-- delivery of an event already acted on changes nothing. settled_at is when
-- the provider, asked, confirmed the event (the invoice is paid) and the
-- order was brought up to date; NULL: received, not (yet) confirmed, so a
-- later delivery asks again.
CREATE TABLE altpay_webhook_events (
    environment TEXT NOT NULL,
    invoice_id  TEXT NOT NULL,
    topic       TEXT NOT NULL,
    received_at TEXT NOT NULL,
    settled_at  TEXT,
    PRIMARY KEY (environment, invoice_id, topic)
);

-- +goose Down
DROP TABLE altpay_webhook_events;
DROP TABLE altpay_webhooks;
