-- +goose Up
-- provider_at is the provider's clock when the exchange started (in sandbox
-- mode the sandbox's clock, which a test or a person may move ahead; in real
-- mode the shop's own), in exchanges.started_at's format; '' when unknown.
-- Token lifetimes run on the provider's clock, so the token lifecycle
-- (web/tokenlife) reads this, not started_at.
ALTER TABLE exchanges ADD COLUMN provider_at TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE exchanges DROP COLUMN provider_at;
