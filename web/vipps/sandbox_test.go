package vipps_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
	"refshop/web/vipps"
)

// These tests run the client against the embedded sandbox, which implements
// the same documented contract on its own.

const (
	clientID  = "5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b"
	clientSec = "sandbox-vipps-client-secret=="
	subKey    = "0f14ebcab0ec4b29ae0cb90d91b4a84a"
	msn       = "123456"
	shopURL   = "http://localhost:18180"
)

type harness struct {
	t       *testing.T
	url     string
	st      *control.State
	base    *clock.Manual // the clock under both the sandbox and the client
	client  *vipps.Client
	sb      *sandboxtest.Server
	logs    *sandboxtest.SyncBuffer
	rec     *recorder
	sleeps  []time.Duration
	sleepMu sync.Mutex
}

// recorder keeps every request's headers and can fail the next calls to a
// path with a network error.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
	drop map[string]int // path -> calls to fail before reaching the server
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	fail := r.drop[req.URL.Path] > 0
	if fail {
		r.drop[req.URL.Path]--
	}
	r.mu.Unlock()
	if fail {
		return nil, errors.New("dial tcp: connection refused")
	}
	return r.next.RoundTrip(req)
}

func (r *recorder) requests(path string) []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*http.Request
	for _, q := range r.reqs {
		if q.URL.Path == path {
			out = append(out, q)
		}
	}
	return out
}

func newHarness(t *testing.T, mutate ...func(*vipps.Config)) *harness {
	t.Helper()
	h := &harness{t: t, base: clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	var log *slog.Logger
	log, h.logs = sandboxtest.Log()
	h.sb = sandboxtest.Start(t, control.Config{
		ShopBaseURL: shopURL,
		Vipps:       control.VippsConfig{Enabled: true, ClientID: clientID, ClientSecret: clientSec, SubscriptionKey: subKey, MSN: msn},
	}, h.base)
	h.st, h.url = h.sb.State, h.sb.URL

	hc := outbound.NewClient(log, 5*time.Second, nil)
	h.rec = &recorder{next: hc.Transport, drop: map[string]int{}}
	hc.Transport = h.rec
	cfg := vipps.Config{
		BaseURL: h.url + "/vipps", ClientID: clientID, ClientSecret: secret.New(clientSec),
		SubscriptionKey: secret.New(subKey), MSN: msn, HTTP: hc, Clock: h.base, Log: log,
		Sleep: func(_ context.Context, d time.Duration) error {
			h.sleepMu.Lock()
			h.sleeps = append(h.sleeps, d)
			h.sleepMu.Unlock()
			return nil
		},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h.client = vipps.New(cfg)
	return h
}

func (h *harness) create(ref string) vipps.CreatePaymentResponse {
	h.t.Helper()
	res, err := h.client.CreatePayment(context.Background(), createRequest(ref), ref+"-create")
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return res
}

func createRequest(ref string) vipps.CreatePaymentRequest {
	return vipps.CreatePaymentRequest{
		Amount: vipps.Amount{Currency: "NOK", Value: 4980}, Customer: &vipps.Customer{PhoneNumber: "4791234567"},
		PaymentMethod: vipps.PaymentMethod{Type: "WALLET"}, Reference: ref, UserFlow: "WEB_REDIRECT",
		ReturnURL: shopURL + "/checkout/vipps/return?order=x", PaymentDescription: "Order at Refshop",
	}
}

func TestPaymentLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ref, _ := vipps.Reference("abcdefghijklmnopqrstuvwxyz")
	cr := h.create(ref)
	if cr.Reference != ref || !strings.Contains(cr.RedirectURL, "/vipps/landing?token=") {
		t.Fatalf("create: %+v", cr)
	}
	if _, err := h.client.Capture(ctx, ref, vipps.Amount{"NOK", 4980}, ref+"-capture"); !vipps.IsKind(err, vipps.KindState) {
		t.Fatalf("capture before approval: %v", err)
	}
	if err := h.client.ForceApprove(ctx, ref, "4791234567"); err != nil {
		t.Fatal(err)
	}
	p, err := h.client.GetPayment(ctx, ref)
	if err != nil || p.State != vipps.StateAuthorized || p.Aggregate.AuthorizedAmount.Value != 4980 {
		t.Fatalf("get: %+v %v", p, err)
	}
	m, err := h.client.Capture(ctx, ref, p.Amount, ref+"-capture")
	if err != nil || m.Aggregate.CapturedAmount.Value != 4980 {
		t.Fatalf("capture: %+v %v", m, err)
	}
	m, err = h.client.Refund(ctx, ref, vipps.Amount{"NOK", 980}, ref+"-refund-1")
	if err != nil || m.Aggregate.RefundedAmount.Value != 980 {
		t.Fatalf("refund: %+v %v", m, err)
	}
	ev, err := h.client.Events(ctx, ref)
	var names []string
	for _, e := range ev {
		names = append(names, e.Name)
	}
	if err != nil || strings.Join(names, " ") != "CREATED AUTHORIZED CAPTURED REFUNDED" {
		t.Fatalf("events: %v %v", names, err)
	}
	if *ev[2].IdempotencyKey != ref+"-capture" {
		t.Errorf("capture event key %v", *ev[2].IdempotencyKey)
	}

	ref2, _ := vipps.Reference("zyxwvutsrqponmlkjihgfedcba")
	h.create(ref2)
	m, err = h.client.Cancel(ctx, ref2, ref2+"-cancel")
	if err != nil || m.State != vipps.StateTerminated {
		t.Fatalf("cancel: %+v %v", m, err)
	}
	// Cancelled before authorization: the whole amount counts as cancelled,
	// as the documented example answers (operations/cancel).
	if m.Aggregate.CancelledAmount != (vipps.Amount{"NOK", 4980}) || m.Aggregate.AuthorizedAmount.Value != 0 {
		t.Errorf("aggregate after cancel before authorization: %+v", m.Aggregate)
	}
}

// The sandbox's refusals of a create the sales unit cannot take reach the
// shop as one *vipps.Error with the documented status, ErrorCode, title and
// traceId: a currency not the sales unit's country's (5040), a phone number
// of another market (4070), a malformed one (400 naming the field, no code).
func TestSalesUnitRefusalsSurfaceWithTheirDocumentedCodes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cases := []struct {
		name, currency, phone string
		kind                  vipps.Kind
		code, title, field    string
	}{
		{"EUR at a Norwegian sales unit", "EUR", "4791234567", vipps.KindState, vipps.CodeInvalidCurrency, "Invalid currency for merchant", ""},
		{"DKK at a Norwegian sales unit", "DKK", "4791234567", vipps.KindState, vipps.CodeInvalidCurrency, "Invalid currency for merchant", ""},
		{"a Danish number", "NOK", "4512345678", vipps.KindState, vipps.CodeInvalidPhoneNumber, "Invalid phone number", ""},
		{"a Norwegian number one digit long", "NOK", "479123456789", vipps.KindState, vipps.CodeInvalidPhoneNumber, "Invalid phone number", ""},
		{"not an MSISDN", "NOK", "+47 912 34 567", vipps.KindInvalid, "", "Bad Request", "customer.phoneNumber"},
	}
	for i, c := range cases {
		req := createRequest(fmt.Sprintf("refshop-refused-%04d", i))
		req.Amount.Currency, req.Customer.PhoneNumber = c.currency, c.phone
		_, err := h.client.CreatePayment(ctx, req, req.Reference+"-create")
		var e *vipps.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v, want a *vipps.Error", c.name, err)
		}
		if e.Status != 400 || e.Kind != c.kind || e.Code() != c.code || e.Problem == nil || e.Problem.Title != c.title || e.TraceID == "" {
			t.Errorf("%s: status %d kind %v code %q problem %+v", c.name, e.Status, e.Kind, e.Code(), e.Problem)
		}
		if c.field != "" && !e.Field(c.field) {
			t.Errorf("%s: extraDetails do not name %s", c.name, c.field)
		}
		if !strings.Contains(err.Error(), c.title) || (c.code != "" && !strings.Contains(err.Error(), "ErrorCode "+c.code)) {
			t.Errorf("%s: the log line %q lacks the title or the code", c.name, err)
		}
	}
	if n := h.st.Calls("vipps.create_payment"); n != len(cases) {
		t.Errorf("%d creates for %d refusals: a refusal is not retried", n, len(cases))
	}
	// The same client at a Danish sales unit: DKK and a Danish number pass.
	h.sb.Control(t, "/control/settings", map[string]any{"vipps_msn_country": "DK"})
	req := createRequest("refshop-refused-dk01")
	req.Amount.Currency, req.Customer.PhoneNumber = "DKK", "4512345678"
	if _, err := h.client.CreatePayment(ctx, req, req.Reference+"-create"); err != nil {
		t.Errorf("DKK at a Danish sales unit: %v", err)
	}
}

func TestEveryCallSendsTheDocumentedHeaders(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-headers-0001"
	h.create(ref)
	if _, err := h.client.GetPayment(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	tok := h.rec.requests("/vipps/accesstoken/get")
	if len(tok) != 1 {
		t.Fatalf("%d token calls", len(tok))
	}
	for name, want := range map[string]string{"client_id": clientID, "client_secret": clientSec, "Ocp-Apim-Subscription-Key": subKey, "Merchant-Serial-Number": msn} {
		if got := tok[0].Header.Get(name); got != want {
			t.Errorf("token call %s = %q", name, got)
		}
	}
	if tok[0].ContentLength > 0 {
		t.Errorf("token call has a body")
	}
	api := append(h.rec.requests("/vipps/epayment/v1/payments"), h.rec.requests("/vipps/epayment/v1/payments/"+ref)...)
	if len(api) != 2 {
		t.Fatalf("%d api calls", len(api))
	}
	for _, q := range append(api, tok...) {
		for _, name := range []string{"Vipps-System-Name", "Vipps-System-Version", "Vipps-System-Plugin-Name", "Vipps-System-Plugin-Version"} {
			if v := q.Header.Get(name); v == "" || len(v) > 30 {
				t.Errorf("%s %s: %s = %q", q.Method, q.URL.Path, name, v)
			}
		}
	}
	for _, q := range api {
		if !strings.HasPrefix(q.Header.Get("Authorization"), "Bearer ey") || q.Header.Get("Ocp-Apim-Subscription-Key") != subKey || q.Header.Get("Merchant-Serial-Number") != msn {
			t.Errorf("%s %s: auth headers %v", q.Method, q.URL.Path, q.Header)
		}
		if q.Header.Get("client_secret") != "" {
			t.Errorf("%s %s sends the client secret", q.Method, q.URL.Path)
		}
	}
	if k := api[0].Header.Get("Idempotency-Key"); k != ref+"-create" {
		t.Errorf("create Idempotency-Key %q", k)
	}
}

func TestOneTokenFetchFor100ConcurrentCallers(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-concurrent-01"
	h.create(ref) // fetches the first token
	// Expire it on both clocks so all 100 callers need a new one at once.
	h.base.Advance(time.Hour)
	before := h.st.Calls("vipps.accesstoken")

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := h.client.GetPayment(context.Background(), ref)
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.st.Calls("vipps.accesstoken") - before; got != 1 {
		t.Errorf("%d token fetches for 100 concurrent callers, want 1", got)
	}
	if got := h.st.Calls("vipps.get_payment"); got != 100 {
		t.Errorf("%d get calls, want 100 (none refused)", got)
	}
}

func TestTokenReusedUntilShortlyBeforeExpiry(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-reuse-000001"
	h.create(ref)
	ctx := context.Background()
	// The default margin is 2 minutes of the test environment's hour.
	h.base.Advance(57*time.Minute + 59*time.Second)
	if _, err := h.client.GetPayment(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if n := h.st.Calls("vipps.accesstoken"); n != 1 {
		t.Fatalf("%d fetches before the margin, want 1", n)
	}
	h.base.Advance(time.Second) // 58 minutes: inside the margin
	if _, err := h.client.GetPayment(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if n := h.st.Calls("vipps.accesstoken"); n != 2 {
		t.Errorf("%d fetches inside the margin, want 2", n)
	}
}

func TestRefetchAfterExpiryMovedBySandboxClock(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-expiry-00001"
	h.create(ref)
	if r := h.st.Settings().VippsAccessTokenTTL.D(); r != time.Hour {
		t.Fatalf("ttl %v", r)
	}
	// Both clocks move: the client sees its token is due and fetches a new
	// one before calling, so the sandbox refuses nothing.
	h.base.Advance(61 * time.Minute)
	if _, err := h.client.GetPayment(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := h.st.Calls("vipps.accesstoken"); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}
	if n := h.st.Calls("vipps.get_payment"); n != 1 {
		t.Errorf("%d get calls, want 1 (no 401 and retry)", n)
	}
}

func TestOneRefetchAndRetryOn401(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-unauth-00001"
	h.create(ref)
	// Only the sandbox clock moves: the client still trusts its token, the
	// sandbox says 401, the client drops it, fetches one and retries once.
	h.st.Clock.Advance(61 * time.Minute)
	p, err := h.client.GetPayment(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != vipps.StateExpired { // ten minutes passed on the sandbox clock too
		t.Errorf("state %s", p.State)
	}
	if n := h.st.Calls("vipps.accesstoken"); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}
	if n := h.st.Calls("vipps.get_payment"); n != 2 {
		t.Errorf("%d get calls, want 2 (the 401 and the retry)", n)
	}
	// The new token is shared from now on.
	if _, err := h.client.GetPayment(context.Background(), ref); err != nil || h.st.Calls("vipps.accesstoken") != 2 {
		t.Errorf("next call: %v, %d fetches", err, h.st.Calls("vipps.accesstoken"))
	}
	// The log tells the token's life: two fetched, the first dropped.
	logs := h.logs.String()
	if n := strings.Count(logs, "vipps: access token fetched"); n != 2 || !strings.Contains(logs, "access token dropped after Vipps refused it (401)") {
		t.Errorf("%d fetched lines, and the drop logged: %v\n%s", n, strings.Contains(logs, "dropped"), logs)
	}
}

func TestA401AfterTheRefetchIsNotRetriedAgain(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-unauth-00002"
	h.create(ref)
	h.st.Clock.Advance(61 * time.Minute)
	// Revoke credentials behind the client's back: the sandbox now refuses
	// every bearer (401 from the fault hook) on get.
	faults(t, h, "vipps.get_payment", 401, 5)
	_, err := h.client.GetPayment(context.Background(), ref)
	var e *vipps.Error
	if !errors.As(err, &e) || e.Kind != vipps.KindAuth || e.Status != 401 {
		t.Fatalf("want a 401 error, got %v", err)
	}
	if n := h.st.Calls("vipps.get_payment"); n != 2 {
		t.Errorf("%d get calls, want 2: one refetch and one retry, no more", n)
	}
	if n := h.st.Calls("vipps.accesstoken"); n != 2 {
		t.Errorf("%d fetches", n)
	}
}

// faults queues a fault through the sandbox's control API.
func faults(t *testing.T, h *harness, op string, status, times int) {
	t.Helper()
	h.sb.Fault(t, op, status, times)
}

func TestRetriesReuseTheIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-retry-000001"
	faults(t, h, "vipps.create_payment", 503, 2)
	if _, err := h.client.CreatePayment(context.Background(), createRequest(ref), ref+"-create"); err != nil {
		t.Fatal(err)
	}
	sent := h.rec.requests("/vipps/epayment/v1/payments")
	if len(sent) != 3 {
		t.Fatalf("%d create requests, want 3 (two 503s, then success)", len(sent))
	}
	for _, q := range sent {
		if k := q.Header.Get("Idempotency-Key"); k != ref+"-create" {
			t.Errorf("Idempotency-Key %q on a retry", k)
		}
	}
	if len(h.sleeps) != 2 || h.sleeps[1] <= h.sleeps[0] {
		t.Errorf("backoff waits %v, want two growing waits", h.sleeps)
	}

	// A network error after the request may have reached Vipps: the retry
	// carries the same key, so Vipps replays instead of creating twice.
	ref2 := "refshop-retry-000002"
	h.rec.mu.Lock()
	h.rec.drop["/vipps/epayment/v1/payments"] = 1
	h.rec.mu.Unlock()
	if _, err := h.client.CreatePayment(context.Background(), createRequest(ref2), ref2+"-create"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.CreatePayment(context.Background(), createRequest(ref2), ref2+"-create"); err != nil {
		t.Fatalf("a later retry of the same attempt with the same key: %v", err)
	}
	ev, _ := h.client.Events(context.Background(), ref2)
	if len(ev) != 1 || *ev[0].IdempotencyKey != ref2+"-create" {
		t.Errorf("events %+v: want one CREATED with the attempt's key", ev)
	}
}

func TestRetriesAreBoundedAndOnlyFor5xx(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-bounded-0001"
	faults(t, h, "vipps.create_payment", 503, 9)
	_, err := h.client.CreatePayment(context.Background(), createRequest(ref), ref+"-create")
	if !vipps.IsKind(err, vipps.KindUnavailable) {
		t.Fatalf("want unavailable, got %v", err)
	}
	if n := h.st.Calls("vipps.create_payment"); n != 3 {
		t.Errorf("%d create calls, want 3", n)
	}

	h2 := newHarness(t)
	faults(t, h2, "vipps.create_payment", 409, 1)
	_, err = h2.client.CreatePayment(context.Background(), createRequest(ref), ref+"-create")
	if !vipps.IsKind(err, vipps.KindConflict) || h2.st.Calls("vipps.create_payment") != 1 {
		t.Errorf("a 4xx is not retried: %v after %d calls", err, h2.st.Calls("vipps.create_payment"))
	}

	h3 := newHarness(t)
	h3.rec.drop["/vipps/accesstoken/get"] = 5
	_, err = h3.client.GetPayment(context.Background(), ref)
	if !vipps.IsKind(err, vipps.KindUnavailable) || len(h3.rec.requests("/vipps/accesstoken/get")) != 3 {
		t.Errorf("token fetch on a dead network: %v after %d tries", err, len(h3.rec.requests("/vipps/accesstoken/get")))
	}
}

func TestProblemErrorsSurfaceWithTheirTraceID(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-problem-0001"
	h.create(ref)
	_, err := h.client.Capture(context.Background(), ref, vipps.Amount{"NOK", 4980}, ref+"-capture")
	var e *vipps.Error
	if !errors.As(err, &e) || e.Problem == nil || e.Code() != "6080" {
		t.Fatalf("want a 6080 problem, got %v", err)
	}
	if !strings.HasPrefix(e.TraceID, "00-") || !strings.Contains(err.Error(), e.TraceID) {
		t.Errorf("traceId %q not in %q", e.TraceID, err)
	}
	if !strings.Contains(h.logs.String(), "trace_id="+e.TraceID) {
		t.Errorf("the log line lacks the traceId:\n%s", h.logs)
	}

	_, err = h.client.CreatePayment(context.Background(), func() vipps.CreatePaymentRequest {
		r := createRequest("refshop-problem-0002")
		r.Customer.PhoneNumber = "12"
		return r
	}(), "refshop-problem-0002-create")
	if !errors.As(err, &e) || e.Kind != vipps.KindInvalid || !e.Field("customer.phoneNumber") {
		t.Fatalf("phone problem: %v", err)
	}
}

func TestWrongCredentialsAreRefusedWithoutLeakingThem(t *testing.T) {
	for name, mutate := range map[string]func(*vipps.Config){
		"client secret":    func(c *vipps.Config) { c.ClientSecret = secret.New("wrong-secret-value-123") },
		"client id":        func(c *vipps.Config) { c.ClientID = "00000000-0000-0000-0000-000000000000" },
		"subscription key": func(c *vipps.Config) { c.SubscriptionKey = secret.New("ffffffffffffffffffffffffffffffff") },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mutate)
			_, err := h.client.GetPayment(context.Background(), "refshop-creds-00001")
			if !vipps.IsKind(err, vipps.KindAuth) {
				t.Fatalf("want an auth error, got %v", err)
			}
			if n := h.st.Calls("vipps.accesstoken"); n != 1 {
				t.Errorf("%d token calls: a refusal is not retried", n)
			}
			for _, s := range []string{"wrong-secret-value-123", clientSec, "ffffffffffffffffffffffffffffffff", subKey} {
				if strings.Contains(err.Error(), s) || strings.Contains(h.logs.String(), s) {
					t.Errorf("a credential reached the error or the log")
				}
			}
		})
	}
}

func TestLogsCarryNoSecretsOrTokens(t *testing.T) {
	h := newHarness(t)
	ref := "refshop-logs-0000001"
	h.create(ref)
	_ = h.client.ForceApprove(context.Background(), ref, "4791234567")
	_, _ = h.client.Capture(context.Background(), ref, vipps.Amount{"NOK", 4980}, ref+"-capture")
	tok := strings.TrimPrefix(h.rec.requests("/vipps/epayment/v1/payments")[0].Header.Get("Authorization"), "Bearer ")
	logs := h.logs.String()
	if !strings.Contains(logs, "operation=create_payment") {
		t.Fatalf("no provider call lines logged:\n%s", logs)
	}
	for _, s := range []string{clientSec, subKey, tok, "4791234567"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains %q", s[:6])
		}
	}
}
