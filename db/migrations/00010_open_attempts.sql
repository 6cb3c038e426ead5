-- +goose Up
-- A cart has at most one open (pending) payment attempt per payment method:
-- a second "Pay" for the same cart finds the first attempt instead of making
-- a second invoice or payment that could be paid as well. The unique index
-- holds across processes, whatever the handlers do.
--
-- release_due marks an attempt the shop closed (another attempt for its cart
-- was paid, or it was replaced) whose object at the provider may still be
-- open: the flow releases it (a Vipps payment is cancelled) and clears the
-- mark. It is set in the transaction that closes the attempt, so a crash
-- before the release leaves the work for the background release.
ALTER TABLE orders ADD COLUMN release_due INTEGER NOT NULL DEFAULT 0 CHECK (release_due IN (0, 1));

-- Attempts made before this rule: of several open ones for a cart and
-- method, the newest stays open and the others are closed and released.
UPDATE orders SET status = 'cancelled', release_due = 1,
    status_detail = 'Replaced by a newer payment attempt for the same cart. Nothing was charged for this one.',
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE status = 'pending' AND cart_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM orders newer WHERE newer.cart_id = orders.cart_id AND newer.provider = orders.provider
              AND newer.status = 'pending' AND newer.id > orders.id);

CREATE UNIQUE INDEX orders_open_attempt_idx ON orders(cart_id, provider) WHERE status = 'pending';
CREATE INDEX orders_release_due_idx ON orders(cart_id) WHERE release_due = 1;

-- +goose Down
DROP INDEX orders_release_due_idx;
DROP INDEX orders_open_attempt_idx;
ALTER TABLE orders DROP COLUMN release_due;
