package sandboxviews

// VippsLandingView is the Vipps MobilePay landing page: the sandbox's stand-in
// for landing.vipps.no and the app behind it.
type VippsLandingView struct {
	Missing     bool   // the link's token names no payment
	Token       string // the landing token, posted back with the answer
	Merchant    string // the sales unit's name
	Amount      string // formatted
	Description string
	Phone       string // prefilled from customer.phoneNumber, or what was typed
	Prefilled   bool   // the merchant sent customer.phoneNumber
	CallingCode string // the sales unit's country code ("+47"), assumed for a number typed without one
	Example     string // a well-formed number in the sales unit's market
	State       string // CREATED shows the buttons; anything else says where it stands
	ReturnURL   string
	Error       string
}
