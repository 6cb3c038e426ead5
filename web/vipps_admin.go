package web

// The Vipps flow's back office (admin.go): an authorized payment is captured
// when the order ships (Vipps MobilePay's rule in Norway: capture only once
// the goods are sent,
// https://developer.vippsmobilepay.com/docs/knowledge-base/reserve-and-capture),
// in full or in parts; what was captured is refunded in full or in parts;
// what is reserved and not captured is released by cancel. Every operation
// sends its own stored Idempotency-Key
// (https://developer.vippsmobilepay.com/docs/knowledge-base/http-headers#idempotency),
// and an unknown outcome is settled from the payment's aggregate. What every
// provider's operations share is admin_operations.go; here is what is
// Vipps's own.

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
		off.Ship = "Nothing is left to capture: " + totalsWords(am, o.Currency) + "."
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

// adminLook: what Vipps allows, and the payment's event log as Vipps last
// reported it (read when an operation ends, not on every look), with the
// events its webhook delivered.
func (f *vippsFlow) adminLook(ctx context.Context, o db.Order) (adminLook, error) {
	events, err := f.history(ctx, o.ID)
	if err != nil {
		return adminLook{}, err
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
	return adminLook{Order: o, Offers: f.adminOffers(o), Events: out, EventsNote: note}, nil
}

// operator runs the back office operations on Vipps orders
// (admin_operations.go) with the flow's own part below.
func (f *vippsFlow) operator() operator[db.VippsPayment] {
	return operator[db.VippsPayment]{a: f.a, ops: f, provider: db.ProviderVipps}
}

func (f *vippsFlow) operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error) {
	return f.operator().operate(ctx, o, req)
}

// settleOperations is the sweep's part for the back office.
func (f *vippsFlow) settleOperations(ctx context.Context) {
	f.operator().settleLeftOperations(ctx, f.batch)
}

// opLock: the order's lock, which settle takes too.
func (f *vippsFlow) opLock(orderID int64) func() { return f.locks.Lock(orderID) }

// opTarget is the order's payment, made at the Vipps API the shop uses now.
func (f *vippsFlow) opTarget(ctx context.Context, o db.Order) (db.VippsPayment, string, error) {
	vp, err := f.a.Store.VippsPaymentByOrder(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return vp, "No Vipps MobilePay payment is recorded for this order.", nil
	case err != nil:
		return vp, "", err
	case vp.Environment != f.env():
		return vp, vippsElsewhere, nil
	}
	return vp, "", nil
}

// opRead reads the payment and records its aggregate.
func (f *vippsFlow) opRead(ctx context.Context, o db.Order, vp db.VippsPayment) (opReading, error) {
	p, err := f.client.GetPayment(ctx, vp.Reference)
	if err != nil {
		return opReading{}, err
	}
	if err := f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate); err != nil {
		return opReading{}, err
	}
	return vippsReading(p.Aggregate), nil
}

// vippsReading is an aggregate's figures: a made operation shows in the
// total of its kind.
func vippsReading(agg vipps.Aggregate) opReading {
	am := vippsAmounts(agg)
	return opReading{Amounts: am, Made: func(op db.Operation) bool { return op.Made(am) }}
}

// opReadFirst: an order authorized before the shop kept the figures has
// them read first.
func (f *vippsFlow) opReadFirst(o db.Order) bool { return o.Amounts.ReportedAt.IsZero() }

// opOffers: what the order's page would offer now (adminOffers). Only an
// authorized payment has a reservation to capture or cancel: a cancel of
// one still waiting for the customer would end the customer's payment at
// Vipps under their feet, and a capture of one the shop closed (its cart
// paid another way) would charge for a cancelled order.
func (f *vippsFlow) opOffers(o db.Order, _ *opReading) adminOffers { return f.adminOffers(o) }

func (f *vippsFlow) opKey(o db.Order, kind db.OperationKind, n int) string {
	return vipps.OperationKey(o.IdempotencyKey, fmt.Sprintf("%s-%d", kind, n))
}

// opCall makes op's call; Vipps answers with the payment's aggregate,
// recorded here.
func (f *vippsFlow) opCall(ctx context.Context, o db.Order, vp db.VippsPayment, op db.Operation) (*opReading, error) {
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
	default:
		return nil, fmt.Errorf("vipps: no operation %q", op.Kind)
	}
	if err != nil {
		return nil, err
	}
	// Not recorded, the operation stays in flight: the next look or the
	// sweep reads the payment.
	if err := f.record(ctx, o.ID, m.State, m.PSPReference, m.Aggregate); err != nil {
		return nil, err
	}
	r := vippsReading(m.Aggregate)
	return &r, nil
}

func (f *vippsFlow) opRefused(err error) bool { return vippsRefused(err) }

// opKeyLasts: Vipps documents no limit to how long it honours an
// Idempotency-Key.
func (f *vippsFlow) opKeyLasts() (time.Duration, string) { return 0, "" }

func (f *vippsFlow) opWords(err error) string { return vippsWords(err) }

// opMade reads the event log again for the back office and the order page.
func (f *vippsFlow) opMade(ctx context.Context, o db.Order, vp db.VippsPayment) {
	f.refreshEvents(ctx, o, vp.Reference)
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
