package web

import (
	"context"
	"time"

	"refshop/db"
)

const (
	// altpaySweepEvery is how often the background looks for invoices
	// that were asked for and never confirmed.
	altpaySweepEvery = 30 * time.Second
	// altpaySweepBatch is how many it settles at most in one pass.
	altpaySweepBatch = 50
	// altpayMaxSettleTries bounds the background's tries on one invoice.
	altpayMaxSettleTries = 8
)

// sweep settles, every altpaySweepEvery until ctx ends, the pending invoice
// orders whose invoice was asked for and never recorded: the answer was lost,
// or the process died between the provider's answer and the record.
func (f *altpayFlow) sweep(ctx context.Context) {
	f.a.every(ctx, "altpay", altpaySweepEvery, f.sweepOnce)
}

// sweepOnce is one pass of the sweep. An order it cannot settle waits longer
// each time (sweepRetryAfter), and after altpayMaxSettleTries it is left for
// a person.
func (f *altpayFlow) sweepOnce(ctx context.Context) {
	a := f.a
	ids, err := a.Store.AltpayInvoicesToSettle(ctx, f.env(), a.Clock.Now(), altpayMaxSettleTries, altpaySweepBatch)
	if err != nil {
		a.Log.Warn("altpay sweep: listing invoices", "error", err)
		return
	}
	for _, id := range ids {
		o, err := a.Store.OrderByPublicID(ctx, id)
		if err != nil {
			continue
		}
		inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
		if err == nil {
			err = f.reconcile(ctx, o, inv)
		}
		if err == nil || ctx.Err() != nil {
			continue
		}
		a.sweepFailed(ctx, "altpay", id, inv.SettleTries, altpayMaxSettleTries,
			func(ctx context.Context, next time.Time) (int, error) {
				return a.Store.AltpayInvoiceSettleFailed(ctx, o.ID, next)
			},
			"look for this order's invoice at Alternative Payments (its memo names the order) and settle the order by hand",
			err, "idempotency_key", inv.IdempotencyKey)
	}
}

// reconcile asks the provider again for a pending attempt's invoice that was
// never recorded, with the same request (place): the invoice made by a try
// whose answer was lost comes back, or is made now. A refusal means there is
// none: the attempt is failed, and nothing was charged.
func (f *altpayFlow) reconcile(ctx context.Context, o db.Order, inv db.AltpayInvoice) error {
	err := f.place(ctx, o, inv)
	if altpayRefused(err) {
		f.a.Log.Warn("altpay: the provider refused the invoice; the attempt is failed", "order", o.PublicID, "error", err)
		return f.a.failOrder(ctx, o, altpayNotCreated)
	}
	return err
}
