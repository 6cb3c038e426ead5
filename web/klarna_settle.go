package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"refshop/db"
	"refshop/web/klarna"
	"refshop/web/klarna/link"
)

const (
	// klarnaSettleAfter is when the sweep first asks about a submitted
	// attempt: later than a customer request's work on it usually takes
	// (in this process, the attempt's lock keeps the two apart anyway).
	klarnaSettleAfter = 2 * time.Minute
	// klarnaSweepEvery is how often the sweep looks for attempts to settle.
	klarnaSweepEvery = 30 * time.Second
	// klarnaSweepBatch is how many attempts one pass settles at most.
	klarnaSweepBatch = 50
	// klarnaMaxSettleTries bounds the sweep's tries on one attempt.
	klarnaMaxSettleTries = 8
)

// klarnaOutcome is what an order request came to, by Klarna's word.
type klarnaOutcome int

const (
	// klarnaOrderPlaced: Klarna answered with the order.
	klarnaOrderPlaced klarnaOutcome = iota
	// klarnaOrderUnseen: the answer was lost, but the session is complete:
	// an order was placed from it, and only this attempt's authorization
	// can have done that (an update for a newer attempt cancels older
	// authorizations, and a complete session takes no update).
	klarnaOrderUnseen
	// klarnaOrderReapprove: the session holds no order and the authorization is
	// spent (404: expired or cancelled) or does not match the order (409).
	klarnaOrderReapprove
	// klarnaOrderRefused: the session holds no order and Klarna answered no
	// (a 4xx, or a 5xx to every try).
	klarnaOrderRefused
	// klarnaOrderUnknown: Klarna did not say; ask again later.
	klarnaOrderUnknown
)

type klarnaResult struct {
	outcome klarnaOutcome
	order   klarna.Order // klarnaOrderPlaced
	err     error        // the create-order error, for every other outcome
	// findable (klarnaOrderUnseen): the last try got no answer or a 5xx,
	// so the same request may yet return the order. A 404 means Klarna
	// does not replay create order by key: only a person can find it.
	findable bool
}

// klarnaSubmission is an attempt's order request, as sent on every try.
type klarnaSubmission struct {
	key  string // Klarna-Idempotency-Key
	auth string // the widget's authorization token (sealed at rest); "" for "Buy again"
	body []byte // the request as first sent
}

func authAAD(orderID int64) string {
	return fmt.Sprintf("order:%d:klarna_authorization_token", orderID)
}

// newSubmission is the widget attempt o's order request for lines, with the
// key today's code has always derived from the attempt and authorization,
// so a try made before a crash is the same request.
func (k *klarnaFlow) newSubmission(o db.Order, lines []db.OrderLine, salesTax int64, auth string) (klarnaSubmission, error) {
	body, err := json.Marshal(klarna.OrderRequest{Purchase: k.purchase(o, lines, salesTax)})
	return klarnaSubmission{key: klarna.IdempotencyKey(o.IdempotencyKey, "create_order/"+auth), auth: auth, body: body}, err
}

// submit stores sub before it is first sent. ErrStale: the attempt was
// submitted already, by another request.
func (k *klarnaFlow) submit(ctx context.Context, o db.Order, sub klarnaSubmission) error {
	stored := db.KlarnaSubmission{Key: sub.key, Request: string(sub.body)}
	if sub.auth != "" {
		var err error
		if stored.Authorization, err = k.a.Box.Seal(sub.auth, authAAD(o.ID)); err != nil {
			return err
		}
	}
	return k.a.Store.SubmitKlarnaOrder(ctx, o.ID, stored, k.a.Clock.Now().Add(klarnaSettleAfter))
}

// stored is the submission kp holds.
func (k *klarnaFlow) stored(o db.Order, kp db.KlarnaPayment) (klarnaSubmission, error) {
	sub := klarnaSubmission{key: kp.Key, body: []byte(kp.Request)}
	if kp.Authorization != "" {
		auth, err := k.a.Box.Open(kp.Authorization, authAAD(o.ID))
		if err != nil {
			return sub, err
		}
		sub.auth = auth.Reveal()
	}
	return sub, nil
}

// send places the widget attempt's order with sub and says what came of it.
// Anything but the order is checked against the session before it is
// believed: a lost try may have placed the order, and Klarna promises to
// replay a key only for Order Management
// (https://docs.klarna.com/api/escalation-and-retry-policy/).
func (k *klarnaFlow) send(ctx context.Context, o db.Order, kp db.KlarnaPayment, sub klarnaSubmission) klarnaResult {
	var req klarna.OrderRequest
	if err := json.Unmarshal(sub.body, &req); err != nil {
		return klarnaResult{outcome: klarnaOrderUnknown, err: err}
	}
	if err := k.addNotificationURL(o, kp, &req); err != nil {
		return klarnaResult{outcome: klarnaOrderUnknown, err: err}
	}
	c := k.in(o).client
	ko, err := c.CreateOrder(ctx, sub.auth, req, sub.key)
	if err == nil {
		return klarnaResult{outcome: klarnaOrderPlaced, order: ko}
	}
	st, rerr := c.ReadSession(ctx, kp.SessionID)
	status := klarna.StatusOf(err)
	switch {
	case rerr != nil:
		k.a.Log.Warn("klarna: the order's outcome is unknown and the session cannot be read", "session_id", kp.SessionID,
			"correlation_id", klarna.CorrelationID(err), "error", err, "read_error", rerr)
		return klarnaResult{outcome: klarnaOrderUnknown, err: err}
	case st.Status == klarna.SessionComplete:
		return klarnaResult{outcome: klarnaOrderUnseen, err: err, findable: status < 400 || status >= 500}
	case klarna.NeedsReapproval(err):
		return klarnaResult{outcome: klarnaOrderReapprove, err: err}
	case status >= 400 && status < 500, status >= 500 && klarna.AnsweredEveryTry(err):
		return klarnaResult{outcome: klarnaOrderRefused, err: err}
	default:
		return klarnaResult{outcome: klarnaOrderUnknown, err: err}
	}
}

// linkAttempt reads the customer's link before an order whose answer may
// carry a customer_token (nil when none can: a guest, or intent buy).
func (k *klarnaFlow) linkAttempt(ctx context.Context, o db.Order, kp db.KlarnaPayment) (*link.Attempt, error) {
	if o.UserID == 0 || (kp.Kind == db.KlarnaWidget && kp.Intent != klarna.IntentBuyAndLink) {
		return nil, nil
	}
	att, err := k.in(o).links.Begin(ctx, o.UserID)
	if err == nil && kp.SentToken && att.Token().IsZero() {
		// The session carried the link, which the customer has unlinked
		// since: the answer's token comes from that link and is not stored
		// (an unlink is not undone by an order already under way).
		return nil, nil
	}
	return att, err
}

// recordPlaced stores Klarna's order for attempt o: its id, the order paid
// (its items leave the cart in the same swap), the customer token from the
// answer. It returns the customer's thank-you.
func (k *klarnaFlow) recordPlaced(ctx context.Context, o db.Order, ko klarna.Order, att *link.Attempt, detail, thanks string) (string, error) {
	detail, thanks = klarnaPlaced(ko, detail, thanks)
	if err := k.a.Store.SetKlarnaFraudStatus(ctx, o.ID, ko.FraudStatus); err != nil {
		return "", err
	}
	if o.Status == db.StatusAuthorized {
		// Marked paid when its answer was lost; now the id is known.
		if err := k.a.Store.SetKlarnaOrderFound(ctx, o.ID, ko.OrderID, detail); err != nil && !errors.Is(err, db.ErrStale) {
			return "", err
		}
	} else {
		if err := k.a.Store.SetProviderReference(ctx, o.ID, ko.OrderID); err != nil && !errors.Is(err, db.ErrStale) {
			return "", err
		}
		if err := k.a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, detail); err != nil && !errors.Is(err, db.ErrStale) {
			return "", err
		}
		if err := k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{}); err != nil {
			return "", err
		}
	}
	if att != nil {
		// The payment is done whatever happens here: logged, not returned.
		if err := att.Save(ctx, ko.CustomerToken); err != nil {
			k.a.Log.Error("klarna: storing the customer token failed", "order", o.PublicID, "user_id", o.UserID, "error", err)
		}
	}
	return thanks, nil
}

// klarnaUnseenDetail is the detail of an order Klarna placed whose answer
// never reached the shop.
const klarnaUnseenDetail = "Klarna approved and placed this order, but its confirmation did not reach the shop. " +
	"We match it with Klarna; you do not need to pay again."

// recordUnseen marks attempt o paid on the session's word (so its items
// leave the cart and the customer is not led to pay twice) without Klarna's
// order id. When no retry can return the id, an ERROR line asks a person to
// match it in Klarna's Merchant Portal by merchant_reference1 (the order's
// public id), and the sweep stops asking. A customer_token in the lost
// answer is lost too; the link stays as it was.
func (k *klarnaFlow) recordUnseen(ctx context.Context, o db.Order, kp db.KlarnaPayment, res klarnaResult, requestID string) error {
	if ref := klarna.CorrelationID(res.err); ref != "" {
		_ = k.a.Store.SetKlarnaCorrelationID(ctx, o.ID, ref)
	}
	if o.Status == db.StatusPending {
		if err := k.a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, klarnaUnseenDetail); err != nil && !errors.Is(err, db.ErrStale) {
			return err
		}
	}
	if res.findable {
		k.a.Log.Warn("klarna: the order was placed but its answer was lost; the sweep asks for it again",
			"request_id", requestID, "order", o.PublicID, "session_id", kp.SessionID, "correlation_id", klarna.CorrelationID(res.err))
		return nil
	}
	k.a.Log.Error("klarna: the order was placed but Klarna will not repeat its answer: the shop has no Klarna order id; "+
		"match it in the Merchant Portal by merchant_reference1",
		"request_id", requestID, "order", o.PublicID, "session_id", kp.SessionID, "correlation_id", klarna.CorrelationID(res.err))
	return k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
}

// settle brings one Klarna attempt to where Klarna says it is; the sweep
// calls it for attempts due (db.KlarnaAttemptsToSettle). An error means it
// could not tell this time: the sweep asks again later. What it cannot
// decide it logs for a person and stops asking about.
func (k *klarnaFlow) settle(ctx context.Context, o db.Order) (db.Order, error) {
	defer k.locks.Lock(o.ID)()
	cur, err := k.a.Store.OrderByPublicID(ctx, o.PublicID) // as it is now, under the lock
	if err != nil {
		return o, err
	}
	o = cur
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil {
		return o, err
	}
	if k.elsewhere(o, kp) {
		// Made at another Klarna API than its market's region uses now (the
		// configuration changed): never asked about here (orderPart says so),
		// and the sweep stops listing it.
		k.a.Log.Error("klarna: an open attempt was made at another Klarna API than its market's region uses now; settle it by hand",
			"order", o.PublicID, "environment", kp.Environment)
		return o, k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
	}
	if o.Status != db.StatusPending && (o.Status != db.StatusAuthorized || o.ProviderReference != "") {
		return o, k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
	}
	if kp.Kind == db.KlarnaCustomerToken {
		return k.settleLegacyBuyAgain(ctx, o)
	}
	var sub klarnaSubmission
	if kp.Submitted() {
		sub, err = k.stored(o, kp)
	} else {
		var found bool
		if sub, found, err = k.settleUnsubmitted(ctx, o, kp); err == nil && !found {
			return o, nil
		}
	}
	if err != nil {
		return o, err
	}
	att, err := k.linkAttempt(ctx, o, kp)
	if err != nil {
		return o, err
	}
	res := k.send(ctx, o, kp, sub)
	switch res.outcome {
	case klarnaOrderPlaced:
		_, err = k.recordPlaced(ctx, o, res.order, att, "Klarna approved the payment.", "")
	case klarnaOrderUnseen:
		if err = k.recordUnseen(ctx, o, kp, res, ""); err == nil && res.findable {
			err = res.err // still no id: ask again later
		}
	case klarnaOrderReapprove:
		if klarna.CartChanged(res.err) {
			k.cancelAuthorization(ctx, o, sub.auth)
		}
		err = k.close(ctx, o, db.StatusCancelled, "Klarna's approval ran out before the order was placed. Nothing was charged.")
	case klarnaOrderRefused:
		if klarna.StatusOf(res.err) >= 500 {
			return o, res.err
		}
		err = k.close(ctx, o, db.StatusFailed, "Klarna did not place the order. Nothing was charged.")
	default:
		err = res.err
	}
	return o, err
}

// settleUnsubmitted settles an attempt the customer never submitted: it
// ends when its session does. A complete session means an order was placed
// by a try the shop kept no record of (an attempt from before the shop
// stored its requests): found, it is that try's request, stored now, for the
// caller to send again.
func (k *klarnaFlow) settleUnsubmitted(ctx context.Context, o db.Order, kp db.KlarnaPayment) (sub klarnaSubmission, found bool, err error) {
	st, err := k.in(o).client.ReadSession(ctx, kp.SessionID)
	ends := kp.CreatedAt.Add(klarnaSessionTTL)
	switch {
	case klarna.StatusOf(err) == http.StatusNotFound:
		return sub, false, k.close(ctx, o, db.StatusCancelled, "The Klarna session expired. Nothing was charged.")
	case err != nil:
		return sub, false, err
	case st.Status == klarna.SessionComplete && st.AuthorizationToken != "":
		if sub, err = k.newSubmission(o, o.Lines, o.SalesTax, st.AuthorizationToken); err == nil {
			err = k.submit(ctx, o, sub)
		}
		return sub, err == nil, err
	case st.Status == klarna.SessionComplete:
		return sub, false, k.recordUnseen(ctx, o, kp, klarnaResult{outcome: klarnaOrderUnseen}, "")
	case k.a.Clock.Now().Before(ends):
		return sub, false, k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, ends) // the customer may still pay
	default:
		return sub, false, k.close(ctx, o, db.StatusCancelled, "The Klarna session expired. Nothing was charged.")
	}
}

// close ends a pending attempt that Klarna says holds no order, and its
// settling.
func (k *klarnaFlow) close(ctx context.Context, o db.Order, to db.Status, detail string) error {
	if o.Status == db.StatusPending {
		if err := k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, to, detail); err != nil && !errors.Is(err, db.ErrStale) {
			return err
		}
	}
	return k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
}

// cancelAuthorization cancels an authorization that will not become an
// order, best effort: it lapses by itself after 60 minutes.
func (k *klarnaFlow) cancelAuthorization(ctx context.Context, o db.Order, auth string) {
	if err := k.in(o).client.CancelAuthorization(ctx, auth); err != nil && klarna.StatusOf(err) != http.StatusNotFound {
		k.a.Log.Warn("klarna: releasing a stale authorization failed", "correlation_id", klarna.CorrelationID(err))
	}
}
