package views

import "github.com/a-h/templ"

// OrderSummary is an order in a list.
type OrderSummary struct {
	PublicID   string
	Created    string
	Status     string // db status, for its class
	StatusText string // the status in words, from the money
	PaidWith   string // the payment method; "" unless the order was paid (authorized or captured)
	Total      string
	ItemCount  int
}

// AccountView is the account page.
type AccountView struct {
	User   UserView
	Orders []OrderSummary
	// Sections are flows' own sections after the orders (unpaid invoices).
	Sections []templ.Component
	// Linked holds one panel per provider account the flows can link.
	Linked []templ.Component
	// Tokens is the account's own tokens (Sign in with Klarna's, Klarna's
	// customer_token), after the linked accounts.
	Tokens TokensView
}

// OrderLineView is a line on the order page.
type OrderLineView struct {
	Name      string
	Quantity  int
	UnitPrice string
	Total     string
	TaxRate   string
}

// OrderView is the order page.
type OrderView struct {
	PublicID          string
	Created           string
	Status            string // pending, authorized, captured, failed, cancelled: for its class
	StatusText        string // the status in words, from the money ("Partly refunded")
	StatusDetail      string
	Provider          string
	ProviderReference string
	Market            string // where it was placed: "Norway"
	Lines             []OrderLineView
	Total             string
	Tax               string
	TaxLabel          string // "Included VAT", or "Sales tax" where it was added
	// Details and Actions are the provider flow's own parts (events, retry).
	Details []templ.Component
	Actions []templ.Component
	// Exchanges is "How this payment happened", after the flow's parts.
	Exchanges ExchangesView
}

// StatusLabel is the status as a customer reads it, from the status alone
// (the shop says more from the money: web's statusText).
func StatusLabel(s string) string {
	switch s {
	case "pending":
		return "Awaiting payment"
	case "authorized":
		return "Payment authorized"
	case "captured":
		return "Paid"
	case "failed":
		return "Payment failed"
	case "cancelled":
		return "Cancelled"
	}
	return s
}
