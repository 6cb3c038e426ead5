package web

import (
	"context"
	"time"

	"refshop/db"
	"refshop/web/outbound"
)

// every runs pass at once, then every interval until ctx ends: the loop of
// each background sweep, named sweep (its ticker comes from App.ticker, which
// tests drive by that name).
func (a *App) every(ctx context.Context, sweep string, interval time.Duration, pass func(context.Context)) {
	ticks, stop := a.ticker(sweep, interval)
	defer stop()
	for {
		pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
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
