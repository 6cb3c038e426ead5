-- +goose Up
-- base_urls: the public base URL (SHOP_BASE_URL) each shop instance on this
-- database started with, and when it last did. Instances behind one proxy
-- must share one: it is in the bodies the providers hold idempotency keys
-- to (Klarna's merchant_urls), in the webhook registrations and in the
-- links sent to customers. An instance starting with another one than an
-- instance that started lately warns (db.Store.RecordBaseURL).
CREATE TABLE base_urls (
    base_url   TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE base_urls;
