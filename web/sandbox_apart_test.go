package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/config"
	"refshop/web/sandboxclock"
)

// A shop using a sandbox running apart (SANDBOX_URL), wired as cmd/shop
// wires one: the configuration loaded from that one variable, and the
// provider clock following the sandbox's over its control API. The sandbox
// is an httptest server the shop reaches only over HTTP.

// useSandboxApart replaces d's configuration with the one SANDBOX_URL gives
// for the sandbox d is pointed at, and its provider clock with one that
// follows that sandbox from d's clock, read once (cmd/shop then reads it
// every sandboxclock.Every; the tests call Sync instead of waiting).
func useSandboxApart(t *testing.T, apart **sandboxclock.Clock) func(*Deps) {
	return func(d *Deps) {
		sandboxURL := d.Config.SandboxURL // the test sandbox's origin
		cfg, err := config.Load(func(name string) string {
			return map[string]string{"SANDBOX_URL": sandboxURL}[name]
		})
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.SandboxApart || cfg.Vipps.Mode != config.Sandbox || cfg.Klarna.Mode != config.Sandbox ||
			cfg.Vipps.APIURL != sandboxURL+"/vipps" || cfg.Klarna.LoginURL != sandboxURL+"/klarna/login" {
			t.Fatalf("SANDBOX_URL=%s: %+v", sandboxURL, cfg)
		}
		d.Config = cfg
		c := sandboxclock.New(sandboxURL, http.DefaultClient, d.Clock, d.Log)
		if err := c.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		d.ProviderClock, *apart = c, c
	}
}

func TestSandboxApartVippsPaysAndWebhooksAreDatedOnItsClock(t *testing.T) {
	var apart *sandboxclock.Clock
	v := newVippsShopWith(t, useSandboxApart(t, &apart))
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "approve")
	if p := b.get(b.get(back).location); p.doc(t).Find("[data-testid=order-status]").Text() != "Payment authorized" {
		t.Fatalf("a Vipps payment through the sandbox apart: %s", p.doc(t).Find("main").Text())
	}

	// The sandbox's clock moves an hour; the shop's does not.
	v.sb.Control(t, "/control/clock", map[string]any{"advance": "1h"})
	if err := apart.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !apart.Now().Equal(v.st.Clock.Now()) || v.clock.Now().Equal(v.st.Clock.Now()) {
		t.Fatalf("provider clock %v, sandbox %v, shop %v: want the provider clock on the sandbox's", apart.Now(), v.st.Clock.Now(), v.clock.Now())
	}
	// A delivery dated by the sandbox, an hour past the shop's own clock
	// (Vipps allows 5 minutes), is accepted: it is checked on the sandbox's.
	v.storeWebhook(t)
	id := v.approveOnly(t, v.browser(t))
	if code, body := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusOK {
		t.Fatalf("a delivery dated on the sandbox's clock: %d %s", code, body)
	}
	if o := v.order(t, id); o.Status != db.StatusAuthorized {
		t.Fatalf("order %s after the AUTHORIZED event, want authorized", o.Status)
	}
}

func TestSandboxApartClockAgesTheShopsTokens(t *testing.T) {
	var apart *sandboxclock.Clock
	k := klarnaSignInShopOn(t, dbtest.Open(t), useSandboxApart(t, &apart))
	b := k.browser(t)
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	if _, mode := k.payWithKlarna(t, b); mode != "ready" {
		t.Fatalf("widget %q, want ready (recognised)", mode)
	}
	// Past the access token's 5 minutes on the sandbox's clock, told over
	// its control API as a person would; the shop reads it at its next sync.
	k.sb.Control(t, "/control/clock", map[string]any{"advance": "6m"})
	if err := apart.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	checks := k.st.Calls("klarna.userinfo")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	if _, mode := k.payWithKlarna(t, b); mode != "ready" {
		t.Fatalf("after the access token expired: widget %q, want ready", mode)
	}
	// The shop knew the token had expired: it refreshed before using it and
	// checked only the fresh one. On the shop's own clock it would have
	// tried the stale one first, refused (401) at userinfo.
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if n := k.st.Calls("klarna.userinfo") - checks; n != 1 {
		t.Fatalf("%d userinfo checks for the second checkout, want 1 (the fresh token's, no refused stale one)", n)
	}
	sent := k.sessions.tokens()
	if len(sent) != 2 || sent[0] == sent[1] || !k.recognised(t, sent[1]) {
		t.Fatalf("create-session access tokens: %d sent, want the second a fresh one Klarna recognises", len(sent))
	}
	if strings.Contains(k.logText(), "level=ERROR") {
		t.Fatalf("errors in the log:\n%s", k.logText())
	}
}

// An hour is past Vipps's 5 minutes: without following the sandbox's clock
// the delivery above would be refused, which this shows.
func TestWithoutFollowingTheSandboxApartItsDeliveriesAreStale(t *testing.T) {
	var apart *sandboxclock.Clock
	v := newVippsShopWith(t, useSandboxApart(t, &apart))
	v.storeWebhook(t)
	id := v.approveOnly(t, v.browser(t))
	v.sb.Control(t, "/control/clock", map[string]any{"advance": "1h"}) // and no Sync
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusUnauthorized {
		t.Fatalf("a delivery an hour past the provider clock: %d, want 401", code)
	}
}
