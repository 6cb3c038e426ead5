package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/outbound"
)

// spy notes every credential the shop sends or receives, unredacted, under
// the recorder: what must not reach the database.
type spy struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (s *spy) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		s.seen = append(s.seen, cred)
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		s.seen = append(s.seen, tok)
	}
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

func (s *spy) credentials() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// recordedVippsShop is a Vipps shop whose outbound client records into its
// store, as cmd/shop wires it, with a spy under the recorder.
func recordedVippsShop(t *testing.T, use ...func(*Deps)) (*vippsShop, *outbound.Recorder, *spy) {
	t.Helper()
	var rec *outbound.Recorder
	sp := &spy{next: http.DefaultTransport}
	v := newVippsShopWith(t, append([]func(*Deps){recordInStore(t, sp, &rec)}, use...)...)
	return v, rec, sp
}

// recordInStore makes a shop record its exchanges into its store as
// cmd/shop wires it: its own calls, through next (nil:
// http.DefaultTransport), and the providers' calls to it (Deps.Recorder).
// *rec is the recorder, closed when the test ends.
func recordInStore(t *testing.T, next http.RoundTripper, rec **outbound.Recorder) func(*Deps) {
	return func(d *Deps) {
		if next == nil {
			next = http.DefaultTransport
		}
		// Stamped on the wall clock: the test app's clock stands still, and
		// the order of the stamps is what is checked.
		*rec = outbound.NewRecorder(ExchangeSink(d.Store), d.Log, time.Now)
		t.Cleanup((*rec).Close)
		d.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &outbound.Recording{Next: next, Rec: *rec}}
		d.Recorder = *rec
	}
}

// A Vipps checkout stores its exchanges under its order and its account, in
// time order, with the idempotency keys, a retry after a 503 and why, and
// no credential in any column.
func TestAVippsPaymentsExchangesAreStoredUnderItsOrder(t *testing.T) {
	v, rec, sp := recordedVippsShop(t)
	b := v.browser(t)
	b.signUp("ann@example.com")
	v.fault(t, "vipps.create_payment", http.StatusServiceUnavailable, 1)
	landing := v.startPayment(t, b)
	back := v.answer(t, landing, "approve")
	if p := b.get(back); p.status != http.StatusSeeOther {
		t.Fatalf("return: %d", p.status)
	}
	id := orderIDFrom(t, back)
	if flash, _ := v.adminBrowser(t).act(t, id, "capture", ship); !strings.Contains(flash, "captured") {
		t.Fatalf("ship: %q", flash)
	}
	o := v.order(t, id)
	if o.Status != db.StatusCaptured {
		t.Fatalf("order %s", o.Status)
	}
	vp := v.payment(t, o.ID)
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	xs, _, err := v.Store.ExchangesByOrder(t.Context(), o.ID, orderExchangeLimit)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, x := range xs {
		got = append(got, x.Operation)
		if x.Provider != "vipps" || x.UserID != o.UserID || x.RequestID == "" || x.URL == "" || x.Status == 0 {
			t.Errorf("exchange %d: %+v", i, x)
		}
		if i > 0 && x.StartedAt.Before(xs[i-1].StartedAt) {
			t.Errorf("exchange %d (%s) started before the one listed before it", i, x.Operation)
		}
	}
	want := []string{"accesstoken", "create_payment", "create_payment", "get_payment", "events", "capture"}
	if !strings.HasPrefix(strings.Join(got, " "), strings.Join(want, " ")) {
		t.Fatalf("exchanges %v, want %v first", got, want)
	}
	first, retry := xs[1], xs[2]
	if first.Status != 503 || first.Try != 1 || first.RetryReason != "" || retry.Status/100 != 2 || retry.Try != 2 || retry.RetryReason != "503" {
		t.Errorf("create: try %d %d %q, then try %d %d %q; want try 1 503, then try 2 after 503",
			first.Try, first.Status, first.RetryReason, retry.Try, retry.Status, retry.RetryReason)
	}
	if key := v.shipKey(t, id); first.IdempotencyKey != vp.CreateKey || retry.IdempotencyKey != vp.CreateKey || xs[5].IdempotencyKey != key {
		t.Errorf("idempotency keys %q %q %q, want the create key twice, then the capture key %q",
			first.IdempotencyKey, retry.IdempotencyKey, xs[5].IdempotencyKey, key)
	}
	// Every provider call the checkout made is there: none went unrecorded.
	if n := v.st.Calls("vipps.create_payment"); n != 2 {
		t.Errorf("the sandbox counted %d create calls", n)
	}
	if mine, err := v.Store.ExchangesByUser(t.Context(), o.UserID, 100); err != nil || len(mine) != len(xs) {
		t.Errorf("the account lists %d exchanges (%v), its order %d", len(mine), err, len(xs))
	}

	// No credential in any column of any row.
	secrets := sp.credentials()
	if len(secrets) < 2 {
		t.Fatalf("the spy saw %d credentials", len(secrets))
	}
	secrets = append(secrets, landing.Query().Get("token"))
	for _, name := range []string{"VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "KLARNA_PASSWORD", "KLARNA_NA_PASSWORD",
		"KLARNA_CLIENT_SECRET", "ALTPAY_CLIENT_SECRET"} {
		secrets = append(secrets, config.Defaults[name])
	}
	scanExchanges(t, v.DB, secrets)
}

// scanExchanges fails the test when any column of any stored exchange holds
// one of secrets.
func scanExchanges(t *testing.T, d *db.DB, secrets []string) {
	t.Helper()
	rows, err := d.Read.Query(`SELECT * FROM exchanges`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		n++
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, val := range vals {
			var s string
			switch v := val.(type) {
			case string:
				s = v
			case []byte:
				s = string(v)
			default:
				continue
			}
			for _, sec := range secrets {
				if sec != "" && strings.Contains(s, sec) {
					t.Errorf("row %d, column %s holds a secret (…%s): %s", n, cols[i], sec[len(sec)-4:], s)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no exchanges stored")
	}
}

// The background prunes exchanges past the retention, by the shop's clock,
// as the sweep named "exchanges".
func TestOldExchangesArePruned(t *testing.T) {
	ticks := newManualTicks()
	app := newTestApp(t, func(d *Deps) { d.Tick = ticks.tick; d.Config.ExchangeRetention = 24 * time.Hour })
	now := app.clock.Now()
	for _, at := range []time.Time{now.Add(-25 * time.Hour), now.Add(-23 * time.Hour)} {
		if err := app.Store.RecordExchange(t.Context(), db.Exchange{StartedAt: at, Provider: "vipps", Method: "GET", URL: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		app.RunBackground(ctx)
		close(stopped)
	}()
	// The first pass runs at start; a second tick is taken only once it is done.
	ticks.send("exchanges")
	var left int
	app.DB.Read.QueryRow(`SELECT count(*) FROM exchanges`).Scan(&left)
	if left != 1 {
		t.Errorf("%d exchanges left, want the one within the day", left)
	}
	app.clock.Advance(2 * time.Hour)
	ticks.send("exchanges")
	ticks.send("exchanges")
	app.DB.Read.QueryRow(`SELECT count(*) FROM exchanges`).Scan(&left)
	if left != 0 {
		t.Errorf("%d exchanges left two hours later, want none", left)
	}
	stop()
	<-stopped
}
