package web

import (
	"sync"
	"time"

	"refshop/web/clock"
)

// askedLately remembers, per order, when the shop last asked the provider
// about its payment (on the provider's clock, which the sandbox's POST
// /control/clock moves) and whether that failed, so that reloading a page
// asks at most once per every: reloads must not spend the provider's rate
// limits. Entries older than every are dropped as new ones come, so it holds
// only the orders of the last seconds.
type askedLately struct {
	clock clock.Clock
	every time.Duration
	mu    sync.Mutex
	at    map[int64]askedAt
}

type askedAt struct {
	when   time.Time
	failed bool
}

// recently reports whether the provider was asked about orderID within
// every, and whether that ask failed.
func (l *askedLately) recently(orderID int64) (recent, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.at[orderID]
	if !ok || l.clock.Now().Sub(a.when) >= l.every {
		return false, false
	}
	return true, a.failed
}

func (l *askedLately) mark(orderID int64, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.at == nil {
		l.at = map[int64]askedAt{}
	}
	for id, a := range l.at {
		if now.Sub(a.when) >= l.every {
			delete(l.at, id)
		}
	}
	l.at[orderID] = askedAt{when: now, failed: failed}
}
