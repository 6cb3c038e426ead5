-- +goose Up
-- What the shop sent Klarna to place an attempt's order, stored before the
-- first try, so every retry (the customer's, a page view's, the background
-- sweep's, after a restart too) sends the same request with the same key and
-- finds the order a lost answer placed.
--
-- order_key:      the Klarna-Idempotency-Key of create order (or of the
--                 customer-token order, for "Buy again"); '' until submitted
-- order_request:  the request body as first sent (JSON, no secrets)
-- authorization_sealed: the authorization token from the widget, sealed with the
--                 shop's key (aad "order:<id>:klarna_authorization_token")
-- settle_after_ms: when the sweep next asks Klarna about the attempt (unix
--                 ms); NULL once settled
-- settle_tries:   the sweep's failed tries; past a bound it is left for a person
-- sent_access_token: the session carried a Sign in with Klarna access token
--                 that Klarna had just confirmed (the pay page may say so)
ALTER TABLE klarna_payments ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
ALTER TABLE klarna_payments ADD COLUMN order_request TEXT NOT NULL DEFAULT '';
ALTER TABLE klarna_payments ADD COLUMN authorization_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE klarna_payments ADD COLUMN settle_after_ms INTEGER;
ALTER TABLE klarna_payments ADD COLUMN settle_tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE klarna_payments ADD COLUMN sent_access_token INTEGER NOT NULL DEFAULT 0 CHECK (sent_access_token IN (0, 1));
CREATE INDEX klarna_payments_settle_idx ON klarna_payments(settle_after_ms) WHERE settle_after_ms IS NOT NULL;

-- Attempts left open before this migration are asked about at once: a lost
-- answer may have placed their order.
UPDATE klarna_payments SET settle_after_ms = 0
WHERE order_id IN (SELECT id FROM orders WHERE provider = 'klarna'
                   AND (status = 'pending' OR (status = 'authorized' AND provider_reference IS NULL)));

-- A refresh lease is "sending" once its holder is about to send the refresh
-- token: only such a lease that runs out may have spent the token. A lease
-- that is not sending is safe to take over. Leases held when this runs were
-- taken by code that did not record it, so they count as sending.
ALTER TABLE klarna_grants ADD COLUMN lease_sending INTEGER NOT NULL DEFAULT 0 CHECK (lease_sending IN (0, 1));
UPDATE klarna_grants SET lease_sending = 1 WHERE lease_owner IS NOT NULL;

-- +goose Down
ALTER TABLE klarna_grants DROP COLUMN lease_sending;
DROP INDEX klarna_payments_settle_idx;
ALTER TABLE klarna_payments DROP COLUMN sent_access_token;
ALTER TABLE klarna_payments DROP COLUMN settle_tries;
ALTER TABLE klarna_payments DROP COLUMN settle_after_ms;
ALTER TABLE klarna_payments DROP COLUMN authorization_sealed;
ALTER TABLE klarna_payments DROP COLUMN order_request;
ALTER TABLE klarna_payments DROP COLUMN order_key;
