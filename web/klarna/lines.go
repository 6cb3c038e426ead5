package klarna

import (
	"github.com/google/uuid"

	"refshop/web/money"
)

// Item is a cart line as the shop knows it: a product, a quantity, a
// tax-included unit price and a tax rate (two implied decimals).
type Item struct {
	Reference string
	Name      string
	Quantity  int64
	UnitPrice int64
	TaxRate   int
	Type      string // "" means physical
}

// TypeSalesTax is the order line type of US sales tax.
const TypeSalesTax = "sales_tax"

// SalesTax is the sales tax line of a US order. Klarna's tax-handling guide
// asks for the name "Tax" or "Sales Tax".
func SalesTax(amount int64) Item {
	return Item{Reference: "sales-tax", Name: "Sales Tax", Quantity: 1, UnitPrice: amount, Type: TypeSalesTax}
}

// Lines turns cart items of a market whose prices include VAT (Europe) into
// Klarna order lines with Klarna's arithmetic: total_amount = quantity ×
// unit_price (no discounts here), total_tax_amount is the tax inside that
// total by the shop's rule (money.TaxIncluded, which Klarna accepts within
// one minor unit), and the order's amount and tax are the sums of the
// lines, so they always agree with them
// (https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/).
func Lines(items []Item) (lines []OrderLine, orderAmount, orderTaxAmount int64) {
	for _, it := range items {
		total := it.Quantity * it.UnitPrice
		rate, tax := it.TaxRate, money.TaxIncluded(total, it.TaxRate)
		l := line(it, total)
		l.TaxRate, l.TotalTaxAmount = &rate, &tax
		lines = append(lines, l)
		orderAmount += l.TotalAmount
		orderTaxAmount += tax
	}
	return lines, orderAmount, orderTaxAmount
}

// USLines turns cart items of the United States, whose prices exclude sales
// tax, into Klarna order lines the way Klarna's tax-handling guide asks for
// the US: salesTax is one more line, type sales_tax, named "Sales Tax"; the
// order's order_tax_amount is that line's total_amount; order_amount is the
// sum of every line's total_amount (the tax line's too); and no line carries
// tax_rate (nor total_tax_amount)
// (https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/).
// Items' TaxRate is ignored.
func USLines(items []Item, salesTax int64) (lines []OrderLine, orderAmount, orderTaxAmount int64) {
	for _, it := range items {
		l := line(it, it.Quantity*it.UnitPrice)
		lines = append(lines, l)
		orderAmount += l.TotalAmount
	}
	if salesTax > 0 {
		st := SalesTax(salesTax)
		l := line(st, st.UnitPrice)
		lines = append(lines, l)
		orderAmount += l.TotalAmount
		orderTaxAmount = l.TotalAmount
	}
	return lines, orderAmount, orderTaxAmount
}

func line(it Item, total int64) OrderLine {
	typ := it.Type
	if typ == "" {
		typ = "physical"
	}
	return OrderLine{Type: typ, Reference: it.Reference, Name: it.Name, Quantity: it.Quantity, QuantityUnit: "pcs",
		UnitPrice: it.UnitPrice, TotalAmount: total}
}

// keyNamespace is the UUID namespace of the shop's Klarna idempotency keys.
var keyNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/refshop/refshop/klarna/idempotency"))

// IdempotencyKey derives the key for one operation of one payment attempt: a
// UUID v5 (as Klarna's retry guide asks) of the attempt's own stored key and
// the operation name. The same attempt and operation always give the same
// key, so a retry, even after a crash, is recognised as one.
func IdempotencyKey(attempt, operation string) string {
	return uuid.NewSHA1(keyNamespace, []byte(attempt+"/"+operation)).String() // NewSHA1 is version 5
}
