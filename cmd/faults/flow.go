package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// flow is one payment flow as a customer walks it: the steps of one
// purchase, the provider operations they call, and how to ask the provider
// what it holds for the customer's orders.
type flow interface {
	name() string
	// operations the flow calls, each with the index of the step that calls it.
	operations() []operation
	// steps are one purchase, in order.
	steps() []step
	// newCustomer is a customer ready to buy: an account, a cart, and whatever
	// the flow needs bought before (Klarna's buy again needs a paid order).
	newCustomer(ctx context.Context, l *lane) (*customer, error)
	// probe says what the provider holds for one of the customer's orders,
	// from what the customer's browser saw of it (its attempt) and the
	// provider's read endpoints. It never opens the order's page: viewing a
	// page may move the order, and a probe must not.
	probe(ctx context.Context, p *prober, c *customer, o shopOrder) (holding, error)
	// count is the final count of the provider objects the scenario made, for
	// the table, with any the shop does not know of (orphans).
	count(ctx context.Context, l *lane, c *customer, s snapshot) (objects, error)
	// usesCart is false for a flow that buys without the cart (buy again).
	usesCart() bool
}

// operation is a provider operation a flow calls ("vipps.create_payment", as
// the sandbox names it for its faults and call counts).
type operation struct {
	name string
	step int // index into the flow's steps
	// sentOnce: the operation is not idempotent, so the shop sends it once
	// and, after a 503 or no answer, looks for what it made instead of
	// sending it again (Alternative Payments' POST /invoices). A 503 is then
	// not ridden out by retries: the customer is told the shop is confirming
	// until it knows, and exactly one object must come of it.
	sentOnce bool
	// prepare runs before the fault is armed, so that the step does call the
	// operation (a shared token cached by the shop must have expired).
	prepare func(ctx context.Context, l *lane) error
	// event: the operation is the provider's own call to the shop that the
	// step makes it raise (a webhook, an authorization callback), not a
	// call of the shop's. Its one scenario is killBeforeReturn.
	event bool
}

// step is one thing the customer does. It returns the last page the
// customer saw and whether the purchase can go on; err is the suite's own
// trouble (the sandbox's control API failing), never the shop's.
type step struct {
	name string
	do   func(ctx context.Context, l *lane, c *customer) (last page, ok bool, err error)
}

// expireToken is an operation's prepare for a shared access token: the
// sandbox clock moves past its lifetime (an hour, Vipps's and Alternative
// Payments' default), so the shop fetches a new one in the step.
func expireToken(ctx context.Context, l *lane) error { return l.sb.advance(ctx, 2*time.Hour) }

// customer is one scenario's customer: a browser and what it learned of each
// payment attempt.
type customer struct {
	b     *browser
	email string
	// before are the orders made while setting up (buy again's first
	// purchase): not the scenario's.
	before   map[string]bool
	attempts []*attempt
	cur      *attempt // the attempt the steps are on
	source   string   // buy again: the paid order bought again
	flowData any      // what a flow keeps per customer (altpay: its marker)

	toldNothingCharged bool            // some page said "Nothing was charged"
	closedTab          bool            // left after approving, before the shop's page (killBeforeReturn)
	heard              map[string]bool // pages already checked for that
	lies               []string        // ... while the provider held money
	retries            int             // purchases started again by the customer
	errorPages         []string        // what went wrong on the way, for reasons
	notes              []string        // what happened, for -v
}

// note records a step of the story for -v.
func (c *customer) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

func newCustomer(b *browser, email string) *customer {
	return &customer{b: b, email: email, before: map[string]bool{}, heard: map[string]bool{}}
}

// attempt is what the customer's browser saw of one payment attempt (one
// shop order).
type attempt struct {
	order string // the shop's order id, once known

	landing, returnURL string // Vipps: the landing page, the way back
	session            string // Klarna: the payment session
	authorized         bool   // Klarna: the widget approved the session
	authorization      string // Klarna: the widget's authorization token
	klarnaOrder        string // Klarna: the order id the shop showed
	key                string // Klarna buy again: the attempt's form value
	lostAnswers        int    // answers of the faulted operation that were lost after the provider acted
	invoice            string // Alternative Payments: the invoice id
	shown              string // the provider reference the order's page showed last
}

// begin starts a new attempt.
func (c *customer) begin() *attempt {
	a := &attempt{}
	c.attempts = append(c.attempts, a)
	c.cur = a
	return a
}

// join records that the attempt in progress is shop order id. A shop that
// returns the open attempt of the cart to a second submit makes the new
// attempt the old one: what the browser saw of each is merged into the old.
func (c *customer) join(id string) {
	a := c.cur
	if a == nil || a.order == id {
		return
	}
	for _, old := range c.attempts {
		if old != a && old.order == id {
			old.merge(a)
			c.attempts = slices.DeleteFunc(c.attempts, func(x *attempt) bool { return x == a })
			c.cur = old
			return
		}
	}
	a.order = id
}

// merge copies what b knows and a does not.
func (a *attempt) merge(b *attempt) {
	set := func(dst *string, src string) {
		if src != "" {
			*dst = src
		}
	}
	set(&a.landing, b.landing)
	set(&a.returnURL, b.returnURL)
	set(&a.session, b.session)
	set(&a.authorization, b.authorization)
	set(&a.klarnaOrder, b.klarnaOrder)
	set(&a.key, b.key)
	set(&a.invoice, b.invoice)
	set(&a.shown, b.shown)
	a.authorized = a.authorized || b.authorized
	a.lostAnswers += b.lostAnswers
}

// attemptFor returns the attempt of a shop order, making an empty one for an
// order the customer never saw the provider side of.
func (c *customer) attemptFor(orderID string) *attempt {
	for _, a := range c.attempts {
		if a.order == orderID {
			return a
		}
	}
	a := &attempt{order: orderID}
	c.attempts = append(c.attempts, a)
	return a
}

// adopt gives the attempt in progress the id of an order it made that the
// customer was never shown (the answer was lost, or an error page came
// instead): the newest of the account's orders no attempt knows yet.
func (c *customer) adopt(orders []shopOrder) {
	if c.cur == nil || c.cur.order != "" {
		return
	}
	for _, o := range orders { // newest first
		if c.before[o.id] {
			continue
		}
		known := false
		for _, a := range c.attempts {
			known = known || a.order == o.id
		}
		if !known {
			c.join(o.id)
			return
		}
	}
}

// holding is what the provider holds for one shop order.
type holding struct {
	exists bool   // the provider has an object for the order
	money  bool   // ... and it holds the customer's money (reserved, placed or paid)
	what   string // for people: "payment AUTHORIZED, captured", "a Klarna order", "invoice INV-00007 PAID"
	// agree are the shop statuses that match the provider's state; nil means
	// the usual: paid (authorized or captured) exactly when the provider
	// holds the money.
	agree []string
	// live: it can still take the customer's money, by the customer (a
	// landing page or an invoice they were shown) or by the shop (an
	// approval or a request it keeps and may send again).
	live bool
}

// agrees reports whether a shop status matches what the provider holds.
func (h holding) agrees(status string) bool {
	if h.agree != nil {
		return slices.Contains(h.agree, status)
	}
	return paid(status) == h.money
}

// orderState is one of the scenario's orders, as the shop and the provider
// see it.
type orderState struct {
	shopOrder
	holding
}

// snapshot is the scenario's orders (oldest first) and the cart.
type snapshot struct {
	orders []orderState
	cart   int
}

// charged are the orders whose money the provider holds.
func (s snapshot) charged() []orderState {
	var out []orderState
	for _, o := range s.orders {
		if o.money {
			out = append(out, o)
		}
	}
	return out
}

func (s snapshot) anyPaid() bool {
	for _, o := range s.orders {
		if paid(o.status) {
			return true
		}
	}
	return false
}

// mismatches are the orders whose state at the shop is not the provider's:
// paid at the shop exactly when the provider holds the money. A pending
// order the provider holds no money for is fine (the customer may still pay
// it, or it expires).
func (s snapshot) mismatches() []string {
	var out []string
	for _, o := range s.orders {
		switch {
		case o.agrees(o.status):
		case o.money:
			out = append(out, fmt.Sprintf("order %s is %s while the provider holds %s", short(o.id), o.status, o.what))
		default:
			out = append(out, fmt.Sprintf("order %s is %s but the provider holds no money for it (%s)", short(o.id), o.status, orNothing(o.what)))
		}
	}
	return out
}

// stillOpen are the orders the shop keeps open beside a paid one although
// they can still take money: a second charge for one purchase waiting to
// happen. (A shop keeps one open attempt per cart and closes the others when
// one is paid.)
func (s snapshot) stillOpen() []string {
	if !s.anyPaid() {
		return nil
	}
	var out []string
	for _, o := range s.orders {
		if o.status == "pending" && o.live {
			out = append(out, fmt.Sprintf("order %s is still open beside the paid one and can still take money (%s)", short(o.id), o.what))
		}
	}
	return out
}

// objects are the provider objects a scenario made, for the table.
type objects struct {
	summary string         // "1 payment: CAPTURED"
	counts  map[string]int // by kind; 2 injected 503s must leave exactly one of each
	orphans []string       // objects the shop does not know of
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// prober asks the providers' APIs, fetching each access token once per
// round (the sandbox clock moves between rounds).
type prober struct {
	l           *lane
	vipps       string
	altpay      string
	vippsFailed error
}

func (l *lane) newProber() *prober { return &prober{l: l} }

func (p *prober) vippsToken(ctx context.Context) (string, error) {
	if p.vipps == "" && p.vippsFailed == nil {
		p.vipps, p.vippsFailed = p.l.sb.vippsToken(ctx)
	}
	return p.vipps, p.vippsFailed
}

func (p *prober) altpayToken(ctx context.Context) (string, error) {
	if p.altpay == "" {
		t, err := p.l.sb.altpayToken(ctx)
		if err != nil {
			return "", err
		}
		p.altpay = t
	}
	return p.altpay, nil
}
