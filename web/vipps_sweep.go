package web

import (
	"context"
	"time"
)

// sweep settles, at once and then every vippsSweepEvery until ctx ends, the
// Vipps orders still open past their payment's expiry (by the shop's
// injected clock).
func (f *vippsFlow) sweep(ctx context.Context) { f.a.every(ctx, "vipps", vippsSweepEvery, f.sweepOnce) }

// sweepOnce is one pass of the sweep. An order it cannot settle (no answer,
// a 5xx, a 429) waits longer each time (sweepRetryAfter), so it never keeps
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
		a.sweepFailed(ctx, "vipps", id, vp.SettleTries, vippsMaxSettleTries,
			func(ctx context.Context, next time.Time) (int, error) {
				return a.Store.VippsSettleFailed(ctx, o.ID, next)
			},
			"check this payment at Vipps MobilePay and settle the order by hand", err, "reference", vp.Reference)
	}
}
