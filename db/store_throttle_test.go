package db_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// A key's failures count up while each follows the last within the window
// (since), start again after a gap, and are forgotten or pruned on demand.
func TestThrottleCounts(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	const window = 15 * time.Minute
	add := func(key string, want int) {
		t.Helper()
		n, err := s.AddThrottleFailure(ctx, key, clk.Now(), clk.Now().Add(-window))
		if err != nil || n != want {
			t.Fatalf("failure of %s: %d, %v; want %d", key, n, err, want)
		}
	}
	add("a", 1)
	clk.Advance(10 * time.Minute)
	add("a", 2)
	add("b", 1)
	clk.Advance(window) // exactly the window after a's last failure: still counted
	if n, last, err := s.ThrottleFailures(ctx, "a", clk.Now().Add(-window)); err != nil || n != 2 || !last.Equal(clk.Now().Add(-window)) {
		t.Fatalf("a: %d failures, last %s (%v); want 2, the window ago", n, last, err)
	}
	clk.Advance(time.Nanosecond)
	if n, _, err := s.ThrottleFailures(ctx, "a", clk.Now().Add(-window)); err != nil || n != 0 {
		t.Fatalf("a past the window: %d failures (%v), want none", n, err)
	}
	add("a", 1) // counting starts again
	if got, err := s.PruneThrottle(ctx, clk.Now().Add(-window)); err != nil || got != 1 {
		t.Fatalf("pruned %d (%v), want b only", got, err)
	}
	if err := s.ForgetThrottle(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.ThrottleFailures(ctx, "a", clk.Now().Add(-window)); n != 0 {
		t.Fatalf("a after forgetting: %d failures", n)
	}
}

// Failures counted at once by two processes all count, and the last
// failure's time never moves back for a process whose clock is behind.
func TestThrottleCountsEveryProcesssFailures(t *testing.T) {
	a, b, clk := twoProcesses(t)
	now := clk.Now()
	var wg sync.WaitGroup
	for i := range 40 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if _, err := s.AddThrottleFailure(context.Background(), "k", now, now.Add(-time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := b.AddThrottleFailure(t.Context(), "k", now.Add(-time.Second), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, last, err := a.ThrottleFailures(t.Context(), "k", now.Add(-time.Hour)); err != nil || n != 41 || !last.Equal(now) {
		t.Fatalf("%d failures, last %s (%v); want 41, the latest", n, last, err)
	}
}
