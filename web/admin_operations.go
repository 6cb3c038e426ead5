package web

// The back office's operations (admin.go), the same for every provider: an
// operation is checked against the order's figures and against what the
// provider offers on it now (the offers its page shows), stored with its
// Idempotency-Key before the first call (db.StartOperation), one at a time
// per order, and its key is reused on every retry; the provider's answer
// is recorded, and without one the provider is asked (its figures show
// whether the operation was made) before anyone is told. What stays unknown
// is settled by the flow's sweep (settleLeftOperations). Each flow supplies
// only what is its provider's own (operations): the call, how a made
// operation shows in the provider's answer, and the words for its refusals.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"refshop/db"
)

// operationSettleAfter is how long an operation stays in flight, with no
// answer, before the sweep settles it from the provider's figures: longer
// than any one request's work may run (detachedWorkLimit), so the call is
// over.
const operationSettleAfter = detachedWorkLimit + time.Minute

// operationMaxSettleTries is how many failed tries of the sweep at
// settling an operation pass before each further one is logged for a
// person (the sweep goes on trying, its wait growing to two hours:
// sweepRetryAfter).
const operationMaxSettleTries = 8

// operations is one provider's part of the back office operations. T is
// what its calls for an order need (Vipps: the payment; Klarna: the order
// at its region).
type operations[T any] interface {
	// opLock holds the order's lock, which the flow's own settling takes too.
	opLock(orderID int64) func()
	// opTarget is what o's calls need, or why no call can be made for it
	// here (in words, a sentence).
	opTarget(ctx context.Context, o db.Order) (T, string, error)
	// opRead asks the provider for the payment as it is now and records its
	// figures on the order.
	opRead(ctx context.Context, o db.Order, t T) (opReading, error)
	// opReadFirst reports whether a new operation on o needs the provider's
	// figures read first.
	opReadFirst(o db.Order) bool
	// opOffers is what the provider allows on o now (from r when the
	// figures were read first, else from o): the offers its page shows,
	// derived again as the order is now, so that a form from an old page,
	// or one made by hand, gets no more than the page would offer.
	opOffers(o db.Order, r *opReading) adminOffers
	// opKey is the Idempotency-Key of o's n-th operation, of kind.
	opKey(o db.Order, kind db.OperationKind, n int) string
	// opCall makes op's call with its stored key. It returns the figures
	// when the answer carries them (else nil: they are read after).
	opCall(ctx context.Context, o db.Order, t T, op db.Operation) (*opReading, error)
	// opRefused reports an answer that says no: op was not made, and the
	// same request again will not make it.
	opRefused(err error) bool
	// opWords is the provider's error in words, for an administrator.
	opWords(err error) string
	// opMade runs after an operation on o was made.
	opMade(ctx context.Context, o db.Order, t T)
	// opKeyLasts is how long after an operation's first call the provider
	// honours its idempotency key (0: the shop knows no limit), and where
	// a person looks the payment up when a resend is no longer safe.
	opKeyLasts() (lasts time.Duration, lookUp string)
}

// keyMargin is how long before the provider forgets an operation's key the
// shop stops resending it blind: room for clocks that differ and for the
// client's own retries of the call.
const keyMargin = time.Hour

// opReading is the provider's payment as one read showed it.
type opReading struct {
	Amounts db.Amounts
	// Made reports whether the reading shows op made.
	Made func(op db.Operation) bool
	// Expiry is when the authorization ends (zero: the provider says not).
	Expiry time.Time
	// Offers is what the provider allows now, when the reading says (nil:
	// the flow's opOffers decides from the order).
	Offers *adminOffers
	// Unclear, when set, says in words that the reading cannot tell
	// whether op was made ("" when it can: not made shows as not made).
	Unclear func(op db.Operation) string
}

// operator runs one provider's operations (ops) on its orders.
type operator[T any] struct {
	a        *App
	ops      operations[T]
	provider db.Provider
}

func (r operator[T]) name() string { return providerName(r.provider) }

// operate runs req on o under the order's lock. An operation still in
// flight is settled first; the same form again resends it with its key,
// and a form whose operation is settled gets that operation's answer.
func (r operator[T]) operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error) {
	a := r.a
	defer r.ops.opLock(o.ID)()
	if err := r.closeIfSettled(ctx, o.ID); err != nil {
		return adminOutcome{}, err
	}
	o, err := a.Store.OrderByID(ctx, o.ID) // as it is now, under the lock
	if err != nil {
		return adminOutcome{}, err
	}
	t, why, err := r.ops.opTarget(ctx, o)
	if err != nil {
		return adminOutcome{}, err
	}
	if why != "" {
		return adminOutcome{why + " Nothing was sent."}, nil
	}
	prev, err := a.Store.OperationInFlight(ctx, o.ID)
	switch {
	case err == nil:
		settled, serr := r.settle(ctx, o, t, prev, false)
		same := sameOperation(prev, req)
		switch {
		case serr == nil && !settled.State.InFlight() && same:
			return adminOutcome{settled.Answer}, nil // the retry found it made (or refused)
		case serr != nil || settled.State.InFlight():
			if same {
				if serr != nil {
					if why := r.tooLateToResend(prev, serr); why != "" {
						return adminOutcome{why}, nil
					}
				}
				// The retry: the same key. Renewed first, so no sweep (in
				// this process or another) settles it while it is sent.
				if err := a.Store.RenewOperation(ctx, prev.ID); errors.Is(err, db.ErrStale) {
					return adminOutcome{"The " + operationNoun(prev) + " was settled meanwhile. Nothing was sent; look at the order again."}, nil
				} else if err != nil {
					return adminOutcome{}, err
				}
				return r.send(ctx, o, t, prev)
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
	if req.Form == "" {
		return adminOutcome{"The form came from a page that no longer says what it was for. Nothing was sent; look at the order again."}, nil
	}
	if done, err := a.Store.OperationByForm(ctx, o.ID, req.Kind, req.Form); err == nil {
		// This page's form was sent before (a second press, a reload that
		// posts again): one form is one operation.
		return adminOutcome{"This form was sent already. " + done.Answer + " Nothing was sent again."}, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return adminOutcome{}, err
	}
	if req.Seen != seenFigures(o.Amounts) {
		// Another tab (or process) acted since this page was shown: what
		// the administrator decided on is not what is true now.
		return r.changed(o), nil
	}
	var read *opReading
	if r.ops.opReadFirst(o) {
		rd, err := r.ops.opRead(ctx, o, t)
		if err != nil {
			return adminOutcome{r.name() + " could not be asked about the order just now (" + r.ops.opWords(err) + "). Nothing was sent; try again."}, nil
		}
		read = &rd
		before := o.Amounts
		if o, err = a.Store.OrderByID(ctx, o.ID); err != nil {
			return adminOutcome{}, err
		}
		if !before.ReportedAt.IsZero() && !sameTotals(before, o.Amounts) {
			return r.changed(o), nil // changed at the provider since the page was shown
		}
	}
	am, amount := o.Amounts, req.Amount
	switch req.Kind {
	case db.OpCapture:
		switch left := am.Uncaptured(); {
		case req.Whole && left == 0:
			return adminOutcome{"Nothing is left to capture: " + totalsWords(am, o.Currency) + ". Nothing was sent."}, nil
		case req.Whole:
			amount = left
		case amount > left:
			return adminOutcome{"Only " + format(left, o.Currency) + " is left to capture: " + totalsWords(am, o.Currency) + ". Nothing was sent."}, nil
		}
	case db.OpRefund:
		if left := am.Refundable(); amount > left {
			return adminOutcome{"Only " + format(left, o.Currency) + " can be refunded: " + totalsWords(am, o.Currency) + ". Nothing was sent."}, nil
		}
	case db.OpCancel, db.OpRelease:
		amount = am.Uncaptured()
	case db.OpExtend:
		amount = 0
	}
	// The one rule for every provider: nothing the order's offers refuse
	// now is sent, whatever the form says it saw.
	if why := offerWhy(r.name(), r.ops.opOffers(o, read), req.Kind, req.Whole); why != "" {
		return adminOutcome{why + " Nothing was sent."}, nil
	}
	n := db.NewOperation{
		OrderID: o.ID, Kind: req.Kind, Amount: amount, Currency: o.Currency, AdminID: req.AdminID, Seen: o.Amounts, FormKey: req.Form,
		KeyFor: func(n int) string { return r.ops.opKey(o, req.Kind, n) },
	}
	if read != nil {
		n.Expiry = read.Expiry
	}
	op, err := a.Store.StartOperation(ctx, n)
	switch {
	case errors.Is(err, db.ErrBusy):
		return adminOutcome{"Another operation on this order started meanwhile. Nothing was sent; look at the order again."}, nil
	case errors.Is(err, db.ErrStale):
		return adminOutcome{"The order's figures changed meanwhile. Nothing was sent; check them and try again."}, nil
	case err != nil:
		return adminOutcome{}, err
	}
	return r.send(ctx, o, t, op)
}

// tooLateToResend says why op, whose outcome is unknown and whose figures
// could not be read (readErr), must not be sent again blind: its first
// call is so old that the provider may no longer know its key, and would
// make it a second time. "" when it may be resent.
func (r operator[T]) tooLateToResend(op db.Operation, readErr error) string {
	lasts, lookUp := r.ops.opKeyLasts()
	if lasts <= 0 || r.a.Clock.Now().Sub(op.CreatedAt) <= lasts-keyMargin {
		return ""
	}
	return fmt.Sprintf("%s could not be asked about the order just now (%s), and the %s was first sent on %s: "+
		"%s honours its idempotency key for %d hours after the first call only, so sending it again might make it twice. "+
		"Nothing was sent; check the order in %s, or wait: the shop settles it by itself once %s can be asked.",
		r.name(), r.ops.opWords(readErr), operationNoun(op), op.CreatedAt.Local().Format(dateFormat),
		r.name(), int(lasts.Hours()), lookUp, r.name())
}

// offerWhy is why the offers off refuse an operation of kind ("" when
// they allow it); whole: a capture of all that is left ("Ship"). A kind
// the provider (name) does not have is refused too.
func offerWhy(name string, off adminOffers, kind db.OperationKind, whole bool) string {
	switch kind {
	case db.OpCapture:
		if whole {
			return off.Ship
		}
		return off.Capture
	case db.OpRefund:
		return off.Refund
	case db.OpCancel:
		return off.Cancel
	case db.OpRelease:
		if !off.HasRelease {
			return name + " has no such operation."
		}
		return off.Release
	case db.OpExtend:
		if !off.HasExtend {
			return name + " has no such operation."
		}
		return off.Extend
	}
	return "No such operation."
}

// changed is the answer to an operation decided on figures that are no
// longer the order's.
func (r operator[T]) changed(o db.Order) adminOutcome {
	return adminOutcome{"The order's figures changed since your page showed them: " + totalsWords(o.Amounts, o.Currency) +
		". Nothing was sent; check them and try again."}
}

// sameOperation reports whether req asks again for op, in flight: the same
// form (its page's key) for the same kind. A new page is a new operation,
// even for the same amount.
func sameOperation(op db.Operation, req adminRequest) bool {
	return req.Form != "" && op.FormKey == req.Form && op.Kind == req.Kind
}

// sameTotals reports whether two reports of an order's money agree.
func sameTotals(x, y db.Amounts) bool {
	return x.Captured == y.Captured && x.Refunded == y.Refunded && x.Cancelled == y.Cancelled
}

// send makes the operation's call with its stored key and records the
// answer, with the provider's figures after it. A refusal reads them too:
// what the provider refused may follow from a change the shop had not
// seen. With no answer (a lost connection, a 5xx or 429 after the client's
// retries), the provider is asked before anything is said.
func (r operator[T]) send(ctx context.Context, o db.Order, t T, op db.Operation) (adminOutcome, error) {
	a := r.a
	rd, err := r.ops.opCall(ctx, o, t, op)
	switch {
	case err == nil:
		if rd == nil {
			if got, rerr := r.ops.opRead(ctx, o, t); rerr == nil {
				rd = &got
			} else {
				a.Log.Warn(string(r.provider)+": reading the figures after a back office operation", "order", o.PublicID, "error", rerr)
			}
		}
		answer := madeWords(r.name(), op, rd)
		if err := r.finish(ctx, o, t, op, db.OpDone, answer); err != nil {
			return adminOutcome{}, err
		}
		a.Log.Info(string(r.provider)+": back office operation done", "order", o.PublicID, "operation", op.Kind, "amount", op.Amount)
		return adminOutcome{answer}, nil
	case r.ops.opRefused(err):
		answer := r.name() + " refused the " + operationNoun(op) + ": " + r.ops.opWords(err) + " Nothing changed."
		if got, rerr := r.ops.opRead(ctx, o, t); rerr == nil {
			answer += " Now " + totalsWords(got.Amounts, op.Currency) + "."
			if err := r.closeIfSettled(ctx, o.ID); err != nil {
				return adminOutcome{}, err
			}
		}
		if err := r.finish(ctx, o, t, op, db.OpRefused, answer); err != nil {
			return adminOutcome{}, err
		}
		return adminOutcome{answer}, nil
	}
	a.Log.Warn(string(r.provider)+": back office operation without an answer", "order", o.PublicID, "operation", op.Kind, "error", err)
	noAnswer := "No answer from " + r.name() + " (" + r.ops.opWords(err) + ")."
	if ferr := a.Store.FinishOperation(ctx, op.ID, db.OpUnknown, noAnswer); ferr != nil && !errors.Is(ferr, db.ErrStale) {
		return adminOutcome{}, ferr
	}
	op.State, op.Answer = db.OpUnknown, noAnswer
	settled, serr := r.settle(ctx, o, t, op, false)
	if serr == nil && !settled.State.InFlight() {
		return adminOutcome{settled.Answer}, nil
	}
	return adminOutcome{r.name() + " did not answer the " + operationNoun(op) + ", and its figures do not show it yet. " +
		"It is marked unknown: retry it from the order's page with the same idempotency key, or wait: the shop settles it by itself."}, nil
}

// settle asks the provider and settles op, in flight, from its figures:
// done when they show it made; when conclude is set (the sweep, once op's
// call is surely over), refused when they do not, or undetermined when
// they cannot tell. Otherwise op stays in flight. It returns op as it now
// is.
func (r operator[T]) settle(ctx context.Context, o db.Order, t T, op db.Operation, conclude bool) (db.Operation, error) {
	rd, err := r.ops.opRead(ctx, o, t)
	if err != nil {
		return op, err
	}
	state, answer := db.OpDone, ""
	switch {
	case rd.Made(op):
		answer = madeWords(r.name(), op, &rd) + " (Its own answer did not reach the shop; the payment shows it.)"
	case conclude && rd.Unclear != nil && rd.Unclear(op) != "":
		// Settled all the same, so it does not hold the order: waiting
		// longer would not tell more.
		state, answer = db.OpUndetermined, rd.Unclear(op)
	case conclude:
		state, answer = db.OpRefused, r.name()+" has no record of this "+operationNoun(op)+": it was not made. Nothing changed."
	default:
		return op, nil
	}
	if err := r.finish(ctx, o, t, op, state, answer); err != nil {
		return op, err
	}
	return r.a.Store.OperationByID(ctx, op.ID)
}

// finish records the operation's end and, when it was made, moves the
// order to match the money (closeIfSettled).
func (r operator[T]) finish(ctx context.Context, o db.Order, t T, op db.Operation, state db.OperationState, answer string) error {
	a := r.a
	if err := a.Store.FinishOperation(ctx, op.ID, state, answer); errors.Is(err, db.ErrStale) && state == db.OpDone {
		// Settled meanwhile by a sweep that found nothing made: the
		// provider made it after all. The figures recorded are true; the
		// row is not.
		a.Log.Error(string(r.provider)+": a back office operation settled as not made was made; its row is wrong, the order's figures are right",
			"order", o.PublicID, "operation", op.ID, "kind", op.Kind)
	} else if err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	if state != db.OpDone {
		return nil
	}
	defer r.ops.opMade(ctx, o, t)
	return r.closeIfSettled(ctx, o.ID)
}

// closeIfSettled moves an authorized order whose reservation is all
// captured or released to captured or cancelled. It runs after each
// operation and again before the next one, so a crash between recording
// an operation and this write is repaired by the next look.
func (r operator[T]) closeIfSettled(ctx context.Context, orderID int64) error {
	a := r.a
	cur, err := a.Store.OrderByID(ctx, orderID)
	if err != nil || cur.Status != db.StatusAuthorized || cur.Amounts.ReportedAt.IsZero() || cur.Amounts.Uncaptured() > 0 {
		return err
	}
	to, detail := db.StatusCaptured, "Shipped: the payment was captured with "+r.name()+"."
	if cur.Amounts.Captured == 0 {
		to, detail = db.StatusCancelled, "The order was cancelled and the reservation released. Nothing was charged."
	}
	if err := a.Store.SetOrderStatus(ctx, orderID, db.StatusAuthorized, to, detail); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	return nil
}

// settleLeftOperations is the flow's sweep's part for the back office:
// operations left in flight (a crash after the call was sent, or no
// answer) past operationSettleAfter are settled from the provider's
// figures, at most batch a pass. One that cannot be settled now waits
// longer each time (sweepRetryAfter), so it never holds back the others.
func (r operator[T]) settleLeftOperations(ctx context.Context, batch int) {
	a := r.a
	now := a.Clock.Now()
	sweep := string(r.provider) + " sweep"
	ops, err := a.Store.OperationsToSettle(ctx, r.provider, now.Add(-operationSettleAfter), now, batch)
	if err != nil {
		a.Log.Warn(sweep+": listing operations in flight", "error", err)
		return
	}
	for _, op := range ops {
		err := r.settleLeft(ctx, op)
		if err == nil {
			continue
		}
		tries, ferr := a.Store.OperationSettleFailed(ctx, op.ID, now.Add(sweepRetryAfter(op.SettleTries+1)))
		switch {
		case ferr != nil:
			a.Log.Warn(sweep+": settling a back office operation", "operation", op.ID, "error", err, "record_error", ferr)
		case tries >= operationMaxSettleTries:
			a.Log.Error(sweep+": a back office operation cannot be settled; look it up at "+r.name()+" by its idempotency key",
				"operation", op.ID, "order_id", op.OrderID, "idempotency_key", op.Key, "tries", tries, "error", err)
		default:
			a.Log.Warn(sweep+": settling a back office operation", "operation", op.ID, "tries", tries, "error", err)
		}
	}
}

// settleLeft settles one operation left in flight, under its order's lock.
func (r operator[T]) settleLeft(ctx context.Context, op db.Operation) error {
	a := r.a
	defer r.ops.opLock(op.OrderID)()
	op, err := a.Store.OperationByID(ctx, op.ID) // as it is now, under the lock
	if err != nil || !op.State.InFlight() {
		return err
	}
	o, err := a.Store.OrderByID(ctx, op.OrderID)
	if err != nil {
		return err
	}
	t, why, err := r.ops.opTarget(ctx, o)
	if err != nil {
		return err
	}
	if why != "" {
		return errors.New(why) // it cannot be asked about here
	}
	settled, err := r.settle(ctx, o, t, op, true)
	if err == nil {
		a.Log.Info(string(r.provider)+" sweep: settled a back office operation", "order", o.PublicID, "operation", op.Kind, "state", settled.State)
	}
	return err
}

// madeWords says what the provider did, with its figures after it when
// they were read (rd; nil when not).
func madeWords(name string, op db.Operation, rd *opReading) string {
	amount := format(op.Amount, op.Currency)
	var did string
	switch op.Kind {
	case db.OpCapture:
		did = name + " captured " + amount
	case db.OpRefund:
		did = name + " refunded " + amount
	case db.OpCancel:
		did = name + " released the reservation of " + amount
	case db.OpRelease:
		did = name + " released the remaining " + amount + ", which can no longer be captured"
	case db.OpExtend:
		did = name + " extended the authorization"
		if rd != nil && !rd.Expiry.IsZero() {
			did += ": the order can be captured until " + rd.Expiry.Local().Format(dateFormat)
		}
	}
	if rd == nil {
		return did + "."
	}
	return did + ". Now " + totalsWords(rd.Amounts, op.Currency) + "."
}

// totalsWords is an order's money in words.
func totalsWords(am db.Amounts, currency string) string {
	return fmt.Sprintf("%s captured, %s refunded and %s released of %s authorized",
		format(am.Captured, currency), format(am.Refunded, currency), format(am.Cancelled, currency), format(am.Authorized, currency))
}
