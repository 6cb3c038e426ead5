package vipps

import "time"

// States of an ePayment payment (the OpenAPI's State). AUTHORIZED stays the
// state after captures, refunds and a cancel of the rest; the aggregate says
// how much of the authorization went where.
const (
	stateCreated    = "CREATED"    // the user has not acted yet
	stateAborted    = "ABORTED"    // the user said no (final)
	stateExpired    = "EXPIRED"    // nobody acted in time (final)
	stateAuthorized = "AUTHORIZED" // the user approved (final)
	stateTerminated = "TERMINATED" // the merchant cancelled before authorization (final)
)

// Event names (PaymentEventName).
const (
	evCreated    = "CREATED"
	evAborted    = "ABORTED"
	evExpired    = "EXPIRED"
	evCancelled  = "CANCELLED"
	evCaptured   = "CAPTURED"
	evRefunded   = "REFUNDED"
	evAuthorized = "AUTHORIZED"
	evTerminated = "TERMINATED"
)

type amount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"value"`
}

type aggregate struct {
	AuthorizedAmount amount `json:"authorizedAmount"`
	CancelledAmount  amount `json:"cancelledAmount"`
	CapturedAmount   amount `json:"capturedAmount"`
	RefundedAmount   amount `json:"refundedAmount"`
}

// event is one entry of the event log (PaymentEvent).
type event struct {
	Reference      string    `json:"reference"`
	PSPReference   string    `json:"pspReference"`
	Name           string    `json:"name"`
	Amount         amount    `json:"amount"`
	Timestamp      time.Time `json:"timestamp"`
	IdempotencyKey *string   `json:"idempotencyKey"`
	Success        bool      `json:"success"`
}

// payment is one stored payment and its history.
type payment struct {
	Reference    string
	PSPReference string
	Amount       amount
	State        string
	Method       string // WALLET or CARD
	UserFlow     string
	ReturnURL    string
	Phone        string // customer.phoneNumber when given
	Description  string
	Metadata     map[string]string
	LandingToken string
	RedirectURL  string
	ExpiresAt    time.Time
	// CaptureBy is when the reservation lapses: the approval plus the sales
	// unit's capture period (market.CaptureWithin). Zero until approved.
	CaptureBy time.Time

	Authorized, Cancelled, Captured, Refunded int64

	Events []event
	// Notified counts the events raised as webhook events (notify).
	Notified int
}

// settle applies what the sandbox clock says happened while nobody looked: a
// payment still waiting for the user past its expiry is EXPIRED, stamped with
// the moment it expired.
func (p *payment) settle(now time.Time) {
	if p.State == stateCreated && !now.Before(p.ExpiresAt) {
		p.State = stateExpired
		p.record(evExpired, p.Amount.Value, p.ExpiresAt, "")
	}
	// Not captured in time: "the payment will be automatically cancelled"
	// (https://developer.vippsmobilepay.com/docs/knowledge-base/reserve-and-capture/);
	// what was captured stays, the rest is released, stamped when it lapsed.
	if left := p.Authorized - p.Captured - p.Cancelled; p.State == stateAuthorized && left > 0 &&
		!p.CaptureBy.IsZero() && !now.Before(p.CaptureBy) {
		p.Cancelled += left
		p.record(evCancelled, left, p.CaptureBy, "")
	}
}

// capturePassed reports whether the capture period ended at now.
func (p *payment) capturePassed(now time.Time) bool {
	return !p.CaptureBy.IsZero() && !now.Before(p.CaptureBy)
}

func (p *payment) record(name string, value int64, at time.Time, key string) {
	e := event{
		Reference: p.Reference, PSPReference: p.PSPReference, Name: name,
		Amount: amount{Currency: p.Amount.Currency, Value: value}, Timestamp: at.UTC(), Success: true,
	}
	if key != "" {
		e.IdempotencyKey = &key
	}
	p.Events = append(p.Events, e)
}

func (p *payment) aggregate() aggregate {
	c := p.Amount.Currency
	return aggregate{
		AuthorizedAmount: amount{c, p.Authorized},
		CancelledAmount:  amount{c, p.Cancelled},
		CapturedAmount:   amount{c, p.Captured},
		RefundedAmount:   amount{c, p.Refunded},
	}
}

// authorize is the user approving (landing page or force approve) in the
// sales unit's market m.
func (p *payment) authorize(now time.Time, m market) {
	p.State = stateAuthorized
	p.Authorized = p.Amount.Value
	p.CaptureBy = now.Add(m.CaptureWithin)
	p.record(evAuthorized, p.Amount.Value, now, "")
}

// abort is the user rejecting on the landing page.
func (p *payment) abort(now time.Time) {
	p.State = stateAborted
	p.record(evAborted, p.Amount.Value, now, "")
}

// final reports whether the payment can no longer be acted on by anyone.
func (p *payment) final() bool {
	return p.State == stateAborted || p.State == stateExpired || p.State == stateTerminated
}
