package sandboxviews

import "time"

// Credential is one credential the sandbox accepts.
type Credential struct {
	Name  string
	Value string
}

// ProviderView is one emulated provider part on the index.
type ProviderView struct {
	Name        string
	Markets     string // the shop's markets this part serves
	BaseURL     string
	RealURL     string
	Emulated    bool // false: the shop talks to the real test environment
	Credentials []Credential
}

// IndexView is the sandbox's front page.
type IndexView struct {
	BaseURL   string
	ShopURL   string
	Providers []ProviderView
	State     StateView
	// Identities are Sign in with Klarna's test identities, when emulated.
	Identities []Credential
	Exchanges  ExchangesView
	// Deliveries are the latest events sent to the shop's registered URLs,
	// newest first.
	Deliveries []DeliveryView
}

// DeliveryView is one delivery of an event to a registered URL, with its
// attempts.
type DeliveryView struct {
	ID       int64
	Event    string // "epayments.payment.authorized.v1"
	Ref      string // the payment reference
	URL      string
	State    string // pending, held, delivered, failed, abandoned
	Next     string // the next attempt's time on the sandbox clock, when pending
	Note     string
	Created  time.Time // sandbox clock
	Body     string
	Attempts []AttemptView
}

// AttemptView is one attempt of a delivery.
type AttemptView struct {
	Kind    string    // scheduled, duplicate, replay
	At      time.Time // sandbox clock
	Outcome string    // "200 OK", or what went wrong
	Latency string
}

// StateView is the sandbox's state as the index shows it: what
// GET /control/state answers, formatted for reading.
type StateView struct {
	Now      time.Time
	Settings []SettingView // in the order the index lists them
	Calls    []CallView    // one per declared operation, by name
	Faults   []FaultView   // pending, by operation
}

// FaultView is one operation's pending faults, described.
type FaultView struct {
	Operation string
	What      string // "503 for the next 2 calls, after 2s"
}

// SettingView is one control setting and its current value, formatted.
type SettingView struct {
	Name  string
	Value string
}

// CallView is one operation and how often it was called since the last reset.
type CallView struct {
	Operation string
	Calls     int
}

// ExchangesView is the index's "Latest exchanges": what the sandbox
// received on its provider routes, redacted, and the filter that chose them.
type ExchangesView struct {
	Provider   string   // the filter's provider; "": every one
	Operation  string   // the filter's operation; "": every one
	Providers  []string // the choices
	Operations []string
	List       []ExchangeView // oldest first
	Error      string         // a filter the sandbox refused, or a failed read
}

// ExchangeView is one recorded exchange, formatted for reading. Headers and
// bodies are redacted already.
type ExchangeView struct {
	ID              int64
	At              time.Time
	Provider        string
	Operation       string // "" when the route has none
	Origin          string // "browser" or "server"
	Method          string
	Path            string
	Status          string // "200", or "answer lost"
	Duration        string
	IdempotencyKey  string
	Refs            []string
	RequestHeaders  string // "Name: value" lines
	RequestBody     string
	ResponseHeaders string
	ResponseBody    string
}
