package web

import (
	"context"
	"time"

	"refshop/db"
)

// sweep settles, at once and then every vippsSweepEvery until ctx ends, the
// Vipps orders still open past their payment's expiry (by the shop's
// injected clock), of the Vipps environment the shop is configured with.
func (f *vippsFlow) sweep(ctx context.Context) { f.a.every(ctx, "vipps", vippsSweepEvery, f.sweepOnce) }

// sweepOnce is one pass of the sweep (sweepPass): an order it cannot
// settle (no answer, a 5xx, a 429) waits longer each time
// (sweepRetryAfter), and after vippsMaxSettleTries it is left for a person.
// Then it settles the back office's operations left in flight
// (vipps_admin.go).
func (f *vippsFlow) sweepOnce(ctx context.Context) {
	a := f.a
	defer f.settleOperations(ctx)
	a.sweepPass(ctx, sweeper{
		name: "vipps sweep", maxTries: vippsMaxSettleTries,
		giveUp: "check this payment at Vipps MobilePay and settle the order by hand",
		due: func(ctx context.Context, now time.Time, maxTries int) ([]string, error) {
			return a.Store.VippsOrdersToSettle(ctx, f.env(), now, maxTries, f.batch)
		},
		settle: func(ctx context.Context, o db.Order) error {
			_, err := f.settle(ctx, o, true)
			return err
		},
		failed: func(ctx context.Context, o db.Order) (int, []any, error) {
			vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
			if err != nil {
				return 0, nil, err
			}
			tries, err := a.Store.VippsSettleFailed(ctx, o.ID, a.Clock.Now().Add(sweepRetryAfter(vp.SettleTries+1)))
			return tries, []any{"reference", vp.Reference}, err
		},
	})
}
