-- +goose Up
-- An order keeps the market it was placed in (its country, locale and
-- provider region follow from it) and, where prices exclude tax (the United
-- States), the sales tax added at checkout. Orders from before markets were
-- German.
ALTER TABLE orders ADD COLUMN market TEXT NOT NULL DEFAULT 'de';
ALTER TABLE orders ADD COLUMN sales_tax INTEGER NOT NULL DEFAULT 0 CHECK (sales_tax >= 0);

-- +goose Down
ALTER TABLE orders DROP COLUMN sales_tax;
ALTER TABLE orders DROP COLUMN market;
