package web

// The Klarna flow's back office (admin.go), through Klarna's Order
// Management API (web/klarna/ordermanagement.go), at the order's region
// (klarnaFlow.in): the order's page reads the order from Klarna, so it
// shows Klarna's figures, fraud review and authorization expiry as they are
// now, and offers what Klarna's rules allow:
//
//   - Ship captures all that remains authorized; Capture part captures
//     less ("the same endpoint"), up to remaining_authorized_amount;
//   - Refund pays back up to what was captured and not yet refunded;
//   - Cancel only an order with no captures ("To successfully cancel the
//     order, don't capture any items listed in it"); after a partial
//     capture, Release the rest gives up what will not be captured
//     (release-remaining-authorization);
//   - Extend authorization moves expires_at ("The order can only be captured
//     until this time") to the account's period (28 days by default) from
//     today, within 180 days of the order's creation;
//   - nothing ships while Klarna's fraud review holds the order
//     (fraud_status PENDING: "do not ship"), nor once it rejected it.
//
// Every call carries its operation's Klarna-Idempotency-Key, which Klarna
// honours for Order Management ("executed once per unique key"), but only
// within 24 hours of the first attempt (escalation and retry policy): an
// operation with no answer whose order cannot be read is resent blind only
// within 23 hours of its first call; later, the administrator is asked to
// check the order in the Merchant Portal, and nothing is sent. A capture
// and a refund also carry the key as their reference, so a capture or
// refund whose answer was lost is recognized in the order's captures and
// refunds. An extension shows only as a later expires_at, and repeated
// extensions on one day give the same date: when the date did not move,
// Klarna's figures cannot tell whether an extension without an answer was
// made, and the sweep settles it as undetermined, saying the expiry.
// What every provider's operations share is admin_operations.go.
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/view-and-change-orders
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/capture-and-track-orders
//   - https://docs.klarna.com/payments/after-payments/order-management/manage-orders-with-the-api/refund-orders-and-manage-authorizations
//   - https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/extended-authorization-expiration
//   - https://docs.klarna.com/payments/after-payments/order-management/more-actions/pending-orders
//   - https://docs.klarna.com/resources/developer-tools/error-handling/error-codes-and-messages-for-order-management
//   - https://docs.klarna.com/api/escalation-and-retry-policy/

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"refshop/db"
	"refshop/views"
	"refshop/web/klarna"
)

// klarnaTarget is a Klarna order as its operations reach it: its Order
// Management id, at its region's API.
type klarnaTarget struct {
	orderID string
	client  *klarna.Client
}

func (k *klarnaFlow) operator() operator[klarnaTarget] {
	return operator[klarnaTarget]{a: k.a, ops: k, provider: db.ProviderKlarna}
}

func (k *klarnaFlow) operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error) {
	return k.operator().operate(ctx, o, req)
}

// adminLook reads the order from Klarna (within the request's provider
// deadline) and records its figures; when Klarna cannot be asked, nothing
// is offered: the shop would not know whether Klarna's review holds it.
func (k *klarnaFlow) adminLook(ctx context.Context, o db.Order) (adminLook, error) {
	look := adminLook{Order: o, EventsNote: "Klarna's captures and refunds show here once Klarna can be asked about the order."}
	t, why, err := k.opTarget(ctx, o)
	if err != nil {
		return adminLook{}, err
	}
	if why == "" {
		rctx, cancel := context.WithTimeout(ctx, k.a.providerDeadline())
		defer cancel()
		mo, err := k.readOrder(rctx, o, t)
		switch {
		case err == nil:
			// All captured or released at Klarna (here or in its
			// portal): the order's status follows.
			if err := k.operator().closeIfSettled(ctx, o.ID); err != nil {
				return adminLook{}, err
			}
			if look.Order, err = k.a.Store.OrderByID(ctx, o.ID); err != nil {
				return adminLook{}, err
			}
			look.Offers = klarnaOffers(look.Order, mo)
			look.Facts, look.FactsNote = klarnaFacts(mo), "As Klarna's Order Management answered just now."
			look.Events, look.EventsNote = klarnaEvents(mo)
			return look, nil
		case ctx.Err() != nil:
			return adminLook{}, ctx.Err()
		}
		why = "Klarna could not be asked about this order just now (" + klarnaWords(err) + "): reload the page to try again."
		look.FactsNote = why
	}
	look.Offers = klarnaNoOffers(why)
	return look, nil
}

// klarnaOffers is what Klarna's rules allow on the order mo now.
func klarnaOffers(o db.Order, mo klarna.ManagedOrder) adminOffers {
	off := adminOffers{HasRelease: true, HasExtend: true}
	am := klarnaAmounts(mo)
	cur := o.Currency
	left, refundable, until := mo.RemainingAuthorizedAmount, am.Refundable(), klarnaTime(mo.ExpiresAt)
	switch {
	case mo.Status == klarna.StatusCancelled:
		off.Ship = "Klarna cancelled this order: nothing can be captured."
	case mo.Status == klarna.StatusExpired:
		off.Ship = "The authorization expired at " + until + ": nothing can be captured."
	case mo.FraudStatus == klarna.FraudPending:
		off.Ship = "Klarna is reviewing this order (fraud status PENDING): do not ship it until Klarna accepts it."
	case mo.FraudStatus == klarna.FraudRejected:
		off.Ship = "Klarna rejected this order after its fraud review (fraud status REJECTED): do not ship it."
	case left == 0:
		off.Ship = "Nothing is left to capture: " + totalsWords(am, cur) + "."
	default:
		off.ShipNote = "Ship: captures " + format(left, cur) + ", all that remains authorized."
		off.CaptureNote = "Up to " + format(left, cur) + ". Klarna captures in parts; the rest stays authorized until " + until + "."
	}
	off.Capture = off.Ship
	if refundable > 0 {
		off.RefundDefault = refundable
		off.RefundNote = "Up to " + format(refundable, cur) + ", what was captured and not yet refunded."
	} else {
		off.Refund = "Nothing captured is left to refund."
	}
	switch {
	case mo.Status == klarna.StatusCancelled:
		off.Cancel = "Klarna cancelled this order already."
	case mo.CapturedAmount > 0 && left == 0:
		off.Cancel = "The order was captured, and Klarna cancels only an order with no captures: refund instead."
	case mo.CapturedAmount > 0:
		off.Cancel = "Part of the order was captured, and Klarna cancels only an order with no captures: release the rest instead, or refund."
	case mo.Status == klarna.StatusExpired || left == 0:
		off.Cancel = "Nothing is reserved: the authorization expired at " + until + "."
	default:
		off.CancelNote = "Cancels the order at Klarna: releases the reservation of " + format(left, cur) + ". Nothing is charged."
	}
	switch {
	case mo.Status == klarna.StatusCancelled:
		off.Release = "Klarna cancelled this order: nothing is reserved."
	case mo.CapturedAmount == 0:
		off.Release = "Nothing was captured: cancel the order instead."
	case left == 0:
		off.Release = "Nothing remains authorized to release."
	default:
		off.ReleaseNote = "Releases the " + format(left, cur) + " not captured: it can no longer be captured. What was captured stays."
	}
	switch {
	case mo.Status == klarna.StatusCancelled:
		off.Extend = "Klarna cancelled this order."
	case mo.Status == klarna.StatusExpired:
		off.Extend = "The authorization expired at " + until + ": it can no longer be extended."
	case left == 0:
		off.Extend = "Nothing remains authorized to extend."
	default:
		off.ExtendNote = "Capture by " + until + ". Extends it to the account's authorization period (28 days unless agreed otherwise) " +
			"from today, at most 180 days after the order was placed."
	}
	return off
}

// klarnaFacts are the order's own facts at Klarna.
func klarnaFacts(mo klarna.ManagedOrder) []views.AdminFact {
	cur := mo.PurchaseCurrency
	review := map[string]string{
		klarna.FraudAccepted: "Accepted",
		klarna.FraudPending:  "Pending: Klarna is reviewing the order",
		klarna.FraudRejected: "Rejected: do not ship",
	}[mo.FraudStatus]
	if review == "" {
		review = mo.FraudStatus
	}
	return []views.AdminFact{
		{Label: "Klarna status", Value: mo.Status, TestID: "admin-klarna-status"},
		{Label: "Fraud review", Value: review, TestID: "admin-fraud-status"},
		{Label: "Order amount", Value: format(mo.OrderAmount, cur), TestID: "admin-order-amount"},
		{Label: "Remaining authorized", Value: format(mo.RemainingAuthorizedAmount, cur), TestID: "admin-remaining"},
		{Label: "Capture by", Value: klarnaTime(mo.ExpiresAt), TestID: "admin-expires"},
	}
}

// klarnaEvents are the order's captures and refunds, oldest first, each
// with the reference the shop sent (its operation's idempotency key).
func klarnaEvents(mo klarna.ManagedOrder) ([]views.AdminEventView, string) {
	var out []views.AdminEventView
	event := func(at time.Time, name, label string, amount int64, ref string) views.AdminEventView {
		return views.AdminEventView{Time: at.Local().Format(dateFormat), When: at.UTC().Format(time.RFC3339), Name: name, Label: label,
			Amount: format(amount, mo.PurchaseCurrency), Key: ref, Success: true}
	}
	for _, c := range mo.Captures {
		out = append(out, event(c.CapturedAt, "CAPTURE", "Captured", c.CapturedAmount, c.Reference))
	}
	for _, r := range mo.Refunds {
		out = append(out, event(r.RefundedAt, "REFUND", "Refunded", r.RefundedAmount, r.Reference))
	}
	slices.SortStableFunc(out, func(x, y views.AdminEventView) int { return cmp.Compare(x.When, y.When) })
	if len(out) == 0 {
		return nil, "Klarna shows no captures or refunds on this order."
	}
	return out, "The order's captures and refunds, as Klarna's Order Management answered just now; the key is the reference the shop sent with each."
}

// klarnaTime is an Order Management time for the back office.
func klarnaTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.Local().Format(dateFormat)
}

// klarnaAmounts is an Order Management order's money in the shop's terms:
// what is neither captured nor still authorized was released (cancelled,
// released after a partial capture, or expired).
func klarnaAmounts(mo klarna.ManagedOrder) db.Amounts {
	return db.Amounts{Authorized: mo.OrderAmount, Captured: mo.CapturedAmount, Refunded: mo.RefundedAmount,
		Cancelled: max(mo.OrderAmount-mo.CapturedAmount-mo.RemainingAuthorizedAmount, 0)}
}

// readOrder reads the order from Klarna and records its figures.
func (k *klarnaFlow) readOrder(ctx context.Context, o db.Order, t klarnaTarget) (klarna.ManagedOrder, error) {
	mo, err := t.client.GetOrder(ctx, t.orderID)
	if err != nil {
		return mo, err
	}
	return mo, k.a.Store.SetOrderAmounts(ctx, o.ID, klarnaAmounts(mo))
}

// The flow's part of the operations (operations, admin_operations.go).

// opLock: the attempt's lock, which the flow's settling takes too.
func (k *klarnaFlow) opLock(orderID int64) func() { return k.locks.Lock(orderID) }

// opTarget is the order at its region's API: placed, with Klarna's order
// id known, at the environment the region uses now.
func (k *klarnaFlow) opTarget(ctx context.Context, o db.Order) (klarnaTarget, string, error) {
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return klarnaTarget{}, "No Klarna payment is recorded for this order.", nil
	case err != nil:
		return klarnaTarget{}, "", err
	case k.elsewhere(o, kp):
		return klarnaTarget{}, klarnaElsewhere, nil
	case o.Status == db.StatusPending:
		return klarnaTarget{}, "The customer has not completed the Klarna payment.", nil
	case o.ProviderReference == "":
		return klarnaTarget{}, "The shop does not know Klarna's order id for this order yet: Klarna placed it, but its answer did not reach the shop.", nil
	}
	return klarnaTarget{orderID: o.ProviderReference, client: k.in(o).client}, "", nil
}

func (k *klarnaFlow) opRead(ctx context.Context, o db.Order, t klarnaTarget) (opReading, error) {
	mo, err := k.readOrder(ctx, o, t)
	if err != nil {
		return opReading{}, err
	}
	return klarnaReading(o, mo), nil
}

// klarnaReading is what an order read shows: a capture or a refund made
// by op carries op's key as its reference; a cancel shows in the status, a
// release in what is neither captured nor authorized, an extension in a
// later expiry.
func klarnaReading(o db.Order, mo klarna.ManagedOrder) opReading {
	am := klarnaAmounts(mo)
	off := klarnaOffers(o, mo)
	unclear := func(op db.Operation) string {
		if op.Kind != db.OpExtend {
			return ""
		}
		// Made or not, a second extension on the day of another gives the
		// same date.
		return "Klarna's figures cannot tell whether the extension was made; the expiry is " + klarnaTime(mo.ExpiresAt) + "."
	}
	return opReading{Amounts: am, Expiry: mo.ExpiresAt, Offers: &off, Unclear: unclear, Made: func(op db.Operation) bool {
		switch op.Kind {
		case db.OpCapture:
			return slices.ContainsFunc(mo.Captures, func(c klarna.Capture) bool { return c.Reference == op.Key })
		case db.OpRefund:
			return slices.ContainsFunc(mo.Refunds, func(r klarna.Refund) bool { return r.Reference == op.Key })
		case db.OpCancel:
			return mo.Status == klarna.StatusCancelled
		case db.OpRelease:
			return mo.CapturedAmount > 0 && op.Made(am)
		case db.OpExtend:
			return mo.ExpiresAt.Unix() > op.Before
		}
		return false
	}}
}

// opReadFirst: always. The page may be minutes old, and Klarna's review
// or the Merchant Portal may have changed the order since.
func (k *klarnaFlow) opReadFirst(db.Order) bool { return true }

// opOffers: what Klarna's rules allow on the order as just read
// (opReadFirst: always read).
func (k *klarnaFlow) opOffers(_ db.Order, r *opReading) adminOffers {
	if r == nil || r.Offers == nil {
		return klarnaNoOffers("Klarna's order could not be read.")
	}
	return *r.Offers
}

// klarnaNoOffers refuses every operation, for why.
func klarnaNoOffers(why string) adminOffers {
	return adminOffers{Ship: why, Capture: why, Refund: why, Cancel: why, Release: why, Extend: why, HasRelease: true, HasExtend: true}
}

// opKey is a UUID (version 5) derived from the attempt's key: Klarna's
// Order Management recommends UUIDs.
func (k *klarnaFlow) opKey(o db.Order, kind db.OperationKind, n int) string {
	return klarna.IdempotencyKey(o.IdempotencyKey, fmt.Sprintf("om/%s-%d", kind, n))
}

// opCall makes op's call. Klarna answers with no figures (201 or 204):
// they are read after.
func (k *klarnaFlow) opCall(ctx context.Context, _ db.Order, t klarnaTarget, op db.Operation) (*opReading, error) {
	var err error
	switch op.Kind {
	case db.OpCapture:
		_, err = t.client.Capture(ctx, t.orderID, op.Amount, op.Key, op.Key)
	case db.OpRefund:
		_, err = t.client.Refund(ctx, t.orderID, op.Amount, op.Key, op.Key)
	case db.OpCancel:
		err = t.client.Cancel(ctx, t.orderID, op.Key)
	case db.OpRelease:
		err = t.client.ReleaseRemaining(ctx, t.orderID, op.Key)
	case db.OpExtend:
		err = t.client.ExtendAuthorization(ctx, t.orderID, op.Key)
	default:
		err = fmt.Errorf("klarna: no operation %q", op.Kind)
	}
	return nil, err
}

// opRefused: Klarna answered no. 403 is Order Management's refusal
// (CAPTURE_NOT_ALLOWED, REFUND_NOT_ALLOWED, CANCEL_NOT_ALLOWED,
// NOT_ALLOWED), 404 an order Klarna does not know, 400 and 422 a request it
// would not take; "3xx/4xx: escalate", not retry. 401 is the shop's own
// credentials, 409 and 429 ask to wait: not a final no.
func (k *klarnaFlow) opRefused(err error) bool {
	switch klarna.StatusOf(err) {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

func (k *klarnaFlow) opWords(err error) string { return klarnaWords(err) }

// klarnaKeyLasts is how long Klarna honours a Klarna-Idempotency-Key: "as
// long as it's performed within 24 hours after the first attempt".
const klarnaKeyLasts = 24 * time.Hour

func (k *klarnaFlow) opKeyLasts() (time.Duration, string) {
	return klarnaKeyLasts, "Klarna's Merchant Portal"
}

func (k *klarnaFlow) opMade(context.Context, db.Order, klarnaTarget) {}

// klarnaWords is what Klarna said, for an administrator: its messages and
// error code ("Order has previous captures. Cancel not possible. (error
// code CANCEL_NOT_ALLOWED)"), or that there was no answer.
func klarnaWords(err error) string {
	var e *klarna.Error
	if !errors.As(err, &e) || !e.Answered {
		return "no answer"
	}
	words := klarna.Reason(err)
	if words == "" {
		words = fmt.Sprintf("HTTP %d.", e.Status)
	}
	if e.Code != "" {
		words += " (error code " + e.Code + ")"
	}
	return words
}
