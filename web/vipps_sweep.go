package web

import (
	"context"
	"errors"
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
// Then it acts on the webhook events no delivery finished
// (settleLeftEvents) and settles the back office's operations left in
// flight (vipps_admin.go).
func (f *vippsFlow) sweepOnce(ctx context.Context) {
	a := f.a
	defer f.settleOperations(ctx)
	defer f.settleLeftEvents(ctx)
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

// vippsEventSettleAfter is how long after its delivery a webhook event the
// receiver did not finish acting on waits for the sweep: the receiver's own
// work (which goes on after it answered) has had its chance by then.
const vippsEventSettleAfter = time.Minute

// settleLeftEvents acts on the webhook events stored but not acted on: the
// receiver answered Vipps before its work ended and the work then failed
// (Vipps did not answer a refresh), or the shop stopped. Vipps does not
// deliver an event it got a 2xx for again, so the sweep is what settles
// them. Each failure waits longer (sweepRetryAfter); after
// vippsMaxSettleTries the event is left for a person.
func (f *vippsFlow) settleLeftEvents(ctx context.Context) {
	a := f.a
	now := a.Clock.Now()
	events, err := a.Store.VippsWebhookEventsToSettle(ctx, now.Add(-vippsEventSettleAfter), now, vippsMaxSettleTries, f.batch)
	if err != nil {
		a.Log.Warn("vipps sweep: listing webhook events not acted on", "error", err)
		return
	}
	for _, e := range events {
		if ctx.Err() != nil {
			return
		}
		err := f.settleEvent(ctx, e)
		if err == nil {
			a.Log.Info("vipps sweep: acted on a webhook event its delivery did not finish", "reference", e.Reference, "event", e.Name)
			continue
		}
		tries, ferr := a.Store.VippsWebhookEventFailed(ctx, e.ID, a.Clock.Now().Add(sweepRetryAfter(e.Tries+1)))
		if ferr != nil {
			err = errors.Join(err, ferr)
		}
		log := a.Log.Warn
		if tries >= vippsMaxSettleTries {
			log = a.Log.Error // no more tries: for a person
		}
		log("vipps sweep: acting on a webhook event failed", "reference", e.Reference, "event", e.Name, "tries", tries, "error", err)
	}
}
