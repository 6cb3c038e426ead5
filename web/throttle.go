package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/config"
)

// throttle slows down repeated failures per key (an account, a client
// address): after freeFailures failures, each further attempt must wait the
// delay its policy gives for that many failures. A key is forgotten after
// failureWindow without a failure. The counts are in the database
// (Store.AddThrottleFailure), so every shop instance on it counts the same
// failures and a restart forgets nothing: a guesser spread over instances
// behind a load balancer waits as one hitting one instance does.
type throttle struct {
	name  string // "address", "account": keeps the two throttles' keys apart
	store *db.Store
	clock clock.Clock
	delay func(failures int) time.Duration
	mu    sync.Mutex
	swept time.Time // when this process last pruned stale keys
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

func newThrottle(name string, store *db.Store, c clock.Clock, delay func(failures int) time.Duration) *throttle {
	return &throttle{name: name, store: store, clock: c, delay: delay}
}

// key is what the database stores for key: a hash, so the table holds no
// address or email in the clear and a key of any length fits.
func (t *throttle) key(key string) string {
	sum := sha256.Sum256([]byte(t.name + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// wait returns how long the caller must still wait before trying key.
func (t *throttle) wait(ctx context.Context, key string) (time.Duration, error) {
	now := t.clock.Now()
	n, last, err := t.store.ThrottleFailures(ctx, t.key(key), now.Add(-failureWindow))
	if err != nil || n < freeFailures {
		return 0, err
	}
	return max(last.Add(t.delay(n)).Sub(now), 0), nil
}

// fail records a failed attempt against key.
func (t *throttle) fail(ctx context.Context, key string) error {
	now := t.clock.Now()
	if _, err := t.store.AddThrottleFailure(ctx, t.key(key), now, now.Add(-failureWindow)); err != nil {
		return err
	}
	// Keys nobody tries again would stay forever: drop the stale ones now
	// and then, so made-up emails cannot grow the table without bound.
	t.mu.Lock()
	due := now.Sub(t.swept) > failureWindow
	if due {
		t.swept = now
	}
	t.mu.Unlock()
	if due {
		_, err := t.store.PruneThrottle(ctx, now.Add(-failureWindow))
		return err
	}
	return nil
}

// succeed forgets the failures of key.
func (t *throttle) succeed(ctx context.Context, key string) error {
	return t.store.ForgetThrottle(ctx, t.key(key))
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
