package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/web/vipps"
)

const adminEmail = "boss@example.com"

// adminBrowser makes the shop's administrator (as cmd/shop does) and signs
// a new browser in as them.
func (t *testApp) adminBrowser(tb testing.TB) *browser {
	tb.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if _, err := t.Store.CreateAdmin(tb.Context(), adminEmail, "", string(hash)); err != nil {
		tb.Fatal(err)
	}
	b := t.browser(tb)
	if p := b.post("/signin", url.Values{"email": {adminEmail}, "password": {"correct horse battery"}}); p.status != http.StatusSeeOther {
		tb.Fatalf("admin sign-in: %d", p.status)
	}
	return b
}

// authorizedVippsOrder is a Vipps order, approved and returned from:
// authorized for NOK 458.00 (two mugs). The first is tess@example.com's,
// the next ones guests'.
func (v *vippsShop) authorizedVippsOrder(t *testing.T) db.Order {
	t.Helper()
	b := v.browser(t)
	if _, err := v.Store.UserByEmail(t.Context(), "tess@example.com"); err != nil {
		b.signUp("tess@example.com")
	}
	back := v.answer(t, v.startPayment(t, b), "approve")
	b.get(back)
	o := v.order(t, orderIDFrom(t, back))
	if o.Status != db.StatusAuthorized || o.Amounts.Authorized != 45800 {
		t.Fatalf("order %s, amounts %+v: want authorized for NOK 458.00", o.Status, o.Amounts)
	}
	return o
}

// seen adds to form the figures and the page key the order's back office
// page shows now, as its forms send them back.
func (b *browser) seen(t *testing.T, id string, form url.Values) url.Values {
	t.Helper()
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	ship := b.get("/admin/orders/" + id).doc(t).Find("[data-testid=admin-ship]")
	for _, name := range []string{"seen", "form_key"} {
		v, ok := ship.Find("input[name=" + name + "]").Attr("value")
		if !ok {
			t.Fatalf("the order page's forms carry no %s", name)
		}
		out.Set(name, v)
	}
	return out
}

// act posts one back office form and returns the flash the order page
// shows after the redirect, with that page.
func (b *browser) act(t *testing.T, id, op string, form url.Values) (string, *goquery.Document) {
	t.Helper()
	p := b.post("/admin/orders/"+id+"/"+op, b.seen(t, id, form))
	if p.status != http.StatusSeeOther || p.location != "/admin/orders/"+id {
		t.Fatalf("%s: %d to %q: %s", op, p.status, p.location, p.body)
	}
	page := b.get(p.location)
	if page.status != http.StatusOK {
		t.Fatalf("order after %s: %d", op, page.status)
	}
	doc := page.doc(t)
	return strings.TrimSpace(doc.Find(".flash").Text()), doc
}

var ship = url.Values{"whole": {"1"}}

func amount(a string) url.Values { return url.Values{"amount": {a}} }

// wantAmounts checks the order's money as the shop stored it from Vipps.
func (v *vippsShop) wantAmounts(t *testing.T, id string, captured, refunded, cancelled int64) db.Order {
	t.Helper()
	o := v.order(t, id)
	if am := o.Amounts; am.Captured != captured || am.Refunded != refunded || am.Cancelled != cancelled {
		t.Errorf("amounts %+v, want captured %d, refunded %d, cancelled %d", am, captured, refunded, cancelled)
	}
	return o
}

// operations lists the order's back office operations, newest first.
func (v *vippsShop) operations(t *testing.T, orderID int64) []db.Operation {
	t.Helper()
	ops, err := v.Store.OperationsByOrder(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// capturedEvents are the payment's successful captures at Vipps.
func (v *vippsShop) capturedEvents(t *testing.T, ref string) []vipps.Event {
	t.Helper()
	var out []vipps.Event
	for _, e := range v.vippsEvents(t, ref) {
		if e.Name == "CAPTURED" && e.Success {
			out = append(out, e)
		}
	}
	return out
}

func TestAdminRoutesAreForAdministratorsOnly(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	guest := v.testApp.browser(t)
	customer := v.testApp.browser(t)
	customer.signUp("cat@example.com")
	admin := v.adminBrowser(t)
	routes := []struct{ method, path string }{
		{"GET", "/admin"}, {"GET", "/admin?page=2"}, {"GET", "/admin/orders/" + o.PublicID},
		{"POST", "/admin/orders/" + o.PublicID + "/capture"}, {"POST", "/admin/orders/" + o.PublicID + "/refund"},
		{"POST", "/admin/orders/" + o.PublicID + "/cancel"},
	}
	for _, r := range routes {
		do := func(b *browser) page {
			if r.method == "POST" {
				return b.post(r.path, ship)
			}
			return b.get(r.path)
		}
		if p := do(guest); p.status != http.StatusSeeOther || p.location != "/signin?next="+r.path {
			t.Errorf("guest %s %s: %d to %q, want the sign-in page coming back", r.method, r.path, p.status, p.location)
		}
		p := do(customer)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "This page is for the shop&#39;s administrators.") {
			t.Errorf("customer %s %s: %d, want 403 with the calm message", r.method, r.path, p.status)
		}
	}
	if n := v.st.Calls("vipps.capture") + v.st.Calls("vipps.cancel") + v.st.Calls("vipps.refund"); n != 0 {
		t.Fatalf("%d operations reached Vipps from people who are not administrators", n)
	}
	if p := admin.get("/admin"); p.status != http.StatusOK {
		t.Fatalf("admin: %d", p.status)
	}
	// The header links the back office for administrators only.
	if admin.get("/").doc(t).Find("a[href='/admin']").Length() != 1 {
		t.Error("no Back office link for the administrator")
	}
	if customer.get("/").doc(t).Find("a[href='/admin']").Length() != 0 {
		t.Error("a customer sees the Back office link")
	}
}

func TestAdminListsEveryOrderNewestFirstAndPages(t *testing.T) {
	v := newVippsShop(t)
	paid := v.authorizedVippsOrder(t)
	guest := v.browser(t)
	v.startPayment(t, guest) // a guest's order, still pending
	waiting := v.orderIDs(t)[1]
	admin := v.adminBrowser(t)

	doc := admin.get("/admin").doc(t)
	table := doc.Find("table[data-testid=admin-orders]")
	if c := table.Find("caption").Text(); !strings.Contains(c, "Orders, page 1 of 1") {
		t.Errorf("caption %q", c)
	}
	if n := table.Find("thead th[scope=col]").Length(); n != 11 {
		t.Errorf("%d column headers with scope, want 11", n)
	}
	rows := table.Find("tbody tr")
	if rows.Length() != 2 || rows.Eq(0).AttrOr("data-order", "") != waiting || rows.Eq(1).AttrOr("data-order", "") != paid.PublicID {
		t.Fatalf("rows %d, first %q: want the newer (guest) order first", rows.Length(), rows.Eq(0).AttrOr("data-order", ""))
	}
	cell := func(i int, id string) string {
		return strings.TrimSpace(rows.Eq(i).Find("[data-testid=" + id + "]").Text())
	}
	if cell(0, "admin-customer") != "guest" || cell(1, "admin-customer") != "tess@example.com" {
		t.Errorf("customers %q, %q", cell(0, "admin-customer"), cell(1, "admin-customer"))
	}
	if cell(1, "admin-provider") != "Vipps MobilePay" || cell(1, "admin-status") != "Payment authorized" ||
		cell(1, "admin-authorized") != "NOK 458.00" || cell(1, "admin-captured") != "NOK 0.00" || cell(1, "admin-refunded") != "NOK 0.00" {
		t.Errorf("the authorized order's row: %q", strings.Join(strings.Fields(rows.Eq(1).Text()), " "))
	}
	if cell(0, "admin-status") != "Awaiting payment" || cell(0, "admin-busy") != "None" {
		t.Errorf("the pending order's row: %q", strings.Join(strings.Fields(rows.Eq(0).Text()), " "))
	}
	if href := rows.Eq(1).Find("th[scope=row] a").AttrOr("href", ""); href != "/admin/orders/"+paid.PublicID {
		t.Errorf("order link %q", href)
	}

	// 49 more orders make 51: two pages.
	for range 49 {
		if _, err := v.Store.CreateOrder(t.Context(), db.NewOrder{GuestID: "g", Provider: db.ProviderKlarna, Market: "de", Currency: "EUR",
			Lines: []db.OrderLine{{ProductID: "p", Name: "P", Quantity: 1, UnitPrice: 100, TotalAmount: 100}}}); err != nil {
			t.Fatal(err)
		}
	}
	first := admin.get("/admin").doc(t)
	if n := first.Find("tbody tr").Length(); n != adminPageSize || first.Find("a[rel=next]").AttrOr("href", "") != "/admin?page=2" {
		t.Errorf("first page: %d rows, next %q", n, first.Find("a[rel=next]").AttrOr("href", ""))
	}
	second := admin.get("/admin?page=2").doc(t)
	if rows := second.Find("tbody tr"); rows.Length() != 1 || rows.AttrOr("data-order", "") != paid.PublicID ||
		second.Find("a[rel=prev]").AttrOr("href", "") != "/admin?page=1" {
		t.Errorf("second page: %d rows", rows.Length())
	}
	for _, bad := range []string{"/admin?page=3", "/admin?page=0", "/admin?page=x"} {
		if p := admin.get(bad); p.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, p.status)
		}
	}
}

func TestAdminOrderPageShowsTheMoneyEventsAndForms(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if got := doc.Find("[data-testid=admin-customer]").Text(); got != "tess@example.com" {
		t.Errorf("customer %q", got)
	}
	if got := doc.Find("[data-testid=admin-authorized]").Text(); got != "NOK 458.00" {
		t.Errorf("authorized %q", got)
	}
	var events []string
	doc.Find("table[data-testid=admin-events-table] tbody tr").Each(func(_ int, s *goquery.Selection) {
		events = append(events, s.AttrOr("data-event", ""))
	})
	if strings.Join(events, " ") != "CREATED AUTHORIZED" {
		t.Errorf("events %v", events)
	}
	// Every field has its label; the hint is linked to it.
	for _, id := range []string{"capture_amount", "refund_amount"} {
		if doc.Find("label[for="+id+"]").Length() != 1 || !strings.Contains(doc.Find("#"+id).AttrOr("aria-describedby", ""), id+"-hint") {
			t.Errorf("%s has no label or no described hint", id)
		}
	}
	if doc.Find("[data-testid=admin-ship] button").Is("[disabled]") || doc.Find("[data-testid=admin-cancel] button").Is("[disabled]") {
		t.Error("Ship or Cancel is disabled on an authorized order")
	}
	if !doc.Find("[data-testid=admin-refund] button").Is("[disabled]") {
		t.Error("Refund is offered with nothing captured")
	}
	if note := doc.Find("#ship-note").Text(); !strings.Contains(note, "captures NOK 458.00") {
		t.Errorf("ship note %q", note)
	}
}

func TestAdminShipsAVippsOrder(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	flash, doc := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Vipps MobilePay captured NOK 458.00") {
		t.Errorf("flash %q", flash)
	}
	o = v.wantAmounts(t, o.PublicID, 45800, 0, 0)
	if o.Status != db.StatusCaptured {
		t.Errorf("order %s after shipping, want captured", o.Status)
	}
	ops := v.operations(t, o.ID)
	if len(ops) != 1 || ops[0].State != db.OpDone || ops[0].Key != o.IdempotencyKey+"-capture-1" || ops[0].Amount != 45800 {
		t.Fatalf("operations %+v", ops)
	}
	vp := v.payment(t, o.ID)
	if caps := v.capturedEvents(t, vp.Reference); len(caps) != 1 || *caps[0].IdempotencyKey != ops[0].Key {
		t.Errorf("captures at Vipps %+v, want one with the operation's key", caps)
	}
	row := doc.Find("table[data-testid=admin-operations-table] tbody tr")
	if row.AttrOr("data-state", "") != "done" || row.Find("[data-testid=operation-key]").Text() != ops[0].Key ||
		!strings.Contains(row.Find("[data-testid=operation-answer]").Text(), "captured NOK 458.00") {
		t.Errorf("operation row %q", strings.Join(strings.Fields(row.Text()), " "))
	}
	if doc.Find("tr[data-event=CAPTURED]").Length() != 1 {
		t.Error("the events do not show the capture")
	}
	// Paid now; shipping again sends nothing.
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Paid" {
		t.Errorf("status %q, want Paid", got)
	}
	flash, _ = admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Nothing is left to capture") || v.st.Calls("vipps.capture") != 1 {
		t.Errorf("shipping twice: %q, %d captures", flash, v.st.Calls("vipps.capture"))
	}
}

func TestAdminCapturesInPartsRefundsAndCancels(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	if flash, _ := admin.act(t, o.PublicID, "capture", amount("100.50")); !strings.Contains(flash, "captured NOK 100.50") {
		t.Errorf("part: %q", flash)
	}
	if o := v.wantAmounts(t, o.PublicID, 10050, 0, 0); o.Status != db.StatusAuthorized {
		t.Errorf("order %s after a part, want still authorized", o.Status)
	}
	if flash, _ := admin.act(t, o.PublicID, "capture", ship); !strings.Contains(flash, "captured NOK 357.50") {
		t.Errorf("the rest: %q", flash)
	}
	if o := v.wantAmounts(t, o.PublicID, 45800, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s after the rest, want captured", o.Status)
	}
	// The refund form offers all that was captured; a part, then the rest.
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	if val := doc.Find("#refund_amount").AttrOr("value", ""); val != "458.00" {
		t.Errorf("refund default %q, want 458.00", val)
	}
	if !doc.Find("[data-testid=admin-cancel] button").Is("[disabled]") {
		t.Error("Cancel offered on a captured order")
	}
	if flash, _ := admin.act(t, o.PublicID, "refund", amount("58")); !strings.Contains(flash, "refunded NOK 58.00") {
		t.Errorf("refund part: %q", flash)
	}
	if flash, _ := admin.act(t, o.PublicID, "refund", amount("400.00")); !strings.Contains(flash, "refunded NOK 400.00") {
		t.Errorf("refund the rest: %q", flash)
	}
	v.wantAmounts(t, o.PublicID, 45800, 45800, 0)
	keys := map[string]bool{}
	for _, op := range v.operations(t, o.ID) {
		if op.State != db.OpDone || keys[op.Key] {
			t.Errorf("operation %+v: not done, or its key used before", op)
		}
		keys[op.Key] = true
	}
	if len(keys) != 4 {
		t.Errorf("%d operations, want 4", len(keys))
	}
}

func TestAdminCancelReleasesTheReservation(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	flash, doc := admin.act(t, o.PublicID, "cancel", nil)
	if !strings.Contains(flash, "released the reservation of NOK 458.00") {
		t.Errorf("flash %q", flash)
	}
	if o := v.wantAmounts(t, o.PublicID, 0, 0, 45800); o.Status != db.StatusCancelled {
		t.Errorf("order %s after cancel", o.Status)
	}
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Cancelled" {
		t.Errorf("status %q", got)
	}
}

// What Vipps refuses is shown in its words, changes nothing, and the
// order's figures are read again, so the page shows what is true: here the
// payment was captured, then another cancelled, behind the shop's back
// (another system, Vipps's portal), and the back office's stale figures
// still offered them. (Before, the figures stayed stale after a refusal.)
func TestAdminShowsVippsRefusalsAndRefreshesTheFigures(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	form := admin.seen(t, o.PublicID, ship) // the page shows NOK 458.00 to capture
	if _, err := v.vipps.client.Capture(t.Context(), "refshop-"+o.PublicID, vipps.Amount{Currency: "NOK", Value: 45800}, "elsewhere-1"); err != nil {
		t.Fatal(err)
	}
	p := admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	flash := strings.TrimSpace(admin.get(p.location).doc(t).Find(".flash").Text())
	if !strings.Contains(flash, "Vipps MobilePay refused the capture of NOK 458.00:") || !strings.Contains(flash, "Nothing changed.") ||
		!strings.Contains(flash, "Now NOK 458.00 captured") {
		t.Errorf("capture of what was captured elsewhere: %q", flash)
	}
	if o := v.wantAmounts(t, o.PublicID, 45800, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s after the refusal showed all captured, want captured", o.Status)
	}

	o2 := v.authorizedVippsOrder(t)
	form = admin.seen(t, o2.PublicID, amount("10"))
	if _, err := v.vipps.client.Cancel(t.Context(), "refshop-"+o2.PublicID, "elsewhere-2"); err != nil {
		t.Fatal(err)
	}
	admin.post("/admin/orders/"+o2.PublicID+"/capture", form)
	doc := admin.get("/admin/orders/" + o2.PublicID).doc(t)
	if flash := doc.Find(".flash").Text(); !strings.Contains(flash, "Cannot capture a cancelled payment (error code 6070)") {
		t.Errorf("capture after a cancel elsewhere: %q", flash)
	}
	if o := v.wantAmounts(t, o2.PublicID, 0, 0, 45800); o.Status != db.StatusCancelled {
		t.Errorf("order %s after the refusal showed all released, want cancelled", o.Status)
	}
	if got := doc.Find("[data-testid=admin-cancelled]").Text(); got != "NOK 458.00" {
		t.Errorf("the page shows %q released, want NOK 458.00", got)
	}
	if row := doc.Find("table[data-testid=admin-operations-table] tbody tr").First(); row.AttrOr("data-state", "") != "refused" ||
		!strings.Contains(row.Find("[data-testid=operation-answer]").Text(), "6070") {
		t.Errorf("the refused operation's row: %q", strings.Join(strings.Fields(row.Text()), " "))
	}
	for _, op := range append(v.operations(t, o.ID), v.operations(t, o2.ID)...) {
		if op.State.InFlight() {
			t.Errorf("operation %+v left in flight", op)
		}
	}
}

// An amount above what is left (a capture above what is reserved and not
// captured, a refund above what was captured and not refunded) is refused
// by the shop beside its field, the typed value kept: nothing is stored or
// sent. (Before, it went to Vipps, which refused it.)
func TestAdminAmountAboveWhatIsLeftIsRefusedInTheShop(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	refused := func(op, field, typed, want string) {
		t.Helper()
		p := admin.post("/admin/orders/"+o.PublicID+"/"+op, admin.seen(t, o.PublicID, amount(typed)))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s %s: %d, want 422", op, typed, p.status)
		}
		doc := p.doc(t)
		if in := doc.Find("#" + field); in.AttrOr("value", "") != typed || in.AttrOr("aria-invalid", "") != "true" {
			t.Errorf("%s %s: the field does not keep the value, marked invalid", op, typed)
		}
		if msg := doc.Find("#" + field + "-error").Text(); !strings.Contains(msg, want) {
			t.Errorf("%s %s: %q, want %q", op, typed, msg, want)
		}
	}
	refused("capture", "capture_amount", "458.01", "more than is left to capture: at most NOK 458.00")
	admin.act(t, o.PublicID, "capture", amount("100"))
	refused("refund", "refund_amount", "100.01", "more than can be refunded: at most NOK 100.00")
	refused("capture", "capture_amount", "358.01", "at most NOK 358.00")
	if n := len(v.operations(t, o.ID)); n != 1 {
		t.Errorf("%d operations, want the one capture", n)
	}
	if c, r := v.st.Calls("vipps.capture"), v.st.Calls("vipps.refund"); c != 1 || r != 0 {
		t.Errorf("%d captures and %d refunds sent, want 1 and 0", c, r)
	}
	v.wantAmounts(t, o.PublicID, 10000, 0, 0)
}

func TestAdminBadAmountKeepsTheFormWithTheMessage(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	for _, tc := range []struct{ op, field, typed, want string }{
		{"capture", "capture_amount", "12,5.0.1", "like 12.50"},
		{"capture", "capture_amount", "0", "above 0"},
		{"refund", "refund_amount", "ten", "like 12.50"},
	} {
		p := admin.post("/admin/orders/"+o.PublicID+"/"+tc.op, admin.seen(t, o.PublicID, amount(tc.typed)))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s %q: %d, want 422", tc.op, tc.typed, p.status)
		}
		doc := p.doc(t)
		in := doc.Find("#" + tc.field)
		if in.AttrOr("value", "") != tc.typed || in.AttrOr("aria-invalid", "") != "true" ||
			!strings.Contains(in.AttrOr("aria-describedby", ""), tc.field+"-error") ||
			!strings.Contains(doc.Find("#"+tc.field+"-error").Text(), tc.want) {
			t.Errorf("%s %q: the field does not keep the value and describe the error", tc.op, tc.typed)
		}
	}
	if n := len(v.operations(t, o.ID)); n != 0 || v.st.Calls("vipps.capture")+v.st.Calls("vipps.refund") != 0 {
		t.Fatalf("a bad amount made %d operations", n)
	}
}

// Vipps captures, the answer is lost once: the client's retry sends the
// same key and Vipps answers the first capture again. One capture.
func TestAdminShipWithALostAnswerCapturesOnce(t *testing.T) {
	v := newVippsShopWith(t, func(d *Deps) { d.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} })
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	v.loseAnswers(t, "vipps.capture", 1)
	flash, _ := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "captured NOK 458.00") {
		t.Errorf("flash %q", flash)
	}
	vp := v.payment(t, o.ID)
	ops := v.operations(t, o.ID)
	if caps := v.capturedEvents(t, vp.Reference); len(caps) != 1 || v.st.Calls("vipps.capture") != 2 || *caps[0].IdempotencyKey != ops[0].Key {
		t.Errorf("%d capture calls, captures %+v: want 2 calls with one key, one capture", v.st.Calls("vipps.capture"), caps)
	}
	v.wantAmounts(t, o.PublicID, 45800, 0, 0)
}

// Every answer lost and Vipps unreadable: the operation is unknown, and
// the shop says so rather than guess. Shipping again resends the stored key:
// Vipps answers the first capture, which it made. One capture.
func TestAdminRetriedShipAfterAnUnknownOutcomeReusesTheKey(t *testing.T) {
	v := newVippsShopWith(t, func(d *Deps) { d.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} })
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	v.loseAnswers(t, "vipps.capture", 3)
	v.fault(t, "vipps.get_payment", 503, 3)
	flash, doc := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "did not answer") || !strings.Contains(flash, "unknown") {
		t.Errorf("flash %q", flash)
	}
	if busy := doc.Find("[data-testid=admin-busy]").Text(); !strings.Contains(busy, "same idempotency key") {
		t.Errorf("the page does not say the capture is unknown: %q", busy)
	}
	ops := v.operations(t, o.ID)
	if len(ops) != 1 || ops[0].State != db.OpUnknown {
		t.Fatalf("operations %+v", ops)
	}
	v.wantAmounts(t, o.PublicID, 0, 0, 0) // nothing shown captured before Vipps confirms
	// Another operation waits for it while Vipps cannot be read.
	v.fault(t, "vipps.get_payment", 503, 3)
	if flash, _ := admin.act(t, o.PublicID, "cancel", nil); !strings.Contains(flash, "Another operation is under way") {
		t.Errorf("cancel beside an unknown capture: %q", flash)
	}
	if v.st.Calls("vipps.cancel") != 0 {
		t.Fatal("the cancel was sent beside an unknown capture")
	}

	v.fault(t, "vipps.get_payment", 503, 3) // the retry cannot read the payment first either
	flash, _ = admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "captured NOK 458.00") {
		t.Errorf("retry: %q", flash)
	}
	ops = v.operations(t, o.ID)
	vp := v.payment(t, o.ID)
	caps := v.capturedEvents(t, vp.Reference)
	if len(ops) != 1 || ops[0].State != db.OpDone || len(caps) != 1 || v.st.Calls("vipps.capture") != 4 || *caps[0].IdempotencyKey != ops[0].Key {
		t.Errorf("operations %+v, %d calls, captures %+v: want one operation, four calls with its key, one capture", ops, v.st.Calls("vipps.capture"), caps)
	}
	if o := v.wantAmounts(t, o.PublicID, 45800, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s", o.Status)
	}
}

// A crash left operations "sent": one Vipps made, one it never received.
// The sweep settles both from the payment once their calls are surely over.
func TestAdminSweepSettlesOperationsLeftByACrash(t *testing.T) {
	v := newVippsShop(t)
	made := v.authorizedVippsOrder(t)
	lost := v.authorizedVippsOrder(t)
	start := func(o db.Order) db.Operation {
		op, err := v.Store.StartOperation(t.Context(), db.NewOperation{OrderID: o.ID, Kind: db.OpCapture, Amount: 45800,
			Currency: "NOK", Seen: o.Amounts, KeyFor: func(int) string { return o.IdempotencyKey + "-capture-1" }})
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	opMade, opLost := start(made), start(lost)
	// The first call reached Vipps before the crash.
	if _, err := v.vipps.client.Capture(t.Context(), "refshop-"+made.PublicID, vipps.Amount{Currency: "NOK", Value: 45800}, opMade.Key); err != nil {
		t.Fatal(err)
	}
	v.vipps.sweepOnce(t.Context())
	if op, _ := v.Store.OperationByID(t.Context(), opMade.ID); op.State != db.OpSent {
		t.Fatalf("settled %s before its call could be over", op.State)
	}
	v.clock.Advance(operationSettleAfter)
	v.vipps.sweepOnce(t.Context())
	if op, _ := v.Store.OperationByID(t.Context(), opMade.ID); op.State != db.OpDone || !strings.Contains(op.Answer, "captured NOK 458.00") {
		t.Errorf("the made capture: %s %q", op.State, op.Answer)
	}
	if o := v.wantAmounts(t, made.PublicID, 45800, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s", o.Status)
	}
	if op, _ := v.Store.OperationByID(t.Context(), opLost.ID); op.State != db.OpRefused || !strings.Contains(op.Answer, "no record") {
		t.Errorf("the capture Vipps never received: %s %q", op.State, op.Answer)
	}
	if o := v.wantAmounts(t, lost.PublicID, 0, 0, 0); o.Status != db.StatusAuthorized {
		t.Errorf("order %s", o.Status)
	}
	if n := v.st.Calls("vipps.capture"); n != 1 {
		t.Errorf("the sweep sent %d captures, want none (1 was the test's own)", n-1)
	}
}

func TestAdminTwoShipsAtOnceCaptureOnce(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	other := admin.on(v.testApp) // the same administrator's second tab
	post := func(b *browser) func() error {
		form := b.seen(t, o.PublicID, ship) // both tabs show the order uncaptured
		return func() error {
			if p := b.post("/admin/orders/"+o.PublicID+"/capture", form); p.status != http.StatusSeeOther {
				t.Errorf("ship: %d", p.status)
			}
			return nil
		}
	}
	atOnce(t, post(admin), post(other))
	if n := v.st.Calls("vipps.capture"); n != 1 {
		t.Errorf("%d capture calls, want 1", n)
	}
	if caps := v.capturedEvents(t, v.payment(t, o.ID).Reference); len(caps) != 1 {
		t.Errorf("captures at Vipps %+v", caps)
	}
	v.wantAmounts(t, o.PublicID, 45800, 0, 0)
}

// An order with no payment recorded, and an invoice order, offer nothing,
// saying why; posting anyway sends and stores nothing.
func TestAdminFormsThatOfferNothingSayWhyNot(t *testing.T) {
	app := newTestApp(t)
	admin := app.adminBrowser(t)
	line := []db.OrderLine{{ProductID: "p", Name: "P", Quantity: 1, UnitPrice: 1000, TotalAmount: 1000}}
	for _, tc := range []struct {
		provider db.Provider
		why      string
	}{
		{db.ProviderKlarna, "No Klarna payment is recorded for this order."},
		{db.ProviderAltpay, "Paid in full by the customer"},
	} {
		o, err := app.Store.CreateOrder(t.Context(), db.NewOrder{GuestID: "g", Provider: tc.provider, Market: "us", Currency: "USD", Lines: line, IdempotencyKey: string(tc.provider)})
		if err != nil {
			t.Fatal(err)
		}
		doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
		if n := doc.Find("[data-testid=admin-actions] button:not([disabled])").Length(); n != 0 {
			t.Errorf("%s: %d enabled actions", tc.provider, n)
		}
		if !strings.Contains(doc.Find("#ship-note").Text(), tc.why) {
			t.Errorf("%s: ship says %q", tc.provider, doc.Find("#ship-note").Text())
		}
		if tc.provider == db.ProviderAltpay && !strings.Contains(doc.Find("#refund_amount-hint").Text(), "Not offered by Alternative Payments' API") {
			t.Errorf("invoice refund says %q", doc.Find("#refund_amount-hint").Text())
		}
		p := admin.post("/admin/orders/"+o.PublicID+"/capture", admin.seen(t, o.PublicID, ship))
		if flash := admin.get(p.location).doc(t).Find(".flash").Text(); !strings.Contains(flash, "Nothing was sent.") {
			t.Errorf("%s: posting anyway says %q", tc.provider, flash)
		}
		if ops, _ := app.Store.OperationsByOrder(t.Context(), o.ID); len(ops) != 0 {
			t.Errorf("%s: %d operations stored", tc.provider, len(ops))
		}
	}
}

// Vipps slower than the request's deadline: the request answers in time,
// saying the shop still waits; the order page shows the capture under way
// and reloads itself until the work, which went on, has recorded it.
func TestAdminSlowCaptureAnswersInTime(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	v.sb.Delay(t, "vipps.capture", "1s", 1)
	v.ProviderDeadline = 20 * time.Millisecond // after setup: the race detector makes setup slow
	form := admin.seen(t, o.PublicID, ship)
	p := admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("ship past the deadline: %d", p.status)
	}
	page := admin.get(p.location)
	doc := page.doc(t)
	if flash := doc.Find(".flash").Text(); !strings.Contains(flash, "Still waiting for Vipps MobilePay's answer") {
		t.Errorf("flash %q", flash)
	}
	if busy := doc.Find("[data-testid=admin-busy]").Text(); !strings.Contains(busy, "under way") || page.header.Get("Refresh") == "" {
		t.Errorf("the page does not show the capture under way and reload: %q", busy)
	}
	<-v.work.ended(adminWorkKey(o.ID, adminRequest{Kind: db.OpCapture, Whole: true, Form: form.Get("form_key")}))
	v.ProviderDeadline = 0
	if o := v.wantAmounts(t, o.PublicID, 45800, 0, 0); o.Status != db.StatusCaptured {
		t.Errorf("order %s after the capture ended", o.Status)
	}
	page = admin.get("/admin/orders/" + o.PublicID)
	if page.header.Get("Refresh") != "" || page.doc(t).Find("[data-testid=admin-busy]").Length() != 0 {
		t.Error("still under way after the capture ended")
	}
}

// A cancel posted for an order whose customer has not approved yet (a form
// from an old page, or by hand) sends nothing: Vipps would end the payment
// the customer may be approving.
func TestAdminCancelOfAPendingVippsOrderSendsNothing(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	b.signUp("pia@example.com")
	v.startPayment(t, b) // created at Vipps, not approved
	u, err := v.Store.UserByEmail(t.Context(), "pia@example.com")
	if err != nil {
		t.Fatal(err)
	}
	orders, err := v.Store.OrdersByUser(t.Context(), u.ID)
	if err != nil || len(orders) != 1 || orders[0].Status != db.StatusPending {
		t.Fatalf("orders %+v, %v", orders, err)
	}
	o := orders[0]
	admin := v.adminBrowser(t)
	flash, _ := admin.act(t, o.PublicID, "cancel", nil)
	if !strings.Contains(flash, "The customer has not approved the payment in Vipps MobilePay yet. Nothing was sent.") || v.st.Calls("vipps.cancel") != 0 {
		t.Errorf("cancel of a pending order: %q, %d cancels sent", flash, v.st.Calls("vipps.cancel"))
	}
}

// A crash between recording a whole capture and marking the order paid
// leaves it authorized with nothing left to capture: the next back office
// look repairs it, and sends nothing.
func TestAdminRepairsAnOrderLeftAuthorizedWithEverythingCaptured(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	admin.act(t, o.PublicID, "capture", ship)
	// The crash: the order's status write never happened.
	if _, err := v.DB.Write.ExecContext(t.Context(), `UPDATE orders SET status = 'authorized' WHERE id = ?`, o.ID); err != nil {
		t.Fatal(err)
	}
	flash, doc := admin.act(t, o.PublicID, "capture", ship)
	if !strings.Contains(flash, "Nothing is left to capture") || v.st.Calls("vipps.capture") != 1 {
		t.Errorf("ship again: %q, %d captures", flash, v.st.Calls("vipps.capture"))
	}
	if got := doc.Find("[data-testid=order-status]").Text(); got != "Paid" {
		t.Errorf("status %q, want Paid", got)
	}
}

// Two tabs showing the same captured order each refund part: the second
// refund was decided on figures that are no longer true, and is refused
// with nothing sent (before, both went through: a double refund).
func TestAdminTwoTabsRefundingOnTheSameFiguresRefundOnce(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	admin.act(t, o.PublicID, "capture", ship)
	first := admin.seen(t, o.PublicID, amount("200"))
	second := admin.seen(t, o.PublicID, amount("200")) // the other tab, loaded at the same time
	if p := admin.post("/admin/orders/"+o.PublicID+"/refund", first); p.status != http.StatusSeeOther {
		t.Fatalf("first refund: %d", p.status)
	}
	p := admin.post("/admin/orders/"+o.PublicID+"/refund", second)
	if p.status != http.StatusSeeOther {
		t.Fatalf("second refund: %d", p.status)
	}
	flash := strings.TrimSpace(admin.get(p.location).doc(t).Find(".flash").Text())
	if !strings.Contains(flash, "figures changed since your page showed them") {
		t.Errorf("second refund: %q", flash)
	}
	if n := v.st.Calls("vipps.refund"); n != 1 {
		t.Errorf("%d refund calls, want 1", n)
	}
	v.wantAmounts(t, o.PublicID, 45800, 20000, 0)
}

// While an operation is in flight, the order's page says what is under
// way and since when, and offers no form (before, the forms stayed enabled
// beside it).
func TestAdminAnOperationUnderWayShowsAndDisablesTheForms(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	v.sb.Delay(t, "vipps.capture", "1s", 1)
	v.ProviderDeadline = 20 * time.Millisecond
	form := admin.seen(t, o.PublicID, amount("100"))
	admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	doc := admin.get("/admin/orders/" + o.PublicID).doc(t)
	busy := strings.Join(strings.Fields(doc.Find("[data-testid=admin-busy]").Text()), " ")
	if !strings.Contains(busy, "An operation is under way: the capture of NOK 100.00 with Vipps MobilePay, started 21 Nov 2026") {
		t.Errorf("busy %q", busy)
	}
	if n := doc.Find("[data-testid=admin-actions] button:not([disabled])").Length(); n != 0 {
		t.Errorf("%d forms offered beside the capture under way", n)
	}
	if why := doc.Find("#ship-note").Text(); !strings.Contains(why, "An operation is under way on this order") {
		t.Errorf("ship says %q", why)
	}
	<-v.work.ended(adminWorkKey(o.ID, adminRequest{Kind: db.OpCapture, Form: form.Get("form_key")}))
	v.ProviderDeadline = 0
	doc = admin.get("/admin/orders/" + o.PublicID).doc(t)
	if doc.Find("[data-testid=admin-busy]").Length() != 0 || doc.Find("[data-testid=admin-capture] button").Is("[disabled]") {
		t.Error("still under way, or Capture not offered, after the capture ended")
	}
}

// One page's form is one operation: sent twice, the second gets the first's
// answer and sends nothing; a deliberate second capture of the same amount
// from another page is another operation, not a retry of the first (before,
// an operation in flight took any request of its kind and amount for its
// retry).
func TestAdminOnePageFormIsOneOperation(t *testing.T) {
	v := newVippsShopWith(t, func(d *Deps) { d.HTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} })
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	first := admin.seen(t, o.PublicID, amount("100"))
	second := admin.seen(t, o.PublicID, amount("100")) // another tab, the same figures
	// The first capture's answers are all lost and Vipps cannot be read: unknown.
	v.loseAnswers(t, "vipps.capture", 3)
	v.fault(t, "vipps.get_payment", 503, 6) // the first's reads, then the other tab's
	admin.post("/admin/orders/"+o.PublicID+"/capture", first)
	p := admin.post("/admin/orders/"+o.PublicID+"/capture", second)
	if flash := admin.get(p.location).doc(t).Find(".flash").Text(); !strings.Contains(flash, "Another operation is under way") {
		t.Errorf("the other tab's capture beside the unknown one: %q", flash)
	}
	if n := v.st.Calls("vipps.capture"); n != 3 {
		t.Errorf("%d capture calls, want the first's 3 only", n)
	}
	// The first page's form again: its retry, which finds it made.
	p = admin.post("/admin/orders/"+o.PublicID+"/capture", first)
	if flash := admin.get(p.location).doc(t).Find(".flash").Text(); !strings.Contains(flash, "captured NOK 100.00") {
		t.Errorf("retry: %q", flash)
	}
	// Once more: the form was sent already; nothing is sent.
	p = admin.post("/admin/orders/"+o.PublicID+"/capture", first)
	if flash := admin.get(p.location).doc(t).Find(".flash").Text(); !strings.Contains(flash, "This form was sent already.") {
		t.Errorf("the same form after its capture: %q", flash)
	}
	// A new page: a second capture of the same amount, deliberately.
	if flash, _ := admin.act(t, o.PublicID, "capture", amount("100")); !strings.Contains(flash, "captured NOK 100.00. Now NOK 200.00 captured") {
		t.Errorf("the second capture: %q", flash)
	}
	ops := v.operations(t, o.ID)
	if len(ops) != 2 || ops[0].Key == ops[1].Key || ops[0].State != db.OpDone || ops[1].State != db.OpDone {
		t.Errorf("operations %+v: want two captures, each with its own key", ops)
	}
	v.wantAmounts(t, o.PublicID, 20000, 0, 0)
}

// The sweep settles at most a batch of operations a pass. One it cannot
// settle (here, Vipps does not know its payment) waits longer after each
// failure, so a newer one behind it is settled (before, the oldest came
// first every pass: a batch that could not be settled held back the rest).
func TestAdminSweepMovesPastAnOperationItCannotSettle(t *testing.T) {
	v := newVippsShop(t)
	v.vipps.batch = 1
	stuck, made := v.authorizedVippsOrder(t), v.authorizedVippsOrder(t)
	start := func(o db.Order) db.Operation {
		op, err := v.Store.StartOperation(t.Context(), db.NewOperation{OrderID: o.ID, Kind: db.OpCapture, Amount: 45800,
			Currency: "NOK", Seen: o.Amounts, KeyFor: func(int) string { return o.IdempotencyKey + "-capture-1" }})
		if err != nil {
			t.Fatal(err)
		}
		v.clock.Advance(time.Second)
		return op
	}
	opStuck, opMade := start(stuck), start(made)
	if _, err := v.DB.Write.ExecContext(t.Context(), `UPDATE vipps_payments SET reference = 'refshop-unknown' WHERE order_id = ?`, stuck.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.vipps.client.Capture(t.Context(), "refshop-"+made.PublicID, vipps.Amount{Currency: "NOK", Value: 45800}, opMade.Key); err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(operationSettleAfter)
	v.vipps.sweepOnce(t.Context()) // the older one first: it fails
	if op, _ := v.Store.OperationByID(t.Context(), opStuck.ID); op.SettleTries != 1 || op.State != db.OpSent {
		t.Fatalf("the stuck one: %s, %d tries", op.State, op.SettleTries)
	}
	v.vipps.sweepOnce(t.Context())
	if op, _ := v.Store.OperationByID(t.Context(), opMade.ID); op.State != db.OpDone {
		t.Errorf("the newer one behind it: %s, want settled done", op.State)
	}
	v.wantAmounts(t, made.PublicID, 45800, 0, 0)
}

// The order's status says what its money says: partly shipped, paid,
// partly refunded, refunded, to the customer and in the back office (the
// stored status stays captured).
func TestOrderStatusFollowsTheMoney(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	b.signUp("tess@example.com")
	back := v.answer(t, v.startPayment(t, b), "approve")
	b.get(back)
	o := v.order(t, orderIDFrom(t, back))
	admin := v.adminBrowser(t)
	want := func(status string) {
		t.Helper()
		_, doc := b.orderPage(t, o.PublicID)
		got := map[string]string{
			"order page":   doc.Find("[data-testid=order-status]").Text(),
			"account":      b.get("/account").doc(t).Find("span.status").First().Text(),
			"back office":  admin.get("/admin").doc(t).Find("tr[data-order='" + o.PublicID + "'] [data-testid=admin-status]").Text(),
			"admin's page": admin.get("/admin/orders/" + o.PublicID).doc(t).Find("[data-testid=order-status]").Text(),
		}
		for where, s := range got {
			if s != status {
				t.Errorf("%s says %q, want %q", where, s, status)
			}
		}
	}
	want("Payment authorized")
	admin.act(t, o.PublicID, "capture", amount("100"))
	want("Partly shipped")
	admin.act(t, o.PublicID, "capture", ship)
	want("Paid")
	admin.act(t, o.PublicID, "refund", amount("58"))
	want("Partly refunded")
	admin.act(t, o.PublicID, "refund", amount("400"))
	want("Refunded")
	if o := v.order(t, o.PublicID); o.Status != db.StatusCaptured {
		t.Errorf("stored status %s, want captured", o.Status)
	}
}

// A capture posted by hand for an order the shop closed (its cart was paid
// another way) whose customer approved it at Vipps late, before the shop
// released it: the order's offers refuse it, and nothing is sent, whatever
// the form says it saw.
func TestAdminHandMadeCaptureOfAClosedVippsOrderSendsNothing(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	id := v.approveOnly(t, b) // authorized at Vipps; the shop has not heard
	o := v.order(t, id)
	if err := v.Store.SetOrderStatus(t.Context(), o.ID, db.StatusPending, db.StatusCancelled, db.DetailClosedPaid); err != nil {
		t.Fatal(err)
	}
	admin := v.adminBrowser(t)
	p := admin.post("/admin/orders/"+id+"/capture", url.Values{"whole": {"1"}, "seen": {"0.0.0"}, "form_key": {"made-by-hand"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("capture: %d %s", p.status, p.body)
	}
	flash := strings.TrimSpace(admin.get(p.location).doc(t).Find(".flash").Text())
	want := v.vipps.adminOffers(v.order(t, id)).Ship
	if want == "" || !strings.Contains(flash, want) || !strings.Contains(flash, "Nothing was sent") {
		t.Errorf("flash %q, want the offer's words %q and that nothing was sent", flash, want)
	}
	if n := v.st.Calls("vipps.capture"); n != 0 {
		t.Errorf("%d captures sent for a cancelled order", n)
	}
	if ops := v.operations(t, o.ID); len(ops) != 0 {
		t.Errorf("operations stored: %+v", ops)
	}
	if got := v.order(t, id); got.Status != db.StatusCancelled {
		t.Errorf("order %s", got.Status)
	}
	// Nor an operation Vipps does not have, posted by hand.
	p = admin.post("/admin/orders/"+id+"/extend", url.Values{"seen": {seenFigures(v.order(t, id).Amounts)}, "form_key": {"by-hand-2"}})
	if flash := strings.TrimSpace(admin.get(p.location).doc(t).Find(".flash").Text()); flash != "Vipps MobilePay has no such operation. Nothing was sent." {
		t.Errorf("extend: %q", flash)
	}
}

// Shipping after the capture period (180 days in Norway) is refused by
// Vipps with 6100, in its words; the shop then reads the payment, finds the
// reservation released, and closes the order as cancelled.
func TestAdminShipAfterTheCapturePeriodIsRefusedCalmly(t *testing.T) {
	v := newVippsShop(t)
	o := v.authorizedVippsOrder(t)
	admin := v.adminBrowser(t)
	form := admin.seen(t, o.PublicID, ship)
	v.sbClk.Advance(181 * 24 * time.Hour)
	p := admin.post("/admin/orders/"+o.PublicID+"/capture", form)
	doc := admin.get(p.location).doc(t)
	if flash := doc.Find(".flash").Text(); !strings.Contains(flash, "Vipps MobilePay refused the capture of NOK 458.00:") ||
		!strings.Contains(flash, "Capture period expired (error code 6100)") || !strings.Contains(flash, "Nothing changed.") {
		t.Errorf("ship after the capture period: %q", flash)
	}
	if o := v.wantAmounts(t, o.PublicID, 0, 0, 45800); o.Status != db.StatusCancelled {
		t.Errorf("order %s after Vipps released the reservation, want cancelled", o.Status)
	}
	// Two calls, one capture: the shop's access token had expired too (401),
	// and the same capture went again with a new one, to be refused.
	if n := v.st.Calls("vipps.capture"); n != 2 {
		t.Errorf("%d capture calls, want the 401 and the refused capture", n)
	}
}
