package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// CartLineView is one cart line.
type CartLineView struct {
	ProductID string
	Name      string
	Image     string
	UnitPrice string
	Quantity  int
	// QuantityInput is what the customer typed when it was refused.
	QuantityInput string
	Total         string
	TaxRate       string
}

// QuantityValue is the value the quantity field shows.
func (l CartLineView) QuantityValue() string {
	if l.QuantityInput != "" {
		return l.QuantityInput
	}
	return strconv.Itoa(l.Quantity)
}

// CartView is a priced cart.
type CartView struct {
	Lines    []CartLineView
	Subtotal string // sum of line totals
	Tax      string // VAT included in Subtotal, or the sales tax
	// SalesTax is the sales tax added to Subtotal at SalesTaxRate where
	// prices exclude tax (the United States); "" where they include VAT.
	SalesTax     string
	SalesTaxRate string
	Total        string
	Currency     string
	Count        int // items, counting quantities
}

// Empty reports whether the cart has no lines.
func (c CartView) Empty() bool { return len(c.Lines) == 0 }

// CheckoutView is the checkout page: the order that will be placed and the
// payment methods the provider flows add.
type CheckoutView struct {
	Cart    CartView
	Methods []templ.Component
	Notices []string
	Guest   bool
	Market  string // the market's name: what the methods are offered in
}
