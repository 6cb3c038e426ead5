// Package views holds the shop's templ components. Each page is a pure
// function of its view model; handlers in package web build the models.
package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// Chrome is what every page's frame needs.
type Chrome struct {
	Title     string
	User      *UserView // nil when signed out
	CartCount int
	Flash     string // a one-time notice after a redirect
}

// UserView is the signed-in user as pages show them.
type UserView struct {
	Email string
	Name  string
}

// Display is the name to greet the user by.
func (u UserView) Display() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// ProductView is a product card or page.
type ProductView struct {
	ID          string
	Name        string
	Summary     string
	Description string
	Price       string
	TaxRate     string
	Image       string
}

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

// QuantityForm is the product page's add-to-cart quantity and its message.
type QuantityForm struct {
	Value string
	Error string
}

// CartView is a priced cart.
type CartView struct {
	Lines    []CartLineView
	Subtotal string // sum of line totals, tax included
	Tax      string // tax included in Subtotal
	Total    string
	Count    int // items, counting quantities
}

// Empty reports whether the cart has no lines.
func (c CartView) Empty() bool { return len(c.Lines) == 0 }

// FormErrors maps a field name to its message; "" holds a form-wide message.
type FormErrors map[string]string

// Has reports whether field has a message.
func (f FormErrors) Has(field string) bool { _, ok := f[field]; return ok }

// AuthForm is the sign-up or sign-in form with what the user typed. The
// password is never echoed back.
type AuthForm struct {
	Email  string
	Name   string
	Next   string // where to go after signing in (a local path)
	Errors FormErrors
	// Extra holds sign-in options added by provider flows (Sign in with Klarna).
	Extra []templ.Component
}

// CheckoutView is the checkout page: the order that will be placed and the
// payment methods the provider flows add.
type CheckoutView struct {
	Cart    CartView
	Methods []templ.Component
	Notices []string
	Guest   bool
}

// OrderSummary is an order in a list.
type OrderSummary struct {
	PublicID  string
	Created   string
	Status    string
	Provider  string
	Total     string
	ItemCount int
}

// AccountView is the account page.
type AccountView struct {
	User   UserView
	Orders []OrderSummary
	// Sections are flows' own sections after the orders (unpaid invoices).
	Sections []templ.Component
	// Linked holds one panel per provider account the flows can link.
	Linked []templ.Component
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
	Status            string // pending, authorized, captured, failed, cancelled
	StatusDetail      string
	Provider          string
	ProviderReference string
	Lines             []OrderLineView
	Total             string
	Tax               string
	// Details and Actions are the provider flow's own parts (events, retry).
	Details []templ.Component
	Actions []templ.Component
}

// items counts items in words: "1 item", "3 items".
func items(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}

// StatusLabel is the status as a customer reads it.
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

// ErrorView is an error page. Message is always customer-safe text.
type ErrorView struct {
	Status    int
	Title     string
	Message   string
	Reference string // a support reference: the request id or a provider correlation id
}
