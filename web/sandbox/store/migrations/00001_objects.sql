-- +goose Up
-- Every object the emulated providers keep (payments, sessions, orders,
-- customers, invoices, tokens, grants, signing keys, ...) and the control
-- state, one row each, as JSON: the providers' own types are the model, this
-- table is their durable copy (see the package documentation).
CREATE TABLE objects (
    part TEXT NOT NULL, -- "control", "vipps", "klarna", "klarnasignin", "altpay"
    kind TEXT NOT NULL, -- the part's name for the object's type: "payment", "session", ...
    id   TEXT NOT NULL,
    body TEXT NOT NULL, -- JSON
    PRIMARY KEY (part, kind, id)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE objects;
