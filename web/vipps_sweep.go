package web

import (
	"context"
	"time"
)

// sweep settles, at once and then every vippsSweepEvery (App.ticker) until
// ctx ends, the Vipps orders still open past their payment's expiry (by the
// shop's injected clock).
func (f *vippsFlow) sweep(ctx context.Context) {
	ticks, stop := f.a.ticker(vippsSweepEvery)
	defer stop()
	for {
		f.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
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
