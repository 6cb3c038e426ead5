package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/db"
	"refshop/web/klarna"
)

// newKlarnaAdminApp is the shop against a Klarna sandbox with no reused
// connections, so a lost answer is a closed connection the client sees.
func newKlarnaAdminApp(t *testing.T) *klarnaApp {
	t.Helper()
	return newKlarnaApp(t, func(d *Deps) { d.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} })
}

// placedKlarnaOrder is a guest's Klarna order for one Pour-over Dripper
// (€24.90), placed: authorized at Klarna, nothing captured. persona ""
// is the sandbox's default customer.
func (k *klarnaApp) placedKlarnaOrder(t *testing.T, persona string) db.Order {
	t.Helper()
	b := k.shopper(t, "", "pour-over")
	id, sid, _ := k.startKlarna(t, b)
	body := map[string]any{"link_account": false}
	if persona != "" {
		body["persona"] = persona
	}
	auth := k.control(t, "/control/klarna/sessions/"+sid+"/authorize", body)["authorization_token"].(string)
	if p := b.post("/checkout/klarna/"+id+"/authorize", url.Values{"authorization_token": {auth}}); p.status != 303 || p.location != "/orders/"+id {
		t.Fatalf("place: %d %q %s", p.status, p.location, p.body)
	}
	o := k.orderNow(t, id)
	if o.Status != db.StatusAuthorized || o.ProviderReference == "" || o.TotalAmount != 2490 {
		t.Fatalf("order %s, Klarna id %q, total %d: want authorized for €24.90", o.Status, o.ProviderReference, o.TotalAmount)
	}
	return o
}

func (k *klarnaApp) orderNow(t *testing.T, id string) db.Order {
	t.Helper()
	o, err := k.Store.OrderByPublicID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// managed is the order as Klarna's Order Management reads it now.
func (k *klarnaApp) managed(t *testing.T, o db.Order) klarna.ManagedOrder {
	t.Helper()
	mo, err := k.Klarna.GetOrder(t.Context(), o.ProviderReference)
	if err != nil {
		t.Fatal(err)
	}
	return mo
}

// wantKlarnaAmounts checks the order's money as the shop stored it from
// Klarna.
func (k *klarnaApp) wantKlarnaAmounts(t *testing.T, id string, captured, refunded, released int64) db.Order {
	t.Helper()
	o := k.orderNow(t, id)
	if am := o.Amounts; am.Captured != captured || am.Refunded != refunded || am.Cancelled != released {
		t.Errorf("amounts %+v, want captured %d, refunded %d, released %d", am, captured, refunded, released)
	}
	return o
}

func (k *klarnaApp) loseAnswers(t *testing.T, op string, times int) {
	t.Helper()
	k.control(t, "/control/faults", map[string]any{"operation": op, "lose_answer": true, "times": times})
}

func (k *klarnaApp) calls(op string) int { return k.sb.State.Calls(op) }

func fact(doc *goquery.Document, id string) string {
	return strings.TrimSpace(doc.Find("[data-testid=" + id + "]").Text())
}

func enabled(doc *goquery.Document, form string) bool {
	b := doc.Find("[data-testid=admin-" + form + "] button")
	return b.Length() == 1 && !b.Is("[disabled]")
}

// The page reads the order from Klarna: its figures, review and expiry;
// Ship captures all that remains, with the operation's key as the
// Klarna-Idempotency-Key and as the capture's reference; a second Ship
// sends nothing.
func TestAdminShipsAKlarnaOrder(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	mo := k.managed(t, o)
	for id, want := range map[string]string{
		"admin-klarna-status": "AUTHORIZED", "admin-fraud-status": "Accepted", "admin-order-amount": "€24.90",
		"admin-remaining": "€24.90", "admin-expires": mo.ExpiresAt.Local().Format(dateFormat), "admin-authorized": "€24.90",
	} {
		if got := fact(doc, id); got != want {
			t.Errorf("%s %q, want %q", id, got, want)
		}
	}
	if !enabled(doc, "ship") || !enabled(doc, "cancel") || enabled(doc, "refund") || enabled(doc, "release") || !enabled(doc, "extend") {
		t.Error("an authorized Klarna order offers Ship, Cancel and Extend only")
	}
	if note := doc.Find("#release-note").Text(); !strings.Contains(note, "Nothing was captured: cancel the order instead.") {
		t.Errorf("release says %q", note)
	}

	flash, doc := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Klarna captured €24.90. Now €24.90 captured") {
		t.Errorf("flash %q", flash)
	}
	if o := k.wantKlarnaAmounts(t, o.PublicID, 2490, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s after shipping, want captured", o.Status)
	}
	ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID)
	mo = k.managed(t, o)
	if len(ops) != 1 || ops[0].State != db.OpDone || ops[0].Key != klarna.IdempotencyKey(o.IdempotencyKey, "om/capture-1") {
		t.Fatalf("operations %+v", ops)
	}
	if mo.Status != klarna.StatusCaptured || len(mo.Captures) != 1 || mo.Captures[0].Reference != ops[0].Key {
		t.Errorf("at Klarna: %s, captures %+v: want one capture with the operation's key as its reference", mo.Status, mo.Captures)
	}
	if row := doc.Find("tr[data-event=CAPTURE]"); row.Length() != 1 || !strings.Contains(row.Text(), ops[0].Key) {
		t.Error("the events do not show the capture with its reference")
	}
	if got := fact(doc, "order-status"); got != "Paid" {
		t.Errorf("status %q", got)
	}
	if note := doc.Find("#cancel-note").Text(); enabled(doc, "cancel") || !strings.Contains(note, "The order was captured") || strings.Contains(note, "Part of") {
		t.Errorf("cancel after shipping all: %q", note)
	}
	flash, _ = admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Nothing is left to capture") || k.calls("klarna.om_capture") != 1 {
		t.Errorf("shipping twice: %q, %d captures", flash, k.calls("klarna.om_capture"))
	}
}

// A partial capture leaves the rest authorized: Cancel is no longer
// offered (Klarna cancels only an order with no captures) and Release the
// rest is; a refund above what was captured is refused in the shop; the
// release closes the order.
func TestAdminKlarnaCapturePartRefundAndReleaseTheRest(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	if flash, _ := admin.act(t, o.PublicID, "capture", amount("10")); !strings.Contains(flash, "Klarna captured €10.00") {
		t.Errorf("part: %q", flash)
	}
	o = k.wantKlarnaAmounts(t, o.PublicID, 1000, 0, 0)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if o.Status != db.StatusAuthorized || fact(doc, "order-status") != "Partly shipped" || fact(doc, "admin-klarna-status") != "PART_CAPTURED" {
		t.Errorf("after a part: %s, %q, %q", o.Status, fact(doc, "order-status"), fact(doc, "admin-klarna-status"))
	}
	if enabled(doc, "cancel") || !strings.Contains(doc.Find("#cancel-note").Text(), "release the rest instead") {
		t.Errorf("cancel after a capture: %q", doc.Find("#cancel-note").Text())
	}
	if !enabled(doc, "release") || !strings.Contains(doc.Find("#release-note").Text(), "Releases the €14.90 not captured") {
		t.Errorf("release after a part: %q", doc.Find("#release-note").Text())
	}

	p := admin.post("/admin/orders/"+o.PublicID+"/refund", admin.seen(t, o.PublicID, amount("10.01")))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.doc(t).Find("#refund_amount-error").Text(), "at most €10.00") ||
		p.doc(t).Find("#refund_amount").AttrOr("value", "") != "10.01" {
		t.Errorf("refund above captured: %d %q", p.status, p.doc(t).Find("#refund_amount-error").Text())
	}
	if n := k.calls("klarna.om_refund"); n != 0 {
		t.Fatalf("%d refunds sent", n)
	}
	if flash, _ := admin.act(t, o.PublicID, "refund", amount("4")); !strings.Contains(flash, "Klarna refunded €4.00") {
		t.Errorf("refund: %q", flash)
	}
	flash, doc := admin.act(t, o.PublicID, "release", nil)
	if !strings.Contains(flash, "Klarna released the remaining €14.90, which can no longer be captured") {
		t.Errorf("release: %q", flash)
	}
	if o := k.wantKlarnaAmounts(t, o.PublicID, 1000, 400, 1490); o.Status != db.StatusCaptured {
		t.Errorf("order %s after the release, want captured", o.Status)
	}
	if mo := k.managed(t, o); mo.Status != klarna.StatusCaptured || mo.RemainingAuthorizedAmount != 0 || len(mo.Refunds) != 1 {
		t.Errorf("at Klarna: %s, remaining %d, refunds %d", mo.Status, mo.RemainingAuthorizedAmount, len(mo.Refunds))
	}
	if got := fact(doc, "order-status"); got != "Partly refunded" {
		t.Errorf("status %q, want Partly refunded", got)
	}
	if enabled(doc, "release") || enabled(doc, "ship") || enabled(doc, "extend") || !enabled(doc, "refund") {
		t.Error("after the release only Refund is offered")
	}
	if v := doc.Find("#refund_amount").AttrOr("value", ""); v != "6.00" {
		t.Errorf("refund default %q, want 6.00", v)
	}
}

func TestAdminKlarnaCancelWithNoCaptures(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	flash, doc := admin.act(t, o.PublicID, "cancel", nil)
	if !strings.Contains(flash, "Klarna released the reservation of €24.90") {
		t.Errorf("flash %q", flash)
	}
	if o := k.wantKlarnaAmounts(t, o.PublicID, 0, 0, 2490); o.Status != db.StatusCancelled {
		t.Errorf("order %s", o.Status)
	}
	if mo := k.managed(t, o); mo.Status != klarna.StatusCancelled {
		t.Errorf("at Klarna: %s", mo.Status)
	}
	if fact(doc, "order-status") != "Cancelled" || enabled(doc, "ship") || enabled(doc, "extend") {
		t.Error("a cancelled Klarna order still offers something")
	}
}

// Klarna's refusals are shown calmly in its words, with nothing changed:
// the client's own answer to a cancel after a capture, and the shop's
// answer when Klarna refuses what the order's page offered.
func TestAdminKlarnaRefusalsAreShownInKlarnasWords(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	if _, err := k.Klarna.Capture(t.Context(), o.ProviderReference, 100, "", "elsewhere-capture"); err != nil {
		t.Fatal(err)
	}
	err := k.Klarna.Cancel(t.Context(), o.ProviderReference, "elsewhere-cancel")
	if !klarna.IsRefused(err, klarna.CancelNotAllowed) ||
		klarnaWords(err) != "Order has previous captures. Cancel not possible. (error code CANCEL_NOT_ALLOWED)" {
		t.Fatalf("cancel after a capture: %v, in words %q", err, klarnaWords(err))
	}

	o2 := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	k.sb.Fault(t, "klarna.om_cancel", http.StatusForbidden, 1)
	flash, doc := admin.act(t, o2.PublicID, "cancel", nil)
	if !strings.Contains(flash, "Klarna refused the cancel: Forbidden (fault injected through the sandbox control API). (error code CANCEL_NOT_ALLOWED) Nothing changed.") ||
		!strings.Contains(flash, "Now €0.00 captured") {
		t.Errorf("refused cancel: %q", flash)
	}
	if o := k.wantKlarnaAmounts(t, o2.PublicID, 0, 0, 0); o.Status != db.StatusAuthorized {
		t.Errorf("order %s after a refusal", o.Status)
	}
	if row := doc.Find("table[data-testid=admin-operations-table] tbody tr").First(); row.AttrOr("data-state", "") != "refused" {
		t.Errorf("the refused operation's row: %q", strings.Join(strings.Fields(row.Text()), " "))
	}
}

// Another system captured after the page was shown: the shop reads the
// order before it acts, sees figures other than the page's, and sends
// nothing.
func TestAdminKlarnaActsOnlyOnTheFiguresThePageShowed(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	form := admin.seen(t, o.PublicID, ship)
	if _, err := k.Klarna.Capture(t.Context(), o.ProviderReference, 1000, "", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	p := admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	flash := admin.get(p.location).doc(t).Find(".flash").Text()
	if !strings.Contains(flash, "figures changed since your page showed them: €10.00 captured") || k.calls("klarna.om_capture") != 1 {
		t.Errorf("ship on old figures: %q, %d captures", flash, k.calls("klarna.om_capture"))
	}
	k.wantKlarnaAmounts(t, o.PublicID, 1000, 0, 0)
}

// Extend authorization moves expires_at to the account's period from
// today: ten days after the order, ten days later than it was.
func TestAdminKlarnaExtendsTheAuthorization(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	before := k.managed(t, o).ExpiresAt
	k.control(t, "/control/clock", map[string]any{"advance": "240h"})
	admin := k.adminBrowser(t)
	flash, doc := admin.act(t, o.PublicID, "extend", nil)
	after := k.managed(t, o).ExpiresAt
	if !after.Equal(before.Add(240 * time.Hour)) {
		t.Fatalf("expires %s, was %s: want ten days later", after, before)
	}
	if !strings.Contains(flash, "Klarna extended the authorization: the order can be captured until "+after.Local().Format(dateFormat)) {
		t.Errorf("flash %q", flash)
	}
	if got := fact(doc, "admin-expires"); got != after.Local().Format(dateFormat) {
		t.Errorf("the page shows expiry %q", got)
	}
	ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID)
	if len(ops) != 1 || ops[0].Kind != db.OpExtend || ops[0].State != db.OpDone || ops[0].Before != before.Unix() {
		t.Errorf("operations %+v", ops)
	}
}

// Klarna's fraud review holds the order: nothing ships, and posting Ship
// anyway sends nothing; once rejected, the page says so.
func TestAdminKlarnaOrderUnderReviewIsNotShipped(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "review@example.com")
	admin := k.adminBrowser(t)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if enabled(doc, "ship") || enabled(doc, "capture") || !strings.Contains(doc.Find("#ship-note").Text(), "Klarna is reviewing this order") {
		t.Errorf("ship on a pending order: %q", doc.Find("#ship-note").Text())
	}
	if got := fact(doc, "admin-fraud-status"); !strings.HasPrefix(got, "Pending") {
		t.Errorf("fraud review %q", got)
	}
	flash, _ := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Klarna is reviewing this order") || !strings.Contains(flash, "Nothing was sent.") || k.calls("klarna.om_capture") != 0 {
		t.Errorf("ship anyway: %q, %d captures", flash, k.calls("klarna.om_capture"))
	}
	if ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID); len(ops) != 0 {
		t.Errorf("%d operations stored", len(ops))
	}
	k.control(t, "/control/klarna/orders/"+o.ProviderReference+"/fraud", map[string]any{"fraud_status": "REJECTED"})
	doc = admin.get("/admin/orders/" + o.PublicID).doc(t)
	if enabled(doc, "ship") || !strings.Contains(doc.Find("#ship-note").Text(), "Klarna rejected this order") {
		t.Errorf("ship on a rejected order: %q", doc.Find("#ship-note").Text())
	}
}

// Each operation's answer is lost once: the client's retry sends the same
// Klarna-Idempotency-Key, Klarna answers the first again, and the
// operation is made once.
func TestAdminKlarnaOperationsWithALostAnswerAreMadeOnce(t *testing.T) {
	k := newKlarnaAdminApp(t)
	admin := k.adminBrowser(t)
	o := k.placedKlarnaOrder(t, "")
	act := func(op, path string, form url.Values, want string) {
		t.Helper()
		k.loseAnswers(t, "klarna.om_"+op, 1)
		if flash, _ := admin.act(t, o.PublicID, path, form); !strings.Contains(flash, want) {
			t.Errorf("%s: %q", op, flash)
		}
		if n := k.calls("klarna.om_" + op); n != 2 {
			t.Errorf("%s: %d calls, want 2 (the lost one, the retry)", op, n)
		}
	}
	act("extend", "extend", nil, "Klarna extended the authorization")
	act("capture", "capture", amount("10"), "Klarna captured €10.00")
	act("refund", "refund", amount("3"), "Klarna refunded €3.00")
	act("release", "release", nil, "Klarna released the remaining €14.90")
	mo := k.managed(t, o)
	if len(mo.Captures) != 1 || len(mo.Refunds) != 1 || mo.Status != klarna.StatusCaptured {
		t.Errorf("at Klarna: %s, %d captures, %d refunds: want one of each", mo.Status, len(mo.Captures), len(mo.Refunds))
	}
	k.wantKlarnaAmounts(t, o.PublicID, 1000, 300, 1490)

	o = k.placedKlarnaOrder(t, "")
	act("cancel", "cancel", nil, "Klarna released the reservation of €24.90")
	if mo := k.managed(t, o); mo.Status != klarna.StatusCancelled {
		t.Errorf("at Klarna: %s", mo.Status)
	}
}

// Klarna fails every try of a capture (503): the operation is unknown (a
// 5xx may come after the work), the page says so and offers only the retry,
// which sends the same key; Klarna makes the capture once.
func TestAdminKlarnaRetryAfterAnUnknownOutcomeReusesTheKey(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	form := admin.seen(t, o.PublicID, ship)
	k.sb.Fault(t, "klarna.om_capture", http.StatusServiceUnavailable, 3)
	admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if flash := doc.Find(".flash").Text(); !strings.Contains(flash, "did not answer") || !strings.Contains(flash, "unknown") {
		t.Errorf("flash %q", flash)
	}
	if busy := fact(doc, "admin-busy"); !strings.Contains(busy, "An operation is under way: the capture of €24.90 with Klarna") {
		t.Errorf("busy %q", busy)
	}
	if n := doc.Find("[data-testid=admin-actions] button:not([disabled])").Length(); n != 0 {
		t.Errorf("%d actions offered beside the unknown capture", n)
	}
	retry := doc.Find("[data-testid=admin-retry]")
	if retry.Length() != 1 || retry.Find("input[name=form_key]").AttrOr("value", "") != form.Get("form_key") {
		t.Fatal("no retry form with the operation's page key")
	}
	k.wantKlarnaAmounts(t, o.PublicID, 0, 0, 0) // nothing shown captured before Klarna confirms
	retryForm := url.Values{}
	retry.Find("input").Each(func(_ int, s *goquery.Selection) { retryForm.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	p := admin.post(retry.AttrOr("action", ""), retryForm)
	flash := admin.get(p.location).doc(t).Find(".flash").Text()
	if !strings.Contains(flash, "Klarna captured €24.90") {
		t.Errorf("retry: %q", flash)
	}
	ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID)
	mo := k.managed(t, o)
	if len(ops) != 1 || ops[0].State != db.OpDone || len(mo.Captures) != 1 || mo.Captures[0].Reference != ops[0].Key || k.calls("klarna.om_capture") != 4 {
		t.Errorf("operations %+v, captures %+v, %d calls: want one operation, one capture, four calls with its key (three refused)", ops, mo.Captures, k.calls("klarna.om_capture"))
	}
	if o := k.wantKlarnaAmounts(t, o.PublicID, 2490, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s", o.Status)
	}
}

// Every answer to a capture is lost but Klarna can be read: the order's
// captures show one with the operation's key, so the shop says it was made
// without sending it again.
func TestAdminKlarnaLostCaptureIsRecognizedByItsReference(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	k.loseAnswers(t, "klarna.om_capture", 3)
	flash, _ := admin.act(t, o.PublicID, "capture", amount("5"))
	if !strings.Contains(flash, "Klarna captured €5.00") || !strings.Contains(flash, "Its own answer did not reach the shop") {
		t.Errorf("flash %q", flash)
	}
	if mo := k.managed(t, o); len(mo.Captures) != 1 || k.calls("klarna.om_capture") != 3 {
		t.Errorf("%d captures, %d calls", len(mo.Captures), k.calls("klarna.om_capture"))
	}
	k.wantKlarnaAmounts(t, o.PublicID, 500, 0, 0)
}

// A crash left operations "sent": a capture Klarna made, and one it never
// received. The Klarna sweep settles both from the order once their calls
// are surely over.
func TestAdminKlarnaSweepSettlesOperationsLeftByACrash(t *testing.T) {
	k := newKlarnaAdminApp(t)
	made, lost := k.placedKlarnaOrder(t, ""), k.placedKlarnaOrder(t, "")
	start := func(o db.Order) db.Operation {
		op, err := k.Store.StartOperation(t.Context(), db.NewOperation{OrderID: o.ID, Kind: db.OpCapture, Amount: 2490,
			Currency: "EUR", Seen: o.Amounts, KeyFor: func(int) string { return o.IdempotencyKey + "-capture-1" }})
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	opMade, opLost := start(made), start(lost)
	if _, err := k.Klarna.Capture(t.Context(), made.ProviderReference, 2490, opMade.Key, opMade.Key); err != nil {
		t.Fatal(err)
	}
	k.klarna.sweepOnce(t.Context())
	if op, _ := k.Store.OperationByID(t.Context(), opMade.ID); op.State != db.OpSent {
		t.Fatalf("settled %s before its call could be over", op.State)
	}
	k.clock.Advance(operationSettleAfter)
	k.klarna.sweepOnce(t.Context())
	if op, _ := k.Store.OperationByID(t.Context(), opMade.ID); op.State != db.OpDone || !strings.Contains(op.Answer, "Klarna captured €24.90") {
		t.Errorf("the made capture: %s %q", op.State, op.Answer)
	}
	if o := k.wantKlarnaAmounts(t, made.PublicID, 2490, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s", o.Status)
	}
	if op, _ := k.Store.OperationByID(t.Context(), opLost.ID); op.State != db.OpRefused || !strings.Contains(op.Answer, "no record") {
		t.Errorf("the capture Klarna never received: %s %q", op.State, op.Answer)
	}
	if n := k.calls("klarna.om_capture"); n != 1 {
		t.Errorf("the sweep sent %d captures, want none (1 was the test's own)", n-1)
	}
}

// A North American order is read and acted on at the North American API,
// with that merchant account's credentials; Europe hears nothing of it.
func TestAdminKlarnaCallsGoToTheOrdersRegion(t *testing.T) {
	k := newRegionalKlarna(t)
	id, _ := k.payIn(t, "us")
	o := k.orderNow(t, id)
	admin := k.adminBrowser(t)
	doc := admin.get("/admin/orders/" + id).doc(t)
	reads := k.na.calls("/klarna/api/ordermanagement/v1/orders/" + o.ProviderReference)
	if len(reads) != 1 || reads[0].Method != "GET" || reads[0].User != k.Config.Klarna.NA.Username {
		t.Errorf("reads at the North American API: %+v", reads)
	}
	if n := len(k.eu.calls("/klarna/api/ordermanagement")); n != 0 {
		t.Errorf("%d Order Management calls in Europe", n)
	}
	// The stand-in has no Order Management: the page says Klarna could not
	// be asked, and offers nothing.
	if note := fact(doc, "admin-facts-note"); !strings.Contains(note, "Klarna could not be asked about this order just now") {
		t.Errorf("facts note %q", note)
	}
	if n := doc.Find("[data-testid=admin-actions] button:not([disabled])").Length(); n != 0 {
		t.Errorf("%d actions offered on an order Klarna could not be asked about", n)
	}
}

// retryForm is the values of the order page's retry form.
func retryForm(t *testing.T, doc *goquery.Document) (string, url.Values) {
	t.Helper()
	retry := doc.Find("[data-testid=admin-retry]")
	if retry.Length() != 1 {
		t.Fatal("no retry form")
	}
	form := url.Values{}
	retry.Find("input").Each(func(_ int, s *goquery.Selection) { form.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	return retry.AttrOr("action", ""), form
}

// A capture with no answer, retried while Klarna's order cannot be read:
// within a day of its first call the retry resends it with its key (Klarna
// honours a key for 24 hours); past 23 hours it sends nothing, and asks
// for the order to be checked in Klarna's Merchant Portal.
func TestAdminKlarnaBlindRetryOnlyWithinTheKeysDay(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	k.sb.Fault(t, "klarna.om_capture", http.StatusServiceUnavailable, 3)
	admin.post("/admin/orders/"+o.PublicID+"/capture", admin.seen(t, o.PublicID, ship))
	action, form := retryForm(t, admin.get("/admin/orders/"+o.PublicID).doc(t))
	retry := func() string {
		t.Helper()
		p := admin.post(action, form)
		return strings.TrimSpace(admin.get(p.location).doc(t).Find(".flash").Text())
	}

	k.clock.Advance(22 * time.Hour)
	k.sb.Fault(t, "klarna.om_get_order", http.StatusServiceUnavailable, 100)
	k.sb.Fault(t, "klarna.om_capture", http.StatusServiceUnavailable, 3)
	if flash := retry(); !strings.Contains(flash, "did not answer") || k.calls("klarna.om_capture") != 6 {
		t.Fatalf("retry within the day: %q, %d capture calls, want it resent (6)", flash, k.calls("klarna.om_capture"))
	}

	k.clock.Advance(time.Hour + time.Minute) // 23 hours and a minute after the first call
	flash := retry()
	if !strings.Contains(flash, "Merchant Portal") || !strings.Contains(flash, "Nothing was sent") || !strings.Contains(flash, "24 hours") {
		t.Errorf("retry past 23 hours: %q", flash)
	}
	if n := k.calls("klarna.om_capture"); n != 6 {
		t.Errorf("%d capture calls, want none more than 6", n)
	}
	if ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID); len(ops) != 1 || ops[0].State != db.OpUnknown {
		t.Errorf("operations %+v, want the capture still unknown", ops)
	}
}

// An extension whose answers were all lost, on a day the order was
// extended already: Klarna's expiry stays the same date (repeated
// extensions on one day give the same date), so its figures cannot tell
// whether it was made. The sweep says so, and does not leave it blocking
// the order.
func TestAdminKlarnaExtensionTheFiguresCannotTellIsUndetermined(t *testing.T) {
	k := newKlarnaAdminApp(t)
	o := k.placedKlarnaOrder(t, "")
	admin := k.adminBrowser(t)
	k.control(t, "/control/clock", map[string]any{"advance": "240h"})
	if flash, _ := admin.act(t, o.PublicID, "extend", nil); !strings.Contains(flash, "Klarna extended the authorization") {
		t.Fatalf("first extension: %q", flash)
	}
	k.loseAnswers(t, "klarna.om_extend", 3)
	if flash, _ := admin.act(t, o.PublicID, "extend", nil); !strings.Contains(flash, "did not answer") {
		t.Fatalf("second extension: %q", flash)
	}
	k.clock.Advance(operationSettleAfter)
	k.klarna.sweepOnce(t.Context())
	expiry := k.managed(t, o).ExpiresAt.Local().Format(dateFormat)
	ops, _ := k.Store.OperationsByOrder(t.Context(), o.ID)
	var second db.Operation
	for _, op := range ops {
		if op.Kind == db.OpExtend && op.ID > second.ID {
			second = op
		}
	}
	want := "Klarna's figures cannot tell whether the extension was made; the expiry is " + expiry + "."
	if second.State != db.OpUndetermined || second.Answer != want {
		t.Errorf("the second extension: %s %q, want undetermined %q", second.State, second.Answer, want)
	}
	if _, err := k.Store.OperationInFlight(t.Context(), o.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("an operation still in flight: %v", err)
	}
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if !enabled(doc, "ship") {
		t.Error("Ship not offered after the sweep settled the extension")
	}
	if got := doc.Find("[data-state=undetermined] [data-testid=operation-state]").Text(); !strings.Contains(got, "cannot tell") {
		t.Errorf("the operations table says %q for it", got)
	}
}
