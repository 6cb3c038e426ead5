package klarna_test

import (
	"net/http"
	"strings"
	"testing"
)

// A restart changes nothing the shop can see: sessions read as they did and
// their client tokens still open the widget, an approved authorization still
// places its order, a repeated idempotency key still replays, a placed
// order's redirect still leads to the shop, and customer tokens of both kinds keep
// their state, rotated ones included. Reset forgets it all, for good.
func TestObjectsSurviveARestart(t *testing.T) {
	s := newSB(t)
	tok := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	recurring := s.recurringToken("", nil)
	s.setting("klarna_rotate_customer_tokens", true)
	placed := s.linkedOrder(tok, nil)
	rotated := placed.str("customer_token")
	sess := deSession()
	sess["customer"] = map[string]any{"customer_token": rotated}
	create := func() reply {
		return s.do("POST", "/klarna/api/payments/v1/sessions", sess, "Klarna-Idempotency-Key", "attempt-9-session")
	}
	id := create().str("session_id")
	auth := s.authorize(id, nil)
	before := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil)

	s.s.Restart(t)
	if after := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil); after.status != 200 || string(after.raw) != string(before.raw) {
		t.Errorf("session after a restart: %d %s\nbefore: %s", after.status, after.raw, before.raw)
	}
	if again := create(); again.str("session_id") != id {
		t.Errorf("the same idempotency key after a restart: %s, want session %s again", again.raw, id)
	}
	if w := s.widgetState(id, "http://shop.test"); w.status != 200 || w.str("mode") != "ready" {
		t.Errorf("widget with the client token from before the restart: %d %s, want the linked customer recognised", w.status, w.raw)
	}
	order := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess))
	latest := order.str("customer_token")
	if order.status != 200 || latest == "" || latest == rotated {
		t.Fatalf("order from an authorization made before the restart: %d %s, want a rotated token", order.status, order.raw)
	}
	for token, want := range map[string]bool{tok: false, rotated: false, latest: true} {
		if got := s.recognises(token); got != want {
			t.Errorf("account-linking token %s after a restart recognises the customer: %v, want %v", token, got, want)
		}
	}
	if r := s.do("GET", "/klarna/api/customer-token/v1/tokens/"+recurring, nil); r.status != 200 || r.str("status") != "ACTIVE" {
		t.Errorf("Customer Token API token after a restart: %d %s", r.status, r.raw)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(s.url + "/klarna/payments/redirect/" + placed.str("order_id"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "oid="+placed.str("order_id")) {
		t.Errorf("redirect of an order placed before the restart: %d %q", res.StatusCode, loc)
	}

	s.doAuth("POST", "/control/reset", nil, "", "")
	s.s.Restart(t)
	wantError(t, s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil), 404, "NOT_FOUND", "")
	wantError(t, s.do("GET", "/klarna/api/customer-token/v1/tokens/"+recurring, nil), 404, "NOT_FOUND", "")
	if s.recognises(latest) {
		t.Error("a linked customer is recognised after reset")
	}
}
