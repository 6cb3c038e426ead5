package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/store"
)

// newServer is a sandbox with one fake provider operation, "demo.op", whose
// error shape is {"demo_error": status}.
func newServer(t *testing.T) (*State, *httptest.Server, *clock.Manual) {
	base := clock.NewManual(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	st := New(Config{}, base)
	st.Operations("demo.op")
	st.ErrorShape("demo", func(w http.ResponseWriter, r *http.Request, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]int{"demo_error": status})
	})
	mux := http.NewServeMux()
	st.Routes(mux)
	mux.HandleFunc("POST /demo/op", func(w http.ResponseWriter, r *http.Request) {
		if st.Hit(w, r, "demo.op") {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(st.Wrap(mux))
	t.Cleanup(srv.Close)
	return st, srv, base
}

func post(t *testing.T, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	return send(t, "POST", url, body, "Content-Type", "application/json")
}

func TestStateAndSettings(t *testing.T) {
	_, srv, _ := newServer(t)
	res, err := http.Get(srv.URL + "/control/state")
	if err != nil {
		t.Fatal(err)
	}
	var v StateView
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if v.Settings.KlarnaAccessTokenTTL.D() != 5*time.Minute || v.Settings.KlarnaRefreshTokenTTL.D() != 1440*time.Hour ||
		v.Settings.VippsAccessTokenTTL.D() != time.Hour || v.Settings.AltpayCheckoutTokenTTL.D() != 15*time.Minute {
		t.Fatalf("defaults = %+v", v.Settings)
	}
	if _, ok := v.Calls["demo.op"]; !ok {
		t.Fatal("calls does not list declared operations")
	}

	res2, body := post(t, srv.URL+"/control/settings", `{"vipps_access_token_ttl": "90s", "klarna_rotate_customer_tokens": true, "klarna_auto_consent": "a@b.c"}`)
	if res2.StatusCode != 200 {
		t.Fatalf("settings: %d %v", res2.StatusCode, body)
	}
	settings := body["settings"].(map[string]any)
	if settings["vipps_access_token_ttl"] != "1m30s" || settings["klarna_rotate_customer_tokens"] != true || settings["klarna_auto_consent"] != "a@b.c" {
		t.Fatalf("new settings = %v", settings)
	}

	for _, bad := range []string{
		`{"no_such_setting": "1m"}`, `{"vipps_access_token_ttl": 90}`, `{"vipps_access_token_ttl": "soon"}`,
		`{"vipps_access_token_ttl": "0s"}`, `{"klarna_rotate_customer_tokens": "yes"}`, `{}`, `not json`,
	} {
		res, body := post(t, srv.URL+"/control/settings", bad)
		if res.StatusCode != 400 || body["error"] == "" {
			t.Errorf("%s: got %d %v, want 400 with an error", bad, res.StatusCode, body)
		}
	}
	// A refused change leaves the settings as they were.
	_, body = post(t, srv.URL+"/control/settings", `{"altpay_oauth_token_ttl": "2m"}`)
	if body["settings"].(map[string]any)["vipps_access_token_ttl"] != "1m30s" {
		t.Fatal("a refused change altered the settings")
	}
}

func TestClockOnlyMovesForward(t *testing.T) {
	st, srv, base := newServer(t)
	before := st.Now()
	res, _ := post(t, srv.URL+"/control/clock", `{"advance": "10m"}`)
	if res.StatusCode != 200 || st.Now().Sub(before) != 10*time.Minute {
		t.Fatalf("advance: %d, moved %v", res.StatusCode, st.Now().Sub(before))
	}
	base.Advance(time.Minute) // real time passing still counts
	if st.Now().Sub(before) != 11*time.Minute {
		t.Fatal("the sandbox clock does not follow its base clock")
	}
	for _, bad := range []string{`{"advance": "-5m"}`, `{"advance": "0s"}`, `{}`, `{"advance": "later"}`} {
		if res, _ := post(t, srv.URL+"/control/clock", bad); res.StatusCode != 400 {
			t.Errorf("%s: got %d, want 400", bad, res.StatusCode)
		}
	}
}

func TestFaultsUseTheProviderShapeAndRunOut(t *testing.T) {
	st, srv, _ := newServer(t)
	res, body := post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 503, "times": 2}`)
	if res.StatusCode != 200 {
		t.Fatalf("fault: %d %v", res.StatusCode, body)
	}
	for i := 0; i < 2; i++ {
		res, body := post(t, srv.URL+"/demo/op", `{}`)
		if res.StatusCode != 503 || body["demo_error"] != float64(503) {
			t.Fatalf("call %d: %d %v, want the provider's 503", i+1, res.StatusCode, body)
		}
	}
	if res, _ := post(t, srv.URL+"/demo/op", `{}`); res.StatusCode != 204 {
		t.Fatalf("third call: %d, want the fault to have run out", res.StatusCode)
	}
	if st.Calls("demo.op") != 3 {
		t.Fatalf("calls = %d, want 3", st.Calls("demo.op"))
	}
	for _, bad := range []string{
		`{"operation": "nope.op", "status": 500}`, `{"operation": "demo.op", "status": 200}`,
		`{"operation": "demo.op", "status": 500, "times": 0}`, `{"operation": "demo.op", "delay": "-1s"}`,
	} {
		if res, _ := post(t, srv.URL+"/control/faults", bad); res.StatusCode != 400 {
			t.Errorf("%s: got %d, want 400", bad, res.StatusCode)
		}
	}
}

func TestDelayOnlyFault(t *testing.T) {
	_, srv, _ := newServer(t)
	post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 0, "delay": "50ms"}`)
	start := time.Now()
	res, _ := post(t, srv.URL+"/demo/op", `{}`)
	if res.StatusCode != 204 {
		t.Fatalf("delay-only fault changed the answer: %d", res.StatusCode)
	}
	// A lower bound only: the delay happened. (No upper bound: a busy machine is slow.)
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("the delay was not applied")
	}
}

func TestResetPutsEverythingBack(t *testing.T) {
	st, srv, _ := newServer(t)
	post(t, srv.URL+"/control/settings", `{"vipps_access_token_ttl": "90s"}`)
	post(t, srv.URL+"/control/clock", `{"advance": "1h"}`)
	post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 500, "times": 5}`)
	post(t, srv.URL+"/demo/op", `{}`)
	before := st.Now()
	res, body := post(t, srv.URL+"/control/reset", ``)
	if res.StatusCode != 200 {
		t.Fatalf("reset: %d %v", res.StatusCode, body)
	}
	if st.Settings() != DefaultSettings() || st.Calls("demo.op") != 0 || len(st.View().Faults) != 0 {
		t.Fatalf("after reset: %+v", st.View())
	}
	if !st.Now().Before(before) {
		t.Fatal("reset did not take the clock back")
	}
	if res, _ := post(t, srv.URL+"/demo/op", `{}`); res.StatusCode != 204 {
		t.Fatal("a fault survived the reset")
	}
}

func TestResetRunsProviderHooks(t *testing.T) {
	st := New(Config{}, nil)
	dropped := 0
	st.OnReset(func() { dropped++ })
	st.Reset()
	if dropped != 1 {
		t.Fatalf("reset hook ran %d times, want 1", dropped)
	}
}

func TestOperationShapeOverridesTheProviderShape(t *testing.T) {
	st, srv, _ := newServer(t)
	st.Operations("demo.oauth")
	st.ErrorShape("demo.oauth", func(w http.ResponseWriter, r *http.Request, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "server_error"})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /demo/oauth", func(w http.ResponseWriter, r *http.Request) {
		if st.Hit(w, r, "demo.oauth") {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	oauth := httptest.NewServer(mux)
	defer oauth.Close()
	post(t, srv.URL+"/control/faults", `{"operation": "demo.oauth", "status": 500}`)
	post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 500}`)
	if res, body := post(t, oauth.URL+"/demo/oauth", `{}`); res.StatusCode != 500 || body["error"] != "server_error" {
		t.Fatalf("operation shape: %d %v", res.StatusCode, body)
	}
	if res, body := post(t, srv.URL+"/demo/op", `{}`); res.StatusCode != 500 || body["demo_error"] != float64(500) {
		t.Fatalf("provider shape: %d %v", res.StatusCode, body)
	}
}

// A lose_answer fault lets the operation run, then closes the connection
// without an answer; the next call is answered again.
func TestLoseAnswerFaultRunsTheOperationAndDropsTheAnswer(t *testing.T) {
	st := New(Config{}, nil)
	st.Operations("demo.op")
	var done atomic.Int32
	mux := http.NewServeMux()
	st.Routes(mux)
	mux.HandleFunc("POST /demo/op", func(w http.ResponseWriter, r *http.Request) {
		if st.Hit(w, r, "demo.op") {
			return
		}
		done.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"made"}`))
	})
	srv := httptest.NewServer(st.Wrap(mux))
	t.Cleanup(srv.Close)
	if res, body := post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "lose_answer": true}`); res.StatusCode != 200 {
		t.Fatalf("fault: %d %v", res.StatusCode, body)
	}
	res, err := http.Post(srv.URL+"/demo/op", "application/json", strings.NewReader(`{}`))
	if err == nil {
		res.Body.Close()
		t.Fatalf("an answer arrived: %d", res.StatusCode)
	}
	if done.Load() != 1 || st.Calls("demo.op") != 1 {
		t.Fatalf("the operation ran %d times (%d calls), want once", done.Load(), st.Calls("demo.op"))
	}
	if res, body := post(t, srv.URL+"/demo/op", `{}`); res.StatusCode != 201 || body["id"] != "made" {
		t.Fatalf("the next call: %d %v", res.StatusCode, body)
	}
	if res, _ := post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "lose_answer": true, "status": 500}`); res.StatusCode != 400 {
		t.Errorf("lose_answer with a status: %d, want 400", res.StatusCode)
	}
}

// send makes one request to the sandbox with the given headers.
func send(t *testing.T, method, url, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

// A page on another site can post a "simple" request (text/plain, no
// preflight) to the control API from a victim's browser. It is refused and
// changes nothing; the same change sent as JSON by a tool (curl sends no
// Origin) works.
func TestControlRefusesCrossSiteWrites(t *testing.T) {
	st, srv, _ := newServer(t)
	evil := `{"klarna_auto_consent": "attacker@example.com"}`
	for _, h := range [][]string{
		{"Content-Type", "text/plain", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Content-Type", "application/json", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"},
		// A browser that sends no Sec-Fetch-Site still sends Origin.
		{"Content-Type", "text/plain", "Origin", "http://evil.example"},
		// Another port on localhost is another origin (same site).
		{"Content-Type", "application/json", "Origin", "http://localhost:9999", "Sec-Fetch-Site", "same-site"},
	} {
		res, body := send(t, "POST", srv.URL+"/control/settings", evil, h...)
		if res.StatusCode != http.StatusForbidden || body["error"] == "" {
			t.Errorf("%v: %d %v, want 403 with an error", h, res.StatusCode, body)
		}
	}
	if got := st.Settings().KlarnaAutoConsent; got != "" {
		t.Fatalf("a refused request set klarna_auto_consent to %q", got)
	}
	for _, path := range []string{"/control/reset", "/control/clock", "/control/faults"} {
		if res, _ := send(t, "POST", srv.URL+path, `{}`, "Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, res.StatusCode)
		}
	}
	if res, _ := send(t, "DELETE", srv.URL+"/control/faults/demo.op", "", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site DELETE: %d, want 403", res.StatusCode)
	}

	res, body := send(t, "POST", srv.URL+"/control/settings", evil, "Content-Type", "application/json")
	if res.StatusCode != 200 || st.Settings().KlarnaAutoConsent != "attacker@example.com" {
		t.Fatalf("JSON from a tool: %d %v", res.StatusCode, body)
	}
}

// The control API takes only JSON: a body in any other type is 415, and
// changes nothing. A POST with no body at all (curl -X POST .../reset) needs
// no type.
func TestControlTakesOnlyJSON(t *testing.T) {
	st, srv, _ := newServer(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		res, body := send(t, "POST", srv.URL+"/control/settings", `{"vipps_access_token_ttl": "90s"}`, "Content-Type", ct)
		if res.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(fmt.Sprint(body["error"]), "application/json") {
			t.Errorf("Content-Type %q: %d %v, want 415 naming application/json", ct, res.StatusCode, body)
		}
	}
	if st.Settings() != DefaultSettings() {
		t.Fatalf("a refused body changed the settings: %+v", st.Settings())
	}
	if res, body := send(t, "POST", srv.URL+"/control/settings", `{"vipps_access_token_ttl": "90s"}`, "Content-Type", "application/json; charset=utf-8"); res.StatusCode != 200 {
		t.Fatalf("JSON with a charset: %d %v", res.StatusCode, body)
	}
	if res, body := send(t, "POST", srv.URL+"/control/reset", ""); res.StatusCode != 200 {
		t.Fatalf("reset with no body: %d %v", res.StatusCode, body)
	}
}

func TestDeleteFaultsClearsOneOperation(t *testing.T) {
	st, srv, _ := newServer(t)
	st.Operations("demo.other")
	post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 503, "times": 3}`)
	post(t, srv.URL+"/control/faults", `{"operation": "demo.other", "status": 500}`)
	res, body := send(t, "DELETE", srv.URL+"/control/faults/demo.op", "")
	if res.StatusCode != 200 {
		t.Fatalf("delete: %d %v", res.StatusCode, body)
	}
	faults := st.View().Faults
	if _, ok := faults["demo.op"]; ok {
		t.Fatalf("demo.op's fault is still pending: %+v", faults)
	}
	if _, ok := faults["demo.other"]; !ok {
		t.Fatal("deleting demo.op's faults cleared demo.other's")
	}
	if res, _ := post(t, srv.URL+"/demo/op", `{}`); res.StatusCode != 204 {
		t.Fatalf("the next call: %d, want no fault", res.StatusCode)
	}
	// Nothing pending is fine; an operation the sandbox does not have is not.
	if res, _ := send(t, "DELETE", srv.URL+"/control/faults/demo.op", ""); res.StatusCode != 200 {
		t.Fatalf("delete with nothing pending: %d", res.StatusCode)
	}
	res, body = send(t, "DELETE", srv.URL+"/control/faults/nope.op", "")
	if res.StatusCode != 400 || !strings.Contains(fmt.Sprint(body["error"]), "demo.op") {
		t.Fatalf("unknown operation: %d %v, want 400 listing the known ones", res.StatusCode, body)
	}
}

// counter is a persisted part holding one number.
type counter struct {
	mu     sync.Mutex
	n      int
	dumped int
}

func (c *counter) Dump() []store.Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dumped++
	return []store.Object{{Kind: "count", ID: "n", Value: c.n}}
}

func (c *counter) Restore(l store.Loaded) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	store.One(l, "count", "n", &c.n, &err)
	return err
}

// persistedServer serves two persisted parts, a and b, each with a route
// that adds one to its count; their state lives in dir.
func persistedServer(t *testing.T, dir string) (*State, *httptest.Server, *counter, *counter) {
	t.Helper()
	st := New(Config{}, nil)
	mux := http.NewServeMux()
	st.Routes(mux)
	a, b := &counter{}, &counter{}
	for name, c := range map[string]*counter{"a": a, "b": b} {
		st.Persist(name, c, mux).HandleFunc("POST /"+name, func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
		})
	}
	db, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(context.Background(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(st.Wrap(mux))
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return st, srv, a, b
}

// A request saves the parts whose routes it reached, and only those (a save
// encodes a whole part); what was saved comes back on the next start.
func TestRequestsSaveThePartsTheyReach(t *testing.T) {
	dir := t.TempDir()
	_, srv, a, b := persistedServer(t, dir)
	for range 2 {
		post(t, srv.URL+"/a", `{}`)
	}
	post(t, srv.URL+"/b", `{}`)
	dumps := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.dumped
	}
	bDumps := dumps()
	post(t, srv.URL+"/a", `{}`)
	if dumps() != bDumps {
		t.Errorf("a request to a dumped b too")
	}
	srv.Close()

	_, _, a2, b2 := persistedServer(t, dir)
	if a2.n != 3 || b2.n != 1 {
		t.Fatalf("after a restart a=%d b=%d, want 3 and 1 (before: %d %d)", a2.n, b2.n, a.n, b.n)
	}
}

// slowOp serves demo.op as a POST with a body and reports on ran whether
// the operation ran (true) or Hit ended the call (false).
func slowOp(t *testing.T) (*httptest.Server, chan bool) {
	st, srv, _ := newServer(t)
	ran := make(chan bool, 1)
	mux := http.NewServeMux()
	st.Routes(mux)
	mux.HandleFunc("POST /demo/op", func(w http.ResponseWriter, r *http.Request) {
		if st.Hit(w, r, "demo.op") {
			ran <- false
			return
		}
		var body map[string]any
		ran <- json.NewDecoder(r.Body).Decode(&body) == nil && body["a"] == 1.0
	})
	srv.Config.Handler = st.Wrap(mux)
	return srv, ran
}

// hangUp posts a body to demo.op and gives up after 20ms.
func hangUp(t *testing.T, srv *httptest.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/demo/op", strings.NewReader(`{"a": 1}`))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the delayed call answered before the caller gave up")
	}
}

// A caller that hangs up during a delay ends the call: the operation does
// not run, also for a POST whose body the handler has not read yet (net/http
// notices the hang-up only once the body is read).
func TestADelayedOperationDoesNotRunAfterItsCallerHungUp(t *testing.T) {
	srv, ran := slowOp(t)
	post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "delay": "300ms"}`)
	hangUp(t, srv)
	if <-ran {
		t.Fatal("the operation ran after its caller hung up")
	}
}

// commit_late: the operation runs after the delay although its caller hung
// up, with the body it was sent, as a slow provider commits a request its
// caller gave up on.
func TestCommitLateRunsTheOperationAfterItsCallerHungUp(t *testing.T) {
	srv, ran := slowOp(t)
	res, v := post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "delay": "300ms", "commit_late": true}`)
	if res.StatusCode != http.StatusOK || !strings.Contains(fmt.Sprint(v["faults"]), "commit_late:true") {
		t.Fatalf("commit_late fault: %d %v", res.StatusCode, v)
	}
	hangUp(t, srv)
	if !<-ran {
		t.Fatal("the operation did not run (with its body) after its caller hung up")
	}
	for _, body := range []string{`{"operation": "demo.op", "commit_late": true}`, `{"operation": "demo.op", "delay": "1s", "status": 503, "commit_late": true}`} {
		if res, _ := post(t, srv.URL+"/control/faults", body); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, res.StatusCode)
		}
	}
}

// The sandbox's log tells what the caller's may not: a call repeated with
// the same idempotency key (a retry), and each fault as it hits.
func TestTheLogTellsRetriesAndFaults(t *testing.T) {
	st := New(Config{}, nil)
	var logs bytes.Buffer
	st.log = slog.New(slog.NewTextHandler(&logs, nil))
	st.Operations("demo.op")
	mux := http.NewServeMux()
	st.Routes(mux)
	mux.HandleFunc("POST /demo/op", func(w http.ResponseWriter, r *http.Request) {
		if st.Hit(w, r, "demo.op") {
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	srv := httptest.NewServer(st.Wrap(mux))
	t.Cleanup(srv.Close)
	call := func(key string) {
		req, _ := http.NewRequest("POST", srv.URL+"/demo/op", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if res, body := post(t, srv.URL+"/control/faults", `{"operation": "demo.op", "status": 503}`); res.StatusCode != 200 {
		t.Fatalf("fault: %d %v", res.StatusCode, body)
	}
	call("key-1") // the 503
	call("key-1") // its retry
	call("key-2")
	log := logs.String()
	if strings.Count(log, "fault applied") != 1 || !strings.Contains(log, "status=503") {
		t.Errorf("the fault is not logged once:\n%s", log)
	}
	if strings.Count(log, "the same idempotency key again") != 1 || !strings.Contains(log, "idempotency_key=key-1") {
		t.Errorf("the retry is not logged once:\n%s", log)
	}
}
