package web

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/web/clock"
	"refshop/web/config"
)

// throttle slows down repeated failures per key (an account, a client
// address): after freeFailures failures, each further attempt must wait the
// delay its policy gives for that many failures. A key is forgotten after
// failureWindow without a failure. It is in memory: a restart forgets it,
// which is acceptable for a reference shop with one process; a multi-process
// deployment would keep it in the database.
type throttle struct {
	clock clock.Clock
	delay func(failures int) time.Duration
	mu    sync.Mutex
	keys  map[string]*failures
	swept time.Time
}

type failures struct {
	count int
	last  time.Time
}

const (
	freeFailures  = 3
	failureWindow = 15 * time.Minute
	baseDelay     = 2 * time.Second
	maxDelay      = 5 * time.Minute
	// accountDelay is all one account ever waits between attempts.
	accountDelay = 5 * time.Second
)

// growingDelay is the policy for client addresses: the delay doubles per
// failure up to maxDelay. It slows guessing from one address hard, and only
// that address: behind a proxy the address comes from the trusted header
// (clientIP), so one customer's typos never slow another.
func growingDelay(n int) time.Duration {
	return min(baseDelay<<min(max(n-freeFailures, 0), 10), maxDelay)
}

// fixedDelay is the policy for accounts: a small fixed delay, never a lock.
// Anyone may fail for any account, so a growing delay would let a stranger
// keep a chosen account locked for as long as they keep failing; a fixed one
// makes its owner wait accountDelay at most, and still caps guessing at one
// try per accountDelay per account however many addresses a guesser has.
func fixedDelay(int) time.Duration { return accountDelay }

func newThrottle(c clock.Clock, delay func(failures int) time.Duration) *throttle {
	return &throttle{clock: c, delay: delay, keys: map[string]*failures{}}
}

// wait returns how long the caller must still wait before trying key.
func (t *throttle) wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	f := t.keys[key]
	if f == nil || f.count < freeFailures {
		return 0
	}
	if now.Sub(f.last) > failureWindow {
		delete(t.keys, key)
		return 0
	}
	return max(f.last.Add(t.delay(f.count)).Sub(now), 0)
}

// fail records a failed attempt against key.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	// Keys nobody tries again would stay forever: drop the stale ones now
	// and then, so made-up emails cannot grow the map without bound.
	if now.Sub(t.swept) > failureWindow {
		for k, f := range t.keys {
			if now.Sub(f.last) > failureWindow {
				delete(t.keys, k)
			}
		}
		t.swept = now
	}
	f := t.keys[key]
	if f == nil || now.Sub(f.last) > failureWindow {
		f = &failures{}
		t.keys[key] = f
	}
	f.count++
	f.last = now
}

// succeed forgets the failures of key.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// clientIP is how the shop finds a request's client address (Echo's
// RealIP): the connection's peer, or, when a proxy in front of the shop is
// configured, the address that proxy names in its header, believed only
// from the proxies configured (anyone can send the header).
func clientIP(c config.Config) echo.IPExtractor {
	trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range c.TrustedProxies {
		trust = append(trust, echo.TrustIPRange(n))
	}
	switch c.ClientIPHeader {
	case config.XForwardedFor:
		return echo.ExtractIPFromXFFHeader(trust...)
	case config.XRealIP:
		return echo.ExtractIPFromRealIPHeader(trust...)
	}
	return echo.ExtractIPDirect()
}
