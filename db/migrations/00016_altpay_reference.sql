-- +goose Up
-- Alternative Payments does not document POST /invoices as idempotent (no
-- Idempotency-Key, no field of the caller's own on an invoice), so the shop
-- sends it once and, when the outcome is unknown (no answer, a 5xx), looks
-- the invoice up before it asks again. Both are recorded before the request:
--   reference       the shop's own reference, sent in the invoice's memo and
--                   matched in GET /invoices; '' on no row.
--   create_sent_at  when a create was last sent: set, the invoice may exist,
--                   and is looked for before any new create; NULL, never sent.
-- idempotency_key stays as the attempt's request key in logs; it is no longer
-- sent. Rows made before carry the memo the shop sent then ('Refshop order '
-- and the order's public id), and an unrecorded one counts as sent.
ALTER TABLE altpay_invoices ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE altpay_invoices ADD COLUMN create_sent_at TEXT;
UPDATE altpay_invoices
   SET reference = 'Refshop order ' || (SELECT public_id FROM orders WHERE orders.id = altpay_invoices.order_id);
UPDATE altpay_invoices SET create_sent_at = created_at WHERE invoice_id IS NULL;

-- +goose Down
ALTER TABLE altpay_invoices DROP COLUMN create_sent_at;
ALTER TABLE altpay_invoices DROP COLUMN reference;
