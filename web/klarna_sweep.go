package web

import (
	"context"
	"time"

	"refshop/db"
)

// sweep settles, every klarnaSweepEvery until ctx ends, the Klarna attempts
// no request will: those whose outcome the customer's request could not
// learn (a lost answer, a shop that stopped mid-call), those marked paid
// without Klarna's order id, and those whose session ended unpaid.
func (k *klarnaFlow) sweep(ctx context.Context) {
	k.a.every(ctx, "klarna", klarnaSweepEvery, k.sweepOnce)
}

// sweepOnce is one pass of the sweep (sweepPass): an attempt it cannot
// settle waits longer each time (klarnaRetryAfter), and after
// klarnaMaxSettleTries it is left for a person: Klarna may hold an order for
// it, so the shop must not guess.
func (k *klarnaFlow) sweepOnce(ctx context.Context) {
	a := k.a
	// The back office's operations left in flight (klarna_admin.go).
	defer k.operator().settleLeftOperations(ctx, klarnaSweepBatch)
	a.sweepPass(ctx, sweeper{
		name: "klarna sweep", maxTries: klarnaMaxSettleTries,
		giveUp: "find this order in Klarna's Merchant Portal by merchant_reference1 and settle it by hand",
		due: func(ctx context.Context, now time.Time, maxTries int) ([]string, error) {
			// Each region's attempts, at the API they were made at.
			var ids []string
			for _, env := range k.environments() {
				due, err := a.Store.KlarnaAttemptsToSettle(ctx, env, now, maxTries, klarnaSweepBatch)
				if err != nil {
					return ids, err
				}
				ids = append(ids, due...)
			}
			return ids, nil
		},
		settle: func(ctx context.Context, o db.Order) error {
			_, err := k.settle(ctx, o)
			return err
		},
		failed: func(ctx context.Context, o db.Order) (int, []any, error) {
			kp, err := a.Store.KlarnaPaymentByOrder(ctx, o.ID)
			if err != nil {
				return 0, nil, err
			}
			tries, err := a.Store.KlarnaSettleFailed(ctx, o.ID, a.Clock.Now().Add(klarnaRetryAfter(kp.SettleTries+1)))
			return tries, []any{"session_id", kp.SessionID}, err
		},
	})
}

// klarnaRetryAfter is the wait after the sweep's try-th failure on an
// attempt: a minute, doubling, at most an hour (eight tries span about four
// hours, past the authorization's 60 minutes, after which Klarna's answer is
// final).
func klarnaRetryAfter(try int) time.Duration {
	return min(time.Minute<<min(max(try-1, 0), 6), time.Hour)
}
