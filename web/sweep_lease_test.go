package web

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"refshop/db/dbtest"
)

// sweepInstance is one shop instance's loop of a test sweep, through every
// as each background sweep runs, counting its passes.
type sweepInstance struct {
	*testApp
	ticks   *manualTicks
	passes  atomic.Int32
	stop    context.CancelFunc
	stopped chan struct{}
}

const testSweepEvery = 30 * time.Second

// startSweep starts app's loop of the sweep named "test".
func startSweep(t *testing.T, app *testApp, ticks *manualTicks) *sweepInstance {
	t.Helper()
	s := &sweepInstance{testApp: app, ticks: ticks, stopped: make(chan struct{})}
	ctx, stop := context.WithCancel(t.Context())
	s.stop = stop
	go func() {
		app.every(ctx, "test", testSweepEvery, func(context.Context) { s.passes.Add(1) })
		close(s.stopped)
	}()
	t.Cleanup(func() { stop(); <-s.stopped })
	return s
}

// tick ticks the instance's sweep: its pass before it has ended, the next
// one begins.
func (s *sweepInstance) tick() { s.ticks.send("test") }

// twoInstances are two shops on one database, each with its own clock at
// the same time and its own ticks: two processes of one deployment.
func twoInstances(t *testing.T) (one, two *testApp, ticksOne, ticksTwo *manualTicks) {
	database := dbtest.Open(t)
	ticksOne, ticksTwo = newManualTicks(), newManualTicks()
	one = newTestAppOn(t, database, func(d *Deps) { d.Tick = ticksOne.tick })
	two = newTestAppOn(t, database, func(d *Deps) { d.Tick = ticksTwo.tick })
	return one, two, ticksOne, ticksTwo
}

// Two instances each tick a sweep: only the one holding its lease runs the
// passes. When it stops ticking (it hangs, or its host went away) its lease
// lapses on the clock and the other takes the sweep over; it does not take
// it back when it comes back.
func TestASweepRunsOnceAcrossInstances(t *testing.T) {
	appOne, appTwo, ticksOne, ticksTwo := twoInstances(t)
	one := startSweep(t, appOne, ticksOne)
	eventually(t, "the first instance's pass at start", func() bool { return one.passes.Load() == 1 })
	two := startSweep(t, appTwo, ticksTwo)
	// The clocks stand still while passes run: a tick's pass reads its
	// clock after the tick, so a clock moved then could be read by the pass
	// before or the one after.
	for range 3 {
		one.tick()
		two.tick()
	}
	eventually(t, "the holder's pass at each tick", func() bool { return one.passes.Load() == 4 })
	two.tick() // its third tick's pass has ended
	if n := two.passes.Load(); n != 0 {
		t.Fatalf("the second instance ran %d passes while the first held the lease", n)
	}

	// The first stops ticking. Within its lease the second still waits.
	held := one.passes.Load()
	appTwo.clock.Advance(testSweepEvery + testSweepEvery/2)
	two.tick()
	two.tick()
	if n := two.passes.Load(); n != 0 {
		t.Fatalf("the second instance ran %d passes within the first's lease", n)
	}
	// Two intervals after the holder's last renewal its lease has lapsed:
	// the pass begun by the last tick or the next takes the sweep over.
	appTwo.clock.Advance(testSweepEvery / 2)
	two.tick()
	eventually(t, "the second instance takes the sweep over", func() bool { return two.passes.Load() >= 1 })
	if !strings.Contains(appTwo.logText(), "sweep lease: this instance runs the sweep") {
		t.Error("the takeover is not logged")
	}

	// The first comes back (its clock where the second's is): the second
	// renewed the lease, so the first skips.
	appOne.clock.Advance(appTwo.clock.Now().Sub(appOne.clock.Now()))
	for range 2 {
		one.tick()
	}
	if n := one.passes.Load(); n != held {
		t.Fatalf("the first instance ran %d more passes after the second took over", n-held)
	}
	if !strings.Contains(appOne.logText(), "sweep lease: another instance runs the sweep") {
		t.Error("losing the lease is not logged")
	}
}

// An instance that stops gives its leases back: another takes the sweep at
// its next tick, without waiting for the lease to lapse.
func TestAStoppedInstanceHandsItsSweepsOver(t *testing.T) {
	appOne, appTwo, ticksOne, ticksTwo := twoInstances(t)
	one := startSweep(t, appOne, ticksOne)
	eventually(t, "the first instance's pass at start", func() bool { return one.passes.Load() == 1 })
	two := startSweep(t, appTwo, ticksTwo)
	two.tick() // its pass at start, skipped, has ended
	if n := two.passes.Load(); n != 0 {
		t.Fatalf("the second instance ran %d passes while the first held the lease", n)
	}
	one.stop()
	<-one.stopped
	two.tick() // no time has passed
	eventually(t, "the second instance takes the sweep over", func() bool { return two.passes.Load() >= 1 })
}

// RunBackground runs every sweep of the shop under a lease of its own: a
// second instance on the database runs none of them while the first holds
// theirs.
func TestRunBackgroundTakesALeasePerSweep(t *testing.T) {
	appOne, appTwo, ticksOne, ticksTwo := twoInstances(t)
	sweeps := []string{"vipps", "klarna", "klarnasignin", "altpay", "release", "exchanges"}
	run := func(app *testApp) func() {
		ctx, stop := context.WithCancel(t.Context())
		stopped := make(chan struct{})
		go func() {
			app.RunBackground(ctx)
			close(stopped)
		}()
		return func() { stop(); <-stopped }
	}
	stopOne := run(appOne)
	for _, s := range sweeps {
		ticksOne.send(s) // its pass at start has ended
	}
	stopTwo := run(appTwo)
	for _, s := range sweeps {
		ticksTwo.send(s) // its pass at start, skipped, has ended
		if h, _, err := appOne.Store.LeaseHolder(t.Context(), s); err != nil || h != appOne.instance {
			t.Errorf("the %s sweep's lease is held by %q (%v), want the first instance", s, h, err)
		}
	}
	stopTwo()
	stopOne()
}
