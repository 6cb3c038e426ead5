package web

// Pay with Vipps MobilePay (ePayment, WEB_REDIRECT):
//
//  1. POST /checkout/vipps validates the phone number, places a pending order,
//     stores the payment's reference and Idempotency-Keys, creates the payment
//     and sends the browser to Vipps's landing page.
//  2. Vipps sends the browser back to GET /checkout/vipps/return?order=...
//     The shop trusts nothing in that URL but the order id: it asks Vipps for
//     the payment's state (settle), captures an authorized payment, and shows
//     the order.
//  3. A customer who closes the tab leaves a pending order. It is settled when
//     its page is next viewed, and by a background sweep once the payment is
//     past its expiry.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/catalog"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/money"
	"refshop/web/vipps"
)

const (
	// vippsSettleAfter is when the sweep asks about a payment nobody
	// answered: Vipps gives the customer 10 minutes ("wait for the full
	// timeout period", knowledge-base/timeouts), plus a minute of slack.
	vippsSettleAfter = 11 * time.Minute
	// vippsSweepEvery is how often the sweep looks for such payments.
	vippsSweepEvery = 30 * time.Second
	// vippsSweepBatch is how many orders one sweep settles at most.
	vippsSweepBatch = 50
	// vippsMaxSettleTries bounds the sweep's tries on one order.
	vippsMaxSettleTries = 8
	// vippsRecheckAfter is how long an order page shows what Vipps last said
	// before asking again: reloading a page must not spend Vipps's rate limits.
	vippsRecheckAfter = 10 * time.Second
)

// vippsFlow holds the Vipps client and the per-order locks that keep two
// requests in this process from settling the same order at once. Across
// processes the order status compare-and-swap and the stored capture key
// keep a payment from being captured twice.
type vippsFlow struct {
	a      *App
	client *vipps.Client
	locks  orderLocks
	asked  askedLately
	batch  int // orders per sweep (vippsSweepBatch; tests lower it)
}

// newVippsFlow builds the flow with the one shared Vipps client (Deps.Vipps):
// one access token for the whole process.
func newVippsFlow(a *App) *vippsFlow {
	return &vippsFlow{a: a, batch: vippsSweepBatch, client: a.Vipps,
		asked: askedLately{clock: providerClock(a.Deps, a.Config.Vipps.Mode)}}
}

func (f *vippsFlow) lock(orderID int64) func() { return f.locks.lock(orderID) }

// askedLately remembers, per order, when the shop last asked Vipps about its
// payment (on the provider's clock, which the sandbox's POST /control/clock
// moves) and whether that failed. Entries older than vippsRecheckAfter are
// dropped as new ones come, so it holds only the orders of the last seconds.
type askedLately struct {
	clock clock.Clock
	mu    sync.Mutex
	at    map[int64]askedAt
}

type askedAt struct {
	when   time.Time
	failed bool
}

// recently reports whether Vipps was asked about orderID within
// vippsRecheckAfter, and whether that ask failed.
func (l *askedLately) recently(orderID int64) (recent, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.at[orderID]
	if !ok || l.clock.Now().Sub(a.when) >= vippsRecheckAfter {
		return false, false
	}
	return true, a.failed
}

func (l *askedLately) mark(orderID int64, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.at == nil {
		l.at = map[int64]askedAt{}
	}
	for id, a := range l.at {
		if now.Sub(a.when) >= vippsRecheckAfter {
			delete(l.at, id)
		}
	}
	l.at[orderID] = askedAt{when: now, failed: failed}
}

// orderLocks is a mutex per order id, kept only while someone holds or waits
// for it, so the map does not grow with every order ever settled.
type orderLocks struct {
	mu sync.Mutex
	m  map[int64]*orderLock
}

type orderLock struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when it drops to 0
}

// lock locks orderID's mutex and returns its unlock.
func (l *orderLocks) lock(orderID int64) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[int64]*orderLock{}
	}
	e := l.m[orderID]
	if e == nil {
		e = &orderLock{}
		l.m[orderID] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, orderID)
		}
		l.mu.Unlock()
	}
}

// held is how many order ids have an entry (for tests).
func (l *orderLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// ctxVippsForm carries a refused form back into the checkout page.
const ctxVippsForm = "vipps_form"

// method is the checkout page's Vipps MobilePay form.
func (f *vippsFlow) method(c echo.Context, _ pricedCart) (templ.Component, error) {
	v, _ := c.Get(ctxVippsForm).(views.VippsMethodView)
	return views.VippsMethod(v), nil
}

// checkout is POST /checkout/vipps.
func (f *vippsFlow) checkout(c echo.Context) error {
	a, ctx := f.a, c.Request().Context()
	typed := c.FormValue("phone")
	phone, err := vipps.NormalizePhone(typed)
	if err != nil {
		return a.checkoutAgain(c, http.StatusUnprocessableEntity, ctxVippsForm, views.VippsMethodView{Phone: typed, Error: err.Error()})
	}
	o, err := a.placeOrder(c, "vipps")
	if err != nil {
		return err
	}
	ref, err := vipps.Reference(o.PublicID)
	if err != nil {
		return f.abandon(ctx, o, err)
	}
	vp := db.VippsPayment{
		OrderID: o.ID, Reference: ref, SettleAfter: a.Clock.Now().Add(vippsSettleAfter),
		CreateKey:  vipps.OperationKey(o.IdempotencyKey, "create"),
		CaptureKey: vipps.OperationKey(o.IdempotencyKey, "capture"),
		CancelKey:  vipps.OperationKey(o.IdempotencyKey, "cancel"),
	}
	if err := a.Store.CreateVippsPayment(ctx, vp); err != nil {
		return f.abandon(ctx, o, err)
	}
	if err := a.Store.SetProviderReference(ctx, o.ID, ref); err != nil {
		return f.abandon(ctx, o, err)
	}

	// The returnUrl carries only the order id; the outcome is asked of Vipps.
	// (The real API wants https here: set SHOP_BASE_URL to an https origin;
	// the sandbox also accepts the shop's own configured http origin.)
	ret := a.Config.ShopBaseURL + "/checkout/vipps/return?order=" + url.QueryEscape(o.PublicID)
	res, err := f.client.CreatePayment(ctx, vipps.CreatePaymentRequest{
		Amount:             vipps.Amount{Currency: o.Currency, Value: o.TotalAmount},
		Customer:           &vipps.Customer{PhoneNumber: phone},
		PaymentMethod:      vipps.PaymentMethod{Type: "WALLET"},
		Reference:          ref,
		ReturnURL:          ret,
		UserFlow:           "WEB_REDIRECT",
		PaymentDescription: "Refshop order " + o.PublicID[:8],
	}, vp.CreateKey)
	if err != nil {
		// The order is marked failed, never left looking paid; the cart is
		// untouched. Should Vipps have created the payment after all (a
		// timeout), nobody has its landing page, and it expires by itself.
		msg := vipps.CustomerMessage(err)
		_ = a.failOrder(ctx, o, msg)
		a.Log.Warn("vipps: create payment failed", "order", o.PublicID, "error", err)
		status := http.StatusBadGateway
		switch {
		case vipps.IsKind(err, vipps.KindUnavailable):
			status = http.StatusServiceUnavailable
		case vipps.IsKind(err, vipps.KindInvalid):
			status = http.StatusUnprocessableEntity
		}
		form := views.VippsMethodView{Phone: typed, Notice: msg}
		if status == http.StatusUnprocessableEntity {
			form.Error = msg
		}
		// 422 for a refused field, 503 when Vipps is out, 502 otherwise.
		return a.checkoutAgain(c, status, ctxVippsForm, form)
	}
	if err := a.Store.SetVippsCreated(ctx, o.ID, res.RedirectURL); err != nil {
		return err
	}
	if !landingAllowed(res.RedirectURL, a.Config.Vipps) {
		return &UserError{Status: http.StatusBadGateway, Title: "Vipps MobilePay answered strangely",
			Message: "We could not open the Vipps MobilePay page. Nothing was charged. Please try again.",
			Err:     errors.New("vipps: redirectUrl is neither on the Vipps API's origin nor on a Vipps MobilePay domain")}
	}
	return c.Redirect(http.StatusSeeOther, res.RedirectURL)
}

// vippsLandingDomains hold Vipps MobilePay's landing pages in real mode
// (landing.vipps.no, pay.mobilepay.dk, ...: other hosts than the API's). The
// shop redirects only there (landingAllowed) and the CSP's form-action allows
// exactly these (newCSP): one list for both.
var vippsLandingDomains = []string{"vipps.no", "mobilepay.dk", "mobilepay.fi"}

// landingAllowed accepts a redirectUrl on the configured API's own origin
// (the sandbox serves its landing page there) or, in real mode, on https on
// a subdomain of vippsLandingDomains, on the default port: what the CSP's
// https://*.vipps.no and the others allow. Anything else is not sent to the
// browser: a redirect the shop makes is the shop's word.
func landingAllowed(raw string, cfg config.Vipps) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	if origin(raw) == origin(cfg.APIURL) {
		return true
	}
	if cfg.Mode != config.Real || u.Scheme != "https" || u.Port() != "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range vippsLandingDomains {
		if strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// abandon marks an order failed when the shop itself could not go on, and
// returns err for the error page.
func (f *vippsFlow) abandon(ctx context.Context, o db.Order, err error) error {
	_ = f.a.failOrder(ctx, o, "The payment could not be started. Nothing was charged.")
	return err
}

// returned is GET /checkout/vipps/return, where the landing page sends the
// browser back.
func (f *vippsFlow) returned(c echo.Context) error {
	a := f.a
	o, err := a.loadOrder(c, c.QueryParam("order"))
	if err != nil {
		return err
	}
	if o.Provider != "vipps" {
		return echo.ErrNotFound
	}
	id := o.PublicID // the redirect's target, whatever settle manages
	o, err = f.settle(c.Request().Context(), o, false)
	switch {
	case err != nil:
		a.Log.Warn("vipps: settling on return", "order", id, "error", err)
		a.flash(c, "We could not confirm your payment with Vipps MobilePay yet. This page checks again when you reload it.")
	case o.Status == db.StatusCaptured:
		a.flash(c, "Thank you! Your payment was received.")
	case o.Status == db.StatusCancelled || o.Status == db.StatusFailed:
		a.flash(c, "The payment was not completed. Nothing was charged and your cart is unchanged: you can try again.")
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+id)
}

// refresh brings a Vipps order up to date before its page is shown: only an
// open one (a settled order's payment has nothing more to say), and only when
// Vipps was not asked about it within vippsRecheckAfter.
func (f *vippsFlow) refresh(c echo.Context, o db.Order) (db.Order, error) {
	if o.Provider != "vipps" || (o.Status != db.StatusPending && o.Status != db.StatusAuthorized) {
		return o, nil
	}
	if recent, failed := f.asked.recently(o.ID); recent {
		c.Set("vipps_unreachable", failed)
		return o, nil
	}
	settled, err := f.settle(c.Request().Context(), o, false)
	if err != nil {
		// The page still shows what the shop knows; orderPart says Vipps
		// could not be asked.
		f.a.Log.Warn("vipps: settling on view", "order", o.PublicID, "error", err)
		c.Set("vipps_unreachable", true)
		return f.a.Store.OrderByPublicID(c.Request().Context(), o.PublicID)
	}
	return settled, nil
}

// orderPart adds the Vipps reference, the payment's history and the next step.
func (f *vippsFlow) orderPart(c echo.Context, o db.Order) (orderPart, error) {
	if o.Provider != "vipps" {
		return orderPart{}, nil
	}
	ctx := c.Request().Context()
	vp, err := f.a.Store.VippsPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return orderPart{}, nil
	}
	if err != nil {
		return orderPart{}, err
	}
	events, err := f.a.Store.VippsEvents(ctx, o.ID)
	if err != nil {
		return orderPart{}, err
	}
	v := views.VippsOrderView{Reference: vp.Reference, State: vp.State}
	if unreachable, _ := c.Get("vipps_unreachable").(bool); unreachable {
		v.Notice = "Vipps MobilePay could not be reached just now, so this may not be the latest. Reload the page to check again."
	}
	for _, e := range events {
		v.Events = append(v.Events, views.VippsEventView{
			Name: e.Name, Label: vippsEventLabel(e.Name),
			Amount: money.Amount{Minor: e.Amount, Currency: e.Currency}.Format(),
			Time:   e.OccurredAt.Local().Format(dateFormat), When: e.OccurredAt.UTC().Format(time.RFC3339),
		})
	}
	p := orderPart{Details: []templ.Component{views.VippsDetails(v)}}
	switch {
	case o.Status == db.StatusPending && vp.RedirectURL != "" && landingAllowed(vp.RedirectURL, f.a.Config.Vipps):
		p.Actions = append(p.Actions, views.VippsContinue(vp.RedirectURL))
	case o.Status == db.StatusCancelled || o.Status == db.StatusFailed:
		p.Actions = append(p.Actions, views.VippsTryAgain())
	}
	return p, nil
}

func vippsEventLabel(name string) string {
	switch name {
	case "CREATED":
		return "Payment requested"
	case "AUTHORIZED":
		return "Approved in Vipps MobilePay"
	case "CAPTURED":
		return "Payment taken"
	case "CANCELLED":
		return "Reservation released"
	case "REFUNDED":
		return "Refunded"
	case "ABORTED":
		return "Rejected in Vipps MobilePay"
	case "EXPIRED":
		return "Expired before it was approved"
	case "TERMINATED":
		return "Cancelled by the shop"
	}
	return name
}

// settle asks Vipps where the order's payment stands and moves the order to
// match: an authorized payment is captured in full and the cart emptied; a
// rejected, expired or terminated one cancels the order (the cart stays). It
// returns the order as it now is. sweeping is set by the background sweep,
// which also ends payments Vipps still shows as waiting past their expiry.
func (f *vippsFlow) settle(ctx context.Context, o db.Order, sweeping bool) (db.Order, error) {
	a := f.a
	defer f.lock(o.ID)()
	cur, err := a.Store.OrderByPublicID(ctx, o.PublicID) // as it is now, under the lock
	if err != nil {
		return o, err // the order as given: callers still know which it is
	}
	o = cur
	if o.Status != db.StatusPending && o.Status != db.StatusAuthorized {
		return o, nil
	}
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if err != nil {
		return o, err
	}
	p, err := f.client.GetPayment(ctx, vp.Reference)
	f.asked.mark(o.ID, err != nil && !vipps.IsKind(err, vipps.KindNotFound))
	if vipps.IsKind(err, vipps.KindNotFound) && vp.State == "" {
		if a.Clock.Now().Before(vp.SettleAfter) {
			return o, err // create may still be on its way to Vipps
		}
		// Create never reached Vipps and the customer never saw a landing page.
		return f.move(ctx, o, db.StatusFailed, "The payment was never started at Vipps MobilePay. Nothing was charged.")
	}
	if vippsRefused(err) {
		return f.giveUp(ctx, o, vp, err)
	}
	if err != nil {
		return o, err
	}
	defer f.refreshEvents(ctx, o, vp.Reference)
	if err := a.Store.SetVippsState(ctx, o.ID, p.State, p.PSPReference, p.Aggregate.CapturedAmount.Value); err != nil {
		return o, err
	}

	switch p.State {
	case vipps.StateCreated:
		if sweeping && !a.Clock.Now().Before(vp.SettleAfter) {
			// Past Vipps's own 10 minutes and still waiting: end it, so a late
			// approval cannot take money for an order the shop gave up on.
			m, err := f.client.Cancel(ctx, vp.Reference, vp.CancelKey)
			if err != nil {
				return o, err
			}
			_ = a.Store.SetVippsState(ctx, o.ID, m.State, m.PSPReference, m.Aggregate.CapturedAmount.Value)
			return f.move(ctx, o, db.StatusCancelled, "The payment request expired before it was approved. Nothing was charged.")
		}
		return o, nil
	case vipps.StateAborted:
		return f.move(ctx, o, db.StatusCancelled, "You rejected the payment in Vipps MobilePay. Nothing was charged.")
	case vipps.StateExpired:
		return f.move(ctx, o, db.StatusCancelled, "The payment request expired before it was approved. Nothing was charged.")
	case vipps.StateTerminated:
		return f.move(ctx, o, db.StatusCancelled, "The payment was cancelled. Nothing was charged.")
	case vipps.StateAuthorized:
		return f.capture(ctx, o, vp, p)
	}
	return o, nil
}

// capture takes an authorized payment in full, with the order's stored
// capture key, and marks the order captured.
func (f *vippsFlow) capture(ctx context.Context, o db.Order, vp db.VippsPayment, p vipps.Payment) (db.Order, error) {
	a := f.a
	if o.Status == db.StatusPending {
		var err error
		if o, err = f.move(ctx, o, db.StatusAuthorized, "Approved in Vipps MobilePay; taking the payment."); err != nil {
			return o, err
		}
	}
	agg := p.Aggregate
	if agg.CapturedAmount.Value < o.TotalAmount {
		if agg.CancelledAmount.Value > 0 {
			return f.move(ctx, o, db.StatusFailed, "The reservation was released before the payment was taken. Nothing was charged.")
		}
		m, err := f.client.Capture(ctx, vp.Reference, vipps.Amount{Currency: o.Currency, Value: o.TotalAmount}, vp.CaptureKey)
		if vippsRefused(err) {
			// Vipps will not let the shop take this payment (a state or
			// validation refusal, a conflict): release it and say so. A retry
			// with the same key cannot change that answer.
			return f.giveUp(ctx, o, vp, err)
		}
		if err != nil {
			// Stays authorized; the next view or the sweep tries again with
			// the same Idempotency-Key.
			return o, err
		}
		_ = a.Store.SetVippsState(ctx, o.ID, m.State, m.PSPReference, m.Aggregate.CapturedAmount.Value)
	}
	// Paid: the order's items leave the cart in the same step (db.SetOrderStatusPaid).
	err := a.Store.SetOrderStatusPaid(ctx, o.ID, o.Status, db.StatusCaptured, "Paid with Vipps MobilePay.")
	if err != nil && !errors.Is(err, db.ErrStale) {
		return o, err
	}
	return f.reload(ctx, o)
}

// vippsRefused reports a final answer from Vipps about the payment: a 4xx
// other than 429 (busy: ask later) and other than 401/403, which are about
// the shop's own credentials, not the payment, and heal once the
// configuration is fixed. Asking again with the same request gets the same
// refusal, so the order must not wait for another answer.
func vippsRefused(err error) bool {
	var e *vipps.Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500 &&
		e.Status != http.StatusTooManyRequests && e.Kind != vipps.KindAuth
}

// giveUp ends an order Vipps refused to settle: the payment is cancelled when
// Vipps knows it (a reservation is released, a waiting payment can no longer
// be approved), and the order is marked failed with a detail a customer can
// read. Vipps's own text goes to the log only.
func (f *vippsFlow) giveUp(ctx context.Context, o db.Order, vp db.VippsPayment, cause error) (db.Order, error) {
	a := f.a
	a.Log.Warn("vipps: refused; the order is failed", "order", o.PublicID, "error", cause)
	if vp.State != "" && !vipps.IsKind(cause, vipps.KindNotFound) {
		if m, err := f.client.Cancel(ctx, vp.Reference, vp.CancelKey); err != nil {
			a.Log.Warn("vipps: releasing a refused payment", "order", o.PublicID, "error", err)
		} else {
			_ = a.Store.SetVippsState(ctx, o.ID, m.State, m.PSPReference, m.Aggregate.CapturedAmount.Value)
		}
	}
	return f.move(ctx, o, db.StatusFailed, "Vipps MobilePay would not complete the payment. Nothing was charged.")
}

// move changes the order's status (compare-and-swap) and returns it reloaded.
// Losing the swap to another process is fine: the reloaded order says where
// it went.
func (f *vippsFlow) move(ctx context.Context, o db.Order, to db.Status, detail string) (db.Order, error) {
	err := f.a.Store.SetOrderStatus(ctx, o.ID, o.Status, to, detail)
	if err != nil && !errors.Is(err, db.ErrStale) {
		return o, err
	}
	return f.reload(ctx, o)
}

// reload reads the order again; on failure it returns o as it was, so a
// caller never loses which order it holds.
func (f *vippsFlow) reload(ctx context.Context, o db.Order) (db.Order, error) {
	cur, err := f.a.Store.OrderByPublicID(ctx, o.PublicID)
	if err != nil {
		return o, err
	}
	return cur, nil
}

// refreshEvents stores the payment's event log for the order page. A failure
// only leaves the previous log in place.
func (f *vippsFlow) refreshEvents(ctx context.Context, o db.Order, ref string) {
	events, err := f.client.Events(ctx, ref)
	if err != nil {
		f.a.Log.Warn("vipps: reading the event log", "order", o.PublicID, "error", err)
		return
	}
	rows := make([]db.VippsEvent, 0, len(events))
	for _, e := range events {
		row := db.VippsEvent{Name: e.Name, Currency: e.Amount.Currency, Amount: e.Amount.Value, OccurredAt: e.Timestamp, Success: e.Success}
		if e.IdempotencyKey != nil {
			row.IdempotencyKey = *e.IdempotencyKey
		}
		if row.Currency == "" {
			row.Currency = catalog.Currency
		}
		rows = append(rows, row)
	}
	if err := f.a.Store.ReplaceVippsEvents(ctx, o.ID, rows); err != nil {
		f.a.Log.Warn("vipps: storing the event log", "order", o.PublicID, "error", err)
	}
}

// sweep settles, every vippsSweepEvery until ctx ends, the Vipps orders
// still open past their payment's expiry (by the shop's injected clock).
func (f *vippsFlow) sweep(ctx context.Context) {
	t := time.NewTicker(vippsSweepEvery)
	defer t.Stop()
	for {
		f.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce is one pass of the sweep. An order it cannot settle (no answer,
// a 5xx, a 429) waits longer each time (vippsRetryAfter), so it never keeps
// the orders behind it waiting, and after vippsMaxSettleTries it is left for
// a person: the shop cannot know where its money is, so it must not guess.
func (f *vippsFlow) sweepOnce(ctx context.Context) {
	a := f.a
	ids, err := a.Store.VippsOrdersToSettle(ctx, a.Clock.Now(), vippsMaxSettleTries, f.batch)
	if err != nil {
		a.Log.Warn("vipps sweep: listing orders", "error", err)
		return
	}
	for _, id := range ids {
		o, err := a.Store.OrderByPublicID(ctx, id)
		if err != nil {
			continue
		}
		_, err = f.settle(ctx, o, true)
		if err == nil || ctx.Err() != nil {
			continue
		}
		vp, verr := a.Store.VippsPaymentByOrder(ctx, o.ID)
		if verr != nil {
			a.Log.Warn("vipps sweep: settling", "order", id, "error", err)
			continue
		}
		tries, ferr := a.Store.VippsSettleFailed(ctx, o.ID, a.Clock.Now().Add(vippsRetryAfter(vp.SettleTries+1)))
		switch {
		case ferr != nil:
			a.Log.Warn("vipps sweep: recording a failed try", "order", id, "error", ferr)
		case tries >= vippsMaxSettleTries:
			a.Log.Error("vipps sweep: giving up; check this payment at Vipps MobilePay and settle the order by hand",
				"order", id, "reference", vp.Reference, "tries", tries, "error", err)
		default:
			a.Log.Warn("vipps sweep: settling failed; will try again", "order", id, "tries", tries, "error", err)
		}
	}
}

// vippsRetryAfter is the wait after the sweep's try-th failure on an order:
// a minute, doubling, at most two hours (eight tries span about six hours).
func vippsRetryAfter(try int) time.Duration {
	d := time.Minute << min(max(try-1, 0), 7)
	return min(d, 2*time.Hour)
}
