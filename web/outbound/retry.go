package outbound

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds the tries of one provider call. Which failures are worth
// another try is the caller's to say (network errors and 5xx, never a 4xx);
// the caller also sends the same idempotency key on every try.
type Policy struct {
	// Attempts is the number of tries in all, the first included (<1: 1).
	Attempts int
	// Backoff is the wait before the second try; each next wait doubles.
	Backoff time.Duration
	// Jitter adds up to this fraction of each wait at random (0 to 1), so
	// retries from many processes do not arrive together.
	Jitter float64
	// Sleep waits between tries (nil: Sleep); tests record instead of waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Wait is how long the policy waits after try number attempt (from 1)
// before the next one.
func (p Policy) Wait(attempt int) time.Duration {
	d := p.Backoff << max(attempt-1, 0)
	if j := time.Duration(float64(d) * min(max(p.Jitter, 0), 1)); j > 0 {
		d += rand.N(j + 1)
	}
	return d
}

// Interrupted is Retry's error when ctx ended during a wait between tries.
type Interrupted struct {
	Err  error // ctx's error
	Last error // the last try's error
}

func (e *Interrupted) Error() string { return "retry interrupted: " + e.Err.Error() }
func (e *Interrupted) Unwrap() error { return e.Err }

// Retry calls try (attempt counts from 1) until it returns a nil error, says
// another try cannot help (retry false), p.Attempts tries are spent, or ctx
// is done; it returns the last try's error. A wait cut short by ctx returns
// *Interrupted.
//
// try gets ctx marked as one call (NewCall) and must make its requests with
// it: the recorder then numbers them and stores why each repeat was sent
// ("try 2 after 503").
func Retry(ctx context.Context, p Policy, try func(ctx context.Context, attempt int) (retry bool, err error)) error {
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	callCtx := NewCall(ctx)
	for attempt := 1; ; attempt++ {
		retry, err := try(callCtx, attempt)
		if err == nil || !retry || attempt >= p.Attempts || ctx.Err() != nil {
			return err
		}
		if serr := sleep(ctx, p.Wait(attempt)); serr != nil {
			return &Interrupted{Err: serr, Last: err}
		}
	}
}

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
