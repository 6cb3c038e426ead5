package views

// VippsMethodView is the Vipps MobilePay choice on the checkout page. It has
// no phone number: the shop does not ask for one (Vipps's landing page does).
type VippsMethodView struct {
	Notice string // a refusal or an outage, in calm words
}

// VippsEventView is one line of a payment's history.
type VippsEventView struct {
	Name   string // Vipps's event name, e.g. CAPTURED
	Label  string // what it means for the customer
	Amount string
	Time   string
	When   string // RFC 3339, for the <time> element
	// Webhook: Vipps's webhook delivered it (too).
	Webhook bool
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
