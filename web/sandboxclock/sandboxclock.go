// Package sandboxclock follows the clock of a provider sandbox running in
// another process (SANDBOX_URL), so the shop's provider time (token
// lifetimes, webhook dates: Deps.ProviderClock) moves when the sandbox's
// clock is moved (POST /control/clock), as it does with the sandbox in the
// shop's process.
//
// The clock is the local clock plus the sandbox's offset from it, read from
// the sandbox's control API (GET /control/state, its "now") at start, every
// few seconds, and whenever the shop asks (Sync). While the sandbox cannot
// be reached the last offset stays (0 before the first read), and one
// warning per outage is logged.
//
// It reads the control API's JSON with its own type: the shop does not
// import the sandbox.
package sandboxclock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"refshop/web/clock"
)

// Every is how often cmd/shop reads the sandbox's clock: a clock moved by
// hand is followed within it.
const Every = 5 * time.Second

// Clock is a sandbox's clock as seen from the shop. Safe for concurrent use.
type Clock struct {
	stateURL string
	http     *http.Client
	local    clock.Clock
	log      *slog.Logger

	mu     sync.Mutex
	offset time.Duration // the sandbox's now minus the local now
	down   bool          // the last read failed (and was logged)
}

// New returns the clock of the sandbox at sandboxURL (its origin), offset
// 0 until the first Sync. hc should time out in a few seconds (a read that
// hangs holds nothing but its own goroutine, yet tells nothing either).
func New(sandboxURL string, hc *http.Client, local clock.Clock, log *slog.Logger) *Clock {
	if local == nil {
		local = clock.Real{}
	}
	return &Clock{stateURL: sandboxURL + "/control/state", http: hc, local: local, log: log}
}

// Now is the sandbox's time, as of the last read.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local.Now().Add(c.offset)
}

// Offset is the sandbox's clock minus the local one, as of the last read.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Sync reads the sandbox's clock now. On failure the offset stays and the
// error is returned; the first failure of an outage is logged (Warn), and
// the first success after one (Info).
func (c *Clock) Sync(ctx context.Context) error {
	before := c.local.Now()
	remote, err := c.read(ctx)
	after := c.local.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.down {
			c.down = true
			c.log.Warn("sandbox clock: cannot read the sandbox's time; provider times keep the last known offset",
				"url", c.stateURL, "offset", c.offset, "error", err)
		}
		return err
	}
	if c.down {
		c.log.Info("sandbox clock: the sandbox answers again", "url", c.stateURL)
	}
	// The sandbox read its clock somewhere in the round trip: its middle
	// is the best guess, off by half the trip at most.
	c.offset = remote.Sub(before.Add(after.Sub(before) / 2))
	c.down = false
	return nil
}

// Run reads the sandbox's clock at every tick until ctx ends (cmd/shop:
// a ticker of Every; tests send ticks themselves).
func (c *Clock) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			_ = c.Sync(ctx)
		}
	}
}

func (c *Clock) read(ctx context.Context) (time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.stateURL, nil)
	if err != nil {
		return time.Time{}, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("GET /control/state: %s", res.Status)
	}
	var state struct {
		Now time.Time `json:"now"`
	}
	if err := json.NewDecoder(res.Body).Decode(&state); err != nil {
		return time.Time{}, fmt.Errorf("GET /control/state: %w", err)
	}
	if state.Now.IsZero() {
		return time.Time{}, errors.New(`GET /control/state: no "now" (is SANDBOX_URL a refshop sandbox?)`)
	}
	return state.Now, nil
}
