package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// fault is one way a provider operation goes wrong.
type fault int

const (
	twice503         fault = iota // the provider answers 503 twice, then works
	answerLost                    // the provider acts, but its answer never arrives (every try)
	slowAnswer                    // the provider answers (503) only after the shop's client timeout (every try)
	killMidCall                   // the shop dies (kill -9) while its call waits at the provider
	killAfterCall                 // the shop dies after the provider acted, its answer lost
	killBeforeReturn              // the shop dies after the customer approved, before the provider's event arrives
)

// faults are the ways a call of the shop's goes wrong.
var faults = []fault{twice503, answerLost, slowAnswer, killMidCall, killAfterCall}

// faultsOf is the faults an operation is run under: an event the provider
// sends the shop has the one that matters for it.
func faultsOf(op operation) []fault {
	if op.event {
		return []fault{killBeforeReturn}
	}
	return faults
}

func (f fault) String() string {
	return [...]string{"503 ×2", "answer lost", "25s delay", "kill -9 mid-call", "kill -9 after call", "kill -9 before return"}[f]
}

const (
	// slowDelay is past the shop's 20s outbound client timeout.
	slowDelay = 25 * time.Second
	// answerWithin is how soon a customer's request must be answered however
	// slow a provider is: well inside the shop's 60s write timeout (the shop
	// gives all of a request's provider tries one deadline of 15s).
	answerWithin = 30 * time.Second
	// manyTimes covers every try of a request, and the reads that follow.
	manyTimes = 10
	// nudge is how far the sandbox clock moves between polls while waiting
	// for the shop to reconcile, so waits the shop keeps on the provider's
	// clock (Vipps: ask again after 10s) pass without sleeping them. It
	// moves for the first nudges polls only: provider time must not run far
	// ahead (Klarna's authorizations live 60 minutes); waits the shop keeps
	// on its own clock (its sweeps) take real time.
	nudge  = 15 * time.Second
	nudges = 10
	// maxRetries bounds how often the customer starts the purchase again.
	maxRetries = 3
	// customerPatience is how long the customer watches a page saying the
	// shop is confirming the payment before paying again (a shop joins that
	// to the open attempt). It is clear of the shop's own waits: a minute
	// before it takes over an invoice attempt a crash left, two to two and a
	// half before its Klarna sweep settles an attempt.
	customerPatience = 90 * time.Second
	// scenarioTimeout bounds one scenario whatever happens.
	scenarioTimeout = 8 * time.Minute
)

// spec is the fault as the sandbox's control API takes it.
func (f fault) spec(op string) faultSpec {
	switch f {
	case twice503:
		return faultSpec{Operation: op, Status: http.StatusServiceUnavailable, Times: 2}
	case answerLost, killAfterCall:
		return faultSpec{Operation: op, LoseAnswer: true, Times: manyTimes}
	case slowAnswer:
		// Slow, then a 503: the provider never acts, whether or not it noticed
		// the shop stop waiting (lost answers cover a provider that acted).
		return faultSpec{Operation: op, Status: http.StatusServiceUnavailable, Delay: slowDelay.String(), Times: manyTimes}
	case killMidCall:
		// Long enough that the call is surely still waiting when the shop dies.
		return faultSpec{Operation: op, Delay: "60s", Times: 1}
	case killBeforeReturn:
		// The event's first attempt waits on the sandbox clock (the suite
		// moves it while the customer watches their orders), so the shop
		// surely dies before it.
		return faultSpec{Operation: op, Delay: "30s", Times: 1}
	}
	panic("unknown fault")
}

func (f fault) kills() bool { return f == killMidCall || f == killAfterCall }

// scenario is one row of the table: a flow's operation under one fault.
type scenario struct {
	flow  flow
	op    operation
	fault fault
}

func (s scenario) String() string { return s.flow.name() + "/" + s.op.name + "/" + s.fault.String() }

// result is a scenario's row.
type result struct {
	scenario
	lane     string
	objects  string
	shop     string
	problems []string
	notes    []string // the story, for -v
	took     time.Duration
}

func (r *result) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r result) passed() bool { return len(r.problems) == 0 }

// lane is one shop process and the scenarios it runs, one at a time: the
// sandbox's faults, clock and settings are global to the process.
type lane struct {
	name   string
	shop   *shopProcess
	sb     *sandbox
	settle time.Duration // how long to wait for the shop to reconcile
	n      int           // scenarios run, for unique emails

	// canary is a provider object of the suite's own (an Alternative
	// Payments customer, which also owns the marker invoices). After a
	// restart it tells whether the sandbox kept its state.
	canary string
}

func (l *lane) email(what string) string {
	l.n++
	return fmt.Sprintf("%s.%s.%d.%s@example.com", what, l.name, l.n, randomHex(3))
}

// makeCanary creates the suite's own provider customer.
func (l *lane) makeCanary(ctx context.Context) error {
	tok, err := l.sb.altpayToken(ctx)
	if err != nil {
		return err
	}
	l.canary, err = l.sb.altpayCreateCustomer(ctx, tok, "faults.canary."+l.name+"@example.com")
	return err
}

// sandboxKeptState reads the canary after a restart; a sandbox that lost it
// gets a new one, for the next scenario.
func (l *lane) sandboxKeptState(ctx context.Context) (bool, error) {
	tok, err := l.sb.altpayToken(ctx)
	if err != nil {
		return false, err
	}
	ok, err := l.sb.altpayCustomerExists(ctx, tok, l.canary)
	if err != nil || ok {
		return ok, err
	}
	return false, l.makeCanary(ctx)
}

// run plays one scenario and judges it. The shop process is left running
// (restarted, when the scenario killed it).
func (l *lane) run(ctx context.Context, sc scenario) (res result) {
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()
	res = result{scenario: sc, lane: l.name}
	start := time.Now()
	defer func() { res.took = time.Since(start) }()
	defer func() {
		if v := recover(); v != nil {
			res.fail("the suite panicked: %v", v)
		}
	}()

	c, err := sc.flow.newCustomer(ctx, l)
	if err != nil {
		res.fail("setting up the customer: %v", err)
		return res
	}
	defer func() { res.notes = c.notes }()

	if err := l.holdEvents(ctx, sc); err != nil {
		res.fail("holding back the providers' events: %v", err)
		return res
	}
	defer l.releaseEvents(ctx, sc)
	faulted, err := l.purchase(ctx, sc, c)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	if faulted.sandboxForgot {
		res.fail("the sandbox lost its state when the shop restarted (kept in memory; the design keeps it in the " +
			"data dir): nothing the provider did before the kill can be checked")
		res.shop = l.shopState(ctx, c)
		res.objects = "lost with the restart"
		return res
	}
	firstTry := c.retries == 0 && len(c.errorPages) == 0 && faulted.ok

	snap, mismatches, err := l.followUp(ctx, sc.flow, c)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	objs, err := sc.flow.count(ctx, l, c, snap)
	if err != nil {
		res.fail("counting provider objects: %v", err)
		return res
	}
	res.objects, res.shop = objs.summary, describeShop(snap)
	l.judge(ctx, &res, c, verdictInput{faulted: faulted, firstTry: firstTry, snap: snap, mismatches: mismatches, objs: objs})
	return res
}

// eventOperations are the providers' own calls to the shop that a
// purchase raises. Each settles an order by itself, so a scenario about
// one of the shop's calls holds them back: otherwise a webhook could settle
// the order before the customer's step reaches the faulted call, and the
// fault would not be exercised.
var eventOperations = []string{"vipps.webhook_delivery", "klarna.authorization_callback", "altpay.webhook_delivery"}

// holdEvents delays every delivery of the events other than the
// scenario's own by an hour on the sandbox clock (the suite moves it by
// minutes), for the scenario's time: the shop's own calls and sweeps
// settle its orders, as they must when no event comes.
func (l *lane) holdEvents(ctx context.Context, sc scenario) error {
	for _, op := range eventOperations {
		if op == sc.op.name {
			continue
		}
		if err := l.sb.arm(ctx, faultSpec{Operation: op, Delay: "1h", Times: manyTimes * 5}); err != nil {
			return err
		}
	}
	return nil
}

// releaseEvents drops what is left of holdEvents' faults. Deliveries that
// took one stay postponed; when they come, late, they must change nothing.
func (l *lane) releaseEvents(ctx context.Context, sc scenario) {
	for _, op := range eventOperations {
		if op != sc.op.name {
			_ = l.sb.clear(ctx, op)
		}
	}
}

// purchase is the customer buying once, with the fault on the step that
// calls the operation. It stops at the first step that does not lead on.
func (l *lane) purchase(ctx context.Context, sc scenario, c *customer) (stepRecord, error) {
	var faulted stepRecord
	for i, st := range sc.flow.steps() {
		var p page
		var ok bool
		var err error
		if i == sc.op.step {
			if faulted, err = l.faultedStep(ctx, sc, c, st); err != nil || faulted.sandboxForgot {
				return faulted, err
			}
			p, ok = faulted.page, faulted.ok
		} else {
			if p, ok, err = st.do(ctx, l, c); err != nil {
				return faulted, fmt.Errorf("step %s: %v", st.name, err)
			}
			if !ok {
				c.errorPages = append(c.errorPages, st.name+": "+describe(p))
			}
		}
		if err := l.read(ctx, sc.flow, c, p); err != nil {
			return faulted, err
		}
		if !ok || (i == sc.op.step && faulted.tabClosed) {
			break
		}
	}
	return faulted, nil
}

// followUp is what the customer does after the purchase, and what the
// suite waits for: told that nothing was charged, with the cart still full,
// they pay again at once; then they watch their orders until the shop
// agrees with the provider, paying again while nothing is paid and the cart
// is still full (a shop that keeps one open attempt per cart sends them back
// to it). It returns the last snapshot and the orders still in dispute.
func (l *lane) followUp(ctx context.Context, f flow, c *customer) (snapshot, []string, error) {
	if c.closedTab {
		if err := l.awaitSettledAlone(ctx, f, c); err != nil {
			return snapshot{}, nil, err
		}
	}
	snap, err := l.observe(ctx, f, c)
	if err != nil {
		return snap, nil, err
	}
	if c.toldNothingCharged && l.wantsToPay(f, snap) {
		if err := l.payAgain(ctx, f, c); err != nil {
			return snap, nil, err
		}
	}
	for patience := customerPatience; ; {
		began := time.Now()
		w, err := l.reconcile(ctx, f, c, patience)
		if err != nil {
			return w.snapshot, nil, err
		}
		c.note("watched the orders for %s: %s", time.Since(began).Round(time.Second), describeShop(w.snapshot))
		if len(w.mismatches) > 0 {
			return w.snapshot, w.mismatches, nil
		}
		if l.wantsToPay(f, w.snapshot) && c.retries < maxRetries {
			if err := l.payAgain(ctx, f, c); err != nil {
				return w.snapshot, nil, err
			}
			continue
		}
		if !w.impatient {
			return w.snapshot, nil, nil
		}
		patience = 0 // nothing to do but wait it out
	}
}

// awaitSettledAlone is the customer who closed the tab after approving
// and only looks at their account page (which moves nothing) while the
// sandbox clock moves: the provider's event, or the shop's sweep, must
// show the order paid within l.settle, with no order page opened and no
// second purchase. What is left unsettled then is a failure of its own;
// the customer goes on as any other (followUp) to see what the shop does.
func (l *lane) awaitSettledAlone(ctx context.Context, f flow, c *customer) error {
	began := time.Now()
	for round := 1; ; round++ {
		s, err := l.observe(ctx, f, c)
		if err != nil {
			return err
		}
		if s.anyPaid() {
			c.note("the account page showed the order paid after %s, with no order page opened: %s",
				time.Since(began).Round(time.Second), describeShop(s))
			return nil
		}
		if time.Since(began) > l.settle {
			c.lies = append(c.lies, fmt.Sprintf("nothing settled the order within %s of the restart without the customer: %s",
				l.settle, describeShop(s)))
			return nil
		}
		wait := time.Second
		if round <= nudges {
			if err := l.sb.advance(ctx, nudge); err != nil {
				return err
			}
		} else {
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// verdictInput is what judge weighs.
type verdictInput struct {
	faulted    stepRecord
	firstTry   bool // the purchase went through without an error page or a second try
	snap       snapshot
	mismatches []string
	objs       objects
}

// judge adds every reason the scenario fails to res.
func (l *lane) judge(ctx context.Context, res *result, c *customer, in verdictInput) {
	sc := res.scenario
	if in.faulted.calls == 0 {
		res.fail("%s was never called: the fault was not exercised", sc.op.name)
	}
	switch sc.fault {
	case twice503:
		if !in.firstTry && !sc.op.sentOnce {
			res.fail("2 injected 503s were not ridden out: %s", firstNonEmpty(c.errorPages, describe(in.faulted.page)))
		}
		for kind, n := range in.objs.counts {
			if n != 1 {
				res.fail("%d %ss, want exactly 1", n, kind)
			}
		}
	case slowAnswer:
		// Each of the step's requests to the shop on its own: a page the
		// browser is sent on to is another request, with a deadline of its own.
		for _, p := range in.faulted.requests {
			if !strings.HasPrefix(p.url, l.shop.ShopURL) {
				continue
			}
			switch {
			case p.err != nil:
				res.fail("the customer got no answer to %s %s: the connection closed after %s", p.method, pathOf(p.url), p.took.Round(time.Second))
			case p.took > answerWithin:
				res.fail("the customer waited %s for %s %s (want under %s)", p.took.Round(time.Second), p.method, pathOf(p.url), answerWithin)
			}
		}
	}
	res.problems = append(res.problems, c.lies...)
	switch charged := in.snap.charged(); {
	case len(charged) == 0:
		res.fail("the customer could not buy: %s", lastOr(c.errorPages, "no order was paid"))
	case len(charged) > 1:
		var what []string
		for _, o := range charged {
			what = append(what, fmt.Sprintf("%s (order %s, %s)", o.what, short(o.id), o.status))
		}
		res.fail("charged %d times for one cart: %s", len(charged), strings.Join(what, "; "))
	}
	for _, m := range in.mismatches {
		res.fail("not reconciled after %s: %s", l.settle, m)
	}
	for _, o := range in.objs.orphans {
		res.fail("%s", o)
	}
	for _, o := range in.snap.stillOpen() {
		res.fail("%s", o)
	}
	if sc.flow.usesCart() && len(in.snap.charged()) > 0 {
		if problem, err := l.cartEmptiedOnce(ctx, c, in.snap); err != nil {
			res.fail("%v", err)
		} else if problem != "" {
			res.fail("%s", problem)
		}
	}
}

// stepRecord is what happened at the faulted step.
type stepRecord struct {
	page          page
	ok            bool
	requests      []page // every request the browser made in the step
	calls         int    // calls of the operation during the step
	sandboxForgot bool   // a kill: the restarted sandbox had lost its state
	tabClosed     bool   // the customer does not go on after the step
}

// faultedStep arms the fault, runs the step (killing the shop during it when
// the fault says so), and clears the fault again.
func (l *lane) faultedStep(ctx context.Context, sc scenario, c *customer, st step) (stepRecord, error) {
	var rec stepRecord
	op := sc.op.name
	if sc.op.prepare != nil {
		if err := sc.op.prepare(ctx, l); err != nil {
			return rec, fmt.Errorf("preparing %s: %v", op, err)
		}
	}
	before, err := l.sb.calls(ctx, op)
	if err != nil {
		return rec, err
	}
	spec := sc.fault.spec(op)
	if err := l.sb.arm(ctx, spec); err != nil {
		return rec, fmt.Errorf("arming the fault: %v", err)
	}
	if sc.fault == killBeforeReturn {
		return l.killAfter(ctx, sc, c, st, before)
	}
	if sc.fault.kills() {
		return l.killDuring(ctx, sc, c, st, before, spec)
	}
	seen := len(c.b.history)
	p, ok, err := st.do(ctx, l, c)
	rec.page, rec.ok = p, ok
	rec.requests = c.b.history[seen:]
	if err != nil {
		return rec, fmt.Errorf("step %s: %v", st.name, err)
	}
	if !ok {
		c.errorPages = append(c.errorPages, st.name+": "+describe(p))
	}
	after, err := l.sb.calls(ctx, op)
	if err != nil {
		return rec, err
	}
	rec.calls = after - before
	c.note("%s: %d call(s) of %s met %s, the step ended with %s", st.name, rec.calls, op, sc.fault, describe(p))
	if spec.LoseAnswer && c.cur != nil {
		left, err := l.sb.pendingTimes(ctx, op)
		if err != nil {
			return rec, err
		}
		c.cur.lostAnswers += spec.Times - left
	}
	return rec, l.sb.clear(ctx, op)
}

// killDuring runs the step and kills the shop with SIGKILL: mid-call, once
// the operation's call waits at the provider; after the call, once the
// provider acted twice (the first try's work is done, its answer lost, and
// the shop is retrying), or when the step ends first (an operation the shop
// does not retry). Then the shop is started again on the same data dir.
func (l *lane) killDuring(ctx context.Context, sc scenario, c *customer, st step, before int, spec faultSpec) (stepRecord, error) {
	var rec stepRecord
	op := sc.op.name
	threshold := 1
	if sc.fault == killAfterCall {
		threshold = 2
	}
	type outcome struct {
		p   page
		ok  bool
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		p, ok, err := st.do(ctx, l, c)
		done <- outcome{p, ok, err}
	}()
	var out outcome
	finished := false
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !finished {
		select {
		case out = <-done:
			finished = true
			continue
		case <-ctx.Done():
			l.shop.Kill()
			return rec, ctx.Err()
		case <-tick.C:
		}
		n, err := l.sb.calls(ctx, op)
		if err != nil {
			return rec, err
		}
		if n-before >= threshold {
			break
		}
	}
	if n, err := l.sb.calls(ctx, op); err == nil {
		rec.calls = n - before
	}
	lost := 0
	if spec.LoseAnswer {
		if left, err := l.sb.pendingTimes(ctx, op); err == nil {
			lost = spec.Times - left
		}
	}
	l.shop.Kill()
	if !finished {
		out = <-done // the shop is gone: the step's request fails at once
	}
	// The step is over: the customer is this goroutine's again.
	if lost > 0 && c.cur != nil {
		c.cur.lostAnswers += lost
	}
	if finished {
		c.note("%s answered before %d call(s) of %s; killed the shop then", st.name, threshold, op)
	} else {
		c.note("killed the shop during %s, after %d call(s) of %s", st.name, rec.calls, op)
	}
	rec.page, rec.ok = out.p, out.ok
	if out.err != nil {
		return rec, fmt.Errorf("step %s: %v", st.name, out.err)
	}
	if !out.ok {
		c.errorPages = append(c.errorPages, st.name+": "+describe(out.p))
	}
	return rec, l.restart(ctx, c, op, &rec)
}

// restart starts the killed shop again on its data dir and notes whether
// the sandbox kept its state.
func (l *lane) restart(ctx context.Context, c *customer, op string, rec *stepRecord) error {
	if err := l.shop.Start(ctx); err != nil {
		return fmt.Errorf("restarting the shop: %v", err)
	}
	// A sandbox that keeps its faults would still hold the rest of this one.
	if err := l.sb.clear(ctx, op); err != nil {
		return err
	}
	kept, err := l.sandboxKeptState(ctx)
	if err != nil {
		return fmt.Errorf("reading the canary after the restart: %v", err)
	}
	rec.sandboxForgot = !kept
	c.note("restarted the shop; the sandbox kept its state: %t", kept)
	return nil
}

// killAfter runs the step (the customer approves at the provider, which
// raises the event the fault holds back), kills the shop with SIGKILL
// before the event is delivered, and starts it again. The customer closed
// the tab: the purchase goes no further, and only the event, a sweep or the
// customer's later look at their orders can settle it.
func (l *lane) killAfter(ctx context.Context, sc scenario, c *customer, st step, before int) (stepRecord, error) {
	rec := stepRecord{tabClosed: true}
	c.closedTab = true
	p, ok, err := st.do(ctx, l, c)
	rec.page, rec.ok = p, ok
	if err != nil {
		return rec, fmt.Errorf("step %s: %v", st.name, err)
	}
	if !ok {
		c.errorPages = append(c.errorPages, st.name+": "+describe(p))
	}
	// The provider raises the event as the step ends; its engine takes the
	// fault (and counts the attempt) a moment later.
	for wait := time.Now().Add(5 * time.Second); ; {
		n, err := l.sb.calls(ctx, sc.op.name)
		if err != nil {
			return rec, err
		}
		if rec.calls = n - before; rec.calls > 0 || !ok || time.Now().After(wait) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.shop.Kill()
	c.note("%s ended with %s; %d attempt(s) of %s held back; killed the shop, and the customer closed the tab",
		st.name, describe(p), rec.calls, sc.op.name)
	return rec, l.restart(ctx, c, sc.op.name, &rec)
}

// read is the customer reading a page. A page that says nothing was charged
// is checked against the providers at once: a provider holding money for an
// order the shop does not show as paid makes that sentence untrue.
func (l *lane) read(ctx context.Context, f flow, c *customer, p page) error {
	if !p.saysNothingCharged() {
		return nil
	}
	c.toldNothingCharged = true
	c.note("read %q on %s %s", "Nothing was charged", p.method, pathOf(p.url))
	if c.heard[p.url] {
		return nil
	}
	c.heard[p.url] = true
	snap, err := l.observe(ctx, f, c)
	if err != nil {
		return err
	}
	for _, o := range snap.orders {
		if o.money && !paid(o.status) {
			c.lies = append(c.lies, fmt.Sprintf("told %q (%s %s) while the provider held %s for order %s",
				"Nothing was charged", p.method, pathOf(p.url), o.what, short(o.id)))
		}
	}
	return nil
}

// observe reads the account page (the orders and the cart; it moves
// nothing) and asks the providers about each of the scenario's orders.
func (l *lane) observe(ctx context.Context, f flow, c *customer) (snapshot, error) {
	orders, cart, err := c.b.account(ctx)
	if err != nil {
		return snapshot{}, err
	}
	c.adopt(orders)
	pr := l.newProber()
	s := snapshot{cart: cart}
	for i := len(orders) - 1; i >= 0; i-- { // oldest first
		o := orders[i]
		if c.before[o.id] {
			continue
		}
		h, err := f.probe(ctx, pr, c, o)
		if err != nil {
			return s, fmt.Errorf("asking the provider about order %s: %v", short(o.id), err)
		}
		s.orders = append(s.orders, orderState{shopOrder: o, holding: h})
	}
	return s, nil
}

// watched is what the customer saw while watching their orders.
type watched struct {
	snapshot
	mismatches []string // orders the shop and the provider still disagree about
	// impatient: all that was left was an order page saying the shop is
	// confirming the payment, for longer than the customer's patience.
	impatient bool
}

// reconcile is the customer checking their orders until the shop agrees
// with the provider about each, no order page says the shop is still
// confirming the payment, and no order beside a paid one can still take
// money (the shop may close it, or act on it: both are to be seen), or
// l.settle has passed. Each round opens the page of every order that is not
// settled (the shop may ask its provider then), and moves the sandbox clock
// a little. With patience > 0 it stops once pages have said "confirming"
// (and nothing else was amiss) for that long.
func (l *lane) reconcile(ctx context.Context, f flow, c *customer, patience time.Duration) (watched, error) {
	deadline := time.Now().Add(l.settle)
	var confirmingSince time.Time
	for round := 1; ; round++ {
		s, err := l.observe(ctx, f, c)
		if err != nil {
			return watched{}, err
		}
		var confirming []string
		for _, o := range s.orders {
			if o.status != "pending" && o.agrees(o.status) {
				continue
			}
			op, p := c.b.order(ctx, o.id)
			if op.reference != "" {
				c.attemptFor(o.id).shown = op.reference
			}
			if err := l.read(ctx, f, c, p); err != nil {
				return watched{}, err
			}
			if p.saysConfirming() {
				confirming = append(confirming, o.id)
			}
		}
		if s, err = l.observe(ctx, f, c); err != nil {
			return watched{}, err
		}
		w := watched{snapshot: s, mismatches: s.mismatches()}
		open := s.stillOpen()
		if len(w.mismatches) == 0 && len(open) == 0 {
			if len(confirming) == 0 {
				return w, nil
			}
			if confirmingSince.IsZero() {
				confirmingSince = time.Now()
			}
			if patience > 0 && time.Since(confirmingSince) > patience {
				w.impatient = true
				return w, nil
			}
		} else {
			confirmingSince = time.Time{}
		}
		if time.Now().After(deadline) {
			for _, id := range confirming {
				w.mismatches = append(w.mismatches, fmt.Sprintf("order %s still says the shop is confirming it", short(id)))
			}
			return w, nil
		}
		wait := time.Second
		if round <= nudges {
			if err := l.sb.advance(ctx, nudge); err != nil {
				return w, err
			}
		} else {
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// wantsToPay: as far as the shop's pages tell the customer, nothing is
// paid yet and there is still something to buy. (The customer cannot see
// what the provider holds.)
func (l *lane) wantsToPay(f flow, s snapshot) bool {
	if s.anyPaid() {
		return false
	}
	return !f.usesCart() || s.cart > 0
}

// payAgain is the customer starting the purchase over, with no fault.
func (l *lane) payAgain(ctx context.Context, f flow, c *customer) error {
	c.retries++
	c.note("the customer pays again (shop shows nothing paid, cart not empty)")
	c.cur = nil
	for _, st := range f.steps() {
		p, ok, err := st.do(ctx, l, c)
		if err != nil {
			return fmt.Errorf("paying again, step %s: %v", st.name, err)
		}
		if err := l.read(ctx, f, c, p); err != nil {
			return err
		}
		if !ok {
			c.errorPages = append(c.errorPages, "paying again, "+st.name+": "+describe(p))
			return nil
		}
	}
	return nil
}

// cartEmptiedOnce checks that the paid order's items left the cart, and only
// once: a product added afterwards stays there however often the orders'
// pages are viewed (each view may settle an order again).
func (l *lane) cartEmptiedOnce(ctx context.Context, c *customer, s snapshot) (string, error) {
	if s.cart != 0 {
		return fmt.Sprintf("the cart still holds %d item(s) after the order was paid", s.cart), nil
	}
	if err := c.b.addToCart(ctx, "tea-towel"); err != nil {
		return "", err
	}
	for _, o := range s.orders {
		c.b.order(ctx, o.id)
	}
	_, cart, err := c.b.account(ctx)
	if err != nil {
		return "", err
	}
	if cart != 1 {
		return fmt.Sprintf("a product added after paying left the cart too (cart %d, want 1): the cart was emptied twice", cart), nil
	}
	return "", nil
}

// shopState is the shop column when the scenario stopped early.
func (l *lane) shopState(ctx context.Context, c *customer) string {
	orders, cart, err := c.b.account(ctx)
	if err != nil {
		return "?"
	}
	var s snapshot
	for i := len(orders) - 1; i >= 0; i-- {
		if !c.before[orders[i].id] {
			s.orders = append(s.orders, orderState{shopOrder: orders[i]})
		}
	}
	s.cart = cart
	return describeShop(s)
}

func describeShop(s snapshot) string {
	var st []string
	for _, o := range s.orders {
		st = append(st, o.status)
	}
	if len(st) == 0 {
		st = []string{"no order"}
	}
	return fmt.Sprintf("%s; cart %d", strings.Join(st, ", "), s.cart)
}

// describe says in a few words what a page was: an error's title, or where it
// went.
func describe(p page) string {
	switch {
	case p.err != nil:
		if errors.Is(p.err, context.DeadlineExceeded) {
			return fmt.Sprintf("%s %s timed out", p.method, pathOf(p.url))
		}
		return fmt.Sprintf("%s %s got no answer", p.method, pathOf(p.url))
	case p.redirect():
		return fmt.Sprintf("%s %s went to %s", p.method, pathOf(p.url), pathOf(p.location))
	}
	title := strings.TrimSpace(p.doc().Find("main h1").First().Text())
	if title == "" {
		title = strings.TrimSpace(p.doc().Find("title").First().Text())
	}
	if title == "" {
		title = truncate(p.text(), 80)
	}
	return fmt.Sprintf("%s %s answered %d %q", p.method, pathOf(p.url), p.status, title)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func lastOr(list []string, fallback string) string {
	if len(list) > 0 {
		return list[len(list)-1]
	}
	return fallback
}

func firstNonEmpty(list []string, fallback string) string {
	if len(list) > 0 {
		return list[0]
	}
	return fallback
}
