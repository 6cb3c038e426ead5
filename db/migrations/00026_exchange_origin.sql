-- +goose Up
-- origin says who made an exchange's request: 'shop' (the shop called the
-- provider: every row before this) or 'provider' (the provider called the
-- shop: a webhook delivery, a callback; web/inbound). The browser's calls
-- to a provider are never stored here (the sandbox's record of them is read
-- live). event is the event a provider's call delivered
-- ('epayments.payment.authorized.v1', 'invoice_paid',
-- 'FRAUD_RISK_ACCEPTED'); '' for none.
ALTER TABLE exchanges ADD COLUMN origin TEXT NOT NULL DEFAULT 'shop' CHECK (origin IN ('shop', 'provider'));
ALTER TABLE exchanges ADD COLUMN event TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE exchanges DROP COLUMN event;
ALTER TABLE exchanges DROP COLUMN origin;
