package vipps_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// restart restarts the sandbox on the same data dir, as restarting the shop
// it runs in would.
func (e *env) restart() {
	e.t.Helper()
	e.sb.Restart(e.t)
	e.st = e.sb.State
}

// A restart changes nothing the shop can see: the access token it holds
// still works, payments read as they did (history included), a replayed
// create is recognised, a capture still captures, and the landing page of a
// payment nobody answered yet still opens. Reset forgets it all, for good.
func TestPaymentsSurviveARestart(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	e.create(tok, "refshop-restart-1")
	e.approve(tok, "refshop-restart-1")
	waiting := e.create(tok, "refshop-restart-2")
	read := func(ref string) string {
		r := e.do("GET", "/vipps/epayment/v1/payments/"+ref, e.api(tok, ""), "")
		ev := e.do("GET", "/vipps/epayment/v1/payments/"+ref+"/events", e.api(tok, ""), "")
		return fmt.Sprintf("%d %s\n%d %s", r.Status, r.Body, ev.Status, ev.Body)
	}
	before := read("refshop-restart-1")

	e.restart()
	if after := read("refshop-restart-1"); after != before {
		t.Fatalf("the payment reads differently after a restart:\nbefore %s\nafter  %s", before, after)
	}
	if r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "refshop-restart-1-create"), createBody("refshop-restart-1")); r.Status != 201 {
		t.Errorf("replayed create after a restart: %d %s, want the first answer again", r.Status, r.Body)
	}
	if r := e.modify(tok, "refshop-restart-1", "capture", "restart-1-capture", amountBody(4980)); r.Status != 200 {
		t.Fatalf("capture after a restart: %d %s", r.Status, r.Body)
	}
	landing, _ := url.Parse(waiting["redirectUrl"].(string))
	if page := e.do("GET", landing.RequestURI(), nil, ""); page.Status != 200 || !strings.Contains(string(page.Body), ">Approve<") {
		t.Errorf("landing page after a restart: %d", page.Status)
	}

	e.do("POST", "/control/reset", nil, "")
	e.restart()
	tok = e.token()
	if r := e.do("GET", "/vipps/epayment/v1/payments/refshop-restart-1", e.api(tok, ""), ""); r.Status != 404 {
		t.Errorf("after reset and a restart: %d %s, want 404", r.Status, r.Body)
	}
}
