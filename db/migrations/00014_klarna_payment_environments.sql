-- +goose Up
-- A Klarna payment attempt (its session id, order request and authorization)
-- belongs to the Klarna API it was made at, as a Vipps payment does (00013):
-- the shop asks only the API it is configured with about its attempts.
-- Attempts made before carry '' (unknown) and are never sent anywhere.
ALTER TABLE klarna_payments ADD COLUMN environment TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE klarna_payments DROP COLUMN environment;
