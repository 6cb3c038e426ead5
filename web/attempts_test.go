package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/vipps"
)

// paymentsShop is the shop with Vipps MobilePay, Alternative Payments and
// Klarna all pointed at one sandbox, for what spans the payment methods.
type paymentsShop struct {
	*vippsShop
	altpayAPI string
}

func newPaymentsShop(t *testing.T) *paymentsShop {
	t.Helper()
	var api string
	noSleep := func(context.Context, time.Duration) error { return nil }
	v := newVippsShopWith(t, func(d *Deps) {
		api = strings.TrimSuffix(d.Config.Vipps.APIURL, "/vipps") + "/altpay"
		useAltpay(d, api)
		vc := d.Config.Vipps
		d.Vipps = vipps.New(vipps.Config{BaseURL: vc.APIURL, ClientID: vc.ClientID, ClientSecret: vc.ClientSecret,
			SubscriptionKey: vc.SubscriptionKey, MSN: vc.MSN, HTTP: http.DefaultClient, Clock: d.Clock, Log: d.Log, Sleep: noSleep})
	})
	return &paymentsShop{vippsShop: v, altpayAPI: api}
}

// invoiceAttempt submits "Pay by invoice" for the cart as it is (a guest's
// form with the invoice details) in the United States, the market that
// offers it, and returns the attempt's order id from the redirect to its
// invoice page.
func invoiceAttempt(t *testing.T, b *browser, form url.Values) string {
	t.Helper()
	b.inMarket("us")
	p := b.post("/checkout/altpay", form)
	id, ok := strings.CutPrefix(p.location, "/invoices/")
	if p.status != http.StatusSeeOther || !ok {
		t.Fatalf("pay by invoice: %d %q %s", p.status, p.location, p.body)
	}
	return id
}

func orderStatus(t *testing.T, a *testApp, id string) db.Order {
	t.Helper()
	o, err := a.Store.OrderByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestPayByInvoiceTwiceShowsTheFirstInvoice(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	first := invoiceAttempt(t, b, nil)
	second := invoiceAttempt(t, b, nil)
	if second != first {
		t.Fatalf("the second submit made attempt %s, want the first, %s", second, first)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Errorf("create_invoice called %d times, want 1", n)
	}
	orders, err := w.Store.OrdersByUser(t.Context(), 1)
	if err != nil || len(orders) != 1 {
		t.Fatalf("orders %+v, %v; want one", orders, err)
	}
	acct := b.get("/account")
	if acct.status != http.StatusOK {
		t.Fatalf("account: %d", acct.status)
	}
	if n := acct.doc(t).Find(`[data-testid=altpay-unpaid] a[href^="/invoices/"]`).Length(); n != 1 {
		t.Errorf("the account offers %d invoices to pay, want 1", n)
	}
}

func TestPayByInvoiceAfterTheCartChangedReplacesTheOpenAttempt(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	first := invoiceAttempt(t, b, nil)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	second := invoiceAttempt(t, b, nil)
	if second == first {
		t.Fatal("a changed cart got the old attempt and its old total")
	}
	if o := orderStatus(t, w.testApp, first); o.Status != db.StatusCancelled || o.StatusDetail != db.DetailReplaced {
		t.Errorf("the first attempt is %s %q, want cancelled %q", o.Status, o.StatusDetail, db.DetailReplaced)
	}
	if o := orderStatus(t, w.testApp, second); o.Status != db.StatusPending || o.TotalAmount != 1900+899+231 { // USD, with 8.25% sales tax
		t.Errorf("the new attempt is %s for %d, want pending for the whole cart", o.Status, o.TotalAmount)
	}
	doc := b.get("/account").doc(t)
	if got := doc.Find(`[data-testid=altpay-unpaid] a[href^="/invoices/"]`); got.Length() != 1 || got.AttrOr("href", "") != "/invoices/"+second {
		t.Errorf("the account offers %d invoices to pay, want only the new one", got.Length())
	}
	if status, _ := b.token(first); status != http.StatusConflict {
		t.Errorf("a token for the replaced invoice: %d, want 409", status)
	}
	if p := b.get("/invoices/" + first); p.status != http.StatusOK || p.doc(t).Find("[data-testid=altpay-closed]").Length() != 1 ||
		p.doc(t).Find("#altpay-invoice").Length() != 0 {
		t.Errorf("the replaced invoice's page: %d, want it shown closed with no way to pay", p.status)
	}
}

func TestVippsTwiceGoesBackToTheSameLandingPage(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	landing := v.startPayment(t, b)
	p := b.post("/checkout/vipps", url.Values{"phone": {"+47 912 34 567"}})
	if p.status != http.StatusSeeOther || p.location != landing.String() {
		t.Fatalf("second submit: %d to %q, want the first landing page %q", p.status, p.location, landing)
	}
	if n := v.st.Calls("vipps.create_payment"); n != 1 {
		t.Errorf("create_payment called %d times, want 1", n)
	}
	if ids := v.orderIDs(t); len(ids) != 1 {
		t.Errorf("orders %v, want one", ids)
	}
}

// A rejected payment ends its attempt: the next submit makes a new one.
func TestVippsSubmitAfterARejectionStartsANewAttempt(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	landing := v.startPayment(t, b)
	v.answer(t, landing, "reject") // and the customer never comes back to the shop
	p := b.post("/checkout/vipps", url.Values{"phone": {"+47 912 34 567"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, v.sb.URL+"/vipps/landing?token=") || p.location == landing.String() {
		t.Fatalf("submit after a rejection: %d to %q, want a new landing page", p.status, p.location)
	}
	if n := v.st.Calls("vipps.create_payment"); n != 2 {
		t.Errorf("create_payment called %d times, want 2", n)
	}
}

func TestKlarnaTwiceGoesBackToTheSamePayPage(t *testing.T) {
	k := newKlarnaApp(t)
	b := k.shopper(t, "kim@example.com", "sencha")
	id, _, _ := k.startKlarna(t, b)
	p := b.post("/checkout/klarna", nil)
	if p.status != http.StatusSeeOther || p.location != "/checkout/klarna/"+id {
		t.Fatalf("second submit: %d to %q, want the first attempt's pay page", p.status, p.location)
	}
	if n := k.sb.State.Calls("klarna.create_session"); n != 1 {
		t.Errorf("create_session called %d times, want 1", n)
	}
}

// Paid with Vipps: the cart's open invoice can no longer be paid, and the
// account page no longer offers it.
func TestPayingWithVippsClosesTheCartsOpenInvoice(t *testing.T) {
	s := newPaymentsShop(t)
	b := s.browser(t)
	b.signUp("tess@example.com")
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	invoice := invoiceAttempt(t, b, nil)
	_, tok := b.token(invoice) // the invoice page is open in another tab
	if tok["token"] == nil {
		t.Fatalf("no checkout token: %v", tok)
	}
	b.inMarket("no") // back in Norway, where Vipps is offered
	p := b.post("/checkout/vipps", url.Values{"phone": {"+47 912 34 567"}})
	landing, err := url.Parse(p.location)
	if p.status != http.StatusSeeOther || err != nil {
		t.Fatalf("vipps: %d %q", p.status, p.location)
	}
	if r := b.get(s.answer(t, landing, "approve")); r.status != http.StatusSeeOther {
		t.Fatalf("return: %d", r.status)
	}

	o := orderStatus(t, s.testApp, invoice)
	if o.Status != db.StatusCancelled || o.StatusDetail != db.DetailClosedPaid {
		t.Errorf("the invoice attempt is %s %q, want cancelled %q", o.Status, o.StatusDetail, db.DetailClosedPaid)
	}
	acct := b.get("/account")
	if acct.status != http.StatusOK || acct.doc(t).Find("[data-testid=altpay-unpaid]").Length() != 0 || strings.Contains(acct.body, "Pay this invoice") {
		t.Errorf("the account page still offers the closed invoice: %d", acct.status)
	}
	if status, _ := b.token(invoice); status != http.StatusConflict {
		t.Errorf("a token for the closed invoice: %d, want 409", status)
	}

	// The tab with the old token pays anyway: the shop does not take it as
	// this order's payment, says so, and asks a person to refund it.
	s.payInvoiceAsTheBrowser(t, tok["token"].(string), "41.14")
	c := b.post("/invoices/"+invoice+"/confirm", nil)
	if c.status != http.StatusConflict || !strings.Contains(c.body, "we will refund the payment") {
		t.Errorf("confirming the closed invoice: %d", c.status)
	}
	if o := orderStatus(t, s.testApp, invoice); o.Status != db.StatusCancelled {
		t.Errorf("the closed attempt became %s", o.Status)
	}
	if !strings.Contains(s.logText(), "an invoice was paid after its attempt was closed") {
		t.Error("the payment of a closed invoice is not logged for a refund")
	}
}

// invoicePaidBesideVipps is Tess's cart with a Vipps attempt waiting on its
// landing page and an invoice attempt (invoice) paid at the provider, not yet
// confirmed with the shop.
func invoicePaidBesideVipps(t *testing.T) (s *paymentsShop, b *browser, landing *url.URL, vippsID, invoice string) {
	t.Helper()
	s = newPaymentsShop(t)
	b = s.browser(t)
	b.signUp("tess@example.com")
	landing = s.startPayment(t, b)
	vippsID = s.orderIDs(t)[0]
	invoice = invoiceAttempt(t, b, nil)
	_, tok := b.token(invoice)
	s.payInvoiceAsTheBrowser(t, tok["token"].(string), "41.14")
	return s, b, landing, vippsID, invoice
}

// Paid by invoice: the cart's waiting Vipps payment is cancelled at Vipps,
// so its landing page, still open, cannot take the money too.
func TestPayingByInvoiceCancelsTheCartsWaitingVippsPayment(t *testing.T) {
	s, b, landing, vippsID, invoice := invoicePaidBesideVipps(t)
	if c := b.post("/invoices/"+invoice+"/confirm", nil); c.status != http.StatusSeeOther || c.location != "/orders/"+invoice {
		t.Fatalf("confirm: %d %q", c.status, c.location)
	}

	if o := orderStatus(t, s.testApp, vippsID); o.Status != db.StatusCancelled || o.StatusDetail != db.DetailClosedPaid {
		t.Errorf("the Vipps attempt is %s %q, want cancelled %q", o.Status, o.StatusDetail, db.DetailClosedPaid)
	}
	if n := s.st.Calls("vipps.cancel"); n != 1 {
		t.Errorf("vipps.cancel called %d times, want 1", n)
	}
	o := orderStatus(t, s.testApp, vippsID)
	if vp, err := s.Store.VippsPaymentByOrder(t.Context(), o.ID); err != nil || vp.State != "TERMINATED" {
		t.Errorf("the Vipps payment is %q (%v), want TERMINATED", vp.State, err)
	}
	if due, _ := s.Store.AttemptsToRelease(t.Context(), 0, 10); len(due) != 0 {
		t.Errorf("still to release: %+v", due)
	}
	code, _, _ := s.sandboxDo(t, "POST", "/vipps/landing", "application/x-www-form-urlencoded",
		url.Values{"token": {landing.Query().Get("token")}, "action": {"approve"}, "phone": {"4791234567"}}.Encode())
	if code == http.StatusSeeOther {
		t.Error("the cancelled payment could still be approved on its landing page")
	}
	if n := s.st.Calls("vipps.capture"); n != 0 {
		t.Errorf("vipps.capture called %d times, want 0", n)
	}
}

// When Vipps cannot be reached to cancel a closed attempt's payment, the
// attempt stays marked, and the background release cancels it later.
func TestAClosedAttemptIsReleasedLaterWhenVippsWasOut(t *testing.T) {
	s, b, _, vippsID, invoice := invoicePaidBesideVipps(t)
	s.fault(t, "vipps.cancel", 503, 3) // every try of the one cancel
	b.post("/invoices/"+invoice+"/confirm", nil)
	due, err := s.Store.AttemptsToRelease(t.Context(), 0, 10)
	if err != nil || len(due) != 1 || due[0].PublicID != vippsID {
		t.Fatalf("to release after a failed cancel: %+v, %v; want the Vipps attempt", due, err)
	}

	s.releaseClosed(t.Context(), 0)
	o := orderStatus(t, s.testApp, vippsID)
	if vp, _ := s.Store.VippsPaymentByOrder(t.Context(), o.ID); vp.State != "TERMINATED" {
		t.Errorf("after the background release the payment is %q, want TERMINATED", vp.State)
	}
	if due, _ := s.Store.AttemptsToRelease(t.Context(), 0, 10); len(due) != 0 {
		t.Errorf("still to release: %+v", due)
	}
}

// payInvoiceAsTheBrowser is altpayWorld.payAsTheBrowser on this shop's sandbox.
func (s *paymentsShop) payInvoiceAsTheBrowser(t *testing.T, token, amount string) {
	t.Helper()
	(&altpayWorld{api: s.altpayAPI}).payAsTheBrowser(t, token, amount)
}

// An attempt closed after its settle read it as pending (its cart was paid
// another way meanwhile) is never authorized, so never shipped and
// captured: the release gives the reservation back.
func TestVippsNeverAuthorizesAnAttemptClosedWhileItSettled(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	v.answer(t, v.startPayment(t, b), "approve") // approved; the browser has not come back yet
	seen := orderStatus(t, v.testApp, v.orderIDs(t)[0])
	if err := v.Store.CloseAttempt(t.Context(), seen.ID, db.StatusCancelled, db.DetailClosedPaid); err != nil {
		t.Fatal(err)
	}
	vp, err := v.Store.VippsPaymentByOrder(t.Context(), seen.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.vipps.client.GetPayment(t.Context(), vp.Reference)
	if err != nil || p.State != vipps.StateAuthorized {
		t.Fatalf("payment %s, %v", p.State, err)
	}
	got, err := v.vipps.authorized(t.Context(), seen, p.Aggregate)
	if err != nil || got.Status != db.StatusCancelled {
		t.Errorf("authorizing a closed attempt: %s, %v; want it left cancelled", got.Status, err)
	}
	if n := v.st.Calls("vipps.capture"); n != 0 {
		t.Fatalf("vipps.capture called %d times for a closed attempt", n)
	}
	v.releaseClosed(t.Context(), 0)
	after, err := v.vipps.client.GetPayment(t.Context(), vp.Reference)
	if err != nil || after.Aggregate.CancelledAmount.Value != seen.TotalAmount || after.Aggregate.CapturedAmount.Value != 0 {
		t.Errorf("after the release: %+v, %v; want the reservation cancelled", after.Aggregate, err)
	}
}
