package views

// VippsMethodView is the Vipps MobilePay choice on the checkout page, with
// what the customer typed and what was wrong with it.
type VippsMethodView struct {
	Phone  string
	Error  string // about the phone number
	Notice string // a refusal or an outage, in calm words
}

// VippsEventView is one line of a payment's history.
type VippsEventView struct {
	Name   string // Vipps's event name, e.g. CAPTURED
	Label  string // what it means for the customer
	Amount string
	Time   string
	When   string // RFC 3339, for the <time> element
}

// VippsOrderView is the Vipps part of an order page.
type VippsOrderView struct {
	Reference string
	State     string // where the payment stands at Vipps, in words ("Captured")
	Captured  string // the amount captured, formatted; "" when none
	Events    []VippsEventView
	Notice    string // e.g. Vipps could not be reached just now
	// Confirming says the shop is still waiting for Vipps's answer; the page
	// reloads itself, and CheckURL checks at once.
	Confirming string
	CheckURL   string
}
