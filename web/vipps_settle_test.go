package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/vipps"
)

// The tests here guard the money: however many requests, sweeps and shop
// instances settle one payment at once, and across a restart, the order is
// authorized once, nothing is captured before the order ships (the back
// office's tests, admin_test.go, guard the capture), and every call reuses
// the attempt's stored Idempotency-Keys.

// expect fetches path from a shop with the browser's cookies and reports a
// status other than want. It is safe to run in several goroutines.
func (b *browser) expect(path string, want int) error {
	res, err := b.c.Get(b.app.srv.URL + path)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != want {
		return fmt.Errorf("%s: %d, want %d", path, res.StatusCode, want)
	}
	return nil
}

// atOnce runs each step in its own goroutine, all released together, and
// fails the test with the steps' errors once all have returned.
func atOnce(t *testing.T, steps ...func() error) {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() {
			<-start
			errs[i] = step()
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// vippsEvents is the payment's event log at Vipps.
func (v *vippsShop) vippsEvents(t *testing.T, ref string) []vipps.Event {
	t.Helper()
	events, err := v.Vipps.Events(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// wantAuthorizedOnce checks, at Vipps and in the shop, that the order's
// payment is authorized in full and nothing captured (Vipps captures when
// the back office ships the order: admin.go); that the order is authorized
// with the amounts Vipps reported and its cart emptied; and that the shops'
// logs (one per instance) record one authorization between them.
func (v *vippsShop) wantAuthorizedOnce(t *testing.T, b *browser, id string, shops ...*vippsShop) {
	t.Helper()
	o := v.order(t, id)
	vp := v.payment(t, o.ID)
	if o.Status != db.StatusAuthorized || o.StatusDetail != vippsAuthorizedDetail {
		t.Errorf("order %s (%q), want authorized", o.Status, o.StatusDetail)
	}
	for _, e := range v.vippsEvents(t, vp.Reference) {
		if e.Name == "CAPTURED" {
			t.Errorf("captured before the order shipped: %+v", e)
		}
	}
	p, err := v.Vipps.GetPayment(t.Context(), vp.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if p.Aggregate.AuthorizedAmount.Value != o.TotalAmount || p.Aggregate.CapturedAmount.Value != 0 || vp.State != vipps.StateAuthorized {
		t.Errorf("at Vipps %+v, stored state %q; want %d authorized, nothing captured", p.Aggregate, vp.State, o.TotalAmount)
	}
	if o.Amounts.Authorized != o.TotalAmount || o.Amounts.Captured != 0 {
		t.Errorf("the order's amounts %+v, want %d authorized and nothing captured", o.Amounts, o.TotalAmount)
	}
	authorized := 0
	for _, s := range shops {
		authorized += strings.Count(s.logText(), "vipps: payment authorized")
	}
	if authorized != 1 {
		t.Errorf("%d authorizations logged, want 1", authorized)
	}
	if cart := b.get("/cart"); cart.status != http.StatusOK || !strings.Contains(cart.body, "Your cart is empty") {
		t.Errorf("the cart after payment: %d, not emptied", cart.status)
	}
}

// The customer's return, an order-page view and the sweep settle the same
// approved payment at once: one authorization, no capture.
func TestVippsReturnViewAndSweepAtOnceAuthorizeOnce(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	v.clock.Advance(vippsSettleAfter) // due for the sweep as well
	atOnce(t,
		func() error { return b.expect("/checkout/vipps/return?order="+id, http.StatusSeeOther) },
		func() error { return b.expect("/orders/"+id, http.StatusOK) },
		func() error { v.vipps.sweepOnce(t.Context()); return nil },
	)
	v.wantAuthorizedOnce(t, b, id, v)
	if n := v.st.Calls("vipps.capture"); n != 0 {
		t.Errorf("%d capture calls before the order shipped, want 0", n)
	}
}

// Two shop instances on one database file and one sandbox (two processes,
// as behind a load balancer) settle the same payment at once, each through
// its return, its order page and its sweep: the order is authorized once.
// The instances do not share locks; the order's compare-and-swap keeps it
// right.
func TestVippsTwoShopsSettlingAtOnceAuthorizeOnce(t *testing.T) {
	v := newVippsShop(t)
	w := v.restarted(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	bw := b.on(w.testApp)
	v.clock.Advance(vippsSettleAfter)
	w.clock.Advance(vippsSettleAfter)
	atOnce(t,
		func() error { return b.expect("/checkout/vipps/return?order="+id, http.StatusSeeOther) },
		func() error { return bw.expect("/checkout/vipps/return?order="+id, http.StatusSeeOther) },
		func() error { return b.expect("/orders/"+id, http.StatusOK) },
		func() error { return bw.expect("/orders/"+id, http.StatusOK) },
		func() error { v.vipps.sweepOnce(t.Context()); return nil },
		func() error { w.vipps.sweepOnce(t.Context()); return nil },
	)
	v.wantAuthorizedOnce(t, b, id, v, w)
	// The instance that lost a race finds the order settled: no failure.
	for _, s := range []*vippsShop{v, w} {
		for line := range strings.Lines(s.logText()) {
			if strings.Contains(line, "settling") || strings.Contains(line, "provider work failed") {
				t.Errorf("an instance failed to settle a payment the other settled: %s", line)
			}
		}
	}
}

// Vipps created the payment but every answer was lost, and asking Vipps
// failed too: the customer is told the shop is still confirming, not that
// nothing was charged. The shop restarts; the same form posted again joins
// the stored attempt, whose stored create key makes Vipps hand back the same
// payment: one payment, authorized.
func TestVippsRestartedShopReusesTheStoredKeys(t *testing.T) {
	// No kept-alive connections: Go's transport would retry a request with
	// an Idempotency-Key once more on a reused connection that drops, and
	// the faults below count the client's own three tries.
	v := newVippsShopWith(t, func(d *Deps) {
		d.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	})
	b := v.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	v.loseAnswers(t, "vipps.create_payment", 3)
	v.fault(t, "vipps.get_payment", 503, 3)
	form := url.Values{} // the Vipps form has no fields
	p := b.post("/checkout/vipps", form)
	id := v.orderIDs(t)[0]
	if p.status != http.StatusSeeOther || p.location != "/orders/"+id {
		t.Fatalf("checkout with no answer from Vipps: %d to %q, want the order page", p.status, p.location)
	}
	o := v.order(t, id)
	if vp := v.payment(t, o.ID); o.Status != db.StatusPending || vp.State != "" {
		t.Fatalf("after an unknown outcome: order %s, payment state %q; want pending and unknown", o.Status, vp.State)
	}

	w := v.restarted(t) // the first shop is gone
	bw := b.on(w.testApp)
	again := bw.post("/checkout/vipps", form)
	if again.status != http.StatusSeeOther || !strings.HasPrefix(again.location, v.sb.URL+"/vipps/landing?token=") {
		t.Fatalf("the form again after the restart: %d to %q, want the landing page", again.status, again.location)
	}
	landing, err := url.Parse(again.location)
	if err != nil {
		t.Fatal(err)
	}
	back := v.answer(t, landing, "approve")
	if r := bw.get(back); r.status != http.StatusSeeOther || r.location != "/orders/"+id {
		t.Fatalf("return: %d to %q", r.status, r.location)
	}
	if ids := v.orderIDs(t); len(ids) != 1 {
		t.Errorf("%d orders for one cart", len(ids))
	}
	vp := v.payment(t, o.ID)
	var created []vipps.Event
	for _, e := range v.vippsEvents(t, vp.Reference) {
		if e.Name == "CREATED" {
			created = append(created, e)
		}
	}
	if len(created) != 1 || created[0].IdempotencyKey == nil || *created[0].IdempotencyKey != vp.CreateKey {
		t.Errorf("payments created at Vipps %+v, want one with the stored key %s", created, vp.CreateKey)
	}
	w.wantAuthorizedOnce(t, bw, id, v, w)
}

// The sweeps run through RunBackground on the shop's injected clock and
// ticks. A shop restarted with an approved payment nobody came back for
// settles it once the payment is past its expiry, with the stored keys.
func TestVippsRunBackgroundSettlesAfterARestart(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	id := v.approveOnly(t, b) // and the customer never comes back

	ticks := newManualTicks()
	w := v.restarted(t, func(d *Deps) { d.Tick = ticks.tick })
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		w.RunBackground(ctx)
		close(stopped)
	}()
	ticks.send("vipps") // the pass at start has ended
	ticks.send("vipps") // and the one after it
	if o := w.order(t, id); o.Status != db.StatusPending {
		t.Fatalf("swept before the payment's expiry: %s", o.Status)
	}
	w.clock.Advance(vippsSettleAfter)
	ticks.send("vipps")
	ticks.send("vipps") // a whole pass after the clock moved has ended
	w.wantAuthorizedOnce(t, b.on(w.testApp), id, v, w)
	stop()
	<-stopped
}

// Vipps slower than the deadline on the way back: the return answers in time
// with the order page, which says the shop is still confirming while the
// settle goes on, then shows the payment authorized.
func TestVippsSlowReturnAnswersInTimeAndSettlesInTheBackground(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	v.sb.Delay(t, "vipps.get_payment", "1s", 1)
	v.ProviderDeadline = 20 * time.Millisecond // after setup: the race detector makes setup slow
	if p := b.get("/checkout/vipps/return?order=" + id); p.status != http.StatusSeeOther || p.location != "/orders/"+id {
		t.Fatalf("return past the deadline: %d to %q", p.status, p.location)
	}
	page, doc := b.orderPage(t, id)
	if !strings.Contains(doc.Find("[data-testid=vipps-confirming]").Text(), "still confirming") || page.header.Get("Refresh") == "" {
		t.Error("the order page does not say it is still confirming, or does not reload")
	}
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
		t.Errorf("status %q before Vipps answered", got)
	}
	<-v.work.ended(vippsSettleWork(v.order(t, id).ID))
	v.ProviderDeadline = 0 // the default again: the views below must not race a 20 ms budget
	page, doc = b.orderPage(t, id)
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Payment authorized" {
		t.Errorf("status %q after the settle ended, want Payment authorized", got)
	}
	if doc.Find("[data-testid=vipps-confirming]").Length() != 0 || page.header.Get("Refresh") != "" {
		t.Error("still confirming after the settle ended")
	}
	v.wantAuthorizedOnce(t, b, id, v)
}
