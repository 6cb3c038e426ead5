-- +goose Up
-- Every exchange between the shop and a provider (web/outbound's Recorder),
-- redacted before it is written (web/redact: no secret is stored, only
-- fingerprints), with the order or the account it was made for. Pruned by
-- age (SHOP_EXCHANGE_RETENTION); an order's go with it.
--
-- user_id is the account the call was made for or, for an order's call,
-- the order's account (RecordExchange fills it in), so an account's list
-- holds its orders' exchanges too. Headers are JSON objects of string arrays
-- ({"Content-Type": ["application/json"]}); bodies are text, cut at 64 KiB
-- with a marker. status is 0 and error names the kind ("timeout",
-- "network", "canceled") when no answer came.
CREATE TABLE exchanges (
    id              INTEGER PRIMARY KEY,
    started_at      TEXT NOT NULL,
    duration_ms     REAL NOT NULL,
    order_id        INTEGER REFERENCES orders(id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    request_id      TEXT NOT NULL DEFAULT '',
    provider        TEXT NOT NULL,
    operation       TEXT NOT NULL,
    path_template   TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,
    status          INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    try             INTEGER NOT NULL DEFAULT 1,
    retry_reason    TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT '',
    req_headers     TEXT NOT NULL DEFAULT '{}',
    req_body        TEXT NOT NULL DEFAULT '',
    resp_headers    TEXT NOT NULL DEFAULT '{}',
    resp_body       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX exchanges_order_idx ON exchanges(order_id, started_at) WHERE order_id IS NOT NULL;
CREATE INDEX exchanges_user_idx ON exchanges(user_id, started_at) WHERE user_id IS NOT NULL;
CREATE INDEX exchanges_started_idx ON exchanges(started_at);

-- +goose Down
DROP TABLE exchanges;
