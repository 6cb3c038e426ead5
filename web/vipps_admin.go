package web

// The Vipps flow's back office (admin.go): an authorized payment is captured
// when the order ships (Vipps MobilePay's rule in Norway: capture only once
// the goods are sent,
// https://developer.vippsmobilepay.com/docs/knowledge-base/reserve-and-capture),
// in full or in parts; what was captured is refunded in full or in parts;
// what is reserved and not captured is released by cancel. Every operation
// sends its own stored Idempotency-Key
// (https://developer.vippsmobilepay.com/docs/knowledge-base/http-headers#idempotency),
// and an unknown outcome is settled from the payment's aggregate.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"refshop/db"
	"refshop/views"
	"refshop/web/vipps"
)

// vippsOperationSettleAfter is how long an operation stays in flight, with
// no answer, before the sweep settles it from the payment: longer than any
// one request's work may run (detachedWorkLimit), so the call is over.
const vippsOperationSettleAfter = detachedWorkLimit + time.Minute

// adminOffers: Vipps captures in parts, refunds in parts, and cancels what
// is reserved and not captured.
func (f *vippsFlow) adminOffers(o db.Order) adminOffers {
	am := knownAmounts(o)
	var off adminOffers
	left, refundable := am.Uncaptured(), am.Refundable()
	switch {
	case o.Status == db.StatusPending:
		off.Ship = "The customer has not approved the payment in Vipps MobilePay yet."
	case o.Status == db.StatusFailed || (o.Status == db.StatusCancelled && am.Captured == 0):
		off.Ship = "Nothing is reserved: the payment was not completed, or it was cancelled."
	case left == 0:
		off.Ship = "Nothing is left to capture: " + vippsTotals(am, o.Currency) + "."
	default:
		off.ShipNote = "Ship: captures " + format(left, o.Currency) + ", all that is reserved and not yet captured."
		off.CaptureNote = "Up to " + format(left, o.Currency) + ". Vipps MobilePay captures in parts; the rest stays reserved."
	}
	off.Capture = off.Ship
	if refundable > 0 {
		off.RefundDefault = refundable
		off.RefundNote = "Up to " + format(refundable, o.Currency) + ", what was captured and not yet refunded."
	} else {
		off.Refund = "Nothing captured is left to refund."
	}
	switch {
	case am.Captured > 0:
		off.Cancel = "Part of the payment was captured: refund it instead."
	case off.Ship != "":
		off.Cancel = off.Ship
	default:
		off.CancelNote = "Cancels the order: releases the reservation of " + format(left, o.Currency) + ". Nothing is charged."
	}
	return off
}

// adminEvents is the payment's event log as Vipps last reported it, with
// the events its webhook delivered.
func (f *vippsFlow) adminEvents(ctx context.Context, o db.Order) ([]views.AdminEventView, string, error) {
	events, err := f.history(ctx, o.ID)
	if err != nil {
		return nil, "", err
	}
	var out []views.AdminEventView
	for _, e := range events {
		out = append(out, views.AdminEventView{
			Time: e.OccurredAt.Local().Format(dateFormat), When: e.OccurredAt.UTC().Format(time.RFC3339),
			Name: e.Name, Label: vippsEventLabel(e.Name), Amount: format(e.Amount, e.Currency),
			Key: e.IdempotencyKey, Success: e.Success, Webhook: e.Webhook,
		})
	}
	note := "The payment's event log, as Vipps MobilePay last reported it, and the events its webhook delivered (marked)."
	if len(out) == 0 {
		note = "Vipps MobilePay has reported no events for this payment."
	}
	return out, note, nil
}

// operate runs one back office operation on a Vipps order, under the
// order's lock (settle takes it too). An operation still in flight is
// settled first; the same request again resends it with its own key.
func (f *vippsFlow) operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error) {
	a := f.a
	defer f.locks.Lock(o.ID)()
	if err := f.closeIfSettled(ctx, o.ID); err != nil {
		return adminOutcome{}, err
	}
	o, err := a.Store.OrderByID(ctx, o.ID) // as it is now, under the lock
	if err != nil {
		return adminOutcome{}, err
	}
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return adminOutcome{"This order never reached Vipps MobilePay: there is no payment to act on. Nothing was sent."}, nil
	}
	if err != nil {
		return adminOutcome{}, err
	}
	if vp.Environment != f.env() {
		return adminOutcome{vippsElsewhere + " Nothing was sent."}, nil
	}
	prev, err := a.Store.OperationInFlight(ctx, o.ID)
	switch {
	case err == nil:
		settled, serr := f.settleOperation(ctx, o, vp, prev, false)
		same := sameOperation(prev, req, o)
		switch {
		case serr == nil && !settled.State.InFlight() && same:
			return adminOutcome{settled.Answer}, nil // the retry found it made (or refused)
		case serr != nil || settled.State.InFlight():
			if same {
				// The retry: the same key. Renewed first, so no sweep (in
				// this process or another) settles it while it is sent.
				if err := a.Store.RenewOperation(ctx, prev.ID); errors.Is(err, db.ErrStale) {
					return adminOutcome{"The " + operationNoun(prev) + " was settled meanwhile. Nothing was sent; look at the order again."}, nil
				} else if err != nil {
					return adminOutcome{}, err
				}
				return f.send(ctx, o, vp, prev)
			}
			return adminOutcome{"Another operation is under way on this order (the " + operationNoun(prev) +
				"). Nothing was sent; try again once it is settled."}, nil
		}
		if o, err = a.Store.OrderByID(ctx, o.ID); err != nil {
			return adminOutcome{}, err
		}
	case !errors.Is(err, db.ErrNotFound):
		return adminOutcome{}, err
	}
	if req.Seen != seenFigures(o.Amounts) {
		// Another tab (or process) acted since this page was shown: what
		// the administrator decided on is not what is true now.
		return adminOutcome{"The order's figures changed since your page showed them: " + vippsTotals(o.Amounts, o.Currency) +
			". Nothing was sent; check them and try again."}, nil
	}
	if o.Amounts.ReportedAt.IsZero() {
		// Authorized before the shop kept the figures: read them first.
		p, err := f.client.GetPayment(ctx, vp.Reference)
		if err != nil {
			return adminOutcome{"Vipps MobilePay could not be asked for the payment just now (" + vippsWords(err) + "). Nothing was sent; try again."}, nil
		}
		if err := f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate); err != nil {
			return adminOutcome{}, err
		}
		if o, err = a.Store.OrderByID(ctx, o.ID); err != nil {
			return adminOutcome{}, err
		}
	}
	amount := req.Amount
	switch {
	case req.Kind == db.OpCapture && req.Whole:
		if amount = o.Amounts.Uncaptured(); amount == 0 {
			return adminOutcome{"Nothing is left to capture: " + vippsTotals(o.Amounts, o.Currency) + ". Nothing was sent."}, nil
		}
	case req.Kind == db.OpCancel:
		// Only an authorized payment has a reservation to release: a cancel
		// of one still waiting for the customer would end the customer's
		// payment at Vipps under their feet.
		if amount = o.Amounts.Uncaptured(); o.Status != db.StatusAuthorized || amount == 0 {
			return adminOutcome{"Nothing is reserved to release: " + vippsTotals(o.Amounts, o.Currency) + ". Nothing was sent."}, nil
		}
	}
	op, err := a.Store.StartOperation(ctx, db.NewOperation{
		OrderID: o.ID, Kind: req.Kind, Amount: amount, Currency: o.Currency, AdminID: req.AdminID, Seen: o.Amounts,
		KeyFor: func(n int) string { return vipps.OperationKey(o.IdempotencyKey, fmt.Sprintf("%s-%d", req.Kind, n)) },
	})
	switch {
	case errors.Is(err, db.ErrBusy):
		return adminOutcome{"Another operation on this order started meanwhile. Nothing was sent; look at the order again."}, nil
	case errors.Is(err, db.ErrStale):
		return adminOutcome{"The order's figures changed meanwhile. Nothing was sent; check them and try again."}, nil
	case err != nil:
		return adminOutcome{}, err
	}
	return f.send(ctx, o, vp, op)
}

// sameOperation reports whether req asks for what op, in flight, does: a
// retry, which resends op with its key.
func sameOperation(op db.Operation, req adminRequest, o db.Order) bool {
	if op.Kind != req.Kind {
		return false
	}
	switch {
	case req.Kind == db.OpCancel:
		return true
	case req.Whole:
		return op.Amount == o.Amounts.Uncaptured()
	}
	return op.Amount == req.Amount
}

// send makes the operation's call with its stored key and records the
// answer. With no answer (a lost connection, a 5xx or 429 after the
// client's retries), the payment is read before anything is said: its
// aggregate shows whether the operation was made.
func (f *vippsFlow) send(ctx context.Context, o db.Order, vp db.VippsPayment, op db.Operation) (adminOutcome, error) {
	a := f.a
	amount := vipps.Amount{Currency: op.Currency, Value: op.Amount}
	var m vipps.Modification
	var err error
	switch op.Kind {
	case db.OpCapture:
		m, err = f.client.Capture(ctx, vp.Reference, amount, op.Key)
	case db.OpRefund:
		m, err = f.client.Refund(ctx, vp.Reference, amount, op.Key)
	case db.OpCancel:
		m, err = f.client.Cancel(ctx, vp.Reference, op.Key)
	}
	switch {
	case err == nil:
		if rerr := f.record(ctx, o.ID, m.State, m.PSPReference, m.Aggregate); rerr != nil {
			return adminOutcome{}, rerr // stays in flight: the next look or the sweep reads the payment
		}
		answer := vippsMade(op, vippsAmounts(m.Aggregate))
		if err := f.finish(ctx, o, vp, op, db.OpDone, answer); err != nil {
			return adminOutcome{}, err
		}
		a.Log.Info("vipps: back office operation done", "order", o.PublicID, "operation", op.Kind, "amount", op.Amount)
		return adminOutcome{answer}, nil
	case vippsRefused(err):
		answer := "Vipps MobilePay refused the " + operationNoun(op) + ": " + vippsWords(err) + " Nothing changed."
		if err := f.finish(ctx, o, vp, op, db.OpRefused, answer); err != nil {
			return adminOutcome{}, err
		}
		return adminOutcome{answer}, nil
	}
	a.Log.Warn("vipps: back office operation without an answer", "order", o.PublicID, "operation", op.Kind, "error", err)
	noAnswer := "No answer from Vipps MobilePay (" + vippsWords(err) + ")."
	if ferr := a.Store.FinishOperation(ctx, op.ID, db.OpUnknown, noAnswer); ferr != nil && !errors.Is(ferr, db.ErrStale) {
		return adminOutcome{}, ferr
	}
	op.State, op.Answer = db.OpUnknown, noAnswer
	settled, serr := f.settleOperation(ctx, o, vp, op, false)
	if serr == nil && !settled.State.InFlight() {
		return adminOutcome{settled.Answer}, nil
	}
	return adminOutcome{"Vipps MobilePay did not answer the " + operationNoun(op) + ", and the payment does not show it yet. " +
		"It is marked unknown: run the same operation again to retry it with the same idempotency key, or wait: the shop settles it by itself."}, nil
}

// settleOperation asks Vipps for the payment and settles op, in flight,
// from its aggregate: done when the totals show it made; when conclude is
// set (the sweep, once op's call is surely over), refused when they do not.
// Otherwise op stays in flight. It returns op as it now is.
func (f *vippsFlow) settleOperation(ctx context.Context, o db.Order, vp db.VippsPayment, op db.Operation, conclude bool) (db.Operation, error) {
	p, err := f.client.GetPayment(ctx, vp.Reference)
	if err != nil {
		return op, err
	}
	if err := f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate); err != nil {
		return op, err
	}
	am := vippsAmounts(p.Aggregate)
	switch {
	case op.Made(am):
		answer := vippsMade(op, am) + " (Its own answer did not reach the shop; the payment shows it.)"
		return f.settled(ctx, o, vp, op, db.OpDone, answer)
	case conclude:
		answer := "Vipps MobilePay has no record of this " + operationNoun(op) + ": it was not made. Nothing changed."
		return f.settled(ctx, o, vp, op, db.OpRefused, answer)
	}
	return op, nil
}

// settled is finish for settleOperation, returning op as it now is.
func (f *vippsFlow) settled(ctx context.Context, o db.Order, vp db.VippsPayment, op db.Operation, state db.OperationState, answer string) (db.Operation, error) {
	if err := f.finish(ctx, o, vp, op, state, answer); err != nil {
		return op, err
	}
	return f.a.Store.OperationByID(ctx, op.ID)
}

// finish records the operation's end and moves the order to match the
// money: all that was reserved captured (some of it perhaps released)
// makes it captured; all released with nothing captured cancels it. The
// event log is read again for the back office and the order page.
func (f *vippsFlow) finish(ctx context.Context, o db.Order, vp db.VippsPayment, op db.Operation, state db.OperationState, answer string) error {
	a := f.a
	if err := a.Store.FinishOperation(ctx, op.ID, state, answer); errors.Is(err, db.ErrStale) && state == db.OpDone {
		// Settled meanwhile by a sweep that found nothing made: Vipps made
		// it after all. The figures recorded above are true; the row is not.
		a.Log.Error("vipps: a back office operation settled as not made was made; its row is wrong, the order's figures are right",
			"order", o.PublicID, "operation", op.ID, "kind", op.Kind)
	} else if err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	if state != db.OpDone {
		return nil
	}
	defer f.refreshEvents(ctx, o, vp.Reference)
	return f.closeIfSettled(ctx, o.ID)
}

// closeIfSettled moves an authorized order whose reservation is all
// captured or released to captured or cancelled. It runs after each
// operation and again before the next one, so a crash between recording
// an operation and this write is repaired by the next look.
func (f *vippsFlow) closeIfSettled(ctx context.Context, orderID int64) error {
	a := f.a
	cur, err := a.Store.OrderByID(ctx, orderID)
	if err != nil || cur.Status != db.StatusAuthorized || cur.Amounts.ReportedAt.IsZero() || cur.Amounts.Uncaptured() > 0 {
		return err
	}
	to, detail := db.StatusCaptured, "Shipped: the payment was captured with Vipps MobilePay."
	if cur.Amounts.Captured == 0 {
		to, detail = db.StatusCancelled, "The order was cancelled and the reservation released. Nothing was charged."
	}
	if err := a.Store.SetOrderStatus(ctx, orderID, db.StatusAuthorized, to, detail); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	return nil
}

// settleOperations is the sweep's part for the back office: operations
// left in flight (a crash after the call was sent, or no answer) past
// vippsOperationSettleAfter are settled from the payment.
func (f *vippsFlow) settleOperations(ctx context.Context) {
	a := f.a
	ops, err := a.Store.OperationsToSettle(ctx, db.ProviderVipps, a.Clock.Now().Add(-vippsOperationSettleAfter), f.batch)
	if err != nil {
		a.Log.Warn("vipps sweep: listing operations in flight", "error", err)
		return
	}
	for _, op := range ops {
		if err := f.settleLeftOperation(ctx, op); err != nil {
			a.Log.Warn("vipps sweep: settling a back office operation", "operation", op.ID, "error", err)
		}
	}
}

func (f *vippsFlow) settleLeftOperation(ctx context.Context, op db.Operation) error {
	a := f.a
	defer f.locks.Lock(op.OrderID)()
	op, err := a.Store.OperationByID(ctx, op.ID) // as it is now, under the lock
	if err != nil || !op.State.InFlight() {
		return err
	}
	o, err := a.Store.OrderByID(ctx, op.OrderID)
	if err != nil {
		return err
	}
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if err != nil || vp.Environment != f.env() {
		return err // another environment's: it cannot be asked here
	}
	settled, err := f.settleOperation(ctx, o, vp, op, true)
	if err == nil {
		a.Log.Info("vipps sweep: settled a back office operation", "order", o.PublicID, "operation", op.Kind, "state", settled.State)
	}
	return err
}

// vippsMade says what Vipps did, with the payment's totals after it.
func vippsMade(op db.Operation, am db.Amounts) string {
	var did string
	switch op.Kind {
	case db.OpCapture:
		did = "Vipps MobilePay captured " + format(op.Amount, op.Currency)
	case db.OpRefund:
		did = "Vipps MobilePay refunded " + format(op.Amount, op.Currency)
	case db.OpCancel:
		did = "Vipps MobilePay released the reservation of " + format(op.Amount, op.Currency)
	}
	return did + ". Now " + vippsTotals(am, op.Currency) + "."
}

// vippsTotals is the payment's money in words.
func vippsTotals(am db.Amounts, currency string) string {
	return fmt.Sprintf("%s captured, %s refunded and %s released of %s authorized",
		format(am.Captured, currency), format(am.Refunded, currency), format(am.Cancelled, currency), format(am.Authorized, currency))
}

// vippsWords is what Vipps said, for an administrator: the problem's title,
// its ErrorCode and detail, or the fields a validation named; for no
// answer, that there was none.
func vippsWords(err error) string {
	var e *vipps.Error
	if !errors.As(err, &e) {
		return "no answer"
	}
	if e.Status == 0 {
		return "no answer"
	}
	if e.Problem == nil {
		return fmt.Sprintf("%d %s", e.Status, e.Message)
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(e.Problem.Title, "."))
	if code := e.Code(); code != "" {
		fmt.Fprintf(&b, " (error code %s)", code)
	}
	b.WriteString(".")
	if d := strings.TrimSpace(e.Problem.Detail); d != "" && e.Code() != "" {
		b.WriteString(" " + d)
	}
	for _, d := range e.Problem.ExtraDetails {
		if d.Name != "ErrorCode" {
			fmt.Fprintf(&b, " %s: %s", d.Name, d.Reason)
		}
	}
	return b.String()
}
