package views

// AdminOrdersView is the back office's list of every order (GET /admin).
type AdminOrdersView struct {
	Orders  []AdminOrderRow
	Total   int // orders in all
	Page    int // from 1
	Pages   int
	PrevURL string // "" on the first page
	NextURL string // "" on the last page
}

// AdminOrderRow is one order in the back office's list.
type AdminOrderRow struct {
	PublicID   string
	Placed     string
	Customer   string // the email, or "guest"
	Market     string
	Provider   string
	Status     string // db status, for its class
	StatusText string // the status in words, from the money (statusText)
	Total      string
	Authorized string
	Captured   string
	Refunded   string
	Busy       bool // an operation is under way
}

// AdminOrderView is one order in the back office (GET /admin/orders/:id).
type AdminOrderView struct {
	PublicID          string
	Placed            string
	Customer          string
	Market            string
	Provider          string
	ProviderReference string
	Status            string // db status, for its class
	StatusText        string // the status in words, from the money (statusText)
	StatusDetail      string
	Lines             []OrderLineView
	Total             string
	Tax               string
	TaxLabel          string
	// The money as the provider last reported it.
	Authorized, Captured, Refunded, Cancelled string
	AmountsNote                               string // where the figures come from
	// Busy says an operation is under way ("" when none is).
	Busy string
	// Retry sends an operation whose outcome is unknown again (nil: none).
	Retry *AdminRetry
	// Facts are the provider's own facts on the order (Klarna: its
	// status, fraud review, authorization expiry).
	Facts      []AdminFact
	FactsNote  string
	Events     []AdminEventView
	EventsNote string // what the events are, or why there are none
	Operations []AdminOperationView
	Forms      AdminForms
}

// AdminFact is one of the provider's facts on the order.
type AdminFact struct {
	Label  string
	Value  string
	TestID string // its data-testid
}

// AdminRetry is the form that sends an operation again with its own page
// key, so the shop resends it with its idempotency key.
type AdminRetry struct {
	Action string // the operation's URL
	Form   string // the operation's page key
	Seen   string
	Amount string // major units, for a capture or a refund
	Label  string // "Retry the capture of NOK 100.00"
}

// AdminEventView is one of the provider's events on the order.
type AdminEventView struct {
	Time    string
	When    string // RFC 3339, for <time datetime>
	Name    string
	Label   string
	Amount  string
	Key     string // the Idempotency-Key the event carries, if any
	Success bool
	Webhook bool // delivered by the provider's webhook (too)
}

// AdminOperationView is one back office operation on the order.
type AdminOperationView struct {
	Time   string
	When   string
	Kind   string // Capture, Refund, Cancel, Release the rest, Extend authorization
	Amount string
	State  string // db state: sent, done, refused, unknown
	Key    string
	Answer string // the provider's answer in words
}

// AdminForms are the order's back office forms, with what the provider
// allows; a refused amount comes back with its message in Errors.
type AdminForms struct {
	Action   string // the order's URL below /admin/orders/
	Currency string
	Ship     AdminAction
	Capture  AdminAction
	Refund   AdminAction
	Cancel   AdminAction
	Release  AdminAction
	Extend   AdminAction
	Errors   FormErrors // "capture_amount", "refund_amount"
	// Seen is the order's figures as this page shows them, sent back with
	// every form: an operation asked from a page that no longer shows what
	// is true (another tab acted meanwhile) is refused, not made twice.
	Seen string
	// Form is this page's key, sent back with every form: the same form
	// sent twice is one operation; a new page makes a new one.
	Form string
}

// AdminAction is one back office form: offered, or why not.
type AdminAction struct {
	Offered bool
	Why     string // when not offered, in words
	Value   string // the amount field's value (major units)
	Note    string // what the action will do, e.g. "Captures NOK 458.00."
	Hidden  bool   // the provider has no such operation: no form
}

// StateLabel is an operation's state as the back office reads it.
func (o AdminOperationView) StateLabel() string {
	switch o.State {
	case "sent":
		return "Sent, waiting for the answer"
	case "done":
		return "Done"
	case "refused":
		return "Refused"
	case "unknown":
		return "Unknown: no answer yet"
	case "undetermined":
		return "Settled: the provider's figures cannot tell whether it was made"
	}
	return o.State
}
