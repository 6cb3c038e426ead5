package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/outbound"
	"refshop/web/sandbox"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/vipps"
)

// vippsShop is the shop wired to an embedded sandbox on its own httptest
// server, the sandbox clock separate from the shop's so tests can move
// either.
type vippsShop struct {
	*testApp
	sb    *sandboxtest.Server
	st    *control.State
	sbClk *clock.Manual
}

func newVippsShop(t *testing.T) *vippsShop {
	t.Helper()
	return newVippsShopWith(t)
}

// newVippsShopWith is newVippsShop with use applied to the shop's Deps.
func newVippsShopWith(t *testing.T, use ...func(*Deps)) *vippsShop {
	t.Helper()
	sb, sbClk := startVippsSandbox(t)
	app := newTestApp(t, vippsDeps(sb, use)...)
	return &vippsShop{testApp: app, sb: sb, st: sb.State, sbClk: sbClk}
}

// browser is a browser shopping in Norway, the market that offers Vipps
// (in NOK, the currency of the sandbox's Norwegian sales unit).
func (v *vippsShop) browser(tb testing.TB) *browser {
	b := v.testApp.browser(tb)
	b.inMarket("no")
	return b
}

// startVippsSandbox starts a sandbox with the shop's default credentials on
// a clock of its own; use may change its configuration first.
func startVippsSandbox(t *testing.T, use ...func(*control.Config)) (*sandboxtest.Server, *clock.Manual) {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sc := sandbox.ConfigFrom(cfg)
	sc.BaseURL = "" // the sandbox names itself by its test server's origin
	for _, f := range use {
		f(&sc)
	}
	sbClk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	sb := sandboxtest.Start(t, sc, sbClk)
	return sb, sbClk
}

// vippsTestPhone is a test user of the sandbox's default sales unit's
// market, Norway: the market whose browsers pay with Vipps here (in NOK).
const vippsTestPhone = "4791234567"

// vippsDeps points a shop at the sandbox sb, applies use, and gives it a
// Vipps client whose retries do not wait (unless use set one).
func vippsDeps(sb *sandboxtest.Server, use []func(*Deps)) []func(*Deps) {
	return slices.Concat([]func(*Deps){func(d *Deps) {
		d.Config.Vipps.APIURL = sb.URL + "/vipps"
		d.Config.SandboxURL = sb.URL
		d.ProviderClock = sb.State.Clock // as in cmd/shop: the emulated provider's time
	}}, use, []func(*Deps){func(d *Deps) {
		if d.Vipps == nil {
			v := d.Config.Vipps
			d.Vipps = vipps.New(vipps.Config{BaseURL: v.APIURL, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
				SubscriptionKey: v.SubscriptionKey, MSN: v.MSN, HTTP: d.HTTP, Clock: d.Clock, Log: d.Log,
				Sleep: func(context.Context, time.Duration) error { return nil }})
		}
	}})
}

// restarted is another shop on the same database (its own connections,
// as another process would open it) and the same sandbox: a restart, or a
// second instance beside the first. Its clock starts where v's is.
func (v *vippsShop) restarted(t *testing.T, use ...func(*Deps)) *vippsShop {
	t.Helper()
	app := newTestAppOn(t, dbtest.Reopen(t, v.DB), vippsDeps(v.sb, use)...)
	app.clock.Advance(v.clock.Now().Sub(app.clock.Now()))
	return &vippsShop{testApp: app, sb: v.sb, st: v.st, sbClk: v.sbClk}
}

// loseAnswers makes the next times calls of op run at the sandbox and then
// close the connection with no reply.
func (v *vippsShop) loseAnswers(t *testing.T, op string, times int) {
	t.Helper()
	v.sb.Control(t, "/control/faults", map[string]any{"operation": op, "lose_answer": true, "times": times})
}

// order loads an order, failing the test when it cannot.
func (v *vippsShop) order(t *testing.T, id string) db.Order {
	t.Helper()
	o, err := v.Store.OrderByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// payment loads an order's Vipps payment, failing the test when it cannot.
func (v *vippsShop) payment(t *testing.T, orderID int64) db.VippsPayment {
	t.Helper()
	vp, err := v.Store.VippsPaymentByOrder(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return vp
}

// ordersOf lists a user's orders, failing the test when it cannot (an empty
// list must mean "none", not "could not look").
func (v *vippsShop) ordersOf(t *testing.T, email string) []db.Order {
	t.Helper()
	u, err := v.Store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	orders, err := v.Store.OrdersByUser(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return orders
}

// orderPage loads an order's page, failing the test unless it loads.
func (b *browser) orderPage(t *testing.T, id string) (page, *goquery.Document) {
	t.Helper()
	p := b.get("/orders/" + id)
	if p.status != http.StatusOK {
		t.Fatalf("order page: %d", p.status)
	}
	return p, p.doc(t)
}

// on is the same browser (its cookies) talking to another shop instance.
func (b *browser) on(app *testApp) *browser {
	return &browser{tb: b.tb, app: app, c: b.c}
}

// sandboxDo calls the sandbox without following redirects.
func (v *vippsShop) sandboxDo(t *testing.T, method, path, ctype, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, v.sb.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func (v *vippsShop) fault(t *testing.T, op string, status, times int) {
	t.Helper()
	v.sb.Fault(t, op, status, times)
}

// startPayment fills a cart and submits the Vipps form; it returns the
// landing page URL the shop redirected to.
func (v *vippsShop) startPayment(t *testing.T, b *browser) *url.URL {
	t.Helper()
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	p := b.post("/checkout/vipps", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("checkout: %d %s", p.status, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil || !strings.HasPrefix(p.location, v.sb.URL+"/vipps/landing?token=") {
		t.Fatalf("redirected to %q, want the sandbox landing page", p.location)
	}
	return u
}

// answer is the customer pressing Approve or Reject on the landing page; it
// returns the shop path the landing page sends the browser back to.
func (v *vippsShop) answer(t *testing.T, landing *url.URL, action string) string {
	t.Helper()
	code, h, body := v.sandboxDo(t, "POST", "/vipps/landing", "application/x-www-form-urlencoded",
		url.Values{"token": {landing.Query().Get("token")}, "action": {action}, "phone": {vippsTestPhone}}.Encode())
	if code != http.StatusSeeOther {
		t.Fatalf("landing %s: %d %s", action, code, body)
	}
	back, _ := url.Parse(h.Get("Location"))
	if back.Path != "/checkout/vipps/return" {
		t.Fatalf("returned to %q", h.Get("Location"))
	}
	return back.RequestURI()
}

func orderIDFrom(t *testing.T, returnPath string) string {
	u, _ := url.Parse(returnPath)
	return u.Query().Get("order")
}

func TestVippsCheckoutMethodIsOffered(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	doc := b.get("/checkout").doc(t)
	form := doc.Find("form[action='/checkout/vipps']")
	if form.Length() != 1 || !strings.Contains(form.Text(), "Pay with Vipps MobilePay") {
		t.Fatal("no Vipps MobilePay form on the checkout page")
	}
	// Vipps's documentation: the merchant does not ask for the number.
	if n := form.Find("input[name=phone], input[type=tel]").Length(); n != 0 {
		t.Errorf("the Vipps form asks for a phone number (%d fields); Vipps MobilePay's own page asks for it", n)
	}
	if how := form.Find("[data-testid=vipps-how]").Text(); !strings.Contains(how, "asks for your mobile number there, not here") {
		t.Errorf("the form does not say where the number is asked for: %q", how)
	}
}

// An approved payment authorizes the order and empties the cart; nothing is
// captured until the order ships (Vipps's rule in Norway: admin_test.go).
func TestVippsApproveAuthorizesAndEmptiesTheCart(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "approve")
	p := b.get(back)
	id := orderIDFrom(t, back)
	if p.status != http.StatusSeeOther || p.location != "/orders/"+id {
		t.Fatalf("return: %d to %q", p.status, p.location)
	}
	page := b.get(p.location)
	doc := page.doc(t)
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Payment authorized" {
		t.Errorf("order status %q, want Payment authorized", got)
	}
	if got := doc.Find(".order-status").Text(); !strings.Contains(got, "Payment authorized: we capture the payment when your order ships.") {
		t.Errorf("the order page says %q, not when the payment is captured", got)
	}
	if ref := doc.Find("[data-testid=vipps-reference]").Text(); ref != "refshop-"+id {
		t.Errorf("Vipps reference %q", ref)
	}
	var names []string
	doc.Find("[data-testid=vipps-events] tbody tr").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("data-event")
		names = append(names, n)
	})
	if strings.Join(names, " ") != "CREATED AUTHORIZED" {
		t.Errorf("events on the order page: %v", names)
	}
	if !strings.Contains(page.body, vippsThanks) {
		t.Error("no confirmation")
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the cart was not emptied after the authorization")
	}
	o := v.order(t, id)
	if o.Status != db.StatusAuthorized || o.ProviderReference != "refshop-"+id {
		t.Errorf("order %+v", o)
	}
	vp := v.payment(t, o.ID)
	if vp.State != "AUTHORIZED" || vp.Captured != 0 || v.st.Calls("vipps.capture") != 0 {
		t.Errorf("payment %+v, %d captures: want authorized, nothing captured", vp, v.st.Calls("vipps.capture"))
	}
	// Viewing an authorized order again asks Vipps nothing more: it waits
	// for the back office.
	calls := v.st.Calls("vipps.get_payment")
	if _, doc := b.orderPage(t, id); doc.Find("[data-testid=order-status]").Text() != "Payment authorized" {
		t.Fatal("the authorized order's page does not say Payment authorized")
	}
	if v.st.Calls("vipps.get_payment") != calls {
		t.Error("an authorized order is settled again on every view")
	}
}

func TestVippsRejectCancelsAndKeepsTheCart(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "reject")
	p := b.get(back)
	page := b.get(p.location)
	doc := page.doc(t)
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Cancelled" {
		t.Errorf("order status %q, want Cancelled", got)
	}
	if doc.Find("a[href='/checkout']").Length() == 0 || !strings.Contains(page.body, "Try again") {
		t.Error("no way to try again")
	}
	if v.st.Calls("vipps.capture") != 0 {
		t.Error("a rejected payment was captured")
	}
	cart := b.get("/cart").doc(t)
	if cart.Find("tr[data-product=stoneware-mug]").Length() != 1 {
		t.Error("the cart lost its items after a rejection")
	}
}

// createBodies records the bodies of the shop's create-payment calls.
type createBodies struct {
	mu     sync.Mutex
	bodies []map[string]any
	next   http.RoundTripper
}

func (c *createBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/epayment/v1/payments") && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		c.mu.Lock()
		c.bodies = append(c.bodies, m)
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

// The shop does not ask for a phone number (Vipps's landing page does), and
// a number posted anyway is neither used nor sent: the create has no
// customer, its amount is in the order's own currency, and the landing page
// asks the customer for their number.
func TestVippsCheckoutSendsNoPhoneNumberAndTheOrdersCurrency(t *testing.T) {
	rec := &createBodies{next: http.DefaultTransport}
	v := newVippsShopWith(t, func(d *Deps) { d.HTTP = &http.Client{Transport: rec, Timeout: 10 * time.Second} })
	b := v.browser(t)
	b.signUp("vipps-nophone@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	p := b.post("/checkout/vipps", url.Values{"phone": {"+47 912 34 567"}}) // an old form, or a hand-made post
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, v.sb.URL+"/vipps/landing?token=") {
		t.Fatalf("checkout: %d to %q, want the landing page", p.status, p.location)
	}
	orders := v.ordersOf(t, "vipps-nophone@example.com")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(orders) != 1 || len(rec.bodies) != 1 {
		t.Fatalf("%d orders, %d creates; want one each", len(orders), len(rec.bodies))
	}
	body := rec.bodies[0]
	if c, ok := body["customer"]; ok {
		t.Errorf("the create sent a customer %v; the shop must not send a number it asked for", c)
	}
	amount, _ := body["amount"].(map[string]any)
	// Norway's price of the tea, in the sales unit's currency.
	if amount["currency"] != "NOK" || amount["value"] != float64(9900) || orders[0].Currency != "NOK" || orders[0].TotalAmount != 9900 {
		t.Errorf("amount %v, order %s %d; want NOK 9900 on both", amount, orders[0].Currency, orders[0].TotalAmount)
	}
	code, _, page := v.sandboxDo(t, "GET", strings.TrimPrefix(p.location, v.sb.URL), "", "")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
	if err != nil || code != http.StatusOK {
		t.Fatalf("landing page: %d %v", code, err)
	}
	if val, _ := doc.Find("#vipps-phone").Attr("value"); doc.Find("#vipps-phone").Length() != 1 || val != "" {
		t.Errorf("the landing page should ask for the number with an empty field, got %d fields, value %q", doc.Find("#vipps-phone").Length(), val)
	}
}

func TestVippsOutageShowsACalmErrorAndNoPaidOrder(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	b.signUp("vipps-outage@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	v.fault(t, "vipps.create_payment", 503, 3)
	p := b.post("/checkout/vipps", nil)
	if p.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", p.status)
	}
	doc := p.doc(t)
	if msg := doc.Find("[data-testid=vipps-error]").Text(); !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("message %q", msg)
	}
	for _, leak := range []string{"503", "Service Unavailable", "problem", "traceId"} {
		if strings.Contains(doc.Find("main").Text(), leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	if n := v.st.Calls("vipps.create_payment"); n != 3 {
		t.Errorf("%d create calls, want 3 (bounded retries)", n)
	}
	orders := v.ordersOf(t, "vipps-outage@example.com")
	if len(orders) != 1 || orders[0].Status != db.StatusFailed {
		t.Fatalf("orders %+v", orders)
	}
	if cart := b.get("/cart").doc(t); cart.Find("tr[data-product=sencha]").Length() != 1 {
		t.Error("the cart was lost")
	}
	// Trying again once Vipps answers works, as a new order.
	if p := b.post("/checkout/vipps", nil); p.status != http.StatusSeeOther {
		t.Errorf("second attempt: %d", p.status)
	}
}

func TestVippsReturnTrustsOnlyVipps(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	v.startPayment(t, b)
	orders := v.orderIDs(t)
	id := orders[0]
	// A forged return with made-up outcome parameters changes nothing.
	p := b.get("/checkout/vipps/return?order=" + id + "&state=AUTHORIZED&status=captured")
	page := b.get(p.location).doc(t)
	if got := page.Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
		t.Errorf("status %q after a forged return", got)
	}
	if page.Find("a.button[href^='"+v.sb.URL+"/vipps/landing']").Length() != 1 {
		t.Error("no way back to the landing page for a pending payment")
	}
	// Another person cannot settle or see it.
	if p := v.browser(t).get("/checkout/vipps/return?order=" + id); p.status != http.StatusNotFound {
		t.Errorf("a stranger's return: %d", p.status)
	}
}

func (v *vippsShop) orderIDs(t *testing.T) []string {
	t.Helper()
	rows, err := v.DB.Read.Query(`SELECT public_id FROM orders ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestVippsPendingOrderIsSettledWhenViewed(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	v.startPayment(t, b) // and the customer closes the tab
	id := v.orderIDs(t)[0]
	if got := b.get("/orders/" + id).doc(t).Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
		t.Fatalf("status %q", got)
	}
	v.sbClk.Advance(10 * time.Minute) // Vipps lets the payment expire
	doc := b.get("/orders/" + id).doc(t)
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Cancelled" {
		t.Errorf("status %q after the payment expired", got)
	}
	if doc.Find("tr[data-event=EXPIRED]").Length() != 1 {
		t.Error("no EXPIRED event shown")
	}
}

func TestVippsSweepSettlesPaymentsPastTheirExpiry(t *testing.T) {
	v := newVippsShop(t)
	ctx := context.Background()
	b := v.browser(t)
	v.startPayment(t, b)
	approved := v.orderIDs(t)[0]
	// The customer approves in the app but never comes back.
	f := v.vipps
	if err := f.client.ForceApprove(ctx, "refshop-"+approved, vippsTestPhone); err != nil {
		t.Fatal(err)
	}
	b2 := v.browser(t)
	v.startPayment(t, b2)
	waiting := v.orderIDs(t)[1] // never answered; Vipps still shows CREATED

	f.sweepOnce(ctx)
	if o := v.order(t, approved); o.Status != db.StatusPending {
		t.Fatalf("swept before its time: %s", o.Status)
	}
	v.clock.Advance(vippsSettleAfter)
	f.sweepOnce(ctx)
	o := v.order(t, approved)
	if o.Status != db.StatusAuthorized {
		t.Errorf("approved payment after the sweep: %s, want authorized", o.Status)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the sweep did not empty the paid cart")
	}
	w := v.order(t, waiting)
	if w.Status != db.StatusCancelled {
		t.Errorf("unanswered payment after the sweep: %s", w.Status)
	}
	code, _, body := v.sandboxDo(t, "GET", "/control/state", "", "")
	var state struct{ Calls map[string]int }
	if err := json.Unmarshal([]byte(body), &state); err != nil {
		t.Fatalf("sandbox state: %d %v", code, err)
	}
	if code != 200 || state.Calls["vipps.cancel"] != 1 || state.Calls["vipps.capture"] != 0 {
		t.Errorf("calls %v", state.Calls)
	}
}

func TestVippsTokenExpiringBetweenCreateAndReturnIsReplaced(t *testing.T) {
	v := newVippsShop(t)
	v.sandboxDo(t, "POST", "/control/settings", "application/json", `{"vipps_access_token_ttl":"5m"}`)
	b := v.browser(t)
	landing := v.startPayment(t, b)
	v.sbClk.Advance(6 * time.Minute) // past the token's life, inside the payment's 10 minutes
	back := v.answer(t, landing, "approve")
	p := b.get(b.get(back).location)
	if got := p.doc(t).Find("[data-testid=order-status]").Text(); got != "Payment authorized" {
		t.Fatalf("status %q", got)
	}
	if n := v.st.Calls("vipps.accesstoken"); n != 2 {
		t.Errorf("%d token fetches, want 2 (one at create, one after the 401)", n)
	}
}

func TestVippsPagesNeverShowCredentials(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	var bodies []string
	landing := v.startPayment(t, b)
	checkout := b.get("/checkout")
	if checkout.status != http.StatusOK || !strings.Contains(checkout.body, "Pay with Vipps MobilePay") {
		t.Fatalf("checkout page: %d", checkout.status)
	}
	bodies = append(bodies, checkout.body)
	code, _, lp := v.sandboxDo(t, "GET", landing.RequestURI(), "", "")
	if code != http.StatusOK || !strings.Contains(lp, "Approve") {
		t.Fatalf("landing page: %d", code)
	}
	bodies = append(bodies, lp)
	back := v.answer(t, landing, "approve")
	if p := b.get(back); p.status != http.StatusSeeOther {
		t.Fatalf("return: %d", p.status)
	}
	paid, doc := b.orderPage(t, orderIDFrom(t, back))
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Payment authorized" {
		t.Fatalf("order page says %q", got)
	}
	bodies = append(bodies, paid.body)
	cfg := v.Config.Vipps
	for i, body := range bodies {
		for _, s := range []string{cfg.ClientSecret.Reveal(), cfg.SubscriptionKey.Reveal(), "eyJ0eXAiOiJKV1Qi"} {
			if strings.Contains(body, s) {
				t.Errorf("page %d shows a credential or token (%s...)", i, s[:4])
			}
		}
	}
	logs := v.logText()
	for _, s := range []string{cfg.ClientSecret.Reveal(), cfg.SubscriptionKey.Reveal(), "eyJ0eXAiOiJKV1Qi", vippsTestPhone} {
		if strings.Contains(logs, s) {
			t.Errorf("the log shows %s...", s[:4])
		}
	}
}

// approveOnly runs a payment to Vipps's approval and returns the
// order's public id, without visiting the return URL yet.
func (v *vippsShop) approveOnly(t *testing.T, b *browser) string {
	t.Helper()
	back := v.answer(t, v.startPayment(t, b), "approve")
	return orderIDFrom(t, back)
}

// A 4xx from get (other than 429) ends the order too; for a payment Vipps
// created, the shop also cancels it, so a late approval cannot take money.
func TestVippsGetRefusedWith4xxFailsTheOrder(t *testing.T) {
	for _, status := range []int{400, 404} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			v := newVippsShop(t)
			b := v.browser(t)
			v.startPayment(t, b)
			id := v.orderIDs(t)[0]
			v.fault(t, "vipps.get_payment", status, 1)
			doc := b.get("/orders/" + id).doc(t)
			if got := doc.Find("[data-testid=order-status]").Text(); got != "Payment failed" {
				t.Fatalf("status %q, want Payment failed", got)
			}
			wantCancels := 1
			if status == 404 {
				wantCancels = 0 // nothing at Vipps to cancel
			}
			if n := v.st.Calls("vipps.cancel"); n != wantCancels {
				t.Errorf("%d cancel calls, want %d", n, wantCancels)
			}
			gets := v.st.Calls("vipps.get_payment")
			b.orderPage(t, id)
			if v.st.Calls("vipps.get_payment") != gets {
				t.Error("a failed order is asked about again")
			}
		})
	}
}

// A 429 or a 5xx is not final: the order stays as it is and the sweep asks
// again later, each time later, and stops after vippsMaxSettleTries. An order
// that keeps failing never keeps newer orders from being settled.
func TestVippsSweepBacksOffAndStuckOrdersDoNotStarveNewerOnes(t *testing.T) {
	var stuck atomic.Value // the reference whose calls Vipps refuses with 429
	stuck.Store("")
	v := newVippsShopWith(t, func(d *Deps) {
		d.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if ref := stuck.Load().(string); ref != "" && strings.Contains(r.URL.Path, ref) {
				return &http.Response{StatusCode: 429, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"statusCode":429,"message":"Rate limit is exceeded."}`)), Request: r}, nil
			}
			return http.DefaultTransport.RoundTrip(r)
		})}
	})
	ctx := context.Background()
	f := v.vipps
	f.batch = 1 // one order per sweep, so the oldest decides who waits

	b1 := v.browser(t)
	v.startPayment(t, b1)
	old := v.orderIDs(t)[0]
	stuck.Store("refshop-" + old)
	v.clock.Advance(time.Minute)
	b2 := v.browser(t)
	v.startPayment(t, b2)
	newer := v.orderIDs(t)[1]
	if err := f.client.ForceApprove(ctx, "refshop-"+newer, vippsTestPhone); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(vippsSettleAfter)

	f.sweepOnce(ctx) // the older order fails and waits
	f.sweepOnce(ctx) // the newer one is next
	if o := v.order(t, newer); o.Status != db.StatusAuthorized {
		t.Fatalf("the newer order is %s behind a stuck one, want authorized", o.Status)
	}
	o := v.order(t, old)
	if o.Status != db.StatusPending {
		t.Fatalf("the stuck order is %s, want still pending (a 429 is not final)", o.Status)
	}
	vp := v.payment(t, o.ID)
	if vp.SettleTries != 1 || !vp.SettleAfter.After(v.clock.Now()) {
		t.Fatalf("after one failed try: tries %d, settle after %v (now %v)", vp.SettleTries, vp.SettleAfter, v.clock.Now())
	}
	// Each next try waits longer, and after vippsMaxSettleTries the sweep
	// stops asking and says so in the log.
	prevWait := vp.SettleAfter.Sub(v.clock.Now())
	for try := 2; try <= vippsMaxSettleTries; try++ {
		f.sweepOnce(ctx)
		if vp2 := v.payment(t, o.ID); vp2.SettleTries != try-1 {
			t.Fatalf("asked again before its time (try %d: %d tries)", try, vp2.SettleTries)
		}
		v.clock.Advance(prevWait)
		f.sweepOnce(ctx)
		vp = v.payment(t, o.ID)
		if vp.SettleTries != try {
			t.Fatalf("try %d: %d tries recorded", try, vp.SettleTries)
		}
		wait := vp.SettleAfter.Sub(v.clock.Now())
		if try < vippsMaxSettleTries && wait < prevWait {
			t.Errorf("try %d waits %v, less than the %v before", try, wait, prevWait)
		}
		prevWait = wait
	}
	v.clock.Advance(24 * time.Hour)
	due, err := v.Store.VippsOrdersToSettle(ctx, v.vipps.env(), v.clock.Now(), vippsMaxSettleTries, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 {
		t.Errorf("still due after %d tries: %v", vippsMaxSettleTries, due)
	}
	if !strings.Contains(v.logText(), "vipps sweep: giving up") {
		t.Error("giving up was not logged for support")
	}
	if o := v.order(t, old); o.Status != db.StatusPending {
		t.Errorf("giving up changed the order to %s; only a person may decide", o.Status)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Settling leaves no per-order lock behind in the flow that settled: the
// App's own, through the return, the order page and the sweep (the locks
// themselves are tested in package keyedmutex).
func TestVippsOrderLocksArePruned(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	paid := v.approveOnly(t, b)
	if p := b.get("/checkout/vipps/return?order=" + paid); p.status != http.StatusSeeOther {
		t.Fatalf("return: %d", p.status)
	}
	b2 := v.browser(t)
	v.startPayment(t, b2)
	waiting := v.orderIDs(t)[1]
	if _, doc := b2.orderPage(t, waiting); doc.Find("[data-testid=order-status]").Text() != "Awaiting payment" {
		t.Fatal("the waiting order's page does not say so")
	}
	v.clock.Advance(vippsSettleAfter)
	v.vipps.sweepOnce(t.Context())
	if o := v.order(t, paid); o.Status != db.StatusAuthorized {
		t.Fatalf("the return left the order %s: the App's flow did not settle it", o.Status)
	}
	if o := v.order(t, waiting); o.Status != db.StatusCancelled {
		t.Fatalf("the sweep left the order %s: the App's flow did not settle it", o.Status)
	}
	if n := v.vipps.locks.Len(); n != 0 {
		t.Errorf("%d order locks kept after settling", n)
	}
}

// When settle cannot reload the order it hands back the order it was given,
// so the return handler still redirects to that order's page.
func TestVippsSettleKeepsTheOrderWhenItCannotReloadIt(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	v.startPayment(t, b)
	o, err := v.Store.OrderByPublicID(context.Background(), v.orderIDs(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // every database call now fails
	got, err := v.vipps.settle(ctx, o, false)
	if err == nil {
		t.Fatal("settle with a dead context succeeded")
	}
	if got.PublicID != o.PublicID || got.ID != o.ID {
		t.Errorf("settle returned order %q (id %d), want %q: the redirect would go to /orders/%s", got.PublicID, got.ID, o.PublicID, got.PublicID)
	}
}

// The shop redirects only to the sandbox's (the API's) origin or, against
// the real Vipps, to a Vipps MobilePay domain: the hosts the CSP allows.
func TestVippsLandingAllowedOnlyOnVippsHosts(t *testing.T) {
	sb := config.Vipps{Mode: config.Sandbox, APIURL: "http://localhost:8081/vipps"}
	real := config.Vipps{Mode: config.Real, APIURL: "https://apitest.vipps.no"}
	for _, c := range []struct {
		cfg  config.Vipps
		url  string
		want bool
	}{
		{sb, "http://localhost:8081/vipps/landing?token=abc", true},
		{sb, "http://localhost:8082/vipps/landing", false},
		{sb, "https://landing.vipps.no/?token=abc", false}, // not in the sandbox's CSP either
		{sb, "https://evil.example/vipps/landing", false},
		{real, "https://landing.vipps.no/?token=abc", true},
		{real, "https://pay.mobilepay.dk/x", true},
		{real, "https://pay.mobilepay.fi/x", true},
		{real, "https://apitest.vipps.no/landing", true},
		{real, "https://evil.example/?next=landing.vipps.no", false},
		{real, "https://vipps.no.evil.example/", false},
		{real, "https://evilvipps.no/", false},
		{real, "http://landing.vipps.no/", false},
		{real, "https://landing.vipps.no:8443/", false},
		{real, "https://user@landing.vipps.no/", false},
		{real, "javascript:alert(1)", false},
		{real, "/relative", false},
	} {
		if got := landingAllowed(c.url, c.cfg); got != c.want {
			t.Errorf("%s %q: %v, want %v", c.cfg.Mode, c.url, got, c.want)
		}
	}
	p := newCSP(config.Config{Vipps: real})
	for _, d := range vippsLandingDomains {
		if !slices.Contains(p.formAction, "https://*."+d) {
			t.Errorf("the CSP's form-action lacks %s: %v", d, p.formAction)
		}
	}
}

// The order page asks Vipps at most once per vippsRecheckAfter (on the
// provider's clock) per order; the return from Vipps always asks; a settled
// order is never asked about again.
func TestVippsOrderViewsAskVippsAtMostEveryFewSeconds(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	landing := v.startPayment(t, b)
	id := v.orderIDs(t)[0]
	b.orderPage(t, id)
	gets, events := v.st.Calls("vipps.get_payment"), v.st.Calls("vipps.events")
	for range 5 {
		if got := b.get("/orders/" + id).doc(t).Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
			t.Fatalf("status %q", got)
		}
	}
	if v.st.Calls("vipps.get_payment") != gets || v.st.Calls("vipps.events") != events {
		t.Errorf("five quick views asked Vipps %d more times", v.st.Calls("vipps.get_payment")-gets)
	}
	v.sbClk.Advance(vippsRecheckAfter)
	b.orderPage(t, id)
	if n := v.st.Calls("vipps.get_payment") - gets; n != 1 {
		t.Errorf("%d gets after %v, want 1", n, vippsRecheckAfter)
	}
	// Back from Vipps right after a view: the return asks anyway.
	back := v.answer(t, landing, "approve")
	if got := b.get(b.get(back).location).doc(t).Find("[data-testid=order-status]").Text(); got != "Payment authorized" {
		t.Fatalf("status %q after the return, want Payment authorized", got)
	}
	gets = v.st.Calls("vipps.get_payment")
	v.sbClk.Advance(time.Hour)
	b.orderPage(t, id)
	if v.st.Calls("vipps.get_payment") != gets {
		t.Error("a paid order is asked about again")
	}
}

// vippsCustomerMessage words the Vipps client's errors for a customer: calm,
// saying nothing was charged, never Vipps's own developer text. The errors
// come from the client against the sandbox, as the client's own tests make
// them.
func TestVippsCustomerMessages(t *testing.T) {
	v := newVippsShop(t)
	cfg := v.Config.Vipps
	var createIn func(c *vipps.Client, ref, currency, phone string) error
	client := func(clientID string) *vipps.Client {
		return vipps.New(vipps.Config{BaseURL: cfg.APIURL, ClientID: clientID, ClientSecret: cfg.ClientSecret,
			SubscriptionKey: cfg.SubscriptionKey, MSN: cfg.MSN, HTTP: http.DefaultClient, Clock: v.sbClk,
			Sleep: func(context.Context, time.Duration) error { return nil }})
	}
	cur := "NOK" // the default sales unit is Norwegian
	create := func(c *vipps.Client, ref, phone string) error {
		return createIn(c, ref, cur, phone)
	}
	createIn = func(c *vipps.Client, ref, currency, phone string) error {
		_, err := c.CreatePayment(t.Context(), vipps.CreatePaymentRequest{
			Amount: vipps.Amount{Currency: currency, Value: 4980}, Customer: &vipps.Customer{PhoneNumber: phone},
			PaymentMethod: vipps.PaymentMethod{Type: "WALLET"}, Reference: ref, UserFlow: "WEB_REDIRECT",
			ReturnURL: v.Config.ShopBaseURL + "/checkout/vipps/return?order=x", PaymentDescription: "Order at Refshop",
		}, ref+"-create")
		return err
	}

	// Entra ID refuses an unknown client_id with its own codes (AADSTS...).
	err := create(client("00000000-0000-0000-0000-000000000000"), "refshop-msg-entra01", vippsTestPhone)
	if !vipps.IsKind(err, vipps.KindAuth) || !strings.Contains(err.Error(), "AADSTS") {
		t.Fatalf("unknown client: %v, want Entra's refusal", err)
	}
	if msg := vippsCustomerMessage(err); strings.Contains(msg, "AADSTS") || !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("unknown client: customer message %q", msg)
	}

	// 503 on every try: the bounded retries give up.
	v.fault(t, "vipps.create_payment", 503, 3)
	err = create(client(cfg.ClientID), "refshop-msg-down0001", vippsTestPhone)
	if !vipps.IsKind(err, vipps.KindUnavailable) {
		t.Fatalf("503s: %v, want unavailable", err)
	}
	if msg := vippsCustomerMessage(err); !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("503s: customer message %q", msg)
	}

	// Vipps refuses the phone number (a validation problem naming the field).
	err = create(client(cfg.ClientID), "refshop-msg-phone001", "12")
	var e *vipps.Error
	if !errors.As(err, &e) || e.Kind != vipps.KindInvalid || !e.Field("customer.phoneNumber") {
		t.Fatalf("phone: %v, want a validation problem on customer.phoneNumber", err)
	}
	if msg := vippsCustomerMessage(err); !strings.Contains(msg, "Nothing was charged") || strings.Contains(msg, "customer.phoneNumber") {
		t.Errorf("phone: customer message %q", msg)
	}

	// A well-formed number of another market: the documented ErrorCode 4070.
	other := "4512345678" // Danish, at the Norwegian sales unit
	err = create(client(cfg.ClientID), "refshop-msg-phone002", other)
	if !errors.As(err, &e) || e.Kind != vipps.KindState || e.Code() != vipps.CodeInvalidPhoneNumber {
		t.Fatalf("another market's number: %v, want ErrorCode 4070", err)
	}
	if msg := vippsCustomerMessage(err); !strings.Contains(msg, "did not accept that phone number") || !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("another market's number: customer message %q", msg)
	}

	// A currency that is not the sales unit's: the documented ErrorCode 5040,
	// and a sentence that points to another payment method.
	wrong := "EUR"
	err = createIn(client(cfg.ClientID), "refshop-msg-curr0001", wrong, vippsTestPhone)
	if !errors.As(err, &e) || e.Kind != vipps.KindState || e.Code() != vipps.CodeInvalidCurrency || e.Status != http.StatusBadRequest {
		t.Fatalf("%s at a Norwegian sales unit: %v, want 400 with ErrorCode 5040", wrong, err)
	}
	if msg := vippsCustomerMessage(err); !strings.Contains(msg, "cannot take payments in this order's currency") ||
		!strings.Contains(msg, "choose another payment method") || strings.Contains(msg, "5040") {
		t.Errorf("currency: customer message %q", msg)
	}

	if msg := vippsCustomerMessage(errors.New("dial tcp: connection refused")); !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("not a Vipps error: customer message %q", msg)
	}
}

// Vipps slower than the request's deadline: the checkout answers in time
// with the order page, which says the shop is still confirming and reloads
// itself; the payment is still created, once; a repeated post of the same
// form joins that attempt (no second order, no second payment) and, once the
// payment exists, goes to its landing page.
func TestVippsSlowCreateAnswersInTimeAndARepeatedPostJoinsTheAttempt(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	v.sb.Delay(t, "vipps.create_payment", "1s", 1)
	v.ProviderDeadline = 20 * time.Millisecond // after setup: the race detector makes setup slow
	form := url.Values{}                       // the Vipps form has no fields

	p := b.post("/checkout/vipps", form)
	ids := v.orderIDs(t)
	if len(ids) != 1 {
		t.Fatalf("%d orders after one checkout", len(ids))
	}
	id := ids[0]
	if p.status != http.StatusSeeOther || p.location != "/orders/"+id {
		t.Fatalf("checkout past the deadline: %d to %q, want the order page", p.status, p.location)
	}
	page, doc := b.orderPage(t, id)
	if got := doc.Find("[data-testid=vipps-confirming]").Text(); !strings.Contains(got, "We are still confirming with Vipps MobilePay") {
		t.Errorf("no confirming notice: %q", got)
	}
	if page.header.Get("Refresh") == "" || doc.Find("[data-testid=vipps-confirming] a[href='/orders/"+id+"']").Length() != 1 {
		t.Error("the confirming page neither reloads itself nor offers a link to check again")
	}
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Awaiting payment" {
		t.Errorf("status %q while confirming", got)
	}

	// The browser posts the form again while Vipps is still working.
	again := b.post("/checkout/vipps", form)
	if again.status != http.StatusSeeOther || again.location != "/orders/"+id {
		t.Errorf("repeated post: %d to %q, want the same order page", again.status, again.location)
	}

	o, err := v.Store.OrderByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	<-v.work.ended(vippsCreateWork(o.ID))
	// The default again: the views below ask Vipps, and must not race a 20 ms
	// budget on a slow machine.
	v.ProviderDeadline = 0
	vp, err := v.Store.VippsPaymentByOrder(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if vp.State != vipps.StateCreated || !strings.HasPrefix(vp.RedirectURL, v.sb.URL+"/vipps/landing?token=") {
		t.Fatalf("after the slow create: %+v", vp)
	}
	page, doc = b.orderPage(t, id)
	if doc.Find("[data-testid=vipps-confirming]").Length() != 0 || page.header.Get("Refresh") != "" {
		t.Error("still confirming after Vipps answered")
	}
	if doc.Find("a.button[href='"+vp.RedirectURL+"']").Length() != 1 {
		t.Error("the order page does not lead to the landing page")
	}

	// A third post, once the payment exists, goes straight to it.
	third := b.post("/checkout/vipps", form)
	if third.status != http.StatusSeeOther || third.location != vp.RedirectURL {
		t.Errorf("post after create: %d to %q, want the landing page", third.status, third.location)
	}
	if n := v.st.Calls("vipps.create_payment"); n != 1 {
		t.Errorf("%d create calls, want 1", n)
	}
	if ids := v.orderIDs(t); len(ids) != 1 {
		t.Errorf("%d orders for one cart", len(ids))
	}
}

// Provider work left running by a request is waited for when the shop stops
// (RunBackground returns only after it), so the database outlives it.
func TestVippsShutdownWaitsForACreateStillRunning(t *testing.T) {
	ticks := newManualTicks()
	v := newVippsShopWith(t, func(d *Deps) { d.ProviderDeadline = 20 * time.Millisecond; d.Tick = ticks.tick })
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		v.RunBackground(ctx)
		close(stopped)
	}()
	b := v.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	v.sb.Delay(t, "vipps.create_payment", "1s", 1)
	if p := b.post("/checkout/vipps", nil); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/orders/") {
		t.Fatalf("checkout: %d to %q, want the order page", p.status, p.location)
	}
	stop() // as cmd/shop does once the server has shut down
	<-stopped
	o, err := v.Store.OrderByPublicID(t.Context(), v.orderIDs(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	vp, err := v.Store.VippsPaymentByOrder(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if vp.State != vipps.StateCreated || vp.RedirectURL == "" {
		t.Errorf("RunBackground returned before the create it left running was recorded: %+v", vp)
	}
}

// manualTicks hands the background sweeps tick channels the test sends on. A
// send returns once the sweep has taken the tick: the pass before it has
// ended and the next one begins.
type manualTicks struct {
	mu    sync.Mutex
	chans map[string]chan time.Time // by sweep name
}

func newManualTicks() *manualTicks { return &manualTicks{chans: map[string]chan time.Time{}} }

func (m *manualTicks) ch(sweep string) chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chans[sweep] == nil {
		m.chans[sweep] = make(chan time.Time)
	}
	return m.chans[sweep]
}

func (m *manualTicks) tick(sweep string, _ time.Duration) (<-chan time.Time, func()) {
	return m.ch(sweep), func() {}
}

// send ticks the sweep named sweep.
func (m *manualTicks) send(sweep string) { m.ch(sweep) <- time.Time{} }

// A Vipps payment belongs to the API it was created at. The shop pointed at
// another Vipps API on the same data dir never asks either API about it (the
// order page and the sweep skip it, and the page says why), and the same
// cart pays afresh at the new API.
func TestVippsPaymentsAreKeptPerEnvironment(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	v.startPayment(t, b) // waiting at Vipps for the customer
	id := v.orderIDs(t)[0]
	calls := func(st *control.State) int {
		return st.Calls("vipps.get_payment") + st.Calls("vipps.cancel") + st.Calls("vipps.capture") + st.Calls("vipps.create_payment")
	}
	before := calls(v.st)

	other, _ := startVippsSandbox(t)
	w := v.restarted(t, func(d *Deps) {
		d.Config.Vipps.APIURL = other.URL + "/vipps"
		d.ProviderClock = other.State.Clock
	})
	b.moveTo(w.testApp)
	page, doc := b.orderPage(t, id)
	if !strings.Contains(doc.Find("main").Text(), "another Vipps MobilePay environment") || page.header.Get("Refresh") != "" ||
		doc.Find("[data-testid=vipps-confirming]").Length() != 0 || strings.Contains(page.body, "Continue to Vipps MobilePay") {
		t.Errorf("the order page of the old environment's payment:\n%s", doc.Find("main").Text())
	}
	w.clock.Advance(vippsSettleAfter + time.Minute)
	w.vipps.sweepOnce(t.Context())
	if n := calls(other.State); n != 0 {
		t.Fatalf("the new Vipps API was asked about the old payment (%d calls)", n)
	}
	if o := w.order(t, id); o.Status != db.StatusPending {
		t.Errorf("the old order is %s, want pending as Vipps last said", o.Status)
	}

	p := b.post("/checkout/vipps", nil) // the same cart
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, other.URL+"/vipps/landing?token=") {
		t.Fatalf("checkout at the new API: %d to %q", p.status, p.location)
	}
	if n := other.State.Calls("vipps.create_payment"); n != 1 {
		t.Errorf("%d payments made at the new API, want 1", n)
	}
	if o := w.order(t, id); o.Status != db.StatusCancelled {
		t.Errorf("the old environment's attempt is %s, want replaced", o.Status)
	}
	if calls(v.st) != before {
		t.Error("the shop still calls the old Vipps API")
	}
}

// A sales unit registered in another country than the order's currency's
// (a Norwegian MSN and a euro order, say) refuses the create with ErrorCode
// 5040: the checkout says in plain words that Vipps cannot take this
// currency here, fails the attempt (nothing was charged) and keeps the cart.
func TestVippsCheckoutInAnotherCurrencyThanTheSalesUnitsIsRefusedCalmly(t *testing.T) {
	v := newVippsShop(t)
	other := "FI" // a Finnish sales unit, and a Norwegian order in NOK
	v.sb.Control(t, "/control/settings", map[string]any{"vipps_msn_country": other})
	b := v.browser(t)
	b.signUp("vipps-currency@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	p := b.post("/checkout/vipps", nil)
	if p.status != http.StatusBadGateway {
		t.Fatalf("checkout at a %s sales unit: %d, want 502", other, p.status)
	}
	msg := p.doc(t).Find("[data-testid=vipps-error]").Text()
	if !strings.Contains(msg, "cannot take payments in this order's currency") || !strings.Contains(msg, "Nothing was charged") {
		t.Errorf("message %q", msg)
	}
	for _, leak := range []string{"5040", "Invalid currency for merchant", "traceId"} {
		if strings.Contains(p.doc(t).Find("main").Text(), leak) {
			t.Errorf("the page shows Vipps's developer text %q", leak)
		}
	}
	orders := v.ordersOf(t, "vipps-currency@example.com")
	if len(orders) != 1 || orders[0].Status != db.StatusFailed {
		t.Fatalf("orders %+v, want one failed", orders)
	}
	if n := v.st.Calls("vipps.create_payment"); n != 1 {
		t.Errorf("%d creates, want 1 (a refusal is not retried)", n)
	}
	if cart := b.get("/cart").doc(t); cart.Find("tr[data-product=sencha]").Length() != 1 {
		t.Error("the cart was lost")
	}
}

// Every provider call's log line names the shop request that caused it, so
// a call can be tied to the page a customer saw (its X-Request-Id).
func TestProviderCallsNameTheShopRequest(t *testing.T) {
	v := newVippsShopWith(t, func(d *Deps) { d.HTTP = outbound.NewClient(d.Log, 10*time.Second, nil) }) // as cmd/shop
	b := v.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	p := b.post("/checkout/vipps", nil)
	rid := p.header.Get(echo.HeaderXRequestID)
	if p.status != http.StatusSeeOther || rid == "" {
		t.Fatalf("checkout: %d, request id %q", p.status, rid)
	}
	var calls int
	for _, line := range strings.Split(v.logText(), "\n") {
		if strings.Contains(line, `msg="provider call"`) && strings.Contains(line, "operation=create_payment") {
			calls++
			if !strings.Contains(line, "request_id="+rid) {
				t.Errorf("the create_payment line does not name request %s: %s", rid, line)
			}
		}
	}
	if calls == 0 {
		t.Fatal("no create_payment line in the log")
	}
}
