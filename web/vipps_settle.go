package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/vipps"
)

const (
	// vippsSettleAfter is when the sweep asks about a payment nobody
	// answered: Vipps gives the customer 10 minutes and says to "wait for the
	// full timeout period"
	// (https://developer.vippsmobilepay.com/docs/knowledge-base/timeouts),
	// plus a minute of slack.
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

// settle asks Vipps where the order's payment stands and moves a pending
// order to match: an authorized payment authorizes the order and empties the
// cart (the back office captures it when the order ships: admin.go); a
// rejected, expired or terminated one cancels the order (the cart stays). It
// returns the order as it now is. sweeping is set by the background sweep,
// which also ends payments Vipps still shows as waiting past their expiry.
func (f *vippsFlow) settle(ctx context.Context, o db.Order, sweeping bool) (db.Order, error) {
	a := f.a
	defer f.locks.Lock(o.ID)()
	cur, err := a.Store.OrderByPublicID(ctx, o.PublicID) // as it is now, under the lock
	if err != nil {
		return o, err // the order as given: callers still know which it is
	}
	o = cur
	if o.Status != db.StatusPending {
		return o, nil // settled: what follows is the back office's (vipps_admin.go)
	}
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if err != nil || vp.Environment != f.env() {
		return o, err // made at another Vipps API: never asked about here (orderPart says so)
	}
	p, err := f.client.GetPayment(ctx, vp.Reference)
	f.asked.mark(o.ID, err != nil && !vipps.IsKind(err, vipps.KindNotFound))
	if vipps.IsKind(err, vipps.KindNotFound) && vp.State == "" {
		if a.Clock.Now().Before(vp.SettleAfter) {
			return o, nil // create may still be on its way to Vipps: nothing to decide yet
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
	if err := f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate); err != nil {
		return o, err
	}

	switch p.State {
	case vipps.StateCreated:
		if vp.RedirectURL == "" && p.RedirectURL != "" {
			// Create's answer was lost (no reply, a crash): Vipps's copy of
			// the landing page lets the customer go on.
			if err := a.Store.SetVippsCreated(ctx, o.ID, p.RedirectURL); err != nil {
				return o, err
			}
		}
		if sweeping && !a.Clock.Now().Before(vp.SettleAfter) {
			// Past Vipps's own 10 minutes and still waiting: end it, so a late
			// approval cannot take money for an order the shop gave up on.
			m, err := f.client.Cancel(ctx, vp.Reference, vp.CancelKey)
			if err != nil {
				return o, err
			}
			_ = f.record(ctx, o.ID, m.State, m.PSPReference, m.Aggregate)
			return f.move(ctx, o, db.StatusCancelled, vippsEnded[vipps.StateExpired])
		}
		return o, nil
	case vipps.StateAborted, vipps.StateExpired, vipps.StateTerminated:
		settled, err := f.move(ctx, o, db.StatusCancelled, vippsEnded[p.State])
		f.notePolled(ctx, o, settled, p.State)
		return settled, err
	case vipps.StateAuthorized:
		settled, err := f.authorized(ctx, o, p.Aggregate)
		f.notePolled(ctx, o, settled, p.State)
		return settled, err
	}
	return o, nil
}

// vippsEnded is what a customer reads on an order whose payment ended
// without being authorized, by the payment's state, which is also the name
// of the event that reports it (settle and the webhook use the same words).
var vippsEnded = map[string]string{
	vipps.StateAborted:    "You rejected the payment in Vipps MobilePay. Nothing was charged.",
	vipps.StateExpired:    "The payment request expired before it was approved. Nothing was charged.",
	vipps.StateTerminated: "The payment was cancelled. Nothing was charged.",
}

// notePolled logs, for a reader of the log, an order that polling (the
// order page, the return, the sweep) moved out of pending with no webhook
// event of that outcome received: the fallback at work.
func (f *vippsFlow) notePolled(ctx context.Context, before, after db.Order, state string) {
	if after.Status == before.Status {
		return
	}
	events, err := f.a.Store.VippsWebhookEvents(ctx, before.ID)
	if err != nil {
		return
	}
	for _, e := range events {
		if e.Name == state {
			return
		}
	}
	f.a.Log.Info("vipps: settled by polling (no webhook received)", "order", before.PublicID, "state", state, "status", after.Status)
}

// settleWithin is settle for a customer's request, within its deadline
// (awaitProvider): errConfirming, with o as given, when Vipps has not
// answered by then; the settle goes on and the order page shows its outcome.
// Requests settling the same order at once share one settle.
func (f *vippsFlow) settleWithin(c echo.Context, o db.Order) (db.Order, error) {
	settled, err := awaitProvider(f.a, c, vippsSettleWork(o.ID), func(ctx context.Context) (db.Order, error) {
		return f.settle(ctx, o, false)
	})
	if errors.Is(err, errConfirming) {
		return o, err
	}
	return settled, err
}

// vippsAuthorizedDetail is what the customer reads on an authorized order:
// Vipps MobilePay's Norwegian rule is to capture only once the goods are
// shipped (https://developer.vippsmobilepay.com/docs/knowledge-base/reserve-and-capture),
// so the back office captures when the order ships (web/admin.go).
const vippsAuthorizedDetail = "Payment authorized: we capture the payment when your order ships."

// authorized records an approved payment, whose aggregate is agg: the order
// is authorized (the money is reserved, nothing taken) and its items leave
// the cart. Capture waits for the back office to ship the order.
func (f *vippsFlow) authorized(ctx context.Context, o db.Order, agg vipps.Aggregate) (db.Order, error) {
	a := f.a
	if agg.CapturedAmount.Value == 0 && agg.CancelledAmount.Value > 0 {
		return f.move(ctx, o, db.StatusFailed, "The reservation was released before the payment was taken. Nothing was charged.")
	}
	// Paid for: the order's items leave the cart in the same step, and its
	// other open attempts are closed (db.SetOrderStatusPaid), then released.
	// A lost swap (closed first because its cart was paid another way, or
	// settled by another process) leaves the order as that one left it; a
	// closed attempt's release gives the reservation back.
	err := a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, vippsAuthorizedDetail)
	switch {
	case err == nil:
		a.Log.Info("vipps: payment authorized", "order", o.PublicID)
	case !errors.Is(err, db.ErrStale):
		return o, err
	}
	if err == nil && o.CartID != 0 {
		a.releaseClosed(ctx, o.CartID)
	}
	return f.reload(ctx, o)
}

// record stores what Vipps reported of the payment: its state, and the
// money (the aggregate) on the order for the back office.
func (f *vippsFlow) record(ctx context.Context, orderID int64, state, pspReference string, agg vipps.Aggregate) error {
	if err := f.a.Store.SetVippsState(ctx, orderID, state, pspReference, agg.CapturedAmount.Value); err != nil {
		return err
	}
	return f.a.Store.SetOrderAmounts(ctx, orderID, vippsAmounts(agg))
}

// vippsAmounts is a payment's aggregate in the shop's terms.
func vippsAmounts(agg vipps.Aggregate) db.Amounts {
	return db.Amounts{Authorized: agg.AuthorizedAmount.Value, Captured: agg.CapturedAmount.Value,
		Refunded: agg.RefundedAmount.Value, Cancelled: agg.CancelledAmount.Value}
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
			_ = f.record(ctx, o.ID, m.State, m.PSPReference, m.Aggregate)
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
			row.Currency = o.Currency
		}
		rows = append(rows, row)
	}
	if err := f.a.Store.ReplaceVippsEvents(ctx, o.ID, rows); err != nil {
		f.a.Log.Warn("vipps: storing the event log", "order", o.PublicID, "error", err)
	}
}
