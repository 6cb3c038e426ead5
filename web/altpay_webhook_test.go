package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/outbound/outboundtest"
	"refshop/web/secret"
)

// hookWorld is the invoice world with the shop reachable from the sandbox
// at front (ShopBaseURL), so the sandbox's delivery engine can POST to it.
type hookWorld struct {
	*altpayWorld
	front *httptest.Server
	shop  atomic.Pointer[App] // the shop front serves: the latest start
	rec   *outboundtest.Recorded
}

func newHookWorld(t *testing.T, use ...func(*Deps)) *hookWorld {
	t.Helper()
	hw := &hookWorld{rec: outboundtest.New(t, nil)}
	hw.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hw.shop.Load().ServeHTTP(w, r) }))
	t.Cleanup(hw.front.Close)
	hw.altpayWorld = newAltpayWorldAt(t, hw.front.URL, append([]func(*Deps){hw.wire}, use...)...)
	hw.shop.Store(hw.App)
	return hw
}

// wire points a shop's configuration at front and its Alternative
// Payments client through the recorder.
func (hw *hookWorld) wire(d *Deps) {
	d.Config.ShopBaseURL = hw.front.URL
	d.Altpay = altpay.New(altpay.Config{BaseURL: d.Config.Altpay.APIURL, ClientID: d.Config.Altpay.ClientID,
		ClientSecret: d.Config.Altpay.ClientSecret, HTTP: hw.rec.Client, Clock: d.Clock,
		Sleep: func(context.Context, time.Duration) error { return nil }})
}

// restart starts another shop on the same database and sandbox, as after a
// restart; front serves it from now on.
func (hw *hookWorld) restart(t *testing.T) *testApp {
	t.Helper()
	app := newTestAppOn(t, hw.DB, func(d *Deps) { useAltpay(d, hw.api); hw.wire(d) })
	hw.shop.Store(app.App)
	return app
}

// subscribe makes the shop's subscription as sandbox mode's keeper does at
// start (webhooks.go).
func (hw *hookWorld) subscribe(t *testing.T, a *App) {
	t.Helper()
	if _, _, err := a.altpay.hooks.Ensure(t.Context()); err != nil {
		t.Fatalf("the subscription did not succeed: %v", err)
	}
}

// subscriptions is the sandbox's list, as the provider shows it.
func (hw *hookWorld) subscriptions(t *testing.T) []altpay.Webhook {
	t.Helper()
	list, err := hw.App.altpay.hooks.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// secretKey is the shop's stored secret_key, opened.
func (hw *hookWorld) secretKey(t *testing.T) string {
	t.Helper()
	_, key, err := hw.App.altpay.hooks.stored(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return key.Reveal()
}

// paidInvoice checks out, pays the invoice at the sandbox as the browser
// does (when pay), and returns the order's public id and invoice id. The
// sandbox's worker delivers invoice_paid to a subscription at once; a test
// that waits for it runs the engine (RunDue waits for a run under way).
func (hw *hookWorld) paidInvoice(t *testing.T, b *browser, pay bool) (string, string) {
	t.Helper()
	order := hw.checkoutByInvoice(t, b, nil)
	o, err := hw.Store.OrderByPublicID(t.Context(), order)
	if err != nil {
		t.Fatal(err)
	}
	if pay {
		_, tok := b.token(order)
		hw.payAsTheBrowser(t, tok["token"].(string), "41.14")
	}
	return order, o.ProviderReference
}

// deliver POSTs body to the shop's receiver with authorization, as a sender.
func (hw *hookWorld) deliver(t *testing.T, authorization, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", hw.front.URL+altpayWebhookPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Status string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out.Status
}

func paidEvent(invoiceID string) string {
	return `{"id":"evt_1","topic":"invoice_paid","data":{"id":"` + invoiceID + `","status":"PAID"}}`
}

func (hw *hookWorld) status(t *testing.T, order string) db.Status {
	t.Helper()
	o, err := hw.Store.OrderByPublicID(t.Context(), order)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

func TestAltpayWebhookSubscriptionIsReusedAcrossRestarts(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	subs := hw.subscriptions(t)
	key := hw.secretKey(t)
	if len(subs) != 1 || subs[0].EndpointURL != hw.front.URL+altpayWebhookPath || subs[0].Topic != "invoice_paid" ||
		subs[0].SecretLast4 != key[len(key)-4:] || len(key) < 40 {
		t.Fatalf("subscriptions %+v", subs)
	}
	row, err := hw.Store.AltpayWebhookFor(t.Context(), hw.altpay.env(), "invoice_paid", hw.front.URL+altpayWebhookPath)
	if err != nil || row.SubscriptionID != subs[0].ID || strings.Contains(row.SecretSealed, key) || !strings.HasPrefix(row.SecretSealed, "v1:") {
		t.Fatalf("stored %+v, %v: want the id, and the secret sealed", row, err)
	}

	// Two restarts on the same database: the same subscription, no second.
	for range 2 {
		hw.subscribe(t, hw.restart(t).App)
	}
	if again := hw.subscriptions(t); len(again) != 1 || again[0].ID != subs[0].ID {
		t.Fatalf("after restarts: %+v", again)
	}
	if n := hw.sb.State.Calls("altpay.create_webhook"); n != 1 {
		t.Fatalf("subscribed %d times, want once", n)
	}
	if hw.secretKey(t) != key {
		t.Fatal("the secret changed across restarts")
	}
	// The recorded subscribe call keeps no secret_key.
	rec := 0
	for _, x := range hw.rec.Exchanges(t) {
		if x.Operation == "create_webhook" {
			rec++
		}
	}
	if rec != 1 {
		t.Fatalf("%d recorded subscribe calls, want 1", rec)
	}
	hw.rec.NoSecretRecorded(t, key)
}

func TestAltpayWebhookReplacesASubscriptionWhoseSecretTheShopLost(t *testing.T) {
	hw := newHookWorld(t)
	// A subscription to the shop's URL from a database that is gone.
	if _, err := hw.Altpay.RegisterWebhook(t.Context(), altpay.NewWebhook{EndpointURL: hw.front.URL + altpayWebhookPath,
		SecretKey: secret.New("a-secret-nobody-has-any-more"), Topic: altpay.TopicInvoicePaid}); err != nil {
		t.Fatal(err)
	}
	hw.subscribe(t, hw.App)
	subs := hw.subscriptions(t)
	key := hw.secretKey(t)
	if len(subs) != 1 || subs[0].SecretLast4 != key[len(key)-4:] {
		t.Fatalf("subscriptions %+v: want only the shop's own", subs)
	}
}

func TestAltpayWebhookEndToEndSettlesTheOrderOnce(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, true)
	// Nothing but the delivery asks for the invoice: no page is viewed.
	hw.sb.Deliveries.RunDue(t.Context())
	if got := hw.status(t, order); got != db.StatusCaptured {
		t.Fatalf("order %s after the delivery, want captured", got)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the cart was not emptied")
	}
	ds := hw.sb.Deliveries.List(0)
	if len(ds) != 1 || ds[0].Ref != invoice || ds[0].State != "delivered" || ds[0].Attempts[0].Status != 200 {
		t.Fatalf("deliveries %+v", ds)
	}
	if n := hw.sb.State.Calls("altpay.get_invoice"); n != 1 {
		t.Errorf("the shop asked for the invoice %d times, want 1", n)
	}
	// A replay of the delivery changes nothing and asks nothing.
	if _, err := hw.sb.Deliveries.Replay(t.Context(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := hw.sb.State.Calls("altpay.get_invoice"); n != 1 {
		t.Errorf("the replay asked again: %d calls", n)
	}
	if strings.Contains(hw.logText(), "no webhook reported") {
		t.Error("a webhook-settled invoice is logged as settled by polling")
	}
}

func TestAltpayWebhookRetriedByTheSandboxWhenTheShopCannotAsk(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	// Every try of the client's one call fails; queued before paying, as
	// the sandbox's worker delivers as soon as the invoice is paid.
	hw.sb.Fault(t, "altpay.get_invoice", http.StatusServiceUnavailable, 3)
	order, _ := hw.paidInvoice(t, b, true)
	hw.sb.Deliveries.RunDue(t.Context())
	ds := hw.sb.Deliveries.List(0)
	if len(ds) != 1 || ds[0].State != "pending" || ds[0].Attempts[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("deliveries %+v: want a 503 and a retry pending", ds)
	}
	if got := hw.status(t, order); got != db.StatusPending {
		t.Fatalf("order %s after the failed check", got)
	}
	hw.sb.Advance(t, "30s")
	hw.sb.Deliveries.RunDue(t.Context())
	if got := hw.status(t, order); got != db.StatusCaptured {
		t.Fatalf("order %s after the retry, want captured", got)
	}
	if ds := hw.sb.Deliveries.List(0); ds[0].State != "delivered" || len(ds[0].Attempts) != 2 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestAltpayWebhookRefusesAWrongBearerAndChangesNothing(t *testing.T) {
	hw := newHookWorld(t)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, true)
	hw.subscribe(t, hw.App) // after paying: the test sends the deliveries itself
	key := hw.secretKey(t)
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + key[:len(key)-1], "Basic " + key, key} {
		if status, _ := hw.deliver(t, auth, paidEvent(invoice)); status != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", auth, status)
		}
	}
	if got := hw.status(t, order); got != db.StatusPending {
		t.Fatalf("order %s after refused deliveries", got)
	}
	if n := hw.sb.State.Calls("altpay.get_invoice"); n != 0 {
		t.Fatalf("a refused delivery asked the provider %d times", n)
	}
	if ok, _ := hw.Store.AltpayWebhookReported(t.Context(), hw.altpay.env(), invoice, "invoice_paid"); ok {
		t.Fatal("a refused delivery was recorded")
	}
	// The scheme is case-insensitive (RFC 6750).
	if status, what := hw.deliver(t, "bearer "+key, paidEvent(invoice)); status != 200 || what != "settled" {
		t.Fatalf("the right secret: %d %s", status, what)
	}
}

func TestAltpayWebhookDuplicateChangesNothing(t *testing.T) {
	hw := newHookWorld(t)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, true)
	hw.subscribe(t, hw.App) // after paying: the test sends the deliveries itself
	auth := "Bearer " + hw.secretKey(t)
	if status, what := hw.deliver(t, auth, paidEvent(invoice)); status != 200 || what != "settled" {
		t.Fatalf("first delivery: %d %s", status, what)
	}
	before, _ := hw.Store.OrderByPublicID(t.Context(), order)
	calls := hw.sb.State.Calls("altpay.get_invoice")
	if status, what := hw.deliver(t, auth, paidEvent(invoice)); status != 200 || what != "duplicate" {
		t.Fatalf("second delivery: %d %s", status, what)
	}
	after, _ := hw.Store.OrderByPublicID(t.Context(), order)
	if n := hw.sb.State.Calls("altpay.get_invoice"); n != calls || after.Status != db.StatusCaptured || after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("the duplicate changed something: %d calls (was %d), order %+v", n, calls, after)
	}
}

func TestAltpayWebhookBodyThatLiesChangesNothing(t *testing.T) {
	hw := newHookWorld(t)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, false) // not paid at the provider
	hw.subscribe(t, hw.App)                       // after paying: the test sends the deliveries itself
	auth := "Bearer " + hw.secretKey(t)
	for i := 1; i <= 2; i++ {
		if status, what := hw.deliver(t, auth, paidEvent(invoice)); status != 200 || what != "not paid" {
			t.Fatalf("delivery %d: %d %s", i, status, what)
		}
		// Asked each time: an unconfirmed event is no duplicate.
		if n := hw.sb.State.Calls("altpay.get_invoice"); n != i {
			t.Fatalf("after delivery %d the shop asked %d times", i, n)
		}
	}
	if got := hw.status(t, order); got != db.StatusPending {
		t.Fatalf("order %s after a lying delivery", got)
	}
	if cart := b.get("/cart"); strings.Contains(cart.body, "Your cart is empty") {
		t.Fatal("a lying delivery emptied the cart")
	}
}

func TestAltpayWebhookUnknownOrMalformedDeliveries(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	auth := "Bearer " + hw.secretKey(t)
	if status, what := hw.deliver(t, auth, paidEvent("inv_nobody_has")); status != 200 || what != "unknown invoice" {
		t.Fatalf("unknown invoice: %d %s", status, what)
	}
	if n := hw.sb.State.Calls("altpay.get_invoice"); n != 0 {
		t.Fatalf("an unknown invoice was asked for %d times", n)
	}
	if !strings.Contains(hw.logText(), "an invoice no order of the shop's has") {
		t.Error("the unknown invoice is not logged")
	}
	for body, want := range map[string]int{
		"not json":                           400,
		`{"topic":"invoice_paid","data":{}}`: 400,
		`{"topic":"invoice_created","data":{"id":"inv_1"}}`:                                          200,
		`{"topic":"invoice_paid","data":{"id":"` + strings.Repeat("x", altpayWebhookMaxBody) + `"}}`: 413,
	} {
		if status, _ := hw.deliver(t, auth, body); status != want {
			t.Errorf("%.40s: %d, want %d", body, status, want)
		}
	}
}

func TestAltpayWebhookIsExemptFromTheCrossOriginCheckOnly(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	send := func(path, auth string) int {
		req, _ := http.NewRequest("POST", hw.front.URL+path, strings.NewReader(paidEvent("inv_nobody_has")))
		req.Header.Set("Origin", "https://elsewhere.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := send(altpayWebhookPath, "Bearer "+hw.secretKey(t)); got != 200 {
		t.Errorf("the webhook from another origin: %d, want 200 (the bearer decides)", got)
	}
	if got := send(altpayWebhookPath, "Bearer wrong"); got != 401 {
		t.Errorf("the webhook from another origin with a wrong bearer: %d, want 401", got)
	}
	if got := send("/invoices/x/confirm", ""); got != 403 {
		t.Errorf("another route from another origin: %d, want 403", got)
	}
}

func TestAltpayPollingLogsWhatNoWebhookReported(t *testing.T) {
	hw := newHookWorld(t) // subscribed to nothing: no webhook comes
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, true)
	if p := b.post("/invoices/"+order+"/confirm", nil); p.status != 303 || hw.status(t, order) != db.StatusCaptured {
		t.Fatalf("confirm: %d, order %s", p.status, hw.status(t, order))
	}
	if logs := hw.logText(); !strings.Contains(logs, "polling settled an invoice no webhook reported") || !strings.Contains(logs, invoice) {
		t.Errorf("no log line for the invoice polling settled:\n%s", logs)
	}
}

// At start the subscription is tried again, with backoff, until the
// provider answers.
func TestAltpayWebhookSubscriptionAtStartRetriesUntilItSucceeds(t *testing.T) {
	hw := newHookWorld(t)
	app := newTestAppOn(t, hw.DB, func(d *Deps) {
		useAltpay(d, hw.api)
		hw.wire(d)
		d.SubscribeAtStart = true
		d.Tick = newManualTicks().tick // no tick is sent: only the start runs
	})
	var waited []time.Duration
	var mu sync.Mutex
	app.altpay.keeper.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waited = append(waited, d)
		mu.Unlock()
		return nil
	}
	hw.sb.Fault(t, "altpay.list_webhooks", http.StatusServiceUnavailable, 3) // the client's three tries of the first look
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.keepWebhook(ctx, app.altpay.keeper)
	}()
	eventually(t, "the second try subscribed", func() bool { return hw.sb.State.Calls("altpay.create_webhook") == 1 })
	cancel()
	<-done
	if subs := hw.subscriptions(t); len(subs) != 1 {
		t.Fatalf("subscriptions %+v", subs)
	}
	mu.Lock()
	if len(waited) != 1 || waited[0] != time.Second {
		t.Errorf("waits %v, want 1s", waited)
	}
	mu.Unlock()
	if !strings.Contains(app.logText(), "altpay webhook: registering failed; trying again") {
		t.Error("the failed first try is not logged")
	}
}

// The webhook usually settles the order before the invoice page confirms;
// the customer is thanked all the same.
func TestAltpayConfirmAfterTheWebhookStillThanks(t *testing.T) {
	hw := newHookWorld(t)
	hw.subscribe(t, hw.App)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, _ := hw.paidInvoice(t, b, true)
	hw.sb.Deliveries.RunDue(t.Context())
	if got := hw.status(t, order); got != db.StatusCaptured {
		t.Fatalf("order %s after the delivery", got)
	}
	p := b.post("/invoices/"+order+"/confirm", nil)
	if p.status != 303 || p.location != "/orders/"+order {
		t.Fatalf("confirm: %d %s", p.status, p.location)
	}
	if got := strings.TrimSpace(b.get(p.location).doc(t).Find("[role=status]").First().Text()); got != "Thank you: your invoice is paid." {
		t.Fatalf("the order page says %q", got)
	}
}
