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

// SalesTax is the sales tax line of a US order.
func SalesTax(amount int64) Item {
	return Item{Reference: "sales-tax", Name: "Sales Tax", Quantity: 1, UnitPrice: amount, Type: TypeSalesTax}
}

// Lines turns cart items into Klarna order lines with Klarna's arithmetic:
// total_amount = quantity × unit_price (no discounts here), total_tax_amount
// is the tax inside that total by the shop's rule (money.TaxIncluded, which
// Klarna accepts within one minor unit), and the order's amount and tax are
// the sums of the lines, so they always agree with them.
//
// In the United States prices exclude tax: the products carry no tax, and
// the tax is one more line of type sales_tax (TypeSalesTax) named "Sales
// Tax", whose total is the order's order_tax_amount
// (https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/).
func Lines(items []Item) (lines []OrderLine, orderAmount, orderTaxAmount int64) {
	for _, it := range items {
		typ := it.Type
		if typ == "" {
			typ = "physical"
		}
		total := it.Quantity * it.UnitPrice
		l := OrderLine{
			Type: typ, Reference: it.Reference, Name: it.Name, Quantity: it.Quantity, QuantityUnit: "pcs",
			UnitPrice: it.UnitPrice, TaxRate: it.TaxRate, TotalAmount: total,
			TotalTaxAmount: money.TaxIncluded(total, it.TaxRate),
		}
		lines = append(lines, l)
		orderAmount += l.TotalAmount
		orderTaxAmount += l.TotalTaxAmount
		if typ == TypeSalesTax {
			orderTaxAmount += l.TotalAmount
		}
	}
	return lines, orderAmount, orderTaxAmount
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
