-- +goose Up
-- The requests the sandbox received on its provider routes, each with its
-- answer, redacted (package exchanges owns this table and its queries; the
-- latest few thousand are kept). Times are RFC 3339 text; headers and refs
-- JSON.
CREATE TABLE exchanges (
    id               INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, not even after a reset
    at               TEXT    NOT NULL, -- wall clock, when the request arrived
    sandbox_time     TEXT    NOT NULL, -- the sandbox clock then
    provider         TEXT    NOT NULL, -- "klarna", "vipps", "altpay"
    operation        TEXT    NOT NULL, -- "altpay.checkout_invoice"; "" when the route has none
    origin           TEXT    NOT NULL, -- "browser" or "server"
    method           TEXT    NOT NULL,
    path             TEXT    NOT NULL, -- path and query, redacted
    pattern          TEXT    NOT NULL, -- the route's pattern
    status           INTEGER NOT NULL, -- 0 when no answer went out
    lost             INTEGER NOT NULL, -- 1: the answer was lost (lose_answer)
    duration_ms      REAL    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    request_headers  TEXT    NOT NULL, -- JSON object
    request_body     TEXT    NOT NULL,
    response_headers TEXT    NOT NULL, -- JSON object
    response_body    TEXT    NOT NULL,
    refs             TEXT    NOT NULL  -- JSON array of strings
) STRICT;

-- +goose Down
DROP TABLE exchanges;
