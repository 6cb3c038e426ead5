package views

// TokensView is the lives of the tokens a list of calls obtained or
// presented (web/tokenlife), as the order page ("Tokens this payment
// used") and the account page ("Tokens") show them: by fingerprint only.
type TokensView struct {
	Tokens []TokenView
	// Note says what the list covers, when it is not plain ("the latest
	// 200 calls"); "" for none.
	Note string
}

// TokenView is one token's life.
type TokenView struct {
	ID          string // its anchor: "token-2"
	Kind        string // "Vipps access token"
	Fingerprint string // "…Xy7Q #1f0c9a2b", as in the redacted calls
	// State is how it stands: "Expires at 10:00:00.000", "Rotated: replaced
	// by" Ref; Ended says it is no longer in use.
	State string
	Ref   *TokenRef
	Ended bool
	Facts string // "Lifetime 1 hour. Presented 3 times."
	// Origin says where a token first seen in a request came from; "" for
	// one a listed call obtained.
	Origin string
	Events []TokenEventView
}

// TokenRef is another token an event names, and its anchor.
type TokenRef struct {
	Words       string // "replaced by"
	Fingerprint string
	Link        string // "#token-3"; "" when it is not listed
}

// TokenEventView is one thing that happened to a token. It reads What,
// Detail, each Ref, CallPrefix Call: "Used as the Authorization header
// (use 1), answered 503 Service Unavailable, in call 2: create the
// payment".
type TokenEventView struct {
	What   string // "Obtained", "Used", "Refused", "Rotated", "Replaced", "Revoked", "Expired"
	Detail string // "as the Authorization header (use 2)", with the answer when it was no success
	Bad    bool   // refused
	Time   string // as the page shows times
	When   string // RFC 3339
	// Call names the call that did it ("call 3: create the payment"), Link
	// goes to it; both "" for an expiry, Link "" when the call is not on
	// a page. CallPrefix joins it: "in", "from".
	CallPrefix string
	Call       string
	Link       string
	Refs       []TokenRef
}
