-- +goose Up
-- The ways to pay a Klarna session offers (its payment_method_categories,
-- from the create-session answer or a read of the session after an
-- update), as JSON [{"identifier": "...", "name": "..."}]: the payment page
-- lists them by Klarna's names and loads and authorizes the one the customer
-- picks. '' for attempts made before (the page then reads the session).
--
-- An attempt's Klarna region needs no column: it is its order's market's
-- (orders.market, 00015), and environment (00014) already names the API
-- base URL the attempt was made at, Europe's or North America's.
ALTER TABLE klarna_payments ADD COLUMN payment_method_categories TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE klarna_payments DROP COLUMN payment_method_categories;
