package deliveries_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/deliveries"
	"refshop/web/sandbox/store"
)

func newEngine(t *testing.T, p deliveries.Provider) (*deliveries.Engine, *clock.Manual) {
	t.Helper()
	db, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := deliveries.New(db, slog.New(slog.DiscardHandler), c.Now, func(string) deliveries.Fault { return deliveries.Fault{} })
	e.Register("test", p)
	return e, c
}

// An attempt the receiver does not answer within the provider's timeout
// fails and is retried per the backoff; so does a redirect, which is not
// followed.
func TestTimeoutAndRedirectAreFailures(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			select { // answers only once the test is over
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer rc.Close()
	defer close(release)
	e, c := newEngine(t, deliveries.Provider{Backoff: func(int) time.Duration { return time.Minute },
		RetryFor: time.Hour, Timeout: time.Second}) // long enough for a busy machine to connect; the slow receiver never answers
	for _, path := range []string{"/slow", "/redirect"} {
		if _, err := e.Enqueue(deliveries.Delivery{Provider: "test", Operation: "test.delivery", Event: "e", Ref: path,
			Target: "t", URL: rc.URL + path, Body: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	e.RunDue(context.Background())
	list := e.List(0)
	if len(list) != 2 {
		t.Fatalf("%d deliveries", len(list))
	}
	slow, redirect := list[0], list[1]
	if slow.State != deliveries.Pending || len(slow.Attempts) != 1 || !strings.HasPrefix(slow.Attempts[0].Error, "timeout") {
		t.Errorf("slow: %+v", slow)
	}
	if redirect.State != deliveries.Pending || len(redirect.Attempts) != 1 || redirect.Attempts[0].Status != http.StatusFound {
		t.Errorf("redirect: %+v", redirect)
	}
	if want := c.Now().Add(time.Minute); slow.NextAt == nil || !slow.NextAt.Equal(want) {
		t.Errorf("next attempt %v, want %v", slow.NextAt, want)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests: the redirect was followed", hits.Load())
	}
}

// A receiver that cannot be reached leaves an attempt whose error does not
// repeat the URL: the URL may carry the receiver's secret (Klarna's
// one-time callback token), and the log shows it only redacted.
func TestAnUnreachableReceiverLeavesNoURLInTheError(t *testing.T) {
	rc := httptest.NewServer(http.NotFoundHandler())
	addr := rc.URL
	rc.Close() // nobody listens there now
	e, _ := newEngine(t, deliveries.Provider{Backoff: func(int) time.Duration { return time.Minute }, RetryFor: time.Hour,
		RedactURL: func(u string) string { return strings.ReplaceAll(u, "SECRET-TOKEN-1", "[redacted]") }})
	if _, err := e.Enqueue(deliveries.Delivery{Provider: "test", Operation: "test.delivery", Event: "e", Ref: "r",
		Target: "t", URL: addr + "/callback?token=SECRET-TOKEN-1", Body: "{}"}); err != nil {
		t.Fatal(err)
	}
	e.RunDue(context.Background())
	d := e.List(0)[0]
	if len(d.Attempts) != 1 || !strings.HasPrefix(d.Attempts[0].Error, "no answer: ") {
		t.Fatalf("attempts %+v", d.Attempts)
	}
	if strings.Contains(d.Attempts[0].Error, "SECRET-TOKEN-1") || strings.Contains(d.URL, "SECRET-TOKEN-1") {
		t.Errorf("the token is in the log: %q %q", d.Attempts[0].Error, d.URL)
	}
}
