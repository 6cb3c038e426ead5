package web

import (
	"context"
	"errors"
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

// sweepOnce is one pass of the sweep (sweepPass): an order it cannot settle
// waits longer each time (sweepRetryAfter), and after altpayMaxSettleTries it
// is left for a person.
func (f *altpayFlow) sweepOnce(ctx context.Context) {
	a := f.a
	a.sweepPass(ctx, sweeper{
		name: "altpay sweep", maxTries: altpayMaxSettleTries,
		giveUp: "look for this order's invoice at Alternative Payments (its memo names the order) and settle the order by hand",
		due: func(ctx context.Context, now time.Time, maxTries int) ([]string, error) {
			return a.Store.AltpayInvoicesToSettle(ctx, f.env(), now, maxTries, altpaySweepBatch)
		},
		settle: func(ctx context.Context, o db.Order) error {
			// Under the attempt's work key: never alongside the checkout's or
			// the order page's own try, which could create a second invoice
			// (POST /invoices is not idempotent).
			run, err := a.work.start(ctx, altpayInvoiceWork(o.ID), func(ctx context.Context) (any, error) {
				inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
				if err != nil || inv.InvoiceID != "" {
					return nil, err // recorded meanwhile
				}
				return nil, f.reconcile(ctx, o, inv)
			})
			if err != nil {
				return err
			}
			select {
			case <-run.done:
				return run.err
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		failed: func(ctx context.Context, o db.Order) (int, []any, error) {
			inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
			if err != nil {
				return 0, nil, err
			}
			tries, err := a.Store.AltpayInvoiceSettleFailed(ctx, o.ID, a.Clock.Now().Add(sweepRetryAfter(inv.SettleTries+1)))
			return tries, []any{"idempotency_key", inv.IdempotencyKey}, err
		},
	})
}

// reconcile asks again for a pending attempt's invoice that was never
// recorded, with the same request (place): the invoice made by a try whose
// answer was lost is found by the shop's reference and reused, or, when the
// provider has had none for altpayQuietPeriod since the last create was
// sent, made now. Only a refusal of a first create (none was sent before)
// means there is none: the attempt is failed, and nothing was charged. While
// the quiet period runs nothing is wrong yet: the background's try is not
// counted as failed, and the next pass looks again.
func (f *altpayFlow) reconcile(ctx context.Context, o db.Order, inv db.AltpayInvoice) error {
	err := f.place(ctx, o, inv)
	var quiet *altpayQuiet
	switch {
	case altpayRefused(err):
		f.a.Log.Warn("altpay: the provider refused the invoice; the attempt is failed", "order", o.PublicID, "error", err)
		return f.a.failOrder(ctx, o, altpayNotCreated)
	case errors.As(err, &quiet) && quiet.err == nil:
		f.a.Log.Info("altpay: no invoice found yet; waiting out the quiet period before asking again",
			"order", o.PublicID, "create_sent_at", quiet.sent, "until", quiet.until)
		return nil
	}
	return err
}
