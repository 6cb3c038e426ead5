-- +goose Up
-- The events the sandbox delivered or is delivering to URLs the shop
-- registered (webhooks, callbacks, notifications), each with its attempts
-- (package deliveries owns this table and its queries). body is the
-- delivery as JSON; the id is the one GET /control/deliveries shows and
-- POST /control/deliveries/{id}/replay takes.
CREATE TABLE deliveries (
    id   INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, not even after a reset
    body TEXT    NOT NULL                   -- JSON (deliveries.Delivery without its id)
) STRICT;

-- +goose Down
DROP TABLE deliveries;
