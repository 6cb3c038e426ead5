package sandboxclock

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/clock"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// fakeSandbox answers GET /control/state with a time the test sets, or
// with 503 while it is down.
type fakeSandbox struct {
	mu   sync.Mutex
	now  time.Time
	down bool
	body string // when set, answered instead of the time
}

func (f *fakeSandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method != http.MethodGet || r.URL.Path != "/control/state":
		http.NotFound(w, r)
	case f.down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case f.body != "":
		w.Write([]byte(f.body))
	default:
		w.Write([]byte(`{"now":"` + f.now.Format(time.RFC3339Nano) + `","calls":{}}`))
	}
}

func (f *fakeSandbox) set(now time.Time, down bool) {
	f.mu.Lock()
	f.now, f.down = now, down
	f.mu.Unlock()
}

// lockedBuffer is a log the clock writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, local clock.Clock) (*Clock, *fakeSandbox, *lockedBuffer) {
	t.Helper()
	sb := &fakeSandbox{now: t0}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	logs := &lockedBuffer{}
	return New(srv.URL, srv.Client(), local, slog.New(slog.NewTextHandler(logs, nil))), sb, logs
}

func TestFollowsTheSandboxClock(t *testing.T) {
	local := clock.NewManual(t0)
	c, sb, _ := start(t, local)
	if !c.Now().Equal(t0) {
		t.Fatalf("before the first read: %v, want the local time %v", c.Now(), t0)
	}
	sb.set(t0.Add(time.Hour), false) // POST /control/clock {"advance":"1h"}
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.Offset() != time.Hour || !c.Now().Equal(t0.Add(time.Hour)) {
		t.Fatalf("after a read: offset %v, now %v; want 1h ahead", c.Offset(), c.Now())
	}
	local.Advance(10 * time.Second) // time passes on both sides; the offset holds
	if !c.Now().Equal(t0.Add(time.Hour + 10*time.Second)) {
		t.Fatalf("10 s later: %v", c.Now())
	}
	sb.set(t0, false) // POST /control/reset: the sandbox is back on the wall clock
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.Offset() != -10*time.Second {
		t.Fatalf("after a reset: offset %v, want -10s (the sandbox's time minus the local)", c.Offset())
	}
}

// steppingClock moves on by step at every reading.
type steppingClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (s *steppingClock) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now
	s.now = s.now.Add(s.step)
	return now
}

func TestTheOffsetIsTakenAtTheMiddleOfTheRoundTrip(t *testing.T) {
	local := &steppingClock{now: t0, step: 2 * time.Second} // a 2 s round trip
	c, sb, _ := start(t, local)
	sb.set(t0.Add(time.Hour), false)
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := time.Hour - time.Second; c.Offset() != want {
		t.Fatalf("offset %v, want %v: the sandbox read its clock halfway through the trip", c.Offset(), want)
	}
}

func TestAnOutageKeepsTheLastOffsetAndWarnsOnce(t *testing.T) {
	local := clock.NewManual(t0)
	c, sb, logs := start(t, local)
	sb.set(t0.Add(30*time.Minute), false)
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	sb.set(t0.Add(2*time.Hour), true)
	for range 3 {
		if err := c.Sync(t.Context()); err == nil {
			t.Fatal("a 503 read as the sandbox's time")
		}
	}
	if c.Offset() != 30*time.Minute {
		t.Fatalf("offset during the outage %v, want the last known 30m", c.Offset())
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings for one outage, want 1:\n%s", n, logs.String())
	}
	sb.set(t0.Add(2*time.Hour), false)
	if err := c.Sync(t.Context()); err != nil || c.Offset() != 2*time.Hour {
		t.Fatalf("after the outage: offset %v, %v", c.Offset(), err)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"sandbox clock: the sandbox answers again\"") {
		t.Fatalf("no note that the sandbox is back:\n%s", logs.String())
	}
	sb.set(t0, true) // a second outage is warned about again
	_ = c.Sync(t.Context())
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("%d warnings for two outages, want 2", n)
	}
}

func TestUnreachableAtStartStaysOnTheLocalClock(t *testing.T) {
	local := clock.NewManual(t0)
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there
	logs := &lockedBuffer{}
	c := New(srv.URL, &http.Client{Timeout: time.Second}, local, slog.New(slog.NewTextHandler(logs, nil)))
	if err := c.Sync(t.Context()); err == nil {
		t.Fatal("a closed port read as a time")
	}
	if c.Offset() != 0 || !c.Now().Equal(t0) {
		t.Fatalf("offset %v, want 0 before any read", c.Offset())
	}
	if !strings.Contains(logs.String(), "cannot read the sandbox's time") || !strings.Contains(logs.String(), srv.URL+"/control/state") {
		t.Fatalf("the warning does not say what and where:\n%s", logs.String())
	}
}

func TestAnAnswerWithoutNowIsNotATime(t *testing.T) {
	c, sb, _ := start(t, clock.NewManual(t0))
	sb.body = `{"status":"ok"}`
	err := c.Sync(t.Context())
	if err == nil || !strings.Contains(err.Error(), `no "now"`) || c.Offset() != 0 {
		t.Fatalf("got %v, offset %v; want an error and no offset", err, c.Offset())
	}
}

func TestRunReadsAtEveryTickUntilItsContextEnds(t *testing.T) {
	c, sb, _ := start(t, clock.NewManual(t0))
	ticks := make(chan time.Time) // unbuffered: a send returns once Run is waiting again
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, ticks)
	}()
	sb.set(t0.Add(time.Minute), false)
	ticks <- t0
	ticks <- t0 // Run took this one after the first read ended
	if c.Offset() != time.Minute {
		t.Fatalf("offset %v after a tick, want 1m", c.Offset())
	}
	sb.set(t0.Add(time.Hour), false)
	ticks <- t0
	ticks <- t0
	if c.Offset() != time.Hour {
		t.Fatalf("offset %v after the clock moved, want 1h", c.Offset())
	}
	cancel()
	<-done
}
