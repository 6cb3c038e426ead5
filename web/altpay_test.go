package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/config"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// altpayWorld is the shop wired to an embedded Alternative Payments sandbox.
type altpayWorld struct {
	*testApp
	sb    *sandboxtest.Server
	sbSrv *httptest.Server
	api   string // the sandbox's /altpay base
}

// newAltpayWorld starts the world; use may change the shop's dependencies
// first.
func newAltpayWorld(t *testing.T, use ...func(*Deps)) *altpayWorld {
	t.Helper()
	return newAltpayWorldAt(t, "http://shop.test", use...)
}

// newAltpayWorldAt is newAltpayWorld with the sandbox provisioned for a
// shop at shopURL (its CORS origin, and where plain-http webhook URLs may
// point).
func newAltpayWorldAt(t *testing.T, shopURL string, use ...func(*Deps)) *altpayWorld {
	t.Helper()
	w := &altpayWorld{}
	w.testApp = newTestApp(t, func(d *Deps) {
		// The sandbox runs on the shop's test clock: tokens age when it moves.
		w.sb = sandboxtest.Start(t, control.Config{BaseURL: "http://sandbox.test", ShopBaseURL: shopURL,
			Altpay: control.AltpayConfig{Enabled: true, ClientID: d.Config.Altpay.ClientID, ClientSecret: d.Config.Altpay.ClientSecret.Reveal()}},
			d.Clock)
		w.sbSrv = w.sb.Server
		w.api = w.sbSrv.URL + "/altpay"
		useAltpay(d, w.api)
		for _, f := range use {
			f(d)
		}
	})
	return w
}

// browser is a browser shopping in the United States, the market that
// offers pay by invoice (in USD, the invoices' one currency).
func (w *altpayWorld) browser(tb testing.TB) *browser {
	b := w.testApp.browser(tb)
	b.inMarket("us")
	return b
}

// useAltpay points d at the Alternative Payments API at api, with a client
// that retries without sleeping. Its connections are not kept alive: Go's
// transport silently resends a request with an Idempotency-Key that fails on
// a reused connection, and the tests count the client's own tries.
func useAltpay(d *Deps, api string) {
	d.Config.Altpay.APIURL = api
	d.Altpay = altpay.New(altpay.Config{BaseURL: api, ClientID: d.Config.Altpay.ClientID, ClientSecret: d.Config.Altpay.ClientSecret,
		HTTP: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, Clock: d.Clock, Log: d.Log,
		Sleep: func(context.Context, time.Duration) error { return nil }})
}

// newAltpayTess is newAltpayWorld with Tess signed up in a browser of her
// own, the start of most tests here.
func newAltpayTess(t *testing.T, use ...func(*Deps)) (*altpayWorld, *browser) {
	t.Helper()
	w := newAltpayWorld(t, use...)
	b := w.browser(t)
	b.signUp("tess@example.com")
	return w, b
}

// checkoutByInvoice fills the cart and chooses "Pay by invoice"; it returns
// the order's public id from the redirect to the invoice page.
func (w *altpayWorld) checkoutByInvoice(t *testing.T, b *browser, guest url.Values) string {
	t.Helper()
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	p := b.post("/checkout/altpay", guest)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/invoices/") {
		t.Fatalf("checkout: %d %s %s", p.status, p.location, p.body)
	}
	return strings.TrimPrefix(p.location, "/invoices/")
}

// token asks the shop's token endpoint as the page does.
func (b *browser) token(orderID string) (int, map[string]any) {
	b.tb.Helper()
	p := b.post("/api/altpay/invoices/"+orderID+"/token", nil)
	var body map[string]any
	_ = json.Unmarshal([]byte(p.body), &body)
	return p.status, body
}

// payAsTheBrowser does what the invoice page's script does with a token:
// add a test card and pay the invoice at the sandbox's checkout API.
func (w *altpayWorld) payAsTheBrowser(t *testing.T, token string, amount string) {
	t.Helper()
	call := func(path string, body any, key string) map[string]any {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", w.api+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	pm := call("/checkout/payment-methods/card", map[string]any{"card_provider_token": "tok_test_visa", "provider": "evervault",
		"address": map[string]string{"street_address": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country_code": "DE"}}, "")
	r := call("/checkout/payments", map[string]any{"amount": amount, "payment_date": "2026-11-21T09:00:00Z", "payment_method": "card",
		"payment_method_id": pm["id"]}, "payment-1")
	if r["status"] != "succeeded" {
		t.Fatalf("payment: %v", r)
	}
}

func TestPayByInvoiceEndToEnd(t *testing.T) {
	w, b := newAltpayTess(t)
	order := w.checkoutByInvoice(t, b, nil)

	o, err := w.Store.OrderByPublicID(t.Context(), order)
	if err != nil || o.Provider != db.ProviderAltpay || o.Status != db.StatusPending || !strings.HasPrefix(o.ProviderReference, "inv_") {
		t.Fatalf("order %+v, %v", o, err)
	}
	page := b.get("/invoices/" + order)
	doc := page.doc(t)
	root := doc.Find("#altpay-invoice")
	if page.status != 200 || root.AttrOr("data-api", "") != w.api || root.AttrOr("data-invoice", "") != o.ProviderReference ||
		doc.Find(`script[src="/static/js/altpay-invoice.js"]`).Length() != 1 {
		t.Fatalf("invoice page: %d %s", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' "+w.sbSrv.URL) {
		t.Errorf("CSP connect-src does not allow the altpay API origin: %s", csp)
	}
	if b.get("/static/js/altpay-invoice.js").status != 200 || b.get("/static/js/altpay-checkout.js").status != 200 {
		t.Error("the page's scripts are not served")
	}

	status, tok := b.token(order)
	if status != 200 || tok["token"] == nil || tok["expires_at"] == nil {
		t.Fatalf("token: %d %v", status, tok)
	}

	// Before paying, confirming does not mark the order paid.
	if p := b.post("/invoices/"+order+"/confirm", nil); p.status != 303 || p.location != "/invoices/"+order {
		t.Fatalf("confirm before paying: %d %s", p.status, p.location)
	}
	if o, _ := w.Store.OrderByPublicID(t.Context(), order); o.Status != db.StatusPending {
		t.Fatalf("order %s before payment", o.Status)
	}

	w.payAsTheBrowser(t, tok["token"].(string), "41.14")
	if o, _ := w.Store.OrderByPublicID(t.Context(), order); o.Status != db.StatusPending {
		t.Fatalf("the order was marked %s before the shop checked the invoice", o.Status)
	}
	p := b.post("/invoices/"+order+"/confirm", nil)
	if p.status != 303 || p.location != "/orders/"+order {
		t.Fatalf("confirm after paying: %d %s", p.status, p.location)
	}
	o, _ = w.Store.OrderByPublicID(t.Context(), order)
	if o.Status != db.StatusCaptured {
		t.Errorf("order status %s after the provider says PAID, want captured", o.Status)
	}
	orderPage := b.get("/orders/" + order)
	if !strings.Contains(orderPage.body, "PAID") || !strings.Contains(orderPage.body, "Paid") {
		t.Errorf("the order page does not show the invoice paid")
	}
	if n := w.sb.State.Calls("altpay.get_invoice"); n != 2 {
		t.Errorf("the shop checked the invoice %d times, want 2 (one per confirm)", n)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the cart was not emptied after payment")
	}
	if status, _ := b.token(order); status != http.StatusConflict {
		t.Errorf("token for a paid invoice: %d, want 409", status)
	}
}

func TestTokenEndpointAuthorisation(t *testing.T) {
	w, tess := newAltpayTess(t)
	tessOrder := w.checkoutByInvoice(t, tess, nil)

	t.Run("signed out: 401", func(t *testing.T) {
		anon := w.browser(t)
		status, body := anon.token(tessOrder)
		if status != http.StatusUnauthorized || body["message"] == nil {
			t.Errorf("%d %v, want 401 with a JSON message", status, body)
		}
	})
	t.Run("another customer's invoice: 403", func(t *testing.T) {
		bob := w.browser(t)
		bob.signUp("bob@example.com")
		status, body := bob.token(tessOrder)
		if status != http.StatusForbidden || body["message"] != "This invoice belongs to another customer." {
			t.Errorf("%d %v, want 403", status, body)
		}
		if p := bob.get("/invoices/" + tessOrder); p.status != 404 {
			t.Errorf("another customer's invoice page: %d, want 404", p.status)
		}
	})
	t.Run("a guest's own invoice through the session: 200; another guest: 403", func(t *testing.T) {
		guest := w.browser(t)
		order := w.checkoutByInvoice(t, guest, url.Values{"email": {"guest@example.com"}, "name": {"Gus Guest"}})
		if status, body := guest.token(order); status != 200 || body["token"] == nil {
			t.Errorf("guest's own: %d %v", status, body)
		}
		other := w.browser(t)
		other.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}}) // a guest session of its own
		if status, _ := other.token(order); status != http.StatusForbidden {
			t.Errorf("another guest: %d, want 403", status)
		}
	})
	t.Run("unknown invoice: 404", func(t *testing.T) {
		if status, _ := tess.token("nosuchorder"); status != 404 {
			t.Errorf("%d, want 404", status)
		}
	})
	t.Run("cross-origin POST refused", func(t *testing.T) {
		req, _ := http.NewRequest("POST", w.srv.URL+"/api/altpay/invoices/"+tessOrder+"/token", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := tess.do(req); p.status != http.StatusForbidden {
			t.Errorf("%d, want 403", p.status)
		}
	})
	if n := w.sb.State.Calls("altpay.checkout_auth_init"); n != 1 {
		t.Errorf("the provider minted %d tokens, want 1 (only the guest's own request)", n)
	}
}

func TestCustomerIsCreatedOncePerUser(t *testing.T) {
	w, b := newAltpayTess(t)
	first := w.checkoutByInvoice(t, b, nil)
	second := w.checkoutByInvoice(t, b, nil)
	if first == second {
		t.Fatal("two checkouts gave one order")
	}
	if n := w.sb.State.Calls("altpay.create_customer"); n != 1 {
		t.Errorf("create_customer called %d times, want 1", n)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 2 {
		t.Errorf("create_invoice called %d times, want 2", n)
	}
	// The second checkout added to the cart, so it replaced the first attempt.
	acct := b.get("/account")
	doc := acct.doc(t)
	if got := doc.Find(`[data-testid=altpay-unpaid] a[href^="/invoices/"]`); got.Length() != 1 || got.AttrOr("href", "") != "/invoices/"+second {
		t.Errorf("the account lists %d unpaid invoices, want only the second", got.Length())
	}
}

func TestPayByInvoiceWithAnEmptyCartAsksTheProviderNothing(t *testing.T) {
	w, b := newAltpayTess(t)
	if p := b.post("/checkout/altpay", nil); p.status != http.StatusConflict || !strings.Contains(p.body, "Your cart is empty") {
		t.Errorf("empty cart: %d", p.status)
	}
	if n := w.sb.State.Calls("altpay.create_customer"); n != 0 {
		t.Errorf("create_customer called %d times for an empty cart", n)
	}
}

func TestGuestCheckoutNeedsEmailAndNameAndKeepsInput(t *testing.T) {
	w := newAltpayWorld(t)
	b := w.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	p := b.post("/checkout/altpay", url.Values{"email": {"not an email"}, "name": {"Gus"}})
	doc := p.doc(t)
	if p.status != http.StatusUnprocessableEntity || doc.Find("#altpay-email").AttrOr("value", "") != "not an email" || doc.Find("#altpay-name").AttrOr("value", "") != "Gus" ||
		doc.Find("#altpay-email").AttrOr("aria-invalid", "") != "true" || !strings.Contains(p.body, "Enter the email address") {
		t.Errorf("refused guest form: %d %s", p.status, p.body)
	}
	if n := w.sb.State.Calls("altpay.create_customer"); n != 0 {
		t.Errorf("a refused form called the provider %d times", n)
	}
}

// A refusal means no invoice was made: the order is failed and the cart kept.
func TestProviderRefusalMarksTheOrderFailedAndKeepsTheCart(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 400, 1)
	p := b.post("/checkout/altpay", nil)
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "Nothing was charged") {
		t.Fatalf("%d %s", p.status, p.body)
	}
	orders, _ := w.Store.OrdersByUser(t.Context(), 1)
	if len(orders) != 1 || orders[0].Status != db.StatusFailed {
		t.Errorf("orders %+v, want one failed", orders)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Stoneware Mug") {
		t.Error("the cart was lost")
	}
}

func TestInvoicePageNeverShowsCredentials(t *testing.T) {
	w, b := newAltpayTess(t)
	order := w.checkoutByInvoice(t, b, nil)
	oauth, err := w.Altpay.Tokens().Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	page := b.get("/invoices/" + order)
	_, tok := b.token(order)
	for name, s := range map[string]string{"client secret": config.Defaults["ALTPAY_CLIENT_SECRET"], "OAuth token": oauth.Reveal()} {
		if strings.Contains(page.body, s) {
			t.Errorf("the invoice page contains the %s", name)
		}
		if strings.Contains(tok["token"].(string), s) {
			t.Errorf("the token reply contains the %s", name)
		}
		if strings.Contains(w.logText(), s) {
			t.Errorf("the shop's log contains the %s", name)
		}
	}
	if strings.Contains(page.body, tok["token"].(string)) {
		t.Error("the page source carries a checkout token: the script must fetch it")
	}
}

func TestOrderPageSettlesAnInvoicePaidWithoutConfirm(t *testing.T) {
	w, b := newAltpayTess(t)
	order := w.checkoutByInvoice(t, b, nil)
	if p := b.get("/orders/" + order); !strings.Contains(p.body, "Pay the invoice") {
		t.Fatalf("unpaid order page offers no way to pay: %s", p.body)
	}
	_, tok := b.token(order)
	w.payAsTheBrowser(t, tok["token"].(string), "41.14") // then the tab is closed: no confirm
	w.clock.Advance(altpayRecheckAfter)                  // the next view asks the provider again
	p := b.get("/orders/" + order)
	if st := p.doc(t).Find("[data-testid=order-status]").Text(); st != "Paid" {
		t.Errorf("order page status %q after the provider says PAID, want Paid", st)
	}
	if strings.Contains(p.body, "Pay the invoice") {
		t.Error("a paid order still offers to pay")
	}
	if acct := b.get("/account"); strings.Contains(acct.body, "Unpaid invoices") {
		t.Error("the account still lists the paid invoice")
	}
}

// A provider's refusal is shown as a fixed sentence: the provider's own text
// (written for developers, and possibly naming other records) goes to the log
// only, on the page and in the token endpoint's JSON alike.
func TestProviderRefusalTextStaysInTheLog(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 422, 1)
	p := b.post("/checkout/altpay", nil)
	main := p.doc(t).Find("main").Text()
	if p.status != http.StatusBadGateway || !strings.Contains(main, "Nothing was charged") {
		t.Fatalf("%d %s", p.status, main)
	}
	for _, leak := range []string{"Unprocessable Entity", "refused the request:", "validation"} {
		if strings.Contains(p.body, leak) {
			t.Errorf("the page shows the provider's text %q", leak)
		}
	}
	if !strings.Contains(w.logText(), "Unprocessable Entity") {
		t.Error("the provider's text is not in the log")
	}

	order := w.checkoutByInvoice(t, b, nil)
	w.sb.Fault(t, "altpay.checkout_auth_init", 400, 1)
	status, body := b.token(order)
	if status != http.StatusBadGateway || strings.Contains(fmt.Sprint(body), "Bad Request") || body["message"] == nil {
		t.Errorf("token endpoint: %d %v", status, body)
	}
}

// Unpaid invoices are their own section of the account page, not an entry
// under "Linked accounts" (which still says nothing is linked).
func TestUnpaidInvoicesAreNotALinkedAccount(t *testing.T) {
	w, b := newAltpayTess(t)
	w.checkoutByInvoice(t, b, nil)
	doc := b.get("/account").doc(t)
	if doc.Find("[data-testid=altpay-unpaid]").Length() != 1 {
		t.Fatal("no unpaid invoices on the account page")
	}
	linked := doc.Find("section[aria-labelledby=linked-heading]")
	if linked.Find("[data-testid=altpay-unpaid]").Length() != 0 || !strings.Contains(linked.Text(), "No payment or sign-in provider is linked") {
		t.Errorf("unpaid invoices are listed as a linked account: %s", linked.Text())
	}
}

// altpayUserError picks a fixed sentence by the error's kind and status, and
// shows the provider's request id as the support reference when it answered.
func TestAltpayUserErrorSentences(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string // a part of the message
		ref  string
	}{
		{"invalid credentials", &altpay.Error{Op: "oauth_token", Status: 403, Kind: altpay.KindAuth, RequestID: "r1"}, "not available right now", ""},
		{"401 after a new token", &altpay.Error{Op: "get_invoice", Status: 401, Kind: altpay.KindAuth}, "not available right now", ""},
		{"validation", &altpay.Error{Op: "create_invoice", Status: 422, Kind: altpay.KindInvalid, RequestID: "r2"}, "could not accept this request", "r2"},
		{"unknown invoice", &altpay.Error{Op: "get_invoice", Status: 404, Kind: altpay.KindNotFound, RequestID: "r3"}, "could not accept this request", "r3"},
		{"5xx", &altpay.Error{Op: "create_invoice", Status: 503, Kind: altpay.KindUnavailable, RequestID: "r4"}, "did not answer", "r4"},
		{"no answer", &altpay.Error{Op: "create_invoice", Kind: altpay.KindUnavailable}, "did not answer", ""},
		{"not a provider error", errors.New("boom"), "did not answer", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ue *UserError
			if !errors.As(altpayUserError(c.err, "Title"), &ue) {
				t.Fatal("not a UserError")
			}
			if !strings.Contains(ue.Message, c.want) || !strings.Contains(ue.Message, "Nothing was charged") || ue.Reference != c.ref {
				t.Errorf("message %q, reference %q; want %q and reference %q", ue.Message, ue.Reference, c.want, c.ref)
			}
		})
	}
}

// The order page of an unpaid invoice asks the provider at most once per
// altpayRecheckAfter (on the provider's clock): reloading must not spend its
// rate limits. A payment made meanwhile shows on the first view after that.
func TestAltpayOrderViewsAskAtMostEveryFewSeconds(t *testing.T) {
	w, b := newAltpayTess(t)
	order := w.checkoutByInvoice(t, b, nil)
	b.orderPage(t, order)
	gets := w.sb.State.Calls("altpay.get_invoice")
	for range 5 {
		if got := b.get("/orders/" + order).doc(t).Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
			t.Fatalf("status %q", got)
		}
	}
	if n := w.sb.State.Calls("altpay.get_invoice") - gets; n != 0 {
		t.Errorf("five quick views asked the provider %d more times", n)
	}
	_, tok := b.token(order)
	w.payAsTheBrowser(t, tok["token"].(string), "41.14")
	w.clock.Advance(altpayRecheckAfter)
	if got := b.get("/orders/" + order).doc(t).Find("[data-testid=order-status]").Text(); got != "Paid" {
		t.Errorf("status %q after %v, want Paid", got, altpayRecheckAfter)
	}
	if n := w.sb.State.Calls("altpay.get_invoice") - gets; n != 1 {
		t.Errorf("%d gets after %v, want 1", n, altpayRecheckAfter)
	}
}
