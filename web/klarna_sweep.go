package web

import (
	"context"
	"time"
)

// sweep settles, every klarnaSweepEvery until ctx ends, the Klarna attempts
// no request will: those whose outcome the customer's request could not
// learn (a lost answer, a shop that stopped mid-call), those marked paid
// without Klarna's order id, and those whose session ended unpaid.
func (k *klarnaFlow) sweep(ctx context.Context) {
	t := time.NewTicker(klarnaSweepEvery)
	defer t.Stop()
	for {
		k.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce is one pass of the sweep. An attempt it cannot settle waits
// longer each time (klarnaRetryAfter), so it never keeps the ones behind it
// waiting, and after klarnaMaxSettleTries it is left for a person: Klarna
// may hold an order for it, so the shop must not guess.
func (k *klarnaFlow) sweepOnce(ctx context.Context) {
	a := k.a
	ids, err := a.Store.KlarnaAttemptsToSettle(ctx, a.Clock.Now(), klarnaMaxSettleTries, klarnaSweepBatch)
	if err != nil {
		a.Log.Warn("klarna sweep: listing attempts", "error", err)
		return
	}
	for _, id := range ids {
		o, err := a.Store.OrderByPublicID(ctx, id)
		if err != nil {
			continue
		}
		if _, err = k.settle(ctx, o); err == nil || ctx.Err() != nil {
			continue
		}
		kp, kerr := a.Store.KlarnaPaymentByOrder(ctx, o.ID)
		if kerr != nil {
			a.Log.Warn("klarna sweep: settling", "order", id, "error", err)
			continue
		}
		tries, ferr := a.Store.KlarnaSettleFailed(ctx, o.ID, a.Clock.Now().Add(klarnaRetryAfter(kp.SettleTries+1)))
		switch {
		case ferr != nil:
			a.Log.Warn("klarna sweep: recording a failed try", "order", id, "error", ferr)
		case tries >= klarnaMaxSettleTries:
			a.Log.Error("klarna sweep: giving up; find this order in Klarna's Merchant Portal by merchant_reference1 and settle it by hand",
				"order", id, "session_id", kp.SessionID, "tries", tries, "error", err)
		default:
			a.Log.Warn("klarna sweep: settling failed; will try again", "order", id, "tries", tries, "error", err)
		}
	}
}

// klarnaRetryAfter is the wait after the sweep's try-th failure on an
// attempt: a minute, doubling, at most an hour (eight tries span about four
// hours, past the authorization's 60 minutes, after which Klarna's answer is
// final).
func klarnaRetryAfter(try int) time.Duration {
	return min(time.Minute<<min(max(try-1, 0), 6), time.Hour)
}
