package web

import (
	"sync"
	"time"

	"refshop/web/clock"
)

// throttle slows down repeated sign-in failures for one email or one client
// address: after freeFailures failures within window, each further attempt
// must wait a delay that doubles per failure (up to maxDelay). It is in memory:
// a restart forgets it, which is acceptable for a reference shop with one
// process; a multi-process deployment would keep it in the database.
type throttle struct {
	clock clock.Clock
	mu    sync.Mutex
	keys  map[string]*failures
}

type failures struct {
	count int
	first time.Time
	last  time.Time
}

const (
	freeFailures  = 3
	failureWindow = 15 * time.Minute
	baseDelay     = 2 * time.Second
	maxDelay      = 5 * time.Minute
)

func newThrottle(c clock.Clock) *throttle {
	return &throttle{clock: c, keys: map[string]*failures{}}
}

// wait returns how long the caller must still wait before trying any of keys.
func (t *throttle) wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	var longest time.Duration
	for _, k := range keys {
		f := t.keys[k]
		if f == nil {
			continue
		}
		if now.Sub(f.first) > failureWindow && now.Sub(f.last) > failureWindow {
			delete(t.keys, k)
			continue
		}
		if f.count < freeFailures {
			continue
		}
		d := baseDelay << min(f.count-freeFailures, 10)
		if d > maxDelay {
			d = maxDelay
		}
		if left := f.last.Add(d).Sub(now); left > longest {
			longest = left
		}
	}
	return longest
}

// fail records a failed attempt against keys.
func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	for _, k := range keys {
		f := t.keys[k]
		if f == nil {
			f = &failures{first: now}
			t.keys[k] = f
		}
		f.count++
		f.last = now
	}
}

// succeed forgets the failures of keys.
func (t *throttle) succeed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.keys, k)
	}
}
