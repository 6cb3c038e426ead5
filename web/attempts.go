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
	"sync"
	"time"

	"refshop/db"
	"refshop/web/outbound"
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
		if err := f.release(outbound.WithOrder(ctx, o.ID), o); err != nil {
			a.Log.Warn("releasing a closed attempt at its provider; will try again", "order", o.PublicID,
				"provider", o.Provider, "error", err)
			continue
		}
		if err := a.Store.AttemptReleased(ctx, o.ID); err != nil {
			a.Log.Warn("recording a released attempt", "order", o.PublicID, "error", err)
		}
	}
}

// idSet is a set of order ids safe for concurrent use.
type idSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func (s *idSet) add(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[int64]struct{}{}
	}
	s.ids[id] = struct{}{}
}

func (s *idSet) remove(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

func (s *idSet) has(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}
