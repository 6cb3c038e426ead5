package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"refshop/db"
)

// The shop reads the sandbox's record of the browser's calls as GET
// /control/exchanges answers it (a contract: web/sandbox/control): it asks
// for the browser's calls about the given ids, names each by the
// provider's own operation and path template, and a lost answer reads as no
// answer.
func TestBrowserCallsAreReadFromTheSandboxsRecord(t *testing.T) {
	var asked *http.Request
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"exchanges":[
			{"id":7,"at":"2026-12-02T10:00:01.5Z","sandbox_time":"2026-12-02T10:16:00Z","provider":"altpay",
			 "operation":"altpay.checkout_add_payment_method","origin":"browser","method":"POST",
			 "path":"/altpay/v1/checkout/payment-methods","pattern":"POST /altpay/v1/checkout/payment-methods",
			 "status":401,"lost":false,"duration_ms":2.5,"idempotency_key":"",
			 "request_headers":{"Authorization":["Bearer [redacted …Xy7Q #1f0c9a2b]"]},"request_body":"{}",
			 "response_headers":{"Content-Type":["application/json"]},"response_body":"{\"code\":\"unauthorized\"}",
			 "refs":["inv_1","…Xy7Q #1f0c9a2b"]},
			{"id":8,"at":"2026-12-02T10:00:02Z","provider":"vipps","operation":"","origin":"browser","method":"GET",
			 "path":"/vipps/landing","pattern":"GET /vipps/landing","status":0,"lost":true,"duration_ms":1,
			 "request_headers":{},"response_headers":{},"refs":["ref-1"]}]}`))
	}))
	defer sb.Close()
	app := newTestApp(t, func(d *Deps) { d.Config.SandboxURL = sb.URL })

	xs, err := app.askSandboxExchanges(t.Context(), []string{"inv_1", "ref-1"})
	if err != nil {
		t.Fatal(err)
	}
	q := asked.URL.Query()
	if asked.URL.Path != "/control/exchanges" || q.Get("origin") != "browser" || !slices.Equal(q["ref"], []string{"inv_1", "ref-1"}) {
		t.Errorf("asked %s", asked.URL)
	}
	o := db.Order{ID: 12, UserID: 3}
	got := []db.Exchange{xs[0].exchange(o, sb.URL), xs[1].exchange(o, sb.URL)}
	first := got[0]
	if !first.Is(db.OriginBrowser) || first.Provider != "altpay" || first.Operation != "checkout_add_payment_method" ||
		first.PathTemplate != "/altpay/v1/checkout/payment-methods" || first.URL != sb.URL+"/altpay/v1/checkout/payment-methods" ||
		first.Status != 401 || first.Duration != 2500*time.Microsecond || first.OrderID != 12 ||
		first.ReqHeaders.Get("Authorization") != "Bearer [redacted …Xy7Q #1f0c9a2b]" {
		t.Errorf("first: %+v", first)
	}
	if want := time.Date(2026, 12, 2, 10, 0, 1, 5e8, time.UTC); !first.StartedAt.Equal(want) {
		t.Errorf("started %v, want the wall clock's %v", first.StartedAt, want)
	}
	if want := time.Date(2026, 12, 2, 10, 16, 0, 0, time.UTC); !first.ProviderAt.Equal(want) {
		t.Errorf("provider's time %v, want the sandbox clock's %v", first.ProviderAt, want)
	}
	if lost := got[1]; lost.Status != 0 || lost.Error != "answer lost" || lost.RespHeaders != nil || lost.Operation != "" {
		t.Errorf("lost: %+v", lost)
	}

	// Merged with the shop's own calls in the order they started.
	own := []db.Exchange{{ID: 1, StartedAt: first.StartedAt.Add(-time.Second)}, {ID: 2, StartedAt: first.StartedAt.Add(time.Second)}}
	var order []int64
	for _, x := range withBrowserCalls(own, got) {
		order = append(order, x.ID)
	}
	if !slices.Equal(order, []int64{1, -7, -8, 2}) {
		t.Errorf("merged order %v", order)
	}
}

// A sandbox that refuses the question leaves the list to the shop's own
// calls, and says so.
func TestBrowserCallsSayWhenTheSandboxCannotBeRead(t *testing.T) {
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer sb.Close()
	app := newTestApp(t, func(d *Deps) { d.Config.SandboxURL = sb.URL })
	if _, err := app.askSandboxExchanges(t.Context(), []string{"x"}); err == nil {
		t.Fatal("a 500 read as an answer")
	}
}

// In real mode the browser talks to the provider, which the shop cannot
// see: the order page says that only the shop's own calls are shown.
func TestTheOrderPageSaysOnlyTheShopsCallsAreShownInRealMode(t *testing.T) {
	// The shop's Vipps calls go to a test server that is not the
	// configured sandbox: as far as the shop can tell, a real provider.
	v := newVippsShopWith(t, func(d *Deps) { d.Config.SandboxURL = "" })
	b := v.browser(t)
	b.signUp("ann@example.com")
	landing := v.startPayment(t, b)
	id := orderIDFrom(t, v.answer(t, landing, "approve"))
	_, doc := b.orderPage(t, id)
	if note := doc.Find("[data-testid=exchanges-browser-note]").Text(); note != browserCallsReal {
		t.Errorf("note %q", note)
	}
}

// The order page lists the landing page the browser opened at the sandbox
// among the shop's own calls, from the browser, in the diagram and the
// HAR too.
func TestTheOrderPageShowsTheBrowsersCallsFromTheSandbox(t *testing.T) {
	v, _, _ := recordedVippsShop(t)
	b := v.browser(t)
	b.signUp("ann@example.com")
	landing := v.startPayment(t, b)
	// What a browser sends: Chromium adds Sec-Fetch-* to every request.
	req, _ := http.NewRequest(http.MethodGet, landing.String(), nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := orderIDFrom(t, v.answer(t, landing, "approve"))

	_, doc := b.orderPage(t, id)
	if note := doc.Find("[data-testid=exchanges-browser-note]").Text(); note != browserCallsShown {
		t.Errorf("note %q", note)
	}
	browserItems := doc.Find("li[data-testid=exchange][data-origin=browser]")
	if browserItems.Length() != 1 {
		t.Fatalf("%d calls from the browser listed, want the landing page's 1", browserItems.Length())
	}
	if h := strings.Join(strings.Fields(browserItems.Find("h3").Text()), " "); h != "From the browser: Vipps MobilePay: open the payment page" {
		t.Errorf("heading %q", h)
	}
	if got := strings.TrimSpace(browserItems.Find("[data-testid=exchange-request]").Text()); got != "GET /vipps/landing" {
		t.Errorf("request %q", got)
	}
	if strings.Contains(doc.Text(), landing.Query().Get("token")) {
		t.Error("the page shows the landing page's token")
	}
	if doc.Find("[data-testid=sequence-diagram] g.seq-head-browser").Length() != 1 {
		t.Error("the diagram has no Browser lifeline")
	}

	p := b.get("/orders/" + id + "/exchanges.har")
	var har struct {
		Log struct {
			Entries []struct {
				Origin string `json:"_origin"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(p.body), &har); err != nil {
		t.Fatal(err)
	}
	var origins []string
	for _, e := range har.Log.Entries {
		origins = append(origins, e.Origin)
	}
	if !slices.Contains(origins, "browser") || !slices.Contains(origins, "shop") {
		t.Errorf("HAR origins %v", origins)
	}
}
