package views

// KlarnaMethodView is Klarna on the checkout page.
type KlarnaMethodView struct {
	Guest  bool
	Linked bool // the customer's Klarna account is linked: Klarna opens ready to buy
}

// KlarnaCategoryView is one of the ways to pay a Klarna session offers
// (payment_method_categories), as Klarna names it.
type KlarnaCategoryView struct {
	Identifier string // what load and authorize take as payment_method_category
	Name       string // Klarna's name, shown to the customer
}

// KlarnaPayView is the page where Klarna's widget takes the payment.
type KlarnaPayView struct {
	OrderID  string
	Lines    []OrderLineView
	Total    string
	Tax      string
	TaxLabel string // "Included VAT" in Europe, "Sales tax" in the United States
	// Categories are the session's payment_method_categories, in Klarna's
	// order: the page lists them, loads the widget for the one picked and
	// authorizes that one. Empty: Klarna offers no way to pay this order.
	Categories []KlarnaCategoryView
	// SourceOrderID is set on a "Buy again": the earlier order repeated.
	SourceOrderID string
	ClientToken   string // the session's client_token, meant for the browser
	SDKURL        string // KLARNA_SDK_URL
	AuthorizeURL  string // where the page posts the authorization_token
	Recognised    bool   // the session carries the stored customer_token
	// SignedInWithKlarna: the session carried a Sign in with Klarna access
	// token that Klarna confirmed when the session was made.
	SignedInWithKlarna bool
	Linking            bool // intent buy_and_link (a signed-in customer)
	Notice             string
}

// KlarnaLinkView is the account page's Klarna panel of one Klarna region.
type KlarnaLinkView struct {
	Region      string // eu or na: what unlink posts
	RegionName  string // Europe, North America
	Masked      string // never the whole token
	LinkedAt    string
	RefreshedAt string
}

// KlarnaOrderView is what an order page shows about its Klarna payment.
type KlarnaOrderView struct {
	// Legacy: placed server to server with the account-linking token by an
	// earlier version of the shop (Klarna documents no such call).
	Legacy        bool
	Pending       bool   // the order's outcome is not known yet
	SourceOrderID string // "Buy again": the order it repeats
	Reference     string // the last Klarna error's correlation id
	Notice        string // why the shop does not ask Klarna about the attempt
}

// KlarnaConfirmingNotice is what a customer is told when Klarna did not say
// whether it placed the order: the shop keeps asking (the sweep), and the
// order's page shows the answer.
const KlarnaConfirmingNotice = "We are confirming your payment with Klarna. Please do not pay again: this page shows the result as soon as Klarna confirms it."

// KlarnaStartingNotice is what a customer is told while the shop waits for
// Klarna to open the attempt's payment session.
const KlarnaStartingNotice = "We are still starting your payment with Klarna. This page checks again by itself."
