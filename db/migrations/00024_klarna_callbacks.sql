-- +goose Up
-- Klarna's server-to-server calls (web/klarna_callbacks.go).
--
-- callback_token_sealed: the one-time token the attempt's callback URLs
-- carry (merchant_urls.authorization on the session, .notification on the
-- order), sealed with the shop's key: Klarna signs neither call and
-- recommends a token of the merchant's own in the URL. '' for attempts made
-- before (they get no callbacks).
--
-- fraud_status: Klarna's fraud_status of the placed order as the shop last
-- learned it (create order's answer, then Order Management when the review
-- ends): ACCEPTED, PENDING (do not ship) or REJECTED; '' while no order is
-- known. The back office reads it before shipping.
ALTER TABLE klarna_payments ADD COLUMN callback_token_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE klarna_payments ADD COLUMN fraud_status TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE klarna_payments DROP COLUMN fraud_status;
ALTER TABLE klarna_payments DROP COLUMN callback_token_sealed;
