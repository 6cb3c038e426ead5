-- +goose Up
-- What several shop instances on one database share beyond the orders.
--
-- leases: one row per background sweep ('vipps', 'klarna', 'exchanges', ...).
-- holder is the random id of the instance running the sweep; until is when
-- its lease lapses unless renewed (each pass renews it). Another instance
-- takes the sweep over only after until. Times are fixed-width UTC text, so
-- they compare as text in time order.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT NOT NULL
);

-- throttle: failed sign-ins and sign-ups per key (a client address or an
-- account), as web/throttle.go counts them. key is a hash of the key, so the
-- table holds no address or email in the clear; a row older than the
-- failure window counts as none and is deleted now and then.
CREATE TABLE throttle (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at  TEXT NOT NULL
);
CREATE INDEX throttle_last_at ON throttle(last_at);

-- +goose Down
DROP TABLE throttle;
DROP TABLE leases;
