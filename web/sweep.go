package web

import (
	"context"
	"time"

	"refshop/db"
	"refshop/web/outbound"
)

// every runs pass at once, then every interval until ctx ends: the loop of
// each background sweep, named sweep (its ticker comes from App.ticker, which
// tests drive by that name). Of the shop instances on one database only the
// one holding the sweep's lease runs a pass (holdLease); the lease is given
// back when ctx ends, so another instance takes the sweep at its next tick.
func (a *App) every(ctx context.Context, sweep string, interval time.Duration, pass func(context.Context)) {
	a.everyOr(ctx, sweep, interval, nil, pass)
}

// everyOr is every, with a pass also whenever now delivers: a pass asked for
// so runs whoever holds the lease (the instance asked knows something the
// holder does not).
func (a *App) everyOr(ctx context.Context, sweep string, interval time.Duration, now <-chan struct{}, pass func(context.Context)) {
	ticks, stop := a.ticker(sweep, interval)
	defer stop()
	defer a.releaseLease(ctx, sweep)
	held, asked := false, false
	for {
		if held = a.holdLease(ctx, sweep, interval, held); held || asked {
			pass(ctx)
		}
		asked = false
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		case <-now:
			asked = true
		}
	}
}

// holdLease takes or renews this instance's lease on sweep for two
// intervals: long enough that a pass, renewing it as it starts, keeps it
// from one pass to the next, and short enough that another instance takes
// the sweep over soon after this one stops. False when another instance
// holds it, or the database cannot say (that pass is skipped). held is what
// the last call returned: a change is logged.
func (a *App) holdLease(ctx context.Context, sweep string, interval time.Duration, held bool) bool {
	ok, err := a.Store.TakeLease(ctx, sweep, a.instance, a.Clock.Now(), 2*interval)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			a.Log.Warn("sweep lease: taking it failed; skipping this pass", "sweep", sweep, "error", err)
		}
		return false
	case ok && !held:
		a.Log.Info("sweep lease: this instance runs the sweep", "sweep", sweep, "instance", a.instance)
	case !ok && held:
		a.Log.Info("sweep lease: another instance runs the sweep", "sweep", sweep, "instance", a.instance)
	}
	return ok
}

// releaseLease gives back this instance's lease on sweep as its loop ends
// (ctx has ended: the release gets a moment of its own).
func (a *App) releaseLease(ctx context.Context, sweep string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.Store.ReleaseLease(ctx, sweep, a.instance); err != nil {
		a.Log.Warn("sweep lease: releasing it failed; it lapses by itself", "sweep", sweep, "error", err)
	}
}

// sweepRetryAfter is the wait after a sweep's try-th failure on an order: a
// minute, doubling, at most two hours (eight tries span about six hours).
func sweepRetryAfter(try int) time.Duration {
	return min(time.Minute<<min(max(try-1, 0), 7), 2*time.Hour)
}

// sweeper is one flow's sweep: what sweepPass asks of it.
type sweeper struct {
	name     string // starts every log line: "vipps sweep"
	maxTries int
	giveUp   string // what a person should do with an order the sweep gives up on
	// due lists the public ids of the orders to settle at now.
	due func(ctx context.Context, now time.Time, maxTries int) ([]string, error)
	// settle settles one order; an error leaves it for a later pass.
	settle func(ctx context.Context, o db.Order) error
	// failed records a failed try, pushing the order's next one back, and
	// returns the tries so far and what names the payment in the log.
	failed func(ctx context.Context, o db.Order) (tries int, attrs []any, err error)
}

// sweepPass is one pass of a sweep. An order it cannot settle waits longer
// each time (failed), so it never keeps the orders behind it waiting, and
// after maxTries it is left for a person: the shop cannot know where its
// money is, so it must not guess.
func (a *App) sweepPass(ctx context.Context, s sweeper) {
	ids, err := s.due(ctx, a.Clock.Now(), s.maxTries)
	if err != nil {
		a.Log.Warn(s.name+": listing orders", "error", err)
		return
	}
	for _, id := range ids {
		o, err := a.Store.OrderByPublicID(ctx, id)
		if err != nil {
			continue
		}
		// The order's provider calls are recorded under it (exchanges.go).
		if err = s.settle(outbound.WithOrder(ctx, o.ID), o); err == nil || ctx.Err() != nil {
			continue
		}
		tries, attrs, ferr := s.failed(ctx, o)
		switch {
		case ferr != nil:
			a.Log.Warn(s.name+": recording a failed try", "order", id, "error", ferr, "settle_error", err)
		case tries >= s.maxTries:
			a.Log.Error(s.name+": giving up; "+s.giveUp, append(append([]any{"order", id}, attrs...), "tries", tries, "error", err)...)
		default:
			a.Log.Warn(s.name+": settling failed; will try again", "order", id, "tries", tries, "error", err)
		}
	}
}
