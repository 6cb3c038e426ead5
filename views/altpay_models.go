package views

// The view models of the pay-by-invoice flow (Alternative Payments).

// AltpayMethodView is the "Pay by invoice" choice on the checkout page. A
// guest gives the email and name the invoice is addressed to.
type AltpayMethodView struct {
	Guest  bool
	Email  string
	Name   string
	Errors FormErrors
}

// AltpayInvoiceView is the invoice page. The page's script loads the
// invoice, the saved payment methods and pays through the checkout snippet;
// the server renders only what it knows from its own order.
type AltpayInvoiceView struct {
	OrderID    string // the order's public id
	InvoiceID  string // the provider's
	Lines      []OrderLineView
	Total      string
	Tax        string
	TaxLabel   string // "Sales tax", or "Included VAT"
	Paid       bool
	Notice     string // set when the invoice cannot be paid here (closed, another environment): why
	APIBaseURL string // where the snippet calls the checkout API
	TokenURL   string // the shop's checkout-token endpoint
	ConfirmURL string // the form that asks the server to check the invoice
	// Callback false runs the snippet without onAccessTokenExpired
	// (?callback=off), to show AccessTokenExpiredError.
	Callback bool
}

// AltpayUnpaidView is one unpaid invoice on the account page.
type AltpayUnpaidView struct {
	OrderID   string
	Created   string
	Total     string
	ItemCount int
}

// AltpayOrderView is what the order page shows of an order's invoice.
type AltpayOrderView struct {
	OrderID   string
	InvoiceID string
	Status    string // the provider's status when last checked
	Pending   bool   // the order awaits payment: offer the invoice page
	Notice    string // set when the invoice cannot be paid here: why
	// Confirming says the shop is still asking the provider for the
	// invoice; the page reloads itself meanwhile.
	Confirming string
}
