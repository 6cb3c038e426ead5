package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"refshop/web/altpay"
	"refshop/web/config"
)

// newWebhookShop is a Vipps shop whose Alternative Payments client talks to
// the same sandbox: both flows register there.
func newWebhookShop(t *testing.T, use ...func(*Deps)) *vippsShop {
	t.Helper()
	sb, sbClk := startVippsSandbox(t)
	use = append([]func(*Deps){func(d *Deps) { useAltpay(d, sb.URL+"/altpay") }}, use...)
	app := newTestApp(t, vippsDeps(sb, use)...)
	return &vippsShop{testApp: app, sb: sb, st: sb.State, sbClk: sbClk}
}

// altpaySubscriptions lists the sandbox's subscriptions to the shop's URL.
func (v *vippsShop) altpaySubscriptions(t *testing.T) []altpay.Webhook {
	t.Helper()
	all, err := v.altpay.hooks.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []altpay.Webhook
	for _, w := range all {
		if w.EndpointURL == v.altpay.hooks.URL() {
			out = append(out, w)
		}
	}
	return out
}

// With SubscribeAtStart, RunBackground registers every flow's webhook at
// start; after a sandbox reset, RecheckWebhooks makes both register anew at
// once, and so does each one's periodic check.
func TestWebhooksKeptForEveryFlowInSandboxMode(t *testing.T) {
	ticks := newManualTicks()
	v := newWebhookShop(t, func(d *Deps) { d.Tick = ticks.tick; d.SubscribeAtStart = true })
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		v.RunBackground(ctx)
		close(stopped)
	}()
	defer func() { stop(); <-stopped }()
	both := func() (vippsID, altpayID string) {
		if regs := v.registrations(t); len(regs) == 1 {
			vippsID = regs[0].ID
		}
		if subs := v.altpaySubscriptions(t); len(subs) == 1 {
			altpayID = subs[0].ID
		}
		return vippsID, altpayID
	}
	registered := func() bool { a, b := both(); return a != "" && b != "" }
	eventually(t, "both registered at start, and logged", func() bool {
		logs := v.logText()
		return registered() && strings.Contains(logs, "vipps webhook: registered") && strings.Contains(logs, "altpay webhook: registered")
	})

	v.sb.Control(t, "/control/reset", map[string]any{}) // forgets every registration
	v.RecheckWebhooks()
	eventually(t, "both registered anew after the reset", registered)

	v.sb.Control(t, "/control/reset", map[string]any{})
	ticks.send("vipps webhook") // taken once the loop waits: the check after the recheck has ended
	ticks.send("altpay webhook")
	eventually(t, "both registered anew on their periodic check", registered)
	if n := v.st.Calls("vipps.webhooks_register") + v.st.Calls("altpay.create_webhook"); n != 2 {
		t.Errorf("%d registrations since the last reset, want one each", n)
	}
}

// Without SubscribeAtStart (every test but the ones above), RunBackground
// leaves the registrations alone: the keepers return at once, calling
// nothing.
func TestWebhooksLeftAloneWithoutSubscribeAtStart(t *testing.T) {
	v := newWebhookShop(t)
	// Bounded, so that a keeper that does run fails here rather than hangs.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, k := range v.webhookKeepers() {
		v.keepWebhook(ctx, k)
	}
	for _, op := range []string{"vipps.webhooks_list", "vipps.webhooks_register", "altpay.list_webhooks", "altpay.create_webhook"} {
		if n := v.st.Calls(op); n != 0 {
			t.Errorf("%s called %d times", op, n)
		}
	}
}

// In real mode nothing is registered at start: while the shop holds no
// registration, the log names the command that makes it.
func TestWebhooksNotRegisteredAtStartInRealMode(t *testing.T) {
	v := newWebhookShop(t, func(d *Deps) {
		d.SubscribeAtStart = true
		d.Config.Vipps.Mode, d.Config.Altpay.Mode = config.Real, config.Real
	})
	keepAll := func() {
		for _, k := range v.webhookKeepers() {
			v.keepWebhook(t.Context(), k) // returns at once in real mode
		}
	}
	keepAll()
	for _, op := range []string{"vipps.webhooks_list", "vipps.webhooks_register", "altpay.list_webhooks", "altpay.create_webhook"} {
		if n := v.st.Calls(op); n != 0 {
			t.Errorf("real mode called %s %d times at start", op, n)
		}
	}
	logs := v.logText()
	for _, cmd := range []string{"go run ./cmd/shop vipps-webhook register", "go run ./cmd/shop altpay-webhook register"} {
		if !strings.Contains(logs, cmd) {
			t.Errorf("the log does not say %q:\n%s", cmd, logs)
		}
	}

	// Registered by the commands: the next start says nothing more.
	if _, _, err := v.vipps.hooks.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.altpay.hooks.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	keepAll()
	if n := strings.Count(v.logText(), "none registered"); n != 2 {
		t.Errorf("%d lines saying none is registered, want the first start's two", n)
	}
}
