package klarna_test

import (
	"context"
	"encoding/json"
	"refshop/web/sandbox/sandboxtest"
	"strings"
	"testing"
	"time"
)

// Klarna's calls to the merchant, delivered by the sandbox's engine to a
// stand-in for the shop.

// deliver sends every delivery due on the sandbox clock now.
func (s *sb) deliver() { s.s.Deliveries.RunDue(context.Background()) }

type loggedDelivery struct {
	Operation string
	Event     string
	URL       string
	Body      string
	State     string
	Attempts  []struct {
		SandboxTime time.Time `json:"sandbox_time"`
		Status      int
	}
}

func (s *sb) deliveries() []loggedDelivery {
	s.t.Helper()
	r := s.doAuth("GET", "/control/deliveries", nil, "", "")
	var out struct{ Deliveries []loggedDelivery }
	if r.status != 200 || json.Unmarshal(r.raw, &out) != nil {
		s.t.Fatalf("GET /control/deliveries: %d %s", r.status, r.raw)
	}
	return out.Deliveries
}

// A session with merchant_urls.authorization: the customer's approval
// sends {"authorization_token", "session_id"} there, unsigned, and the log
// shows the URL with its token redacted.
func TestAuthorizationCallbackCarriesTheDocumentedBody(t *testing.T) {
	s := newSB(t)
	rc := sandboxtest.NewReceiver(t)
	sess := deSession()
	sess["merchant_urls"] = map[string]any{"confirmation": "http://shop.test/orders/1",
		"authorization": rc.URL + "/callbacks/klarna/authorization/ORD1?token=one-time-secret&sid={session.id}"}
	id := s.createSession(sess)
	if len(rc.Requests()) != 0 {
		t.Fatal("a callback went before the customer approved")
	}
	tok := s.authorize(id, nil)
	s.deliver()

	got := rc.Requests()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	if want := "POST /callbacks/klarna/authorization/ORD1?token=one-time-secret&sid=" + id; (got[0].Method + " " + got[0].Path) != want {
		t.Errorf("sent to %q, want %q", (got[0].Method + " " + got[0].Path), want)
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].Body, &body); err != nil || len(body) != 2 ||
		body["authorization_token"] != tok || body["session_id"] != id {
		t.Errorf("body %s, want exactly {authorization_token: %s, session_id: %s}", got[0].Body, tok, id)
	}
	if got[0].Header.Get("Authorization") != "" || got[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v: want JSON and no signature", got[0].Header)
	}
	ds := s.deliveries()
	if len(ds) != 1 || ds[0].Operation != "klarna.authorization_callback" || ds[0].State != "delivered" {
		t.Fatalf("delivery log %+v", ds)
	}
	if strings.Contains(ds[0].URL, "one-time-secret") || !strings.Contains(ds[0].URL, "/callbacks/klarna/authorization/ORD1") {
		t.Errorf("the log shows the URL %q: the token must be redacted", ds[0].URL)
	}

	// A session without the URL sends nothing.
	plain := s.createSession(deSession())
	s.authorize(plain, nil)
	s.deliver()
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("a session without merchant_urls.authorization made a callback (%d requests)", n)
	}
}

// A failing receiver gets the authorization callback again on the sandbox
// clock, and no longer once the authorization has lapsed (60 minutes).
func TestAuthorizationCallbackRetriesOnTheSandboxClock(t *testing.T) {
	s := newSB(t)
	rc := sandboxtest.NewReceiver(t)
	rc.Answer(500, 503, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)
	sess := deSession()
	sess["merchant_urls"] = map[string]any{"authorization": rc.URL + "/cb?token=t"}
	s.authorize(s.createSession(sess), nil)
	s.deliver()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("%d attempts at once, want 1", n)
	}
	s.deliver()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("a retry went before the sandbox clock moved (%d attempts)", n)
	}
	s.advance("10s")
	s.deliver()
	if n := len(rc.Requests()); n != 2 {
		t.Fatalf("%d attempts after 10s, want 2", n)
	}
	for range 12 {
		s.advance("10m")
		s.deliver()
	}
	ds := s.deliveries()
	if ds[0].State != "failed" {
		t.Fatalf("state %q after 2 hours, want failed", ds[0].State)
	}
	last := ds[0].Attempts[len(ds[0].Attempts)-1].SandboxTime
	if start := ds[0].Attempts[0].SandboxTime; last.Sub(start) > time.Hour {
		t.Errorf("the last attempt went %s after the first: past the authorization's 60 minutes", last.Sub(start))
	}
}

// Resolving a pending order's review sends {order_id, event_type} to the
// order's merchant_urls.notification, every 10 minutes until a 200.
func TestFraudDecisionSendsTheNotification(t *testing.T) {
	s := newSB(t)
	rc := sandboxtest.NewReceiver(t)
	sess := deSession()
	a := s.authorize(s.createSession(sess), map[string]any{"persona": "review@example.com"})
	order := orderOf(sess)
	order["merchant_urls"] = map[string]any{"confirmation": "http://shop.test/o",
		"notification": rc.URL + "/callbacks/klarna/notification/ORD1?token=secret-n"}
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", order)
	if r.status != 200 || r.str("fraud_status") != "PENDING" {
		t.Fatalf("order: %d %s", r.status, r.raw)
	}
	id := r.str("order_id")
	s.deliver()
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("a notification went before the review ended (%d)", n)
	}

	rc.Answer(204, 500) // a 204 is not the 200 Klarna waits for
	if f := s.doAuth("POST", "/control/klarna/orders/"+id+"/fraud", map[string]any{"fraud_status": "REJECTED"}, "", ""); f.status != 200 {
		t.Fatalf("fraud: %d %s", f.status, f.raw)
	}
	s.deliver()
	got := rc.Requests()
	if len(got) != 1 || (got[0].Method+" "+got[0].Path) != "POST /callbacks/klarna/notification/ORD1?token=secret-n" {
		t.Fatalf("requests %+v", got)
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].Body, &body); err != nil || len(body) != 2 ||
		body["order_id"] != id || body["event_type"] != "FRAUD_RISK_REJECTED" {
		t.Errorf("body %s", got[0].Body)
	}
	s.advance("9m")
	s.deliver()
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("a retry went after 9 minutes (%d attempts)", n)
	}
	s.advance("1m")
	s.deliver()
	s.advance("10m")
	s.deliver()
	s.advance("10m")
	s.deliver()
	if n := len(rc.Requests()); n != 3 {
		t.Fatalf("%d attempts, want 3: 204, 500, then 200 ends it", n)
	}
	ds := s.deliveries()
	if len(ds) != 1 || ds[0].Operation != "klarna.fraud_notification" || ds[0].Event != "FRAUD_RISK_REJECTED" || ds[0].State != "delivered" {
		t.Fatalf("delivery log %+v", ds)
	}
	if strings.Contains(ds[0].URL, "secret-n") {
		t.Errorf("the log shows the token: %q", ds[0].URL)
	}
}

// A receiver that never answers 200 is asked every 10 minutes for 24
// hours, then no more.
func TestFraudNotificationStopsAfter24Hours(t *testing.T) {
	s := newSB(t)
	rc := sandboxtest.NewReceiver(t)
	script := make([]int, 200)
	for i := range script {
		script[i] = 503
	}
	rc.Answer(script...)
	sess := deSession()
	sess["merchant_urls"] = map[string]any{"confirmation": "http://shop.test/o", "notification": rc.URL + "/n"}
	a := s.authorize(s.createSession(sess), map[string]any{"persona": "review@example.com"})
	// The session's notification URL serves when the order request has none.
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(deSession()))
	id := r.str("order_id")
	s.doAuth("POST", "/control/klarna/orders/"+id+"/fraud", map[string]any{"fraud_status": "ACCEPTED"}, "", "")
	s.deliver()
	for range 6 * 25 {
		s.advance("10m")
		s.deliver()
	}
	if n := len(rc.Requests()); n != 6*24+1 {
		t.Errorf("%d attempts, want %d: one at once, then every 10 minutes for 24 hours", n, 6*24+1)
	}
	if ds := s.deliveries(); ds[0].State != "failed" || ds[0].Event != "FRAUD_RISK_ACCEPTED" {
		t.Errorf("delivery %+v", ds[0])
	}
}
