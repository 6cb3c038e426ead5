-- +goose Up
-- How many times the background sweep failed to settle a Vipps payment (no
-- answer, a 5xx or a 429). Each failure pushes settle_after back further; past
-- a bound the sweep stops asking and logs the order for a person.
ALTER TABLE vipps_payments ADD COLUMN settle_tries INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE vipps_payments DROP COLUMN settle_tries;
