package web

import (
	"context"
	"time"

	"refshop/db"
)

// every runs pass at once, then every interval until ctx ends: the loop of
// each flow's sweep.
func every(ctx context.Context, interval time.Duration, pass func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
		if err = s.settle(ctx, o); err == nil || ctx.Err() != nil {
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
