package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/sandbox/control"
	"refshop/web/vipps"
)

// registrations lists the sandbox's webhooks for the shop's URL.
func (v *vippsShop) registrations(t *testing.T) []vipps.Webhook {
	t.Helper()
	all, err := v.Vipps.ListWebhooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []vipps.Webhook
	for _, h := range all {
		if h.URL == v.vipps.hooks.URL() {
			out = append(out, h)
		}
	}
	return out
}

func (v *vippsShop) ensure(t *testing.T) (string, bool) {
	t.Helper()
	id, made, err := v.vipps.hooks.Ensure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return id, made
}

// The first start registers the shop's URL for the eight events and stores
// the secret sealed; a restart on the same database finds it and registers
// nothing.
func TestVippsWebhookRegistersOnceAcrossRestarts(t *testing.T) {
	v := newVippsShop(t)
	id, made := v.ensure(t)
	if !made || id == "" {
		t.Fatalf("first start: %q made=%v", id, made)
	}
	regs := v.registrations(t)
	if len(regs) != 1 || regs[0].ID != id || len(regs[0].Events) != len(vipps.PaymentEvents) || regs[0].URL != v.Config.ShopBaseURL+"/webhooks/vipps" {
		t.Fatalf("at the sandbox: %+v", regs)
	}
	row, sec, err := v.vipps.hooks.current(t.Context())
	if err != nil || row.WebhookID != id || sec.IsZero() || !strings.HasPrefix(row.Secret, "v1:") || strings.Contains(row.Secret, sec.Reveal()) {
		t.Fatalf("stored %+v %v", row, err)
	}

	w := v.restarted(t)
	again, made := w.ensure(t)
	if made || again != id || v.st.Calls("vipps.webhooks_register") != 1 {
		t.Fatalf("restart: %q made=%v, %d registers", again, made, v.st.Calls("vipps.webhooks_register"))
	}
}

// A registration Vipps still lists but whose secret the shop lost (its row
// gone, or a secret that no longer opens) is deleted and made anew.
func TestVippsWebhookLostSecretRegistersAnew(t *testing.T) {
	v := newVippsShop(t)
	first, _ := v.ensure(t)
	if err := v.Store.DeleteVippsWebhook(t.Context(), v.vipps.hooks.env, first); err != nil {
		t.Fatal(err)
	}
	second, made := v.ensure(t)
	if !made || second == first {
		t.Fatalf("after losing the row: %q made=%v", second, made)
	}
	if regs := v.registrations(t); len(regs) != 1 || regs[0].ID != second {
		t.Fatalf("at the sandbox: %+v, want only the new one", regs)
	}

	if _, err := v.DB.Write.Exec(`UPDATE vipps_webhooks SET secret = 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'`); err != nil {
		t.Fatal(err)
	}
	third, made := v.ensure(t)
	if !made || third == second {
		t.Fatalf("after the secret stopped opening: %q made=%v", third, made)
	}
	if regs := v.registrations(t); len(regs) != 1 || regs[0].ID != third {
		t.Fatalf("at the sandbox: %+v", regs)
	}
	if !strings.Contains(v.logText(), "its stored secret does not open") {
		t.Error("the reason is not logged")
	}
}

// A stored registration Vipps no longer lists (deleted, or removed after two
// weeks unanswered) is made anew.
func TestVippsWebhookGoneAtVippsRegistersAnew(t *testing.T) {
	v := newVippsShop(t)
	first, _ := v.ensure(t)
	if err := v.Vipps.DeleteWebhook(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	second, made := v.ensure(t)
	if !made || second == first {
		t.Fatalf("%q made=%v", second, made)
	}
	if regs := v.registrations(t); len(regs) != 1 || regs[0].ID != second {
		t.Fatalf("at the sandbox: %+v", regs)
	}
	if row, _, err := v.vipps.hooks.current(t.Context()); err != nil || row.WebhookID != second {
		t.Fatalf("stored %+v %v", row, err)
	}
}

// Two instances on one database starting at once make one registration:
// the one whose claim is stored registers, the other waits for it.
func TestVippsWebhookTwoInstancesRegisterOnce(t *testing.T) {
	v := newVippsShop(t)
	w := v.restarted(t)
	yield := func(ctx context.Context, _ time.Duration) error { runtime.Gosched(); return ctx.Err() }
	v.vipps.hooks.sleep, w.vipps.hooks.sleep = yield, yield
	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i, s := range []*vippsShop{v, w} {
		wg.Go(func() {
			id, _, err := s.vipps.hooks.Ensure(t.Context())
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("ids %v, want one", ids)
	}
	if n := v.st.Calls("vipps.webhooks_register"); n != 1 {
		t.Errorf("%d registers", n)
	}
	if regs := v.registrations(t); len(regs) != 1 {
		t.Errorf("at the sandbox: %+v", regs)
	}
}

// A claim whose instance stopped before it registered holds the others off
// for vippsWebhookClaimTTL only.
func TestVippsWebhookStaleClaimIsTakenOver(t *testing.T) {
	v := newVippsShop(t)
	h := v.vipps.hooks
	if ok, err := v.Store.ClaimVippsWebhook(t.Context(), h.env, h.url, "a crashed instance"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	waits := 0
	h.sleep = func(ctx context.Context, d time.Duration) error {
		waits++
		v.clock.Advance(time.Minute) // the claimant never comes back
		return nil
	}
	if id, made := v.ensure(t); !made || id == "" {
		t.Fatalf("%q made=%v", id, made)
	}
	if waits != int(vippsWebhookClaimTTL/time.Minute) {
		t.Errorf("waited %d times for the stale claim", waits)
	}
}

// In sandbox mode RunBackground registers at start, retrying while the
// sandbox fails, and registers anew when told the sandbox was reset.
func TestVippsWebhookKeptInSandboxMode(t *testing.T) {
	ticks := newManualTicks() // no tick is sent: only the start and the recheck run
	v := newVippsShopWith(t, func(d *Deps) {
		d.Tick = ticks.tick
		d.SubscribeAtStart = true
		d.Config.Altpay.Mode = config.Real // only Vipps's registration here: see webhooks_test.go for both
	})
	var waited []time.Duration
	var mu sync.Mutex
	v.vipps.keeper.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waited = append(waited, d)
		mu.Unlock()
		return nil
	}
	v.fault(t, "vipps.webhooks_list", http.StatusServiceUnavailable, 3*3) // three tries of the client's three
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		v.RunBackground(ctx)
		close(stopped)
	}()
	defer func() { stop(); <-stopped }()
	var first string
	eventually(t, "registered at start", func() bool {
		_, sec, err := v.vipps.hooks.current(t.Context())
		if err != nil || sec.IsZero() {
			return false
		}
		regs := v.registrations(t)
		if len(regs) == 1 {
			first = regs[0].ID
		}
		return first != ""
	})
	mu.Lock()
	if len(waited) != 3 || waited[0] != time.Second || waited[1] != 2*time.Second || waited[2] != 4*time.Second {
		t.Errorf("waits %v, want 1s 2s 4s", waited)
	}
	mu.Unlock()
	if !strings.Contains(v.logText(), "vipps webhook: registering failed; trying again") {
		t.Error("the failed tries are not logged")
	}

	v.sb.Control(t, "/control/reset", map[string]any{}) // forgets every registration
	v.RecheckWebhooks()
	v.RecheckWebhooks() // a second ask while one is due never waits
	eventually(t, "registered anew after the reset", func() bool {
		regs := v.registrations(t)
		return len(regs) == 1 && regs[0].ID != first
	})
}

// End to end: the sandbox delivers a real signed webhook to the shop's
// server, and the approved payment's order is authorized while Vipps's GET
// payment fails.
func TestVippsWebhookDeliveredBySandboxAuthorizes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shopURL := "http://" + l.Addr().String()
	sb, sbClk := startVippsSandbox(t, func(c *control.Config) { c.ShopBaseURL = shopURL })
	app := newTestApp(t, vippsDeps(sb, []func(*Deps){func(d *Deps) { d.Config.ShopBaseURL = shopURL }})...)
	v := &vippsShop{testApp: app, sb: sb, st: sb.State, sbClk: sbClk}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: app}}
	srv.Start()
	t.Cleanup(srv.Close)
	if _, made := v.ensure(t); !made {
		t.Fatal("not registered")
	}

	b := v.browser(t)
	landing := v.startPayment(t, b)
	v.fault(t, "vipps.get_payment", http.StatusInternalServerError, 100)
	gets := v.st.Calls("vipps.get_payment")
	id := orderIDFrom(t, v.answer(t, landing, "approve"))
	sb.Deliveries.RunDue(t.Context()) // returns once what was due went (the worker's sends too)

	o := v.order(t, id)
	if o.Status != db.StatusAuthorized {
		var log []string
		for _, d := range sb.Deliveries.List(0) {
			log = append(log, d.Event+" "+d.State)
		}
		t.Fatalf("order %s after the deliveries %v", o.Status, log)
	}
	if v.st.Calls("vipps.get_payment") != gets {
		t.Error("the shop asked GET payment")
	}
	delivered := map[string]int{}
	for _, d := range sb.Deliveries.List(0) {
		for _, a := range d.Attempts {
			delivered[d.Event] = a.Status
		}
	}
	if delivered[vipps.EventCreated] != http.StatusOK || delivered[vipps.EventAuthorized] != http.StatusOK {
		t.Errorf("answers to the deliveries: %v", delivered)
	}
	events, _ := v.Store.VippsWebhookEvents(t.Context(), o.ID)
	var names []string
	for _, e := range events {
		names = append(names, e.Name)
	}
	if strings.Join(names, " ") != "CREATED AUTHORIZED" {
		t.Errorf("stored events %v", names)
	}
	// The same events read from Vipps's event log merge with the delivered
	// ones: the sandbox dates both alike, so the page lists each once.
	v.vipps.refreshEvents(t.Context(), o, v.payment(t, o.ID).Reference)
	if logged, err := v.Store.VippsEvents(t.Context(), o.ID); err != nil || len(logged) != 2 {
		t.Fatalf("event log %+v %v", logged, err)
	}
	history, err := v.vipps.history(t.Context(), o.ID)
	if err != nil || len(history) != 2 || !history[0].Webhook || !history[1].Webhook {
		t.Errorf("history %+v %v, want CREATED and AUTHORIZED once each, both delivered", history, err)
	}
}
