package views

// ExchangesView is an order page's "How this payment happened": the calls
// the shop made to the provider for the order, the browser's calls to the
// provider and the provider's calls to the shop, in the order they
// started, as recorded and redacted (web/redact).
type ExchangesView struct {
	// HARURL downloads the same exchanges as a HAR file.
	HARURL string
	// Retention is how long recorded calls are kept ("30 days").
	Retention string
	Items     []ExchangeView
	// BrowserNote says whether the browser's own calls to the provider are
	// among Items (the sandbox's record of them) or why not.
	BrowserNote string
	// Omitted starts the sentence saying how many earliest exchanges the
	// list leaves out ("The 3 earliest exchanges are"); "" when it holds
	// them all.
	Omitted string
	// Diagram draws Items as a sequence diagram; the list is its text
	// equivalent.
	Diagram DiagramView
	// Tokens is the lives of the tokens Items obtained or presented.
	Tokens TokensView
}

// ExchangeView is one call and its answer.
type ExchangeView struct {
	N         int    // its place in the list, from 1
	Provider  string // "Vipps MobilePay"
	Operation string // in words, with a provider's event: "create the payment", "webhook invoice_paid"
	OpName    string // as the sandbox names it: "create_payment"
	Method    string
	Path      string // the path template: "/epayment/v1/payments/{reference}"
	URL       string // the URL as sent, redacted
	// Origin is who made the call: "shop" (to the provider), "browser" (to
	// the provider) or "provider" (to the shop: a webhook, a callback).
	// From says so before the call's words, for all but the shop's own:
	// "From the browser:", "From Vipps MobilePay to the shop:".
	Origin string
	From   string
	Event  string // what a provider's call delivered: "invoice_paid"; ""
	// Status is the answer: "201 Created", or "no answer: timeout";
	// Code is its status code (0: none), Failed says it was no success.
	Status string
	Code   int
	Failed bool
	Took   string // "183 ms"
	Time   string // "09:00:01.123", the shop's local time
	When   string // the same, machine-readable (RFC 3339)
	// IdempotencyKey is the one the request carried; "" for none.
	IdempotencyKey string
	// Try says which try of its call it was, from the second: "try 2 after
	// 503"; "" on the first.
	Try         string
	ReqHeaders  string // "Name: value" lines
	ReqBody     Body
	Answered    bool // false: no answer came, nothing to show for it
	RespHeaders string
	RespBody    Body
}

// Body is a request or response body as shown: pretty-printed when it is
// JSON, cut at a cap.
type Body struct {
	Text string // "" for none
	// Cut says how much more there was past Text ("2,048 more characters");
	// "" when it is whole.
	Cut string
}

// Inbound reports whether the provider called the shop.
func (x ExchangeView) Inbound() bool { return x.Origin == "provider" }
