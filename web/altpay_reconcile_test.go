package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/money"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// loseInvoiceAnswers makes the next times create_invoice calls run at the
// sandbox and close the connection with no reply.
func (w *altpayWorld) loseInvoiceAnswers(t *testing.T, times int) {
	t.Helper()
	w.sb.Control(t, "/control/faults", map[string]any{"operation": "altpay.create_invoice", "lose_answer": true, "times": times})
}

// onlyOrder is the one order of the world's first user.
func (w *altpayWorld) onlyOrder(t *testing.T, a *testApp) db.Order {
	t.Helper()
	orders, err := a.Store.OrdersByUser(t.Context(), 1)
	if err != nil || len(orders) != 1 {
		t.Fatalf("orders %+v, %v; want one", orders, err)
	}
	o, err := a.Store.OrderByPublicID(t.Context(), orders[0].PublicID)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// recordedInvoice is the invoice the shop recorded for o, read back from the
// provider at api's world w.
func (w *altpayWorld) recordedInvoice(t *testing.T, a *testApp, o db.Order) (db.AltpayInvoice, string) {
	t.Helper()
	inv, err := a.Store.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil || inv.InvoiceID == "" {
		t.Fatalf("recorded invoice %+v, %v", inv, err)
	}
	got, err := a.Altpay.GetInvoice(t.Context(), inv.InvoiceID)
	if err != nil {
		t.Fatal(err)
	}
	return inv, got.InvoiceNumber
}

// providerInvoices lists every invoice the provider holds for customerID.
func (w *altpayWorld) providerInvoices(t *testing.T, a *testApp, customerID string) []altpay.Invoice {
	t.Helper()
	all, err := a.Altpay.FindInvoices(t.Context(), altpay.InvoiceFilter{CustomerID: customerID}, func(altpay.Invoice) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// The provider makes the invoice and its answer is lost (the connection
// closes with no reply). POST /invoices is not idempotent, so the shop does
// not send it again: it looks the invoice up by its own reference, stored
// before the request, finds it and shows it. The provider holds exactly one
// invoice for the order, in the order's currency, with the reference in its
// memo.
func TestALostInvoiceAnswerIsFoundByTheShopsReferenceNotMadeTwice(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	w.loseInvoiceAnswers(t, 1)
	p := b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if p.status != http.StatusSeeOther || p.location != "/invoices/"+o.PublicID {
		t.Fatalf("checkout after a lost answer: %d to %q, want the invoice page", p.status, p.location)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Errorf("create_invoice called %d times, want 1: the shop must not send it again blindly", n)
	}
	if n := w.sb.State.Calls("altpay.list_invoices"); n != 1 {
		t.Errorf("list_invoices called %d times, want 1 (the lookup)", n)
	}
	inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil || inv.InvoiceID == "" || inv.Reference != "Refshop order "+o.PublicID || inv.CreateSentAt.IsZero() {
		t.Fatalf("recorded %+v, %v", inv, err)
	}
	all := w.providerInvoices(t, w.testApp, inv.CustomerID)
	if len(all) != 1 || all[0].ID != inv.InvoiceID || all[0].Memo != inv.Reference || all[0].Currency != o.Currency || o.Currency != "USD" ||
		all[0].TotalAmount() != (money.Amount{Minor: o.TotalAmount, Currency: o.Currency}) {
		t.Errorf("the provider holds %+v; want exactly the recorded invoice, in the order's currency (%s), with the reference", all, o.Currency)
	}
	if !strings.Contains(w.logText(), "found the invoice an unanswered request made") {
		t.Error("the reuse is not logged")
	}
}

// Every answer is lost and the lookup cannot be made either: the invoice may
// exist, so the customer is told the shop is confirming it, never that it
// could not be made, and nothing more is created; the order page's next look
// finds the one invoice and offers it.
func TestInvoiceWithNoAnswerIsConfirmedNotFailed(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	w.loseInvoiceAnswers(t, 1)
	w.sb.Fault(t, "altpay.list_invoices", 503, 6) // the three tries of the checkout's lookup and of the order page's first
	p := b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if p.status != http.StatusSeeOther || p.location != "/orders/"+o.PublicID {
		t.Fatalf("checkout with no answer: %d to %q, want the order page", p.status, p.location)
	}
	if o.Status != db.StatusPending {
		t.Fatalf("the order is %s %q, want pending: an invoice may exist", o.Status, o.StatusDetail)
	}
	page := b.get(p.location)
	if page.status != http.StatusOK || !strings.Contains(page.body, "We are confirming your invoice") || strings.Contains(page.body, "could not be created") {
		t.Fatalf("order page after no answer: %d %s", page.status, page.doc(t).Find("main").Text())
	}
	if page.doc(t).Find("[data-testid=altpay-order-notice]").Length() != 1 {
		t.Error("the order page does not say the invoice is being confirmed")
	}
	// The provider answers again: the order page's next look (past
	// altpayRecheckAfter) looks the invoice up and records it.
	w.clock.Advance(altpayRecheckAfter)
	page = b.get(p.location)
	if page.doc(t).Find(`a[href="/invoices/`+o.PublicID+`"]`).Length() != 1 {
		t.Errorf("the order page does not offer the confirmed invoice")
	}
	inv, number := w.recordedInvoice(t, w.testApp, o)
	if number != "INV-00001" || len(w.providerInvoices(t, w.testApp, inv.CustomerID)) != 1 {
		t.Errorf("recorded invoice %s: want the first and only one", number)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Errorf("create_invoice called %d times, want 1", n)
	}
	if inv := b.get("/invoices/" + o.PublicID); inv.status != http.StatusOK || inv.doc(t).Find("#altpay-invoice").Length() != 1 {
		t.Errorf("invoice page: %d", inv.status)
	}
}

// The create answers 503 (it may or may not have made the invoice) and the
// lookup right after finds nothing. That proves nothing yet (a slow
// provider may commit the first request later), so the shop creates nothing
// more: the customer reads that it is confirming, and the order page's
// next looks only look. Once altpayQuietPeriod has passed since the create
// was sent with still no invoice, one look sends the create again, and the
// provider ends with one invoice.
func TestA503OnCreateIsLookedUpThenAskedAgain(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 503, 1)
	p := b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if p.status != http.StatusSeeOther || p.location != "/orders/"+o.PublicID || o.Status != db.StatusPending {
		t.Fatalf("checkout after a 503: %d to %q, order %s; want the order page and a pending order", p.status, p.location, o.Status)
	}
	if c, l := w.sb.State.Calls("altpay.create_invoice"), w.sb.State.Calls("altpay.list_invoices"); c != 1 || l != 1 {
		t.Errorf("create_invoice %d, list_invoices %d; want 1 and 1 (a lookup, no second create)", c, l)
	}
	w.clock.Advance(altpayRecheckAfter)
	if _, doc := b.orderPage(t, o.PublicID); !strings.Contains(doc.Find("[data-testid=altpay-order-notice]").Text(), "We are confirming your invoice") {
		t.Errorf("within the quiet period the order page says:\n%s", doc.Find("main").Text())
	}
	if c, l := w.sb.State.Calls("altpay.create_invoice"), w.sb.State.Calls("altpay.list_invoices"); c != 1 || l != 2 {
		t.Errorf("create_invoice %d, list_invoices %d within the quiet period; want 1 and 2", c, l)
	}
	w.clock.Advance(altpayQuietPeriod)
	if _, doc := b.orderPage(t, o.PublicID); doc.Find(`a[href="/invoices/`+o.PublicID+`"]`).Length() != 1 {
		t.Errorf("after the quiet period the order page does not offer the invoice:\n%s", doc.Find("main").Text())
	}
	if c := w.sb.State.Calls("altpay.create_invoice"); c != 2 {
		t.Errorf("create_invoice %d, want 2 (one more after the quiet period)", c)
	}
	inv, _ := w.recordedInvoice(t, w.testApp, o)
	if n := len(w.providerInvoices(t, w.testApp, inv.CustomerID)); n != 1 {
		t.Errorf("the provider holds %d invoices, want 1", n)
	}
}

// A slow provider: the create gets no answer it can use (here a 503) and
// the lookup right after finds nothing, yet the provider commits the
// request later (here: the invoice appears at the provider, memo and all,
// after the lookup). The shop must not have made a second invoice
// meanwhile; the order page's next look finds the late one and records it.
func TestASlowProvidersLateInvoiceIsFoundNotMadeTwice(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 503, 1)
	b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Fatalf("create_invoice called %d times at checkout, want 1: an empty list right after a 503 proves nothing", n)
	}
	inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil || inv.InvoiceID != "" || inv.CreateSentAt.IsZero() {
		t.Fatalf("after the 503: %+v, %v; want the request recorded as sent and no invoice", inv, err)
	}
	late, err := w.Altpay.CreateInvoice(t.Context(), altpayInvoiceFor(o, inv)) // the provider commits the first request late
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(altpayRecheckAfter)
	b.orderPage(t, o.PublicID)
	got, _ := w.recordedInvoice(t, w.testApp, o)
	if got.InvoiceID != late.ID {
		t.Errorf("recorded %s, want the late invoice %s", got.InvoiceID, late.ID)
	}
	if n := len(w.providerInvoices(t, w.testApp, inv.CustomerID)); n != 1 {
		t.Errorf("the provider holds %d invoices, want 1", n)
	}
}

// The create's answer is lost (the provider made the invoice), and the
// lookup is refused (400). A refused lookup says nothing about the invoice:
// the customer must not read "Nothing was charged" while the provider holds
// it. The shop says it is confirming, and the next look finds the invoice.
func TestARefusedLookupIsNotANothingWasCharged(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.loseInvoiceAnswers(t, 1)
	w.sb.Fault(t, "altpay.list_invoices", 400, 1)
	p := b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if strings.Contains(p.body, "Nothing was charged") || o.Status != db.StatusPending ||
		p.status != http.StatusSeeOther || p.location != "/orders/"+o.PublicID {
		t.Fatalf("checkout after a lost answer and a refused lookup: %d to %q, order %s %q\n%s",
			p.status, p.location, o.Status, o.StatusDetail, p.doc(t).Find("main").Text())
	}
	if page := b.get(p.location); strings.Contains(page.body, "Nothing was charged") || strings.Contains(page.body, "could not be created") {
		t.Errorf("the order page:\n%s", page.doc(t).Find("main").Text())
	}
	w.clock.Advance(altpayRecheckAfter)
	b.orderPage(t, o.PublicID)
	inv, number := w.recordedInvoice(t, w.testApp, o)
	if number != "INV-00001" || len(w.providerInvoices(t, w.testApp, inv.CustomerID)) != 1 || w.sb.State.Calls("altpay.create_invoice") != 1 {
		t.Errorf("recorded %s; want the one invoice the lost answer made, created once", number)
	}
}

// The background after a restart meets a refused lookup: the attempt stays
// pending (the invoice may exist), and the next pass records the invoice.
func TestTheSweepDoesNotFailAnAttemptOnARefusedLookup(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.loseInvoiceAnswers(t, 1)
	w.sb.Fault(t, "altpay.list_invoices", 503, 3) // the checkout cannot look it up
	b.post("/checkout/altpay", nil)
	w.sb.Fault(t, "altpay.list_invoices", 400, 1)
	w.altpay.sweepOnce(t.Context())
	o := w.onlyOrder(t, w.testApp)
	if o.Status != db.StatusPending {
		t.Fatalf("after a refused lookup in the background the order is %s %q, want pending", o.Status, o.StatusDetail)
	}
	w.clock.Advance(time.Minute) // the failed try's back-off
	w.altpay.sweepOnce(t.Context())
	if _, number := w.recordedInvoice(t, w.testApp, o); number != "INV-00001" || w.sb.State.Calls("altpay.create_invoice") != 1 {
		t.Errorf("recorded %s after %d creates; want the first invoice, created once", number, w.sb.State.Calls("altpay.create_invoice"))
	}
}

// A create refused after an earlier one got no answer says nothing about
// the earlier one: the attempt stays pending, and the customer is not told
// that nothing was charged.
func TestARefusedSecondCreateIsNotANothingWasCharged(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 503, 3) // every create the checkout might send
	b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	w.clock.Advance(altpayQuietPeriod)
	w.sb.Fault(t, "altpay.create_invoice", 400, 1) // replaces what is left of the 503s
	page := b.get("/orders/" + o.PublicID)
	if o = w.onlyOrder(t, w.testApp); o.Status != db.StatusPending || strings.Contains(page.body, "Nothing was charged") {
		t.Fatalf("after a refused second create: order %s %q\n%s", o.Status, o.StatusDetail, page.doc(t).Find("main").Text())
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 2 {
		t.Errorf("create_invoice called %d times, want 2", n)
	}
}

// An order in euros reaches Alternative Payments as it is (the shop hard-codes
// no currency); the provider refuses it with its documented validation error
// (422, the currency enum is USD only), and the customer reads why, in a
// sentence of the shop's: nothing was charged and the cart is kept. (The
// shop offers invoices in the United States only; a trigger stands in for a
// market misconfigured to offer them in euros.)
func TestAnInvoiceInEurosIsRefusedWithASentenceAboutDollars(t *testing.T) {
	w, b := newAltpayTess(t)
	trigger(t, w.DB, `CREATE TRIGGER invoices_in_euros AFTER INSERT ON orders
		WHEN NEW.provider = 'altpay' BEGIN UPDATE orders SET currency = 'EUR' WHERE id = NEW.id; END`,
		`CREATE FUNCTION invoices_in_euros() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN UPDATE orders SET currency = 'EUR' WHERE id = NEW.id; RETURN NULL; END $$;
		CREATE TRIGGER invoices_in_euros AFTER INSERT ON orders
		FOR EACH ROW WHEN (NEW.provider = 'altpay') EXECUTE FUNCTION invoices_in_euros()`)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	p := b.post("/checkout/altpay", nil)
	main := p.doc(t).Find("main").Text()
	if p.status != http.StatusBadGateway || !strings.Contains(main, "Pay by invoice is available for orders in US dollars only") ||
		!strings.Contains(main, "Nothing was charged") || strings.Contains(p.body, "currency must be USD") {
		t.Fatalf("%d %s", p.status, main)
	}
	o := w.onlyOrder(t, w.testApp)
	if o.Currency != "EUR" || o.Status != db.StatusFailed {
		t.Errorf("order %s %s, want the euro order failed", o.Currency, o.Status)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Errorf("create_invoice called %d times, want 1", n)
	}
	if !strings.Contains(w.logText(), "currency must be USD") {
		t.Error("the provider's validation error is not in the log")
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Stoneware Mug") {
		t.Error("the cart was lost")
	}
}

// A crash between the provider's answer and the record (here: the record
// fails) leaves the attempt pending with its request stored; the next look
// finds the same invoice.
func TestInvoiceMadeButNotRecordedIsFoundAgain(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	trigger(t, w.DB, `CREATE TRIGGER no_record BEFORE UPDATE OF invoice_id ON altpay_invoices
		BEGIN SELECT RAISE(ABORT, 'injected: the disk is full'); END`,
		`CREATE FUNCTION no_record() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected: the disk is full'; END $$;
		CREATE TRIGGER no_record BEFORE UPDATE OF invoice_id ON altpay_invoices
		FOR EACH ROW EXECUTE FUNCTION no_record()`)
	p := b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	if p.status != http.StatusSeeOther || p.location != "/orders/"+o.PublicID || o.Status != db.StatusPending {
		t.Fatalf("checkout: %d to %q, order %s; want the order page and a pending order", p.status, p.location, o.Status)
	}
	if !strings.Contains(w.logText(), "inv_") {
		t.Error("the provider's invoice id is not logged for support")
	}
	trigger(t, w.DB, `DROP TRIGGER no_record`, `DROP TRIGGER no_record ON altpay_invoices`)
	page := b.get("/orders/" + o.PublicID)
	if doc := page.doc(t); page.status != http.StatusOK || doc.Find("[data-testid=altpay-order-notice]").Length() != 0 ||
		doc.Find(`a[href="/invoices/`+o.PublicID+`"]`).Length() != 1 {
		t.Fatalf("order page: %d; want the invoice confirmed and offered", page.status)
	}
	if _, number := w.recordedInvoice(t, w.testApp, o); number != "INV-00001" {
		t.Errorf("recorded %s, want the first and only invoice", number)
	}
}

// The shop dies with an invoice asked for and unanswered; after a restart
// the background reconciliation looks it up by the stored reference and
// records the invoice the provider made, before anyone looks at the order,
// without making another.
func TestRestartedShopReconcilesAnUnansweredInvoiceInTheBackground(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.loseInvoiceAnswers(t, 1)
	w.sb.Fault(t, "altpay.list_invoices", 503, 3) // the checkout cannot look it up
	b.post("/checkout/altpay", nil)

	restarted := newTestAppOn(t, w.DB, func(d *Deps) { useAltpay(d, w.api) })
	restarted.altpay.sweepOnce(t.Context())
	o := w.onlyOrder(t, restarted)
	inv, number := w.recordedInvoice(t, restarted, o)
	if number != "INV-00001" || o.ProviderReference != inv.InvoiceID || o.Status != db.StatusPending {
		t.Errorf("after the sweep: order %s ref %q, invoice %s; want the first invoice recorded", o.Status, o.ProviderReference, number)
	}
	if n := w.sb.State.Calls("altpay.create_invoice"); n != 1 {
		t.Errorf("create_invoice called %d times, want 1", n)
	}
	if acct := b.get("/account"); !strings.Contains(acct.body, "Pay this invoice") {
		t.Error("the account does not offer the reconciled invoice")
	}
}

// When the provider does not answer the background either, each failure
// pushes the next try back, and the attempt is never failed on a guess. A
// create is sent only once nothing has been found for altpayQuietPeriod
// since the last one; a pass within it only looks, and is not counted as a
// failure.
func TestInvoiceSweepBacksOffWhileTheProviderIsOut(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 503, 2) // the checkout's create and the sweep's first
	b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	creates := func() int { return w.sb.State.Calls("altpay.create_invoice") }

	w.altpay.sweepOnce(t.Context()) // within the quiet period: looks only
	if inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID); err != nil || inv.SettleTries != 0 || creates() != 1 {
		t.Fatalf("a sweep within the quiet period: %+v, %v, %d creates; want no create and no failed try", inv, err, creates())
	}
	w.clock.Advance(altpayQuietPeriod)
	w.altpay.sweepOnce(t.Context()) // creates again: 503
	inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID)
	if o = w.onlyOrder(t, w.testApp); err != nil || inv.InvoiceID != "" || inv.SettleTries != 1 ||
		!inv.SettleAfter.Equal(w.clock.Now().Add(time.Minute)) || o.Status != db.StatusPending || creates() != 2 {
		t.Fatalf("after a failed sweep: %+v, order %s, %d creates, %v", inv, o.Status, creates(), err)
	}
	w.altpay.sweepOnce(t.Context()) // too early: not asked
	w.clock.Advance(time.Minute)
	w.altpay.sweepOnce(t.Context()) // due, but within the quiet period of the second create
	if creates() != 2 {
		t.Errorf("create_invoice called %d times, want 2", creates())
	}
	w.clock.Advance(altpayQuietPeriod)
	w.altpay.sweepOnce(t.Context())
	if _, number := w.recordedInvoice(t, w.testApp, o); number != "INV-00001" || creates() != 3 {
		t.Errorf("recorded %s after %d creates; want INV-00001 after 3", number, creates())
	}
}

// afterAProviderReset is Tess with an open invoice attempt (first) at a
// provider that has since forgotten everything (a reset sandbox).
func afterAProviderReset(t *testing.T) (w *altpayWorld, b *browser, first string) {
	t.Helper()
	w, b = newAltpayTess(t)
	first = w.checkoutByInvoice(t, b, nil)
	w.sb.Control(t, "/control/reset", map[string]any{})
	return w, b, first
}

// After the provider forgot everything (a reset sandbox), a customer whose
// stored provider customer is gone gets a new one and an invoice, instead of
// "The invoice could not be created" forever.
func TestAMissingProviderCustomerIsMadeAgain(t *testing.T) {
	w, b, first := afterAProviderReset(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	p := b.post("/checkout/altpay", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/invoices/") || p.location == "/invoices/"+first {
		t.Fatalf("checkout after the provider forgot the customer: %d %q %s", p.status, p.location, p.body)
	}
	if n := w.sb.State.Calls("altpay.create_customer"); n != 1 {
		t.Errorf("create_customer called %d times after the reset, want 1", n)
	}
	second := strings.TrimPrefix(p.location, "/invoices/")
	o, _ := w.Store.OrderByPublicID(t.Context(), second)
	if status, tok := b.token(second); status != http.StatusOK || tok["token"] == nil {
		t.Errorf("token for the new invoice: %d %v", status, tok)
	}
	if _, number := w.recordedInvoice(t, w.testApp, o); number != "INV-00001" {
		t.Errorf("recorded %s", number)
	}
}

// The same cart after the provider forgot everything: the open attempt's
// invoice is gone, so the attempt is closed and a new invoice made.
func TestAnInvoiceTheProviderLostIsReplacedOnTheNextSubmit(t *testing.T) {
	w, b, first := afterAProviderReset(t)
	p := b.post("/checkout/altpay", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/invoices/") || p.location == "/invoices/"+first {
		t.Fatalf("second submit: %d %q %s", p.status, p.location, p.body)
	}
	if o := orderStatus(t, w.testApp, first); o.Status != db.StatusFailed || !strings.Contains(o.StatusDetail, "no longer has this invoice") {
		t.Errorf("the lost invoice's attempt is %s %q", o.Status, o.StatusDetail)
	}
}

// A guest's second invoice in one session goes to the details typed for it,
// not to the first email and name.
func TestAGuestsSecondInvoiceGoesToTheDetailsTypedForIt(t *testing.T) {
	w := newAltpayWorld(t)
	b := w.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	first := invoiceAttempt(t, b, url.Values{"email": {"gus@example.com"}, "name": {"Gus Guest"}})
	second := invoiceAttempt(t, b, url.Values{"email": {"accounts@firm.example"}, "name": {"Firm Ltd"}})
	if second == first {
		t.Fatal("the second submit returned the invoice addressed to the first details")
	}
	for id, want := range map[string][2]string{first: {"gus@example.com", "Gus Guest"}, second: {"accounts@firm.example", "Firm Ltd"}} {
		o := orderStatus(t, w.testApp, id)
		inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.Altpay.GetInvoice(t.Context(), inv.InvoiceID)
		if err != nil {
			t.Fatal(err)
		}
		cu, err := w.Altpay.GetCustomer(t.Context(), got.CustomerID)
		if err != nil || cu.Email != want[0] || cu.Name != want[1] {
			t.Errorf("invoice of %s goes to %q %q, %v; want %q %q", id, cu.Email, cu.Name, err, want[0], want[1])
		}
	}
	if o := orderStatus(t, w.testApp, first); o.Status != db.StatusCancelled {
		t.Errorf("the first attempt is %s, want cancelled (replaced)", o.Status)
	}
}

// Provider ids belong to the environment they were made in: after the shop
// is pointed at another Alternative Payments API on the same data dir, it
// makes a customer there and never sends the old environment's ids to it.
func TestProviderIdsAreKeptPerEnvironment(t *testing.T) {
	w, b := newAltpayTess(t)
	first := w.checkoutByInvoice(t, b, nil)
	oldCustomer := orderCustomer(t, w.testApp, first)

	other := sandboxtest.Start(t, control.Config{BaseURL: "http://other.test", ShopBaseURL: "http://shop.test",
		Altpay: control.AltpayConfig{Enabled: true, ClientID: w.Config.Altpay.ClientID, ClientSecret: w.Config.Altpay.ClientSecret.Reveal()}}, nil)
	restarted := newTestAppOn(t, w.DB, func(d *Deps) { useAltpay(d, other.URL+"/altpay") })
	b.moveTo(restarted)
	calls := func() int {
		return w.sb.State.Calls("altpay.create_invoice") + w.sb.State.Calls("altpay.get_invoice") + w.sb.State.Calls("altpay.create_customer")
	}
	before := calls()

	if p := b.get("/orders/" + first); p.status != http.StatusOK || !strings.Contains(p.body, "another Alternative Payments environment") {
		t.Errorf("the old order's page: %d, want it marked as of another environment", p.status)
	}
	if acct := b.get("/account"); strings.Contains(acct.body, "Pay this invoice") {
		t.Error("the account offers an invoice of another environment")
	}
	if status, _ := b.token(first); status != http.StatusConflict {
		t.Errorf("a token for the old environment's invoice: %d, want 409", status)
	}
	if n := other.State.Calls("altpay.get_invoice") + other.State.Calls("altpay.checkout_auth_init"); n != 0 {
		t.Errorf("the new environment was asked about an old invoice %d times", n)
	}

	p := b.post("/checkout/altpay", nil) // the same cart
	second, ok := strings.CutPrefix(p.location, "/invoices/")
	if p.status != http.StatusSeeOther || !ok || second == first {
		t.Fatalf("checkout in the new environment: %d %q %s", p.status, p.location, p.body)
	}
	if n := other.State.Calls("altpay.create_customer"); n != 1 {
		t.Errorf("customers made in the new environment: %d, want 1", n)
	}
	if c := orderCustomer(t, restarted, second); c == oldCustomer {
		t.Error("the new environment's invoice was addressed to the old environment's customer")
	}
	if o := orderStatus(t, restarted, first); o.Status != db.StatusCancelled {
		t.Errorf("the old environment's open attempt is %s, want replaced", o.Status)
	}
	if calls() != before {
		t.Error("the shop still calls the old environment")
	}
}

// orderCustomer is the provider customer the order's invoice was asked for.
func orderCustomer(t *testing.T, a *testApp, id string) string {
	t.Helper()
	inv, err := a.Store.AltpayInvoiceFor(t.Context(), orderStatus(t, a, id).ID)
	if err != nil {
		t.Fatal(err)
	}
	return inv.CustomerID
}

// moveTo points b at another shop on the same database, keeping its cookies,
// as a browser does across a restart.
func (b *browser) moveTo(a *testApp) {
	from, _ := url.Parse(b.app.srv.URL)
	to, _ := url.Parse(a.srv.URL)
	b.c.Jar.SetCookies(to, b.c.Jar.Cookies(from))
	b.app = a
}

// The provider slower than the request's deadline, at either step of the
// checkout (making the customer, or the invoice): the checkout answers in
// time with the order page, which says the shop is confirming the invoice
// and reloads itself; a repeated post joins the same attempt; the work goes
// on and records the one invoice, which the order page then offers.
func TestSlowInvoiceAnswersInTimeAndARepeatedPostJoinsTheAttempt(t *testing.T) {
	for _, op := range []string{"altpay.create_customer", "altpay.create_invoice"} {
		t.Run(op, func(t *testing.T) {
			w, b := newAltpayTess(t)
			b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
			w.sb.Delay(t, op, "1s", 1)
			w.ProviderDeadline = 20 * time.Millisecond // after setup: the race detector makes setup slow
			p := b.post("/checkout/altpay", nil)
			o := w.onlyOrder(t, w.testApp)
			if p.status != http.StatusSeeOther || p.location != "/orders/"+o.PublicID {
				t.Fatalf("checkout past the deadline: %d to %q, want the order page", p.status, p.location)
			}
			if o.Status != db.StatusPending {
				t.Fatalf("the order is %s while the provider works, want pending", o.Status)
			}
			page, doc := b.orderPage(t, o.PublicID)
			if !strings.Contains(doc.Find("[data-testid=altpay-order-notice]").Text(), "We are confirming your invoice") ||
				page.header.Get("Refresh") == "" {
				t.Errorf("the order page does not say it is confirming, or does not reload:\n%s", doc.Find("main").Text())
			}
			if again := b.post("/checkout/altpay", nil); again.status != http.StatusSeeOther || again.location != "/orders/"+o.PublicID {
				t.Errorf("repeated post: %d to %q, want the same order page", again.status, again.location)
			}

			<-w.work.ended(altpayInvoiceWork(o.ID))
			if inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID); err != nil || inv.InvoiceID == "" {
				t.Fatalf("the work ended without recording the invoice: %+v %v", inv, err)
			}
			// The default again: the view below must not race a 20 ms budget.
			w.ProviderDeadline = 0
			page, doc = b.orderPage(t, o.PublicID)
			if doc.Find("[data-testid=altpay-order-notice]").Length() != 0 || page.header.Get("Refresh") != "" {
				t.Error("still confirming after the invoice was recorded")
			}
			if doc.Find(`a[href="/invoices/`+o.PublicID+`"]`).Length() != 1 {
				t.Error("the order page does not offer the invoice")
			}
			for _, op := range []string{"altpay.create_customer", "altpay.create_invoice"} {
				if n := w.sb.State.Calls(op); n != 1 {
					t.Errorf("%s called %d times, want 1", op, n)
				}
			}
			w.onlyOrder(t, w.testApp)
		})
	}
}

// The customer paid in the browser, then every answer to the shop's check of
// the invoice was lost: the shop cannot know, so it must not say "Nothing
// was charged" (the customer would pay again). It says it could not check
// yet and sends them to the order page, which shows the payment once the
// provider answers.
func TestConfirmWithNoAnswerNeverSaysNothingWasCharged(t *testing.T) {
	w, b := newAltpayTess(t)
	order := w.checkoutByInvoice(t, b, nil)
	_, tok := b.token(order)
	w.payAsTheBrowser(t, tok["token"].(string), "41.14")
	w.sb.Control(t, "/control/faults", map[string]any{"operation": "altpay.get_invoice", "lose_answer": true, "times": 3})

	p := b.post("/invoices/"+order+"/confirm", nil)
	if strings.Contains(p.body, "Nothing was charged") {
		t.Fatalf("confirm with no answer told the customer nothing was charged: %d %s", p.status, p.body)
	}
	if p.status != http.StatusSeeOther || p.location != "/orders/"+order {
		t.Fatalf("confirm with no answer: %d to %q, want the order page", p.status, p.location)
	}
	w.clock.Advance(altpayRecheckAfter) // past the page's pause between asks
	page := b.get(p.location)
	if strings.Contains(page.body, "Nothing was charged") || !strings.Contains(page.body, "do not pay again") {
		t.Errorf("the order page after an unanswered confirm:\n%s", page.doc(t).Find("main").Text())
	}
	if o, err := w.Store.OrderByPublicID(t.Context(), order); err != nil || o.Status != db.StatusCaptured {
		t.Errorf("the order once the provider answers: %+v %v, want captured", o.Status, err)
	}
}

// In the United States prices exclude sales tax; an invoice has line items
// and no tax field, so the tax is a line of its own and the invoice's total
// is what the order page shows, in dollars.
func TestTheInvoiceIsInDollarsWithTheSalesTaxAsALine(t *testing.T) {
	w, b := newAltpayTess(t)
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}})
	if p := b.post("/checkout/altpay", nil); p.status != http.StatusSeeOther {
		t.Fatalf("pay by invoice: %d", p.status)
	}
	o := w.onlyOrder(t, w.testApp)
	if o.Market != "us" || o.Currency != "USD" || o.SalesTax != 314 || o.TotalAmount != 3800+314 {
		t.Fatalf("order %s %s, sales tax %d, total %d; want us USD 314 4114", o.Market, o.Currency, o.SalesTax, o.TotalAmount)
	}
	inv, _ := w.recordedInvoice(t, w.testApp, o)
	got := w.providerInvoices(t, w.testApp, inv.CustomerID)
	if len(got) != 1 {
		t.Fatalf("the provider holds %d invoices, want 1", len(got))
	}
	in := got[0]
	want := []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 2, Amount: 1900}, {Description: "Sales tax", Quantity: 1, Amount: 314}}
	if in.Currency != "USD" || in.Total != 4114 || len(in.LineItems) != len(want) {
		t.Fatalf("invoice %s total %d with %d lines, want USD 4114 with 2", in.Currency, in.Total, len(in.LineItems))
	}
	for i, l := range in.LineItems {
		if l.Description != want[i].Description || l.Quantity != want[i].Quantity || l.Amount != want[i].Amount {
			t.Errorf("line %d: %+v, want %+v", i, l, want[i])
		}
	}
}

// An invoice the provider lists without a memo is matched by content, which
// two same-day identical orders share. When another order records the
// matching invoice between this order's lookup and its record (here a
// trigger records it for the other order at that moment, so the invoice id,
// unique in the shop, is taken), the invoice is left to the other order and
// the lookup goes on without it: nothing else matches, the quiet period has
// passed, so the order gets an invoice of its own, and no "could not be
// recorded" error is logged for an invoice that is not the order's.
func TestAnInvoiceAnotherOrderRecordsMeanwhileIsLeftToIt(t *testing.T) {
	w, b := newAltpayTess(t)
	other := w.browser(t)
	other.signUp("otto@example.com")
	otto := w.checkoutByInvoice(t, other, nil)

	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	w.sb.Fault(t, "altpay.create_invoice", 503, 1)
	b.post("/checkout/altpay", nil)
	o := w.onlyOrder(t, w.testApp)
	inv, err := w.Store.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	req := altpayInvoiceFor(o, inv)
	req.Memo = "" // as if the provider kept no memo: matched by content
	shared, err := w.Altpay.CreateInvoice(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	trigger(t, w.DB, fmt.Sprintf(`CREATE TRIGGER recorded_meanwhile BEFORE UPDATE OF invoice_id ON altpay_invoices
		WHEN NEW.order_id = %d AND NEW.invoice_id = '%s'
		BEGIN UPDATE altpay_invoices SET invoice_id = NEW.invoice_id WHERE order_id = %d; END`,
		o.ID, shared.ID, orderStatus(t, w.testApp, otto).ID),
		fmt.Sprintf(`CREATE FUNCTION recorded_meanwhile() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN UPDATE altpay_invoices SET invoice_id = NEW.invoice_id WHERE order_id = %d; RETURN NEW; END $$;
		CREATE TRIGGER recorded_meanwhile BEFORE UPDATE OF invoice_id ON altpay_invoices
		FOR EACH ROW WHEN (NEW.order_id = %d AND NEW.invoice_id = '%s') EXECUTE FUNCTION recorded_meanwhile()`,
		orderStatus(t, w.testApp, otto).ID, o.ID, shared.ID))

	w.clock.Advance(altpayQuietPeriod)
	b.orderPage(t, o.PublicID)
	got, _ := w.recordedInvoice(t, w.testApp, o)
	if got.InvoiceID == shared.ID {
		t.Fatalf("recorded the invoice another order took")
	}
	logs := w.logText()
	if !strings.Contains(logs, "recorded by another order meanwhile") || strings.Contains(logs, "could not be recorded") {
		t.Errorf("logs:\n%s", logs)
	}
}

// An archived invoice is not the order's: a person archived it (as the
// several-matches log asks), so it no longer counts as a match.
func TestAltpayMatchesSkipsArchivedInvoices(t *testing.T) {
	req := altpay.NewInvoice{Currency: "USD", CustomerID: "cus_1", DueDate: "2026-12-05",
		LineItems: []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 1, Amount: 1900}}}
	in := altpay.Invoice{CustomerID: "cus_1", Memo: "Refshop order x", Status: altpay.InvoiceUpcoming}
	if !altpayMatches(in, req, "Refshop order x") {
		t.Fatal("the open invoice with the reference does not match")
	}
	in.Status = altpay.InvoiceArchived
	if altpayMatches(in, req, "Refshop order x") {
		t.Error("an archived invoice with the reference matches")
	}
	noMemo := altpay.Invoice{CustomerID: "cus_1", Currency: "USD", DueDate: "2026-12-05", Status: altpay.InvoiceArchived, Total: 1900,
		LineItems: []altpay.LineItem{{Description: "Stoneware Mug", Quantity: 1, Amount: 1900}}}
	if altpayMatches(noMemo, req, "Refshop order x") {
		t.Error("an archived memo-less invoice of the same content matches")
	}
	noMemo.Status = altpay.InvoiceUpcoming
	if !altpayMatches(noMemo, req, "Refshop order x") {
		t.Error("the open memo-less invoice of the same content does not match")
	}
}

// trigger injects a fault into the database the shop runs on: sqlite is
// the trigger in SQLite's words, postgres the same in PostgreSQL's (a
// trigger runs a function there).
func trigger(t *testing.T, d *db.DB, sqlite, postgres string) {
	t.Helper()
	q := sqlite
	if d.Postgres() {
		q = postgres
	}
	if _, err := d.Write.Exec(q); err != nil {
		t.Fatal(err)
	}
}
