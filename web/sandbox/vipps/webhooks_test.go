package vipps_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// receiver stands in for the shop's webhook endpoint.
type receiver struct{ *sandboxtest.Receiver }

func newReceiver(t *testing.T) receiver { return receiver{sandboxtest.NewReceiver(t)} }

type received = sandboxtest.Received

// names are the event names ("AUTHORIZED") of the requests received, in order.
func (rc receiver) names(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range rc.Requests() {
		var ev struct{ Name string }
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("webhook body is not JSON: %s", r.Body)
		}
		out = append(out, ev.Name)
	}
	return out
}

type hookEnv struct {
	*env
	rc   receiver
	base *clock.Manual
	tok  string
}

// newHookEnv runs the sandbox with the receiver as the shop's origin (so a
// plain-http webhook URL on it is allowed, as for a shop run locally).
func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	rc := newReceiver(t)
	cfg := control.Config{
		ShopBaseURL: rc.URL,
		Vipps:       control.VippsConfig{Enabled: true, ClientID: clientID, ClientSecret: secret, SubscriptionKey: subKey, MSN: msn},
	}
	base := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sb := sandboxtest.Start(t, cfg, base)
	e := &hookEnv{env: &env{t: t, srv: sb.Server, st: sb.State, sb: sb}, rc: rc, base: base}
	e.tok = e.token()
	return e
}

// createPayment creates a WEB_REDIRECT payment of NOK 49.80.
func (e *hookEnv) createPayment(ref string) {
	e.t.Helper()
	r := e.createWith(e.tok, ref, func(m map[string]any) { m["returnUrl"] = "https://shop.example/vipps/return" })
	if r.Status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.Status, r.Body)
	}
}

// hookHeaders are a Webhooks API call's headers; extra overrides them ("" drops one).
func (e *hookEnv) hookHeaders(extra ...string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + e.tok, "Ocp-Apim-Subscription-Key": subKey, "Merchant-Serial-Number": msn}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// register registers the receiver's /hooks/vipps for events and returns
// the id and secret.
func (e *hookEnv) register(events ...string) (id, sec string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"url": e.rc.URL + "/hooks/vipps?shop=1", "events": events})
	r := e.do("POST", "/vipps/webhooks/v1/webhooks", e.hookHeaders(), string(b))
	if r.Status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	m := r.json(e.t)
	return m["id"].(string), m["secret"].(string)
}

// run sends every delivery due now.
func (e *hookEnv) run() {
	e.t.Helper()
	e.sb.Deliveries.RunDue(context.Background())
}

// advance moves the sandbox clock through the control API, then runs.
func (e *hookEnv) advance(by string) {
	e.t.Helper()
	e.sb.Advance(e.t, by)
	e.run()
}

// delivery is GET /control/deliveries' entry, the parts the tests read.
type delivery struct {
	ID       int64
	Event    string
	Ref      string
	Target   string
	URL      string
	Body     string
	State    string
	Note     string
	Attempts []struct {
		Kind        string
		SandboxTime time.Time `json:"sandbox_time"`
		Status      int
		Error       string
		Headers     http.Header `json:"request_headers"`
	}
}

func (e *hookEnv) deliveries() []delivery {
	e.t.Helper()
	r := e.do("GET", "/control/deliveries", nil, "")
	if r.Status != 200 {
		e.t.Fatalf("GET /control/deliveries: %d %s", r.Status, r.Body)
	}
	var out struct{ Deliveries []delivery }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Deliveries
}

func (e *hookEnv) fault(body map[string]any) {
	e.t.Helper()
	e.sb.Control(e.t, "/control/faults", body)
}

// verify checks a received webhook the way the docs tell a receiver to,
// computed here on its own: the content hash, then the whole Authorization.
func verify(t *testing.T, r received, sec, rawURLPathAndQuery string) {
	t.Helper()
	sum := sha256.Sum256(r.Body)
	hash := base64.StdEncoding.EncodeToString(sum[:])
	if got := r.Header.Get("X-Ms-Content-Sha256"); got != hash {
		t.Fatalf("x-ms-content-sha256 = %q, want %q", got, hash)
	}
	mac := hmac.New(sha256.New, []byte(sec))
	fmt.Fprintf(mac, "POST\n%s\n%s;%s;%s", rawURLPathAndQuery, r.Header.Get("X-Ms-Date"), r.Host, hash)
	want := "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization = %q, want %q", got, want)
	}
}

func TestWebhooksRegisterListDelete(t *testing.T) {
	e := newHookEnv(t)
	id, sec := e.register("epayments.payment.authorized.v1", "epayments.payment.captured.v1")
	if !strings.Contains(id, "-") || len(id) != 36 || sec == "" {
		t.Fatalf("register answered id %q secret %q", id, sec)
	}
	// Merchant-Serial-Number is optional on the Webhooks API.
	b := `{"url":"https://shop.example/hooks","events":["epayments.payment.created.v1"]}`
	if r := e.do("POST", "/vipps/webhooks/v1/webhooks", e.hookHeaders("Merchant-Serial-Number", ""), b); r.Status != 201 {
		t.Fatalf("register without MSN: %d %s", r.Status, r.Body)
	}

	r := e.do("GET", "/vipps/webhooks/v1/webhooks", e.hookHeaders(), "")
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), sec) || strings.Contains(string(r.Body), "secret") {
		t.Fatalf("the list shows the secret: %s", r.Body)
	}
	var list struct {
		Webhooks []struct {
			ID     string
			URL    string
			Events []string
		}
	}
	_ = json.Unmarshal(r.Body, &list)
	if len(list.Webhooks) != 2 || list.Webhooks[0].ID != id || list.Webhooks[0].URL != e.rc.URL+"/hooks/vipps?shop=1" ||
		strings.Join(list.Webhooks[0].Events, ",") != "epayments.payment.authorized.v1,epayments.payment.captured.v1" {
		t.Fatalf("list: %s", r.Body)
	}

	if r := e.do("DELETE", "/vipps/webhooks/v1/webhooks/"+id, e.hookHeaders(), ""); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	r = e.do("GET", "/vipps/webhooks/v1/webhooks", e.hookHeaders(), "")
	if strings.Contains(string(r.Body), id) {
		t.Fatalf("deleted webhook still listed: %s", r.Body)
	}
	if r := e.do("DELETE", "/vipps/webhooks/v1/webhooks/"+id, e.hookHeaders(), ""); r.Status != http.StatusNotFound {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
	// The recorded exchange of the register call does not show the secret.
	x := e.do("GET", "/control/exchanges?operation=vipps.webhooks_register", nil, "")
	if strings.Contains(string(x.Body), sec) {
		t.Fatal("GET /control/exchanges shows the webhook secret")
	}
}

func TestWebhooksRefusals(t *testing.T) {
	e := newHookEnv(t)
	const path = "/vipps/webhooks/v1/webhooks"
	good := `{"url":"https://shop.example/hooks","events":["epayments.payment.authorized.v1"]}`
	cases := []struct {
		name   string
		method string
		path   string
		h      map[string]string
		body   string
		status int
		field  string // the extraDetails name a 400 must carry
	}{
		{"no subscription key", "POST", path, e.hookHeaders("Ocp-Apim-Subscription-Key", ""), good, 401, ""},
		{"no token", "POST", path, e.hookHeaders("Authorization", ""), good, 401, ""},
		{"token without Bearer", "POST", path, e.hookHeaders("Authorization", e.tok), good, 401, ""},
		{"list without token", "GET", path, e.hookHeaders("Authorization", ""), "", 401, ""},
		{"delete without token", "DELETE", path + "/497f6eca-6276-4993-bfeb-53cbbbba6f08", e.hookHeaders("Authorization", ""), "", 401, ""},
		{"malformed MSN", "POST", path, e.hookHeaders("Merchant-Serial-Number", "12ab"), good, 400, "Merchant-Serial-Number"},
		{"another sales unit", "POST", path, e.hookHeaders("Merchant-Serial-Number", "654321"), good, 403, ""},
		{"no body", "POST", path, e.hookHeaders(), "", 400, "body"},
		{"not JSON", "POST", path, e.hookHeaders(), `url=x`, 400, "body"},
		{"unknown field", "POST", path, e.hookHeaders(), `{"url":"https://shop.example/h","events":["epayments.payment.authorized.v1"],"secret":"x"}`, 400, "body"},
		{"no url", "POST", path, e.hookHeaders(), `{"events":["epayments.payment.authorized.v1"]}`, 400, "url"},
		{"relative url", "POST", path, e.hookHeaders(), `{"url":"/hooks","events":["epayments.payment.authorized.v1"]}`, 400, "url"},
		{"http on another origin", "POST", path, e.hookHeaders(), `{"url":"http://shop.example/hooks","events":["epayments.payment.authorized.v1"]}`, 400, "url"},
		{"ftp", "POST", path, e.hookHeaders(), `{"url":"ftp://shop.example/hooks","events":["epayments.payment.authorized.v1"]}`, 400, "url"},
		{"no events", "POST", path, e.hookHeaders(), `{"url":"https://shop.example/hooks","events":[]}`, 400, "events"},
		{"unknown event", "POST", path, e.hookHeaders(), `{"url":"https://shop.example/hooks","events":["epayments.payment.paid.v1"]}`, 400, "events"},
		{"delete a malformed id", "DELETE", path + "/abc", e.hookHeaders(), "", 400, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.h, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.status == 400 || c.status == 403 {
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("Content-Type %q", ct)
				}
				var pr struct {
					Status       int
					Instance     string
					ExtraDetails []struct{ Name string }
				}
				_ = json.Unmarshal(r.Body, &pr)
				if pr.Status != c.status || !strings.HasPrefix(pr.Instance, "/v1/webhooks") {
					t.Fatalf("problem: %s", r.Body)
				}
				if c.field != "" && (len(pr.ExtraDetails) == 0 || pr.ExtraDetails[0].Name != c.field) {
					t.Fatalf("extraDetails do not name %s: %s", c.field, r.Body)
				}
			}
		})
	}
	// A body that is not JSON by its type: 415, as on the ePayment API.
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(good))
	req.Header.Set("Content-Type", "text/plain")
	for k, v := range e.hookHeaders() {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %d", res.StatusCode)
	}

	// The limit: 25 registrations per event type and sales unit; another
	// event type is a bucket of its own.
	for i := range 25 {
		if r := e.do("POST", path, e.hookHeaders(), good); r.Status != 201 {
			t.Fatalf("registration %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := e.do("POST", path, e.hookHeaders(), good)
	if r.Status != 400 || !strings.Contains(string(r.Body), `"events"`) {
		t.Fatalf("26th registration: %d %s", r.Status, r.Body)
	}
	if r := e.do("POST", path, e.hookHeaders(), `{"url":"https://shop.example/hooks","events":["epayments.payment.captured.v1"]}`); r.Status != 201 {
		t.Fatalf("another event type: %d %s", r.Status, r.Body)
	}
}

func TestAuthorizeDeliversOneSignedWebhook(t *testing.T) {
	e := newHookEnv(t)
	_, sec := e.register("epayments.payment.authorized.v1")
	e.createPayment("order-1001-a")
	e.run()
	if n := len(e.rc.Requests()); n != 0 {
		t.Fatalf("created is not subscribed, yet %d webhooks arrived", n)
	}
	e.approve(e.tok, "order-1001-a")
	e.run()
	got := e.rc.Requests()
	if len(got) != 1 {
		t.Fatalf("got %d webhooks, want 1", len(got))
	}
	r := got[0]
	if r.Path != "/hooks/vipps?shop=1" {
		t.Errorf("path %q", r.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if d := r.Header.Get("X-Ms-Date"); d != "Sun, 01 Mar 2026 12:00:00 GMT" {
		t.Errorf("x-ms-date %q: want the sandbox clock in RFC 1123 GMT", d)
	}
	verify(t, r, sec, "/hooks/vipps?shop=1")

	var ev map[string]any
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msn": msn, "reference": "order-1001-a", "name": "AUTHORIZED",
		"amount": map[string]any{"currency": "NOK", "value": 4980.0}, "success": true, "timestamp": "2026-03-01T12:00:00Z"}
	for k, v := range want {
		if fmt.Sprint(ev[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	if _, ok := ev["idempotencyKey"]; ok {
		t.Errorf("idempotencyKey present although the approval had none: %s", r.Body)
	}
	if ev["pspReference"] == "" || ev["pspReference"] == nil {
		t.Errorf("no pspReference: %s", r.Body)
	}
	if len(ev) != 7 {
		t.Errorf("fields beyond the WebhookEvent's: %s", r.Body)
	}

	ds := e.deliveries()
	if len(ds) != 1 || ds[0].State != "delivered" || ds[0].Event != "epayments.payment.authorized.v1" || ds[0].Ref != "order-1001-a" ||
		len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Status != 200 {
		t.Fatalf("delivery log: %+v", ds)
	}
	if a := ds[0].Attempts[0].Headers.Get("Authorization"); strings.Contains(a, r.Header.Get("Authorization")[len("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="):]) {
		t.Errorf("the log keeps the signature unredacted: %s", a)
	}
	if n := e.st.Calls("vipps.webhook_delivery"); n != 1 {
		t.Errorf("vipps.webhook_delivery count %d, want 1", n)
	}

	// The capture's event carries the capture's idempotency key.
	e.register("epayments.payment.captured.v1")
	if r := e.modify(e.tok, "order-1001-a", "capture", "cap-key-1", amountBody(4980)); r.Status != 200 {
		t.Fatalf("capture: %d %s", r.Status, r.Body)
	}
	e.run()
	got = e.rc.Requests()
	if len(got) != 2 || !strings.Contains(string(got[1].Body), `"idempotencyKey":"cap-key-1"`) || !strings.Contains(string(got[1].Body), `"name":"CAPTURED"`) {
		t.Fatalf("capture webhook: %d requests, last %s", len(got), got[len(got)-1].Body)
	}
}

func TestFailedWebhookIsRetriedOnTheDocumentedScheduleAsTheClockMoves(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.authorized.v1")
	e.createPayment("order-1002-a")
	e.rc.Answer(500, 500, 503, 500, 404, 500, 500)
	e.approve(e.tok, "order-1002-a")
	start := e.base.Now()
	e.run()

	// Attempt n+1 is due this long after attempt n: 2s, 2s, 2s, 60s, 120s, 1h.
	for i, gap := range []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, time.Minute, 2 * time.Minute, time.Hour, time.Hour} {
		before := len(e.rc.Requests())
		e.advance((gap - time.Second).String())
		if n := len(e.rc.Requests()); n != before {
			t.Fatalf("attempt %d went %s early", i+2, time.Second)
		}
		e.advance("1s")
		if n := len(e.rc.Requests()); n != before+1 {
			t.Fatalf("attempt %d: %d requests, want %d", i+2, n, before+1)
		}
	}
	ds := e.deliveries()
	if len(ds) != 1 || ds[0].State != "delivered" || len(ds[0].Attempts) != 8 {
		t.Fatalf("delivery: %+v", ds)
	}
	wantAt := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 66 * time.Second, 186 * time.Second,
		186*time.Second + time.Hour, 186*time.Second + 2*time.Hour}
	wantStatus := []int{500, 500, 503, 500, 404, 500, 500, 200}
	for i, a := range ds[0].Attempts {
		if got := a.SandboxTime.Sub(start); got != wantAt[i] || a.Status != wantStatus[i] {
			t.Errorf("attempt %d at +%s status %d, want +%s %d", i+1, got, a.Status, wantAt[i], wantStatus[i])
		}
	}
}

func TestWebhookRetriesEndSevenDaysAfterTheEvent(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.authorized.v1")
	e.createPayment("order-1003-a")
	statuses := make([]int, 100)
	for i := range statuses {
		statuses[i] = 500
	}
	e.rc.Answer(statuses...)
	e.approve(e.tok, "order-1003-a")
	e.run()
	for range 200 { // walk the schedule one step at a time
		ds := e.deliveries()
		if ds[0].State != "pending" {
			break
		}
		e.advance("1h")
	}
	ds := e.deliveries()
	if ds[0].State != "failed" {
		t.Fatalf("state %s after 200 hours", ds[0].State)
	}
	last := ds[0].Attempts[len(ds[0].Attempts)-1].SandboxTime
	if first := ds[0].Attempts[0].SandboxTime; last.Sub(first) > 7*24*time.Hour || last.Sub(first) < 6*24*time.Hour {
		t.Fatalf("last attempt %s after the first", last.Sub(first))
	}
	n := len(e.rc.Requests())
	e.advance("240h")
	if len(e.rc.Requests()) != n {
		t.Fatal("a failed delivery was sent again")
	}
}

func TestAFailingWebhookHoldsBackLaterEventsOfTheSamePayment(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.authorized.v1", "epayments.payment.captured.v1")
	e.createPayment("order-1004-a")
	e.createPayment("order-1004-b")
	e.rc.Answer(500)
	e.approve(e.tok, "order-1004-a")
	e.run() // authorized (a) fails
	if r := e.modify(e.tok, "order-1004-a", "capture", "cap-1004", amountBody(4980)); r.Status != 200 {
		t.Fatalf("capture: %d %s", r.Status, r.Body)
	}
	e.approve(e.tok, "order-1004-b")
	e.run()
	// b's event is not held back by a's; a's capture is.
	if names := e.rc.names(t); strings.Join(names, ",") != "AUTHORIZED,AUTHORIZED" {
		t.Fatalf("received %v", names)
	}
	if ds := e.deliveries(); ds[1].Event != "epayments.payment.captured.v1" || ds[1].State != "pending" || len(ds[1].Attempts) != 0 {
		t.Fatalf("the capture of a went ahead: %+v", ds[1])
	}
	e.advance("2s")
	got := e.rc.Requests()
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	for i, want := range []string{`"reference":"order-1004-a"`, `"reference":"order-1004-b"`, `"reference":"order-1004-a"`, `"reference":"order-1004-a"`} {
		if !strings.Contains(string(got[i].Body), want) {
			t.Errorf("request %d: %s", i+1, got[i].Body)
		}
	}
	if names := e.rc.names(t); strings.Join(names, ",") != "AUTHORIZED,AUTHORIZED,AUTHORIZED,CAPTURED" {
		t.Fatalf("order: %v", names)
	}
}

func TestDeliveryFaults(t *testing.T) {
	t.Run("lose_answer drops the attempt, which is retried", func(t *testing.T) {
		e := newHookEnv(t)
		e.register("epayments.payment.authorized.v1")
		e.createPayment("order-2001-a")
		e.fault(map[string]any{"operation": "vipps.webhook_delivery", "lose_answer": true})
		e.approve(e.tok, "order-2001-a")
		e.run()
		if n := len(e.rc.Requests()); n != 0 {
			t.Fatalf("a dropped delivery arrived (%d)", n)
		}
		ds := e.deliveries()
		if ds[0].State != "pending" || len(ds[0].Attempts) != 1 || !strings.Contains(ds[0].Attempts[0].Error, "dropped") {
			t.Fatalf("log: %+v", ds[0])
		}
		e.advance("2s")
		if n := len(e.rc.Requests()); n != 1 || e.deliveries()[0].State != "delivered" {
			t.Fatalf("retry: %d requests, state %s", n, e.deliveries()[0].State)
		}
	})
	t.Run("delay sends it later on the sandbox clock", func(t *testing.T) {
		e := newHookEnv(t)
		e.register("epayments.payment.authorized.v1")
		e.createPayment("order-2002-a")
		e.fault(map[string]any{"operation": "vipps.webhook_delivery", "delay": "30s"})
		e.approve(e.tok, "order-2002-a")
		e.run()
		e.advance("29s")
		if n := len(e.rc.Requests()); n != 0 {
			t.Fatalf("sent before its delay (%d)", n)
		}
		e.advance("1s")
		got := e.rc.Requests()
		if len(got) != 1 || got[0].Header.Get("X-Ms-Date") != "Sun, 01 Mar 2026 12:00:30 GMT" {
			t.Fatalf("%d requests %v", len(got), got)
		}
	})
	t.Run("duplicate sends it twice", func(t *testing.T) {
		e := newHookEnv(t)
		_, sec := e.register("epayments.payment.authorized.v1")
		e.createPayment("order-2003-a")
		e.fault(map[string]any{"operation": "vipps.webhook_delivery", "duplicate": true})
		e.approve(e.tok, "order-2003-a")
		e.run()
		got := e.rc.Requests()
		if len(got) != 2 || string(got[0].Body) != string(got[1].Body) {
			t.Fatalf("%d requests", len(got))
		}
		verify(t, got[1], sec, "/hooks/vipps?shop=1")
		ds := e.deliveries()
		if len(ds) != 1 || len(ds[0].Attempts) != 2 || ds[0].Attempts[1].Kind != "duplicate" {
			t.Fatalf("log: %+v", ds)
		}
	})
	t.Run("reorder holds it until the next has gone", func(t *testing.T) {
		e := newHookEnv(t)
		e.register("epayments.payment.authorized.v1", "epayments.payment.captured.v1")
		e.createPayment("order-2004-a")
		e.fault(map[string]any{"operation": "vipps.webhook_delivery", "reorder": true})
		e.approve(e.tok, "order-2004-a")
		e.run()
		if n := len(e.rc.Requests()); n != 0 {
			t.Fatalf("a held delivery went (%d)", n)
		}
		if ds := e.deliveries(); ds[0].State != "held" {
			t.Fatalf("state %s", ds[0].State)
		}
		if r := e.modify(e.tok, "order-2004-a", "capture", "cap-2004", amountBody(4980)); r.Status != 200 {
			t.Fatalf("capture: %d", r.Status)
		}
		e.run()
		if names := e.rc.names(t); strings.Join(names, ",") != "CAPTURED,AUTHORIZED" {
			t.Fatalf("received %v, want the capture first", names)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		e := newHookEnv(t)
		for _, body := range []string{
			`{"operation":"vipps.webhook_delivery","status":503}`,
			`{"operation":"vipps.webhook_delivery","delay":"1s","commit_late":true}`,
			`{"operation":"vipps.capture","duplicate":true}`,
			`{"operation":"vipps.capture","reorder":true}`,
		} {
			if r := e.do("POST", "/control/faults", map[string]string{"Content-Type": "application/json"}, body); r.Status != 400 {
				t.Errorf("%s: %d %s", body, r.Status, r.Body)
			}
		}
	})
}

func TestReplaySendsAgainWithAFreshSignature(t *testing.T) {
	e := newHookEnv(t)
	_, sec := e.register("epayments.payment.authorized.v1")
	e.createPayment("order-3001-a")
	e.approve(e.tok, "order-3001-a")
	e.run()
	id := e.deliveries()[0].ID
	e.sb.Advance(t, "1h")
	r := e.do("POST", fmt.Sprintf("/control/deliveries/%d/replay", id), nil, "")
	if r.Status != 200 {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	var d delivery
	_ = json.Unmarshal(r.Body, &d)
	if len(d.Attempts) != 2 || d.Attempts[1].Kind != "replay" || d.Attempts[1].Status != 200 || d.State != "delivered" {
		t.Fatalf("replay answer: %s", r.Body)
	}
	got := e.rc.Requests()
	if len(got) != 2 || string(got[0].Body) != string(got[1].Body) {
		t.Fatalf("%d requests", len(got))
	}
	if got[1].Header.Get("X-Ms-Date") != "Sun, 01 Mar 2026 13:00:00 GMT" || got[1].Header.Get("Authorization") == got[0].Header.Get("Authorization") {
		t.Fatalf("replay not re-signed: %v", got[1].Header)
	}
	verify(t, got[1], sec, "/hooks/vipps?shop=1")

	for path, status := range map[string]int{"/control/deliveries/999/replay": 404, "/control/deliveries/x/replay": 400} {
		if r := e.do("POST", path, nil, ""); r.Status != status {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	// Control writes: no cross-origin requests, JSON only.
	if r := e.do("POST", fmt.Sprintf("/control/deliveries/%d/replay", id), map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, ""); r.Status != 403 {
		t.Errorf("cross-origin replay: %d", r.Status)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+fmt.Sprintf("/control/deliveries/%d/replay", id), strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form replay: %d", res.StatusCode)
	}
	if n := len(e.rc.Requests()); n != 2 {
		t.Errorf("refused replays sent anyway: %d requests", n)
	}
}

func TestPendingWebhooksSurviveARestartAndResume(t *testing.T) {
	e := newHookEnv(t)
	_, sec := e.register("epayments.payment.authorized.v1")
	e.createPayment("order-4001-a")
	e.rc.Answer(500)
	e.approve(e.tok, "order-4001-a")
	e.run()
	e.sb.Restart(t)
	ds := e.deliveries()
	if len(ds) != 1 || ds[0].State != "pending" || len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Status != 500 {
		t.Fatalf("after restart: %+v", ds)
	}
	e.advance("2s")
	got := e.rc.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	verify(t, got[1], sec, "/hooks/vipps?shop=1") // the secret survived too
	if ds := e.deliveries(); ds[0].State != "delivered" {
		t.Fatalf("state %s", ds[0].State)
	}
	// And the registration.
	if r := e.do("GET", "/vipps/webhooks/v1/webhooks", e.hookHeaders(), ""); !strings.Contains(string(r.Body), "/hooks/vipps") {
		t.Fatalf("webhooks after restart: %s", r.Body)
	}
}

func TestResetForgetsWebhooksAndDeliveries(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.authorized.v1")
	e.createPayment("order-5001-a")
	e.rc.Answer(500)
	e.approve(e.tok, "order-5001-a")
	e.run()
	e.sb.Control(t, "/control/reset", nil)
	if ds := e.deliveries(); len(ds) != 0 {
		t.Fatalf("deliveries after reset: %+v", ds)
	}
	if r := e.do("GET", "/vipps/webhooks/v1/webhooks", e.hookHeaders(), ""); r.Status != 200 || strings.Contains(string(r.Body), "/hooks/vipps") {
		t.Fatalf("webhooks after reset: %d %s", r.Status, r.Body)
	}
	e.advance("2s")
	if n := len(e.rc.Requests()); n != 1 {
		t.Fatalf("a forgotten delivery was retried: %d requests", n)
	}
}

func TestDeletedWebhookAbandonsItsPendingDeliveries(t *testing.T) {
	e := newHookEnv(t)
	id, _ := e.register("epayments.payment.authorized.v1")
	e.createPayment("order-5002-a")
	e.rc.Answer(500)
	e.approve(e.tok, "order-5002-a")
	e.run()
	if r := e.do("DELETE", "/vipps/webhooks/v1/webhooks/"+id, e.hookHeaders(), ""); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	e.advance("2s")
	if n := len(e.rc.Requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
	if ds := e.deliveries(); ds[0].State != "abandoned" {
		t.Fatalf("state %s", ds[0].State)
	}
}

func TestExpiryRaisesItsWebhookWhenTheClockPassesIt(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.expired.v1")
	e.createPayment("order-6001-a")
	e.advance("9m59s")
	if n := len(e.rc.Requests()); n != 0 {
		t.Fatalf("expired early: %d", n)
	}
	e.advance("1s") // nobody asks for the payment
	if names := e.rc.names(t); strings.Join(names, ",") != "EXPIRED" {
		t.Fatalf("received %v", names)
	}
}

func TestIndexListsDeliveries(t *testing.T) {
	e := newHookEnv(t)
	e.register("epayments.payment.authorized.v1")
	e.createPayment("order-7001-a")
	e.rc.Answer(502)
	e.approve(e.tok, "order-7001-a")
	e.run()
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	rows := doc.Find(`[data-testid="deliveries"] tbody tr.delivery`)
	if rows.Length() != 1 {
		t.Fatalf("%d delivery rows", rows.Length())
	}
	text := rows.Text()
	for _, want := range []string{"epayments.payment.authorized.v1", "order-7001-a", "/hooks/vipps", "pending", "502 Bad Gateway", " ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("row lacks %q: %s", want, text)
		}
	}
	id := e.deliveries()[0].ID
	if b := rows.Find("button.replay-delivery"); b.Length() != 1 || b.AttrOr("data-id", "") != fmt.Sprint(id) {
		t.Errorf("replay button: %d, data-id %q", b.Length(), b.AttrOr("data-id", ""))
	}
	if doc.Find(`script[src="/assets/index.js"]`).Length() != 1 {
		t.Error("the page's script is not loaded")
	}
}
