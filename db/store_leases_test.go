package db_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
)

// A lease is one holder's until it lapses: others are refused, its holder
// renews it, and once it lapses (at until) or is released another takes it.
func TestLeases(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	take := func(holder string, want bool) {
		t.Helper()
		got, err := s.TakeLease(ctx, "vipps", holder, clk.Now(), time.Minute)
		if err != nil || got != want {
			t.Fatalf("%s takes the lease at %s: %v, %v; want %v", holder, clk.Now().Format(time.TimeOnly), got, err, want)
		}
	}
	take("one", true)
	take("two", false)
	clk.Advance(40 * time.Second)
	take("one", true) // renewed until 40s + 1m
	clk.Advance(40 * time.Second)
	take("two", false) // the renewal holds
	if h, until, err := s.LeaseHolder(ctx, "vipps"); err != nil || h != "one" || !until.Equal(clk.Now().Add(20*time.Second)) {
		t.Fatalf("holder %q until %s (%v), want one for 20s more", h, until, err)
	}
	if ok, _ := s.TakeLease(ctx, "klarna", "two", clk.Now(), time.Minute); !ok {
		t.Fatal("another lease's name is refused")
	}
	clk.Advance(20 * time.Second) // exactly at until: lapsed
	take("two", true)
	take("one", false)

	if err := s.ReleaseLease(ctx, "vipps", "one"); err != nil {
		t.Fatal(err)
	}
	take("one", false) // a release by another than the holder changes nothing
	if err := s.ReleaseLease(ctx, "vipps", "two"); err != nil {
		t.Fatal(err)
	}
	take("one", true) // released: free at once
}

// Instances racing for a free lease, each on its own connections as another
// process would be: exactly one wins.
func TestOneOfManyTakesALease(t *testing.T) {
	s, other, clk := twoProcesses(t)
	var mu sync.Mutex
	var won []string
	var wg sync.WaitGroup
	for i := range 40 {
		st := []*db.Store{s, other}[i%2]
		holder := "instance-" + strconv.Itoa(i)
		wg.Go(func() {
			ok, err := st.TakeLease(context.Background(), "release", holder, clk.Now(), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won = append(won, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	h, _, _ := s.LeaseHolder(t.Context(), "release")
	if len(won) != 1 || won[0] != h {
		t.Fatalf("won by %v, stored holder %q; want exactly one, the stored one", won, h)
	}
}

// twoProcesses returns two stores on one new database (SQLite or the
// TEST_DATABASE_URL server), each on its own
// connections as two shop processes would be, on one test clock.
func twoProcesses(t *testing.T) (a, b *db.Store, clk *testClock) {
	t.Helper()
	start := dbtest.Starter(t)
	clk = &testClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	open := func() *db.Store {
		d, err := start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return db.NewStore(d, clk.Now)
	}
	return open(), open(), clk
}
