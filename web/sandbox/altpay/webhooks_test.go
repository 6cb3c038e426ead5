package altpay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// newHookEnv runs the sandbox with the receiver as the shop's origin, so a
// plain-http endpoint on it is allowed (a shop run locally).
func newHookEnv(t *testing.T) (*env, *sandboxtest.Receiver) {
	t.Helper()
	rc := sandboxtest.NewReceiver(t)
	sb := sandboxtest.Start(t, control.Config{
		BaseURL: "http://sandbox.test", ShopBaseURL: rc.URL,
		Altpay: control.AltpayConfig{Enabled: true, ClientID: clientID, ClientSecret: clientSecret},
	}, clock.NewManual(t0))
	return &env{t: t, srv: sb.Server, sb: sb}, rc
}

// subscribe subscribes the receiver's /webhooks/altpay to topic.
func (e *env) subscribe(tok, url, secret, topic string) map[string]any {
	e.t.Helper()
	body := map[string]any{"endpoint_url": url, "topic": topic}
	if secret != "" {
		body["secret_key"] = secret
	}
	r := e.call("POST", "/altpay/webhooks", auth(tok), body)
	e.want(r, 201)
	return r.body
}

// run sends every delivery due now on the sandbox clock.
func (e *env) run() {
	e.t.Helper()
	e.sb.Deliveries.RunDue(context.Background())
}

// delivery is GET /control/deliveries' entry, the parts the tests read.
type delivery struct {
	Operation, Event, Ref, Target, URL, Body, State string
	Attempts                                        []struct {
		Kind    string
		Status  int
		Headers http.Header `json:"request_headers"`
	}
}

func (e *env) deliveries() []delivery {
	e.t.Helper()
	r := e.call("GET", "/control/deliveries", nil, nil)
	e.want(r, 200)
	var out struct{ Deliveries []delivery }
	if err := json.Unmarshal(r.raw, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Deliveries
}

// payInvoice pays inv with a test card through the checkout API.
func (e *env) payInvoice(checkout string, inv map[string]any) {
	e.t.Helper()
	pm := e.addCard(checkout, "tok_test_visa")
	r := e.pay(checkout, "pay-"+inv["id"].(string), payBody(pm["id"].(string), "card", "44.80"))
	e.want(r, 200)
	if r.body["status"] != "succeeded" {
		e.t.Fatalf("payment: %s", r.raw)
	}
}

func TestWebhookSubscriptionsMatchTheDocumentedExamples(t *testing.T) {
	e, rc := newHookEnv(t)
	tok := e.oauth()
	const secret = "shop-chosen-secret-4xYz"
	r := e.call("POST", "/altpay/webhooks", auth(tok), map[string]any{
		"endpoint_url": rc.URL + "/webhooks/altpay", "secret_key": secret, "topic": "invoice_paid"})
	e.want(r, 201)
	sameShape(t, "webhook_subscription_response.json", r.raw)
	id := r.body["id"].(string)
	if r.body["secret_last_4_digits"] != "4xYz" || r.body["is_active"] != true || r.body["topic"] != "invoice_paid" ||
		r.body["endpoint_url"] != rc.URL+"/webhooks/altpay" {
		t.Fatalf("subscription: %s", r.raw)
	}
	other := e.subscribe(tok, "https://shop.example/hooks", "", "invoice_created")
	if other["secret_last_4_digits"] != nil {
		t.Errorf("no secret_key, yet secret_last_4_digits %v", other["secret_last_4_digits"])
	}

	list := e.call("GET", "/altpay/webhooks", auth(tok), nil)
	e.want(list, 200)
	sameShape(t, "webhooks_list_response.json", list.raw)
	if strings.Contains(string(list.raw), secret) {
		t.Fatal("the list shows the whole secret_key")
	}
	if data := list.body["data"].([]any); len(data) != 2 || data[0].(map[string]any)["id"] != id {
		t.Fatalf("list, oldest first: %s", list.raw)
	}
	only := e.call("GET", "/altpay/webhooks?topic=invoice_paid&limit=1", auth(tok), nil)
	if data := only.body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != id || only.body["has_next_page"] != false {
		t.Fatalf("filtered by topic: %s", only.raw)
	}

	del := e.call("DELETE", "/altpay/webhooks/"+id, auth(tok), nil)
	e.want(del, 200)
	sameShape(t, "webhook_subscription_response.json", del.raw)
	if del.body["id"] != id {
		t.Fatalf("delete answers the subscription: %s", del.raw)
	}
	e.want(e.call("DELETE", "/altpay/webhooks/"+id, auth(tok), nil), 404)
	if after := e.call("GET", "/altpay/webhooks", auth(tok), nil); strings.Contains(string(after.raw), id) {
		t.Fatalf("deleted subscription still listed: %s", after.raw)
	}
	// The recorded exchange of the subscribe call does not show the secret.
	x := e.call("GET", "/control/exchanges?operation=altpay.create_webhook", nil, nil)
	e.want(x, 200)
	if !strings.Contains(string(x.raw), "altpay.create_webhook") || strings.Contains(string(x.raw), secret) {
		t.Fatalf("GET /control/exchanges: the subscribe call is missing, or shows the secret_key: %s", x.raw)
	}
}

func TestWebhookSubscriptionRefusals(t *testing.T) {
	e, rc := newHookEnv(t)
	tok := e.oauth()
	good := map[string]any{"endpoint_url": "https://shop.example/hooks", "topic": "invoice_paid"}
	cases := []struct {
		name   string
		h      map[string]string
		body   any
		status int
		field  string
	}{
		{"no token", nil, good, 401, ""},
		{"not JSON", auth(tok), "endpoint_url=x", 400, ""},
		{"no endpoint_url", auth(tok), map[string]any{"topic": "invoice_paid"}, 400, "endpoint_url"},
		{"no topic", auth(tok), map[string]any{"endpoint_url": "https://shop.example/hooks"}, 400, "topic"},
		{"unknown topic", auth(tok), map[string]any{"endpoint_url": "https://shop.example/hooks", "topic": "invoice.paid"}, 422, "topic"},
		{"relative url", auth(tok), map[string]any{"endpoint_url": "/hooks", "topic": "invoice_paid"}, 422, "endpoint_url"},
		{"http on another origin", auth(tok), map[string]any{"endpoint_url": "http://shop.example/hooks", "topic": "invoice_paid"}, 422, "endpoint_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call("POST", "/altpay/webhooks", c.h, c.body)
			e.want(r, c.status)
			if c.field != "" {
				ve, _ := r.body["validation_errors"].(map[string]any)
				if ve[c.field] == nil {
					t.Fatalf("validation_errors do not name %s: %s", c.field, r.raw)
				}
				if want := map[int]string{400: "bad_request", 422: "unprocessable_entity"}[c.status]; r.body["code"] != want {
					t.Fatalf("code %v, want %s (the sandbox's HttpError): %s", r.body["code"], want, r.raw)
				}
			}
		})
	}
	e.want(e.call("GET", "/altpay/webhooks", nil, nil), 401)
	e.want(e.call("DELETE", "/altpay/webhooks/whk_x", nil, nil), 401)
	e.want(e.call("GET", "/altpay/webhooks?is_active=maybe", auth(tok), nil), 400)
	// Plain http on the shop's own origin is taken: a shop run locally.
	e.subscribe(tok, rc.URL+"/webhooks/altpay", "", "invoice_paid")
}

func TestPayingAnInvoiceDeliversInvoicePaidWithTheBearerSecret(t *testing.T) {
	e, rc := newHookEnv(t)
	tok, _, inv, checkout := e.setup("ext-1")
	const secret = "a-secret-the-shop-chose-0123456789"
	sub := e.subscribe(tok, rc.URL+"/webhooks/altpay?x=1", secret, "invoice_paid")
	e.subscribe(tok, rc.URL+"/other", secret, "invoice_created") // another topic: nothing for it
	e.run()
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("%d deliveries before anything was paid", n)
	}

	e.payInvoice(checkout, inv)
	e.run()
	got := rc.Requests()
	if len(got) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(got))
	}
	r := got[0]
	if r.Path != "/webhooks/altpay?x=1" || r.Header.Get("Authorization") != "Bearer "+secret ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("delivery: %s %v", r.Path, r.Header)
	}
	var ev struct {
		ID, Topic string
		Data      map[string]any
	}
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		t.Fatalf("body is not JSON: %s", r.Body)
	}
	if ev.Topic != "invoice_paid" || ev.ID == "" || ev.Data["id"] != inv["id"] || ev.Data["status"] != "PAID" {
		t.Fatalf("event: %s", r.Body)
	}
	// data is the invoice as GET /invoices/{id} answers it.
	sameShape(t, "invoice_response.json", mustJSON(t, ev.Data))

	ds := e.deliveries()
	if len(ds) != 1 || ds[0].Operation != "altpay.webhook_delivery" || ds[0].Event != "invoice_paid" || ds[0].Ref != inv["id"] ||
		ds[0].Target != sub["id"] || ds[0].State != "delivered" || len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Status != 200 {
		t.Fatalf("delivery log: %+v", ds)
	}
	if a := ds[0].Attempts[0].Headers.Get("Authorization"); !strings.HasPrefix(a, "Bearer [redacted") || strings.Contains(a, secret) {
		t.Errorf("the delivery log keeps Authorization %q", a)
	}
	if n := e.sb.State.Calls("altpay.webhook_delivery"); n != 1 {
		t.Errorf("altpay.webhook_delivery count %d, want 1", n)
	}
	// Paying again is refused and raises nothing more.
	e.run()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("%d deliveries, want still 1", n)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhookDeliveriesRetryOnTheSandboxClock(t *testing.T) {
	e, rc := newHookEnv(t)
	tok, _, inv, checkout := e.setup("ext-1")
	e.subscribe(tok, rc.URL+"/webhooks/altpay", "s3cret-value", "invoice_paid")
	rc.Answer(500, 503)
	e.payInvoice(checkout, inv)
	e.run()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	e.advance("29s")
	e.run()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("a retry before 30s: %d attempts", n)
	}
	e.advance("1s")
	e.run()
	if n := len(rc.Requests()); n != 2 {
		t.Fatalf("%d attempts 30s after the first failure, want 2", n)
	}
	e.advance("59s")
	e.run()
	if n := len(rc.Requests()); n != 2 {
		t.Fatalf("the second retry came early: %d attempts", n)
	}
	e.advance("1s")
	e.run()
	got := rc.Requests()
	if len(got) != 3 || got[2].Header.Get("Authorization") != "Bearer s3cret-value" || string(got[2].Body) != string(got[0].Body) {
		t.Fatalf("third attempt: %d attempts", len(got))
	}
	if ds := e.deliveries(); len(ds) != 1 || ds[0].State != "delivered" || len(ds[0].Attempts) != 3 {
		t.Fatalf("delivery log: %+v", ds)
	}
}

func TestWebhookDeliveriesTakeFaultsAndReplays(t *testing.T) {
	e, rc := newHookEnv(t)
	tok, _, inv, checkout := e.setup("ext-1")
	e.subscribe(tok, rc.URL+"/webhooks/altpay", "s3cret-value", "invoice_paid")
	e.want(e.call("POST", "/control/faults", nil, map[string]any{"operation": "altpay.webhook_delivery", "duplicate": true}), 200)
	e.payInvoice(checkout, inv)
	e.run()
	if n := len(rc.Requests()); n != 2 {
		t.Fatalf("a duplicate fault: %d requests, want 2", n)
	}
	r := e.call("POST", "/control/deliveries/"+jsonID(t, e)+"/replay", nil, nil)
	e.want(r, 200)
	if got := rc.Requests(); len(got) != 3 || got[2].Header.Get("Authorization") != "Bearer s3cret-value" {
		t.Fatalf("replay: %d requests", len(got))
	}
}

// jsonID is the id of the only delivery, as the replay path takes it.
func jsonID(t *testing.T, e *env) string {
	t.Helper()
	r := e.call("GET", "/control/deliveries", nil, nil)
	var out struct{ Deliveries []struct{ ID json.Number } }
	if err := json.Unmarshal(r.raw, &out); err != nil || len(out.Deliveries) != 1 {
		t.Fatalf("deliveries: %s", r.raw)
	}
	return out.Deliveries[0].ID.String()
}

func TestWebhookSubscriptionsSurviveARestartAndDeletingAbandonsDeliveries(t *testing.T) {
	e, rc := newHookEnv(t)
	tok, _, inv, checkout := e.setup("ext-1")
	sub := e.subscribe(tok, rc.URL+"/webhooks/altpay", "s3cret-value", "invoice_paid")
	e.sb.Restart(t)
	list := e.call("GET", "/altpay/webhooks", auth(tok), nil)
	if data, _ := list.body["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != sub["id"] {
		t.Fatalf("after a restart: %s", list.raw)
	}
	rc.Answer(500)
	e.payInvoice(checkout, inv)
	e.run()
	e.want(e.call("DELETE", "/altpay/webhooks/"+sub["id"].(string), auth(tok), nil), 200)
	e.advance("30s")
	e.run()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("%d attempts, want only the first", n)
	}
	if ds := e.deliveries(); len(ds) != 1 || ds[0].State != "abandoned" {
		t.Fatalf("delivery log: %+v", ds)
	}
}
