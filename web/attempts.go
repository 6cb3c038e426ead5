package web

// Payment attempts across the flows. A cart has at most one open attempt per
// payment method (db.Store.OpenAttempt): a second "Pay" returns the first
// attempt, and the flow shows its page again instead of starting a second
// payment. An attempt is closed when another attempt of its cart is paid
// (db.Store.SetOrderStatusPaid), when the cart changed since it was made, or
// when its provider object no longer fits; its flow then releases the
// provider object where the provider allows (paymentFlow.release), right
// away and, should that fail or the process die first, from the background.

import (
	"context"
	"time"

	"refshop/db"
)

const (
	// attemptStartWindow is how long a new attempt may take to record its
	// provider object. A repeated submit inside it waits for the first one
	// (it may still be talking to the provider); past it, an attempt with
	// nothing recorded was left by a crash and is replaced.
	attemptStartWindow = time.Minute
	// releaseEvery is how often the background releases closed attempts.
	releaseEvery = 30 * time.Second
	// releaseBatch bounds one background pass.
	releaseBatch = 50
)

// startStalled reports whether attempt o is past attemptStartWindow.
func (a *App) startStalled(o db.Order) bool {
	return a.Clock.Now().Sub(o.CreatedAt) > attemptStartWindow
}

// releaseClosed asks each closed attempt's flow to release its provider
// object: the attempts of cartID, or of every cart when cartID is 0. An
// attempt whose provider could not be asked stays marked, for the next pass.
func (a *App) releaseClosed(ctx context.Context, cartID int64) {
	due, err := a.Store.AttemptsToRelease(ctx, cartID, releaseBatch)
	if err != nil {
		a.Log.Warn("listing closed attempts to release", "error", err)
		return
	}
	for _, o := range due {
		f, ok := a.payments[o.Provider]
		if !ok {
			continue
		}
		if err := f.release(ctx, o); err != nil {
			a.Log.Warn("releasing a closed attempt at its provider; will try again", "order", o.PublicID,
				"provider", o.Provider, "error", err)
			continue
		}
		if err := a.Store.AttemptReleased(ctx, o.ID); err != nil {
			a.Log.Warn("recording a released attempt", "order", o.PublicID, "error", err)
		}
	}
}

// every runs f now and then every d (App.ticker) until ctx ends: the loop of
// every background sweep, named sweep.
func (a *App) every(ctx context.Context, sweep string, d time.Duration, f func(context.Context)) {
	ticks, stop := a.ticker(sweep, d)
	defer stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// sweepRetryAfter is the wait after a background sweep's try-th failure on
// an order: a minute, doubling, at most two hours (eight tries span about
// six hours).
func sweepRetryAfter(try int) time.Duration {
	d := time.Minute << min(max(try-1, 0), 7)
	return min(d, 2*time.Hour)
}

// sweepFailed records a background sweep's failed try on order id (the
// sweep named flow): failed pushes its next try back by sweepRetryAfter and
// returns the tries so far. Past max the order is logged for a person with
// giveUp, what they should do; attrs name the provider object.
func (a *App) sweepFailed(ctx context.Context, flow, id string, tries, max int, failed func(context.Context, time.Time) (int, error),
	giveUp string, cause error, attrs ...any) {
	tries, err := failed(ctx, a.Clock.Now().Add(sweepRetryAfter(tries+1)))
	attrs = append([]any{"order", id, "tries", tries, "error", cause}, attrs...)
	switch {
	case err != nil:
		a.Log.Warn(flow+" sweep: recording a failed try", "order", id, "error", err)
	case tries >= max:
		a.Log.Error(flow+" sweep: giving up; "+giveUp, attrs...)
	default:
		a.Log.Warn(flow+" sweep: settling failed; will try again", attrs...)
	}
}
