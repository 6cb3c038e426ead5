package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/db"
	"refshop/web/secret"
	"refshop/web/vipps"
)

// hookSecret is the secret of the registration the handler tests store.
const hookSecret = "c2FuZGJveC13ZWJob29rLXNlY3JldC1mb3ItdGVzdHM="

// storeWebhook stores a registration of the shop's URL with hookSecret, as
// Ensure would after registering, without asking the sandbox (which would
// then deliver to the configured URL on its own).
func (v *vippsShop) storeWebhook(t *testing.T) {
	t.Helper()
	h := v.vipps.hooks
	if ok, err := v.Store.ClaimVippsWebhook(t.Context(), h.env, h.url, "test"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	sealed, err := v.Box.Seal(hookSecret, h.secretAAD())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Store.SetVippsWebhook(t.Context(), h.env, h.url, "test", "4a7a6c8e-0000-4000-8000-000000000001", sealed); err != nil {
		t.Fatal(err)
	}
}

var pspSeq atomic.Int64

// event is the WebhookEvent name for order id, for its whole amount, now on
// the sandbox clock.
func (v *vippsShop) event(t *testing.T, id, name string) vipps.WebhookEvent {
	t.Helper()
	o := v.order(t, id)
	vp := v.payment(t, o.ID)
	return vipps.WebhookEvent{MSN: v.Config.Vipps.MSN, Reference: vp.Reference, PSPReference: fmt.Sprintf("psp-%d", pspSeq.Add(1)),
		Name: name, Amount: vipps.Amount{Currency: o.Currency, Value: o.TotalAmount}, Timestamp: v.st.Clock.Now(), Success: true}
}

// delivery is one POST to the webhook; edit may change it before it goes.
type delivery struct {
	secret string
	date   time.Time
	header http.Header
}

// deliver posts ev to /webhooks/vipps signed as Vipps signs it for the
// registered URL (with hookSecret, dated now on the sandbox clock, unless
// edit says otherwise), as a server does: no cookie, no Origin.
func (v *vippsShop) deliver(t *testing.T, ev vipps.WebhookEvent, edit ...func(*delivery)) (int, string) {
	t.Helper()
	code, body, _ := v.deliverSigned(t, ev, edit...)
	return code, body
}

// deliverSigned is deliver, and the Authorization header it sent.
func (v *vippsShop) deliverSigned(t *testing.T, ev vipps.WebhookEvent, edit ...func(*delivery)) (code int, answer, authorization string) {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	d := delivery{secret: hookSecret, date: v.st.Clock.Now(), header: http.Header{}}
	sum := sha256.Sum256(body)
	hash := base64.StdEncoding.EncodeToString(sum[:])
	for _, e := range edit {
		e(&d)
	}
	date := d.date.UTC().Format(http.TimeFormat)
	authz, err := vipps.WebhookAuthorization(secret.New(d.secret), v.vipps.hooks.url, date, hash)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", v.srv.URL+vippsWebhookPath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-content-sha256", hash)
	req.Header.Set("Authorization", authz)
	for k, vs := range d.header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), authz
}

// webhookShop is a shop with a stored registration and a payment approved
// at the sandbox whose customer has not come back: the order is pending.
func webhookShop(t *testing.T) (*vippsShop, *browser, string) {
	t.Helper()
	v := newVippsShop(t)
	v.storeWebhook(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	if o := v.order(t, id); o.Status != db.StatusPending {
		t.Fatalf("order %s before any event, want pending", o.Status)
	}
	return v, b, id
}

// An AUTHORIZED event authorizes the pending order by itself: Vipps's GET
// payment fails throughout and is not even asked. The cart is emptied, and
// the order page lists the event as the webhook's.
func TestVippsWebhookAuthorizesWithoutAskingVipps(t *testing.T) {
	v, b, id := webhookShop(t)
	v.fault(t, "vipps.get_payment", http.StatusInternalServerError, 100)
	gets := v.st.Calls("vipps.get_payment")
	ev := v.event(t, id, "AUTHORIZED")
	// Sent as a browser on another site would send it: the signature, not
	// the origin, decides (the cross-origin check exempts this route).
	code, body := v.deliver(t, ev, func(d *delivery) { d.header.Set("Sec-Fetch-Site", "cross-site") })
	if code != http.StatusOK {
		t.Fatalf("delivery: %d %q", code, body)
	}
	o := v.order(t, id)
	if o.Status != db.StatusAuthorized || o.StatusDetail != vippsAuthorizedDetail || o.Amounts.Authorized != o.TotalAmount {
		t.Fatalf("order %s %q %+v, want authorized for its total", o.Status, o.StatusDetail, o.Amounts)
	}
	if vp := v.payment(t, o.ID); vp.State != vipps.StateAuthorized {
		t.Errorf("stored state %q", vp.State)
	}
	if n := v.st.Calls("vipps.get_payment"); n != gets {
		t.Errorf("GET payment asked %d times for the event", n-gets)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the cart was not emptied")
	}
	if n := strings.Count(v.logText(), "vipps: payment authorized"); n != 1 {
		t.Errorf("%d authorizations logged", n)
	}
	_, doc := b.orderPage(t, id)
	rows := doc.Find("[data-testid=vipps-events] tbody tr")
	if rows.Length() != 1 || rows.AttrOr("data-event", "") != "AUTHORIZED" || rows.Find("[data-testid=vipps-event-webhook]").Length() != 1 {
		t.Errorf("events on the order page: %q", rows.Text())
	}
	if strings.Contains(v.logText(), hookSecret) {
		t.Error("the secret reached the log")
	}
}

// A delivery that is not Vipps's changes nothing: 401 with a short plain
// body, nothing stored, and the reason in the log without the signature.
func TestVippsWebhookRefusesBadSignaturesAndStaleDates(t *testing.T) {
	v, _, id := webhookShop(t)
	ev := v.event(t, id, "AUTHORIZED")
	cases := map[string]func(*delivery){
		"another secret":  func(d *delivery) { d.secret = "not-the-registration-secret" },
		"no signature":    func(d *delivery) { d.header.Set("Authorization", "") },
		"a changed body":  func(d *delivery) { d.header.Set("x-ms-content-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=") },
		"stale":           func(d *delivery) { d.date = d.date.Add(-vipps.WebhookMaxSkew - time.Minute) },
		"from the future": func(d *delivery) { d.date = d.date.Add(vipps.WebhookMaxSkew + time.Minute) },
	}
	for name, edit := range cases {
		code, body := v.deliver(t, ev, edit)
		if code != http.StatusUnauthorized || body != "signature not accepted\n" {
			t.Errorf("%s: %d %q, want 401", name, code, body)
		}
	}
	if o := v.order(t, id); o.Status != db.StatusPending {
		t.Errorf("order %s after refused deliveries", o.Status)
	}
	if events, _ := v.Store.VippsWebhookEvents(t.Context(), v.order(t, id).ID); len(events) != 0 {
		t.Errorf("refused deliveries were stored: %+v", events)
	}
	logs := v.logText()
	for _, want := range []string{vipps.ErrWebhookSignature.Error(), vipps.ErrWebhookUnsigned.Error(), vipps.ErrWebhookBodyHash.Error(), vipps.ErrWebhookDate.Error()} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the log", want)
		}
	}
	if strings.Contains(logs, "Signature=") || strings.Contains(logs, hookSecret) {
		t.Error("a signature or the secret reached the log")
	}
}

// The same event twice (Vipps retries; registrations overlap): stored once,
// acted on once, the repeat answered 200.
func TestVippsWebhookRepeatChangesNothing(t *testing.T) {
	v, _, id := webhookShop(t)
	ev := v.event(t, id, "AUTHORIZED")
	for i, want := range []string{"ok\n", "already received\n"} {
		if code, body := v.deliver(t, ev); code != http.StatusOK || body != want {
			t.Fatalf("delivery %d: %d %q, want %q", i+1, code, body, want)
		}
	}
	o := v.order(t, id)
	events, err := v.Store.VippsWebhookEvents(t.Context(), o.ID)
	if err != nil || len(events) != 1 || events[0].SettledAt.IsZero() {
		t.Fatalf("stored %+v %v, want one event acted on", events, err)
	}
	if o.Status != db.StatusAuthorized || strings.Count(v.logText(), "vipps: payment authorized") != 1 {
		t.Errorf("order %s, %d authorizations logged", o.Status, strings.Count(v.logText(), "vipps: payment authorized"))
	}
}

// Out of order: a capture event before the authorization leaves the order
// pending (it is recorded); the authorization then authorizes it. An
// authorization after polling settled the order changes nothing.
func TestVippsWebhookOutOfOrder(t *testing.T) {
	v, b, id := webhookShop(t)
	captured := v.event(t, id, "CAPTURED")
	if code, _ := v.deliver(t, captured); code != http.StatusOK {
		t.Fatalf("capture event: %d", code)
	}
	if o := v.order(t, id); o.Status != db.StatusPending || o.Amounts.Captured != 0 {
		t.Fatalf("a capture event before the authorization moved the order: %s %+v", o.Status, o.Amounts)
	}
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusOK {
		t.Fatal("authorization event refused")
	}
	if o := v.order(t, id); o.Status != db.StatusAuthorized {
		t.Fatalf("order %s after the authorization event", o.Status)
	}

	// Another order, settled by the customer's return (polling) first.
	w, wb, wid := webhookShop(t)
	if p := wb.get("/checkout/vipps/return?order=" + wid); p.status != http.StatusSeeOther {
		t.Fatalf("return: %d", p.status)
	}
	if !strings.Contains(w.logText(), "vipps: settled by polling (no webhook received)") || !strings.Contains(w.logText(), wid) {
		t.Error("polling settled the order without saying so")
	}
	before := w.order(t, wid)
	if code, _ := w.deliver(t, w.event(t, wid, "AUTHORIZED")); code != http.StatusOK {
		t.Fatal("late authorization refused")
	}
	after := w.order(t, wid)
	if after.Status != db.StatusAuthorized || after.StatusDetail != before.StatusDetail || !after.UpdatedAt.Equal(before.UpdatedAt) ||
		strings.Count(w.logText(), "vipps: payment authorized") != 1 {
		t.Errorf("a late authorization changed the order: %+v -> %+v", before, after)
	}
	// The order the webhook settled, viewed: polling has nothing to log.
	b.orderPage(t, id)
	if strings.Contains(v.logText(), "settled by polling") {
		t.Error("an order the webhook settled was logged as settled by polling")
	}
}

// ABORTED cancels the pending order with the words settle uses.
func TestVippsWebhookAbortedCancels(t *testing.T) {
	v := newVippsShop(t)
	v.storeWebhook(t)
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "reject")
	id := orderIDFrom(t, back)
	if code, _ := v.deliver(t, v.event(t, id, "ABORTED")); code != http.StatusOK {
		t.Fatal("aborted event refused")
	}
	if o := v.order(t, id); o.Status != db.StatusCancelled || o.StatusDetail != vippsEnded[vipps.StateAborted] {
		t.Errorf("order %s %q", o.Status, o.StatusDetail)
	}
}

// An event for a reference the shop does not know is answered 200 (Vipps
// must not retry it) and logged.
func TestVippsWebhookUnknownReference(t *testing.T) {
	v, _, id := webhookShop(t)
	ev := v.event(t, id, "AUTHORIZED")
	ev.Reference = "refshop-somebody-else-0001"
	if code, body := v.deliver(t, ev); code != http.StatusOK || body != "unknown reference\n" {
		t.Fatalf("%d %q", code, body)
	}
	if !strings.Contains(v.logText(), "vipps webhook: an event for a payment the shop does not know") {
		t.Error("not logged")
	}
	if o := v.order(t, id); o.Status != db.StatusPending {
		t.Errorf("order %s", o.Status)
	}
}

// With no registration stored, a delivery cannot be checked: 503, so Vipps
// delivers it again later.
func TestVippsWebhookWithoutARegistration(t *testing.T) {
	v := newVippsShop(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusServiceUnavailable {
		t.Fatalf("%d, want 503", code)
	}
}

// A capture the back office made arrives as an event with its own key: it
// changes nothing. One made elsewhere (Vipps's portal) refreshes the order's
// figures from the payment and closes the order when all is captured.
func TestVippsWebhookCaptureMadeElsewhereRefreshesTheFigures(t *testing.T) {
	v, _, id := webhookShop(t)
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusOK {
		t.Fatal("authorization refused")
	}
	o := v.order(t, id)
	vp := v.payment(t, o.ID)
	gets := v.st.Calls("vipps.get_payment")

	// The shop's own key (its cancel's): nothing to read.
	own := v.event(t, id, "CANCELLED")
	own.IdempotencyKey = &vp.CancelKey
	if code, _ := v.deliver(t, own); code != http.StatusOK {
		t.Fatal("own cancel event refused")
	}
	if n := v.st.Calls("vipps.get_payment"); n != gets {
		t.Errorf("an event of the shop's own cancel read the payment %d times", n-gets)
	}

	// Captured in the portal, with a key the shop never used.
	portalKey := "portal-capture-1"
	if _, err := v.Vipps.Capture(t.Context(), vp.Reference, vipps.Amount{Currency: o.Currency, Value: o.TotalAmount}, portalKey); err != nil {
		t.Fatal(err)
	}
	ev := v.event(t, id, "CAPTURED")
	ev.IdempotencyKey = &portalKey
	if code, _ := v.deliver(t, ev); code != http.StatusOK {
		t.Fatal("portal capture event refused")
	}
	o = v.order(t, id)
	if o.Amounts.Captured != o.TotalAmount || o.Status != db.StatusCaptured {
		t.Errorf("after a capture made elsewhere: %s %+v", o.Status, o.Amounts)
	}
}

// The back office lists webhook events, marked.
func TestVippsWebhookEventsInTheBackOffice(t *testing.T) {
	v, _, id := webhookShop(t)
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusOK {
		t.Fatal("refused")
	}
	look, err := v.vipps.adminLook(t.Context(), v.order(t, id))
	events, note := look.Events, look.EventsNote
	if err != nil || len(events) != 1 || !events[0].Webhook || events[0].Name != "AUTHORIZED" || !strings.Contains(note, "webhook") {
		t.Fatalf("%+v %q %v", events, note, err)
	}
}

// The same event polled and delivered shows once, marked as the webhook's.
func TestVippsHistoryMergesPolledAndDeliveredEvents(t *testing.T) {
	v, b, id := webhookShop(t)
	if p := b.get("/checkout/vipps/return?order=" + id); p.status != http.StatusSeeOther {
		t.Fatal("return")
	}
	o := v.order(t, id)
	polled := v.vippsEvents(t, v.payment(t, o.ID).Reference)
	ev := v.event(t, id, "AUTHORIZED")
	ev.Timestamp = polled[len(polled)-1].Timestamp
	if code, _ := v.deliver(t, ev); code != http.StatusOK {
		t.Fatal("refused")
	}
	_, doc := b.orderPage(t, id)
	var rows []string
	doc.Find("[data-testid=vipps-events] tbody tr").Each(func(_ int, s *goquery.Selection) {
		rows = append(rows, s.AttrOr("data-event", "")+fmt.Sprint(s.Find("[data-testid=vipps-event-webhook]").Length()))
	})
	if strings.Join(rows, " ") != "CREATED0 AUTHORIZED1" {
		t.Errorf("events %v, want CREATED and AUTHORIZED once, the latter marked", rows)
	}
}

// A refund made elsewhere whose payment cannot be read (Vipps answers 5xx)
// is not acted on: the delivery is answered 500 so Vipps sends it again, the
// event stays unsettled, and the repeat, once Vipps answers, refreshes the
// order's figures.
func TestVippsWebhookFailedRefreshIsRetried(t *testing.T) {
	v, _, id := webhookShop(t)
	if code, _ := v.deliver(t, v.event(t, id, "AUTHORIZED")); code != http.StatusOK {
		t.Fatal("authorization refused")
	}
	o := v.order(t, id)
	vp := v.payment(t, o.ID)
	amount := vipps.Amount{Currency: o.Currency, Value: o.TotalAmount}
	if _, err := v.Vipps.Capture(t.Context(), vp.Reference, amount, "portal-capture-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Vipps.Refund(t.Context(), vp.Reference, amount, "portal-refund-2"); err != nil {
		t.Fatal(err)
	}
	// No shop key: a refund made in the portal.
	ev := v.event(t, id, "REFUNDED")
	// Every try of the client's read fails (three tries).
	v.fault(t, "vipps.get_payment", http.StatusInternalServerError, 3)
	if code, body := v.deliver(t, ev); code != http.StatusInternalServerError {
		t.Fatalf("delivery while the payment cannot be read: %d %q, want 500", code, body)
	}
	events, err := v.Store.VippsWebhookEvents(t.Context(), o.ID)
	if err != nil || len(events) != 2 || events[1].Name != "REFUNDED" || !events[1].SettledAt.IsZero() {
		t.Fatalf("events %+v %v, want the refund stored and not settled", events, err)
	}
	if got := v.order(t, id); got.Amounts.Refunded != 0 {
		t.Fatalf("figures changed with no answer: %+v", got.Amounts)
	}

	// Vipps sends it again once it answers: acted on, settled.
	if code, body := v.deliver(t, ev); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("repeat: %d %q, want 200 ok", code, body)
	}
	if got := v.order(t, id); got.Amounts.Refunded != o.TotalAmount || got.Amounts.Captured != o.TotalAmount {
		t.Errorf("after the repeat: %s %+v, want captured and refunded in full", got.Status, got.Amounts)
	}
	if events, _ := v.Store.VippsWebhookEvents(t.Context(), o.ID); events[1].SettledAt.IsZero() {
		t.Error("the repeat left the event unsettled")
	}
}

// storeUnsettled stores a delivered event the shop has not acted on, as a
// receiver leaves it when its work fails after it answered 200 (or the shop
// stops): Vipps will not deliver it again.
func (v *vippsShop) storeUnsettled(t *testing.T, id, name string) db.VippsWebhookEvent {
	t.Helper()
	ev := v.event(t, id, name)
	o := v.order(t, id)
	e, fresh, err := v.Store.AddVippsWebhookEvent(t.Context(), db.VippsWebhookEvent{OrderID: o.ID, MSN: ev.MSN,
		Reference: ev.Reference, PSPReference: ev.PSPReference, Name: ev.Name, Amount: ev.Amount.Value,
		Currency: ev.Amount.Currency, OccurredAt: ev.Timestamp, Success: ev.Success})
	if err != nil || !fresh {
		t.Fatalf("storing the event: %v (fresh %t)", err, fresh)
	}
	return e
}

// The sweep acts on an event no delivery finished, once the receiver's own
// work has had its minute; one whose refresh fails waits longer each time.
func TestVippsSweepActsOnWebhookEventsNoDeliveryFinished(t *testing.T) {
	v, b, id := webhookShop(t)
	v.fault(t, "vipps.get_payment", http.StatusInternalServerError, 1000) // polling cannot settle it
	v.storeUnsettled(t, id, "AUTHORIZED")
	v.vipps.sweepOnce(t.Context())
	if o := v.order(t, id); o.Status != db.StatusPending {
		t.Fatalf("order %s: the sweep acted on an event its delivery may still be acting on", o.Status)
	}
	v.clock.Advance(vippsEventSettleAfter + time.Second)
	v.vipps.sweepOnce(t.Context())
	o := v.order(t, id)
	if o.Status != db.StatusAuthorized {
		t.Fatalf("order %s after the sweep, want authorized from the stored event", o.Status)
	}
	if events, _ := v.Store.VippsWebhookEvents(t.Context(), o.ID); len(events) != 1 || events[0].SettledAt.IsZero() {
		t.Fatalf("events %+v, want the one acted on", events)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the cart was not emptied")
	}

	// A refund made in the portal, whose refresh fails: tried again later,
	// not on every pass.
	vp := v.payment(t, o.ID)
	amount := vipps.Amount{Currency: o.Currency, Value: o.TotalAmount}
	if _, err := v.Vipps.Capture(t.Context(), vp.Reference, amount, "portal-capture-3"); err != nil {
		t.Fatal(err)
	}
	v.storeUnsettled(t, id, "CAPTURED")
	v.clock.Advance(vippsEventSettleAfter + time.Second)
	gets := v.st.Calls("vipps.get_payment")
	v.vipps.sweepOnce(t.Context())
	events, _ := v.Store.VippsWebhookEvents(t.Context(), o.ID)
	if len(events) != 2 || !events[1].SettledAt.IsZero() || events[1].Tries != 1 || v.st.Calls("vipps.get_payment") == gets {
		t.Fatalf("after a failed refresh: %+v (the payment read %d times)", events, v.st.Calls("vipps.get_payment")-gets)
	}
	gets = v.st.Calls("vipps.get_payment")
	v.vipps.sweepOnce(t.Context())
	if n := v.st.Calls("vipps.get_payment") - gets; n != 0 {
		t.Errorf("tried again at once: %d reads", n)
	}
	clear, _ := http.NewRequest(http.MethodDelete, v.sb.URL+"/control/faults/vipps.get_payment", nil)
	if res, err := http.DefaultClient.Do(clear); err != nil || res.StatusCode >= 300 {
		t.Fatalf("clearing the fault: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	v.clock.Advance(sweepRetryAfter(1) + time.Second)
	v.vipps.sweepOnce(t.Context())
	if got := v.order(t, id); got.Amounts.Captured != o.TotalAmount {
		t.Errorf("figures %+v after the retry, want captured in full", got.Amounts)
	}
	if events, _ := v.Store.VippsWebhookEvents(t.Context(), o.ID); events[1].SettledAt.IsZero() {
		t.Error("the retried event is still not acted on")
	}
}
