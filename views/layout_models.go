package views

import (
	"strconv"
)

// Chrome is what every page's frame needs.
type Chrome struct {
	Title     string
	User      *UserView // nil when signed out
	CartCount int
	Flash     string // a one-time notice after a redirect
	Market    MarketChoice
}

// MarketChoice is the header's market picker.
type MarketChoice struct {
	Options []MarketOption
	Current string // the chosen option's ID
	Next    string // the page to come back to
	// PriceNote says how the market's prices treat tax.
	PriceNote string
}

// MarketOption is one market in the picker.
type MarketOption struct {
	ID    string
	Label string // "Norway (NOK)"
}

// UserView is the signed-in user as pages show them.
type UserView struct {
	Email string
	Name  string
	Admin bool // the header links the back office
}

// Display is the name to greet the user by.
func (u UserView) Display() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// FormErrors maps a field name to its message; "" holds a form-wide message.
type FormErrors map[string]string

// Has reports whether field has a message.
func (f FormErrors) Has(field string) bool { _, ok := f[field]; return ok }

// items counts items in words: "1 item", "3 items".
func items(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}
