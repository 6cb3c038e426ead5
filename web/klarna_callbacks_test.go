package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/klarna"
)

// newCallbackApp is newKlarnaApp with SHOP_BASE_URL reachable by the
// sandbox, so that its delivery engine brings Klarna's callbacks to this
// shop when a test runs it (deliver).
func newCallbackApp(t *testing.T, use ...func(*Deps)) *klarnaApp {
	t.Helper()
	var app atomic.Pointer[App]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { app.Load().ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	k := newKlarnaApp(t, append([]func(*Deps){func(d *Deps) { d.Config.ShopBaseURL = front.URL }}, use...)...)
	app.Store(k.App)
	return k
}

// deliver sends every delivery due at the sandbox now (its worker is
// stopped: startKlarnaSandbox).
func (k *klarnaApp) deliver() { k.sb.Deliveries.RunDue(context.Background()) }

// callbackToken is attempt id's one-time token, as its row keeps it.
func (k *klarnaApp) callbackToken(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	o, err := k.Store.OrderByPublicID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := k.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k.Box.Open(kp.CallbackToken, callbackAAD(o.ID))
	if err != nil {
		t.Fatalf("the attempt's callback token: %v", err)
	}
	return tok.Reveal()
}

// callback POSTs body to Klarna's callback kind for order id with token,
// as Klarna's servers do (no browser headers), and returns the status.
func (k *klarnaApp) callback(kind, id, token, body string) (int, error) {
	u := k.srv.URL + klarnaCallbackPrefix + kind + "/" + id
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	res, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func (k *klarnaApp) mustCallback(t *testing.T, kind, id, token, body string) int {
	t.Helper()
	status, err := k.callback(kind, id, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func authBody(auth, sid string) string {
	b, _ := json.Marshal(map[string]string{"authorization_token": auth, "session_id": sid})
	return string(b)
}

func (k *klarnaApp) order(t *testing.T, id string) (db.Order, db.KlarnaPayment) {
	t.Helper()
	o, err := k.Store.OrderByPublicID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := k.Store.KlarnaPaymentByOrder(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return o, kp
}

// The customer approves and never comes back: Klarna's authorization
// callback, delivered by the sandbox's engine, places the order, empties
// the cart and links nothing twice; a replay of it changes nothing.
func TestKlarnaAuthorizationCallbackPlacesTheOrderWithoutTheBrowser(t *testing.T) {
	k := newCallbackApp(t)
	b, id, sid, auth := k.approvedGuest(t, "sencha")
	k.deliver()

	o, kp := k.order(t, id)
	if o.Status != db.StatusAuthorized || o.ProviderReference == "" || kp.FraudStatus != klarna.FraudAccepted {
		t.Fatalf("after the callback: %s ref %q fraud %q, want authorized with Klarna's order", o.Status, o.ProviderReference, kp.FraudStatus)
	}
	if n := k.sb.State.Calls("klarna.create_order"); n != 1 {
		t.Errorf("create_order calls = %d, want 1", n)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the order's items are still in the cart")
	}
	ds := k.sb.Deliveries.List(0)
	if len(ds) != 1 || ds[0].Operation != "klarna.authorization_callback" || ds[0].State != "delivered" ||
		!strings.Contains(ds[0].URL, klarnaCallbackPrefix+"authorization/"+id) {
		t.Fatalf("sandbox deliveries %+v", ds)
	}
	tok := k.callbackToken(t, id)
	if strings.Contains(ds[0].URL, tok) {
		t.Error("the sandbox's delivery log shows the one-time token")
	}
	// The session's recorded exchange at the sandbox hides the token its
	// merchant_urls.authorization carries (the query parameter token).
	x, err := http.Get(k.sbURL + "/control/exchanges?operation=klarna.create_session")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(x.Body)
	x.Body.Close()
	if !strings.Contains(string(raw), sid) || strings.Contains(string(raw), tok) {
		t.Errorf("the recorded session request shows the token (or is missing): %.300s", raw)
	}
	if strings.Contains(k.logText(), tok) {
		t.Error("the shop's log shows the token")
	}

	// The browser comes back after all, with the widget's approval: the
	// customer is thanked on the order page, and no second order is made.
	if p := b.post("/checkout/klarna/"+id+"/authorize", url.Values{"authorization_token": {auth}}); p.status != http.StatusSeeOther {
		t.Fatalf("the browser's return: %d", p.status)
	}
	page := b.get("/orders/" + id)
	if page.status != 200 || !strings.Contains(page.body, "Thank you! Klarna approved your payment.") {
		t.Errorf("order page %d: %.300s", page.status, page.body)
	}
	// Klarna repeats itself (a replay): nothing changes, not even the cart
	// the customer filled since.
	b.post("/cart/items", url.Values{"product_id": {"pour-over"}, "quantity": {"1"}})
	r, err := http.Post(fmt.Sprintf("%s/control/deliveries/%d/replay", k.sbURL, ds[0].ID), "application/json", nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("replay: %v %v", r, err)
	}
	r.Body.Close()
	if ds := k.sb.Deliveries.List(0); ds[0].Attempts[len(ds[0].Attempts)-1].Status != 200 {
		t.Errorf("the replay was answered %d, want 200", ds[0].Attempts[len(ds[0].Attempts)-1].Status)
	}
	if n := k.sb.State.Calls("klarna.create_order"); n != 1 {
		t.Errorf("create_order calls after the replay = %d, want 1", n)
	}
	if cart := b.get("/cart"); strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the replayed callback emptied the cart again")
	}
}

// A callback without the attempt's token, or with a bad body, is refused
// and changes nothing.
func TestKlarnaAuthorizationCallbackRefusals(t *testing.T) {
	k := newKlarnaApp(t)
	_, id, sid, auth := k.approvedGuest(t, "sencha")
	tok := k.callbackToken(t, id)
	cases := []struct {
		name, id, token, body string
		want                  int
	}{
		{"wrong token", id, "wrong-" + tok, authBody(auth, sid), http.StatusUnauthorized},
		{"no token", id, "", authBody(auth, sid), http.StatusUnauthorized},
		{"another order's path", "nosuchorder", tok, authBody(auth, sid), http.StatusNotFound},
		{"not JSON", id, tok, "authorization_token=x", http.StatusBadRequest},
		{"no authorization token", id, tok, authBody("", sid), http.StatusBadRequest},
		{"another session", id, tok, authBody(auth, "b5a2b7a4-0000-0000-0000-000000000000"), http.StatusBadRequest},
	}
	for _, c := range cases {
		if got := k.mustCallback(t, klarnaAuthorizationCallback, c.id, c.token, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	o, kp := k.order(t, id)
	if o.Status != db.StatusPending || kp.Submitted() || k.sb.State.Calls("klarna.create_order") != 0 {
		t.Fatalf("a refused callback changed the attempt: %s submitted %v, %d create_order calls",
			o.Status, kp.Submitted(), k.sb.State.Calls("klarna.create_order"))
	}
	if strings.Contains(k.logText(), tok) {
		t.Error("the log shows the token")
	}
	// The right one places the order.
	if got := k.mustCallback(t, klarnaAuthorizationCallback, id, tok, authBody(auth, sid)); got != 200 {
		t.Fatalf("the right callback: %d", got)
	}
	if o, _ := k.order(t, id); o.Status != db.StatusAuthorized {
		t.Errorf("after the right callback: %s", o.Status)
	}
}

// The browser's return and the callback at the same time: one order at
// Klarna, the cart emptied once, both answered.
func TestKlarnaAuthorizationCallbackRacingTheBrowserPlacesOnce(t *testing.T) {
	k := newKlarnaApp(t)
	for i := range 3 {
		b, id, sid, auth := k.approvedGuest(t, "sencha")
		tok := k.callbackToken(t, id)
		before := k.sb.State.Calls("klarna.create_order")
		var wg sync.WaitGroup
		var cbStatus, browserStatus int
		var cbErr, browserErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			cbStatus, cbErr = k.callback(klarnaAuthorizationCallback, id, tok, authBody(auth, sid))
		}()
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", k.srv.URL+"/checkout/klarna/"+id+"/authorize",
				strings.NewReader(url.Values{"authorization_token": {auth}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := b.c.Do(req)
			if err == nil {
				browserStatus = res.StatusCode
				res.Body.Close()
			}
			browserErr = err
		}()
		wg.Wait()
		if cbErr != nil || browserErr != nil || cbStatus != 200 || browserStatus != 303 {
			t.Fatalf("run %d: callback %d %v, browser %d %v", i, cbStatus, cbErr, browserStatus, browserErr)
		}
		if n := k.sb.State.Calls("klarna.create_order") - before; n != 1 {
			t.Errorf("run %d: %d create_order calls, want 1", i, n)
		}
		if o, _ := k.order(t, id); o.Status != db.StatusAuthorized || o.ProviderReference == "" {
			t.Errorf("run %d: order %s ref %q", i, o.Status, o.ProviderReference)
		}
		if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
			t.Errorf("run %d: the cart still holds the order's items", i)
		}
	}
}

// reviewedOrder is a guest's order Klarna's fraud check holds (PENDING),
// placed through the browser.
func (k *klarnaApp) reviewedOrder(t *testing.T) (*browser, string) {
	t.Helper()
	b := k.shopper(t, "", "pour-over")
	id, sid, _ := k.startKlarna(t, b)
	auth := k.control(t, "/control/klarna/sessions/"+sid+"/authorize", map[string]any{"persona": "review@example.com"})["authorization_token"].(string)
	if p := b.post("/checkout/klarna/"+id+"/authorize", url.Values{"authorization_token": {auth}}); p.status != 303 {
		t.Fatalf("authorize: %d", p.status)
	}
	if o, kp := k.order(t, id); o.Status != db.StatusAuthorized || kp.FraudStatus != klarna.FraudPending {
		t.Fatalf("order %s fraud %q, want authorized and PENDING", o.Status, kp.FraudStatus)
	}
	return b, id
}

func (k *klarnaApp) decideFraud(t *testing.T, id, status string) {
	t.Helper()
	o, _ := k.order(t, id)
	k.control(t, "/control/klarna/orders/"+o.ProviderReference+"/fraud", map[string]any{"fraud_status": status})
}

func notificationBody(orderID, event string) string {
	b, _ := json.Marshal(map[string]string{"order_id": orderID, "event_type": event})
	return string(b)
}

// Klarna accepts after its review: the notification, delivered by the
// sandbox, makes the order page say so, and the back office may ship
// (fraud_status ACCEPTED).
func TestKlarnaNotificationAcceptedEndsTheReview(t *testing.T) {
	k := newCallbackApp(t)
	b, id := k.reviewedOrder(t)
	if page := b.get("/orders/" + id); !strings.Contains(page.body, "Klarna is reviewing") { // and the thank-you is shown
		t.Fatalf("order page under review: %.300s", page.body)
	}
	k.decideFraud(t, id, "ACCEPTED")
	k.deliver()
	o, kp := k.order(t, id)
	if o.Status != db.StatusAuthorized || kp.FraudStatus != klarna.FraudAccepted || o.StatusDetail != klarnaAcceptedDetail {
		t.Fatalf("after ACCEPTED: %s fraud %q %q", o.Status, kp.FraudStatus, o.StatusDetail)
	}
	ds := k.sb.Deliveries.List(0)
	last := ds[len(ds)-1]
	if last.Operation != "klarna.fraud_notification" || last.State != "delivered" {
		t.Fatalf("delivery %+v", last)
	}
	page := b.get("/orders/" + id)
	if strings.Contains(page.body, "Klarna is reviewing") || !strings.Contains(page.body, "Klarna accepted this order") {
		t.Errorf("order page: %.300s", page.body)
	}
	// The same notification again changes nothing.
	tok := k.callbackToken(t, id)
	updated := o.UpdatedAt
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, notificationBody(o.ProviderReference, "FRAUD_RISK_ACCEPTED")); got != 200 {
		t.Fatalf("repeat: %d", got)
	}
	if o, kp := k.order(t, id); !o.UpdatedAt.Equal(updated) || kp.FraudStatus != klarna.FraudAccepted || o.Status != db.StatusAuthorized {
		t.Errorf("a repeated notification changed the order: %s %q %v", o.Status, kp.FraudStatus, o.UpdatedAt)
	}
}

// Klarna rejects: the order is cancelled with a calm word, nothing
// charged; the cart is not touched again.
func TestKlarnaNotificationRejectedCancelsTheOrder(t *testing.T) {
	k := newCallbackApp(t)
	b, id := k.reviewedOrder(t)
	k.decideFraud(t, id, "REJECTED")
	k.deliver()
	o, kp := k.order(t, id)
	if o.Status != db.StatusCancelled || kp.FraudStatus != klarna.FraudRejected || o.StatusDetail != klarnaRejectedDetail {
		t.Fatalf("after REJECTED: %s fraud %q %q", o.Status, kp.FraudStatus, o.StatusDetail)
	}
	if page := b.get("/orders/" + id); !strings.Contains(page.body, "Nothing was charged") {
		t.Errorf("order page: %.300s", page.body)
	}
}

// The shop acts on what Order Management says, not on the body: a
// notification saying ACCEPTED for an order Klarna rejected cancels it.
func TestKlarnaNotificationFollowsOrderManagementNotTheBody(t *testing.T) {
	k := newKlarnaApp(t)
	_, id := k.reviewedOrder(t)
	k.decideFraud(t, id, "REJECTED")
	o, _ := k.order(t, id)
	tok := k.callbackToken(t, id)
	reads := k.sb.State.Calls("klarna.om_get_order")
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, notificationBody(o.ProviderReference, "FRAUD_RISK_ACCEPTED")); got != 200 {
		t.Fatalf("notification: %d", got)
	}
	if k.sb.State.Calls("klarna.om_get_order") != reads+1 {
		t.Error("the shop did not read the order through Order Management")
	}
	if o, kp := k.order(t, id); o.Status != db.StatusCancelled || kp.FraudStatus != klarna.FraudRejected {
		t.Errorf("order %s fraud %q: the body's ACCEPTED was believed", o.Status, kp.FraudStatus)
	}
}

// Refusals and the answers that make Klarna ask again.
func TestKlarnaNotificationRefusalsAndRetries(t *testing.T) {
	k := newKlarnaApp(t)
	_, id := k.reviewedOrder(t)
	o, _ := k.order(t, id)
	tok := k.callbackToken(t, id)
	body := notificationBody(o.ProviderReference, "FRAUD_RISK_ACCEPTED")
	k.decideFraud(t, id, "ACCEPTED")

	if got := k.mustCallback(t, klarnaNotificationCallback, id, "wrong", body); got != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", got)
	}
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, `{"order_id":`); got != http.StatusBadRequest {
		t.Errorf("bad body: %d, want 400", got)
	}
	// An order this shop does not know: 200, so Klarna stops.
	if got := k.mustCallback(t, klarnaNotificationCallback, "nosuchorder", tok, body); got != 200 {
		t.Errorf("unknown order: %d, want 200", got)
	}
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, notificationBody("b5a2b7a4-0000-0000-0000-000000000000", "FRAUD_RISK_ACCEPTED")); got != 200 {
		t.Errorf("another Klarna order: %d, want 200", got)
	}
	// Order Management unavailable: 503, so Klarna sends it again.
	k.control(t, "/control/faults", map[string]any{"operation": "klarna.om_get_order", "status": 503, "times": 10})
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, body); got != http.StatusServiceUnavailable {
		t.Errorf("Order Management down: %d, want 503", got)
	}
	if o, kp := k.order(t, id); o.StatusDetail == klarnaAcceptedDetail || kp.FraudStatus != klarna.FraudPending {
		t.Fatalf("a refused or unanswered notification changed the order: %q %q", o.StatusDetail, kp.FraudStatus)
	}
	// Klarna's next try, once Order Management answers, ends the review.
	clear, _ := http.NewRequest("DELETE", k.sbURL+"/control/faults/klarna.om_get_order", nil)
	if r, err := http.DefaultClient.Do(clear); err != nil || r.StatusCode >= 300 {
		t.Fatalf("clearing the fault: %v %v", r, err)
	}
	if got := k.mustCallback(t, klarnaNotificationCallback, id, tok, body); got != 200 {
		t.Errorf("the retry: %d, want 200", got)
	}
	if o, kp := k.order(t, id); o.StatusDetail != klarnaAcceptedDetail || kp.FraudStatus != klarna.FraudAccepted {
		t.Errorf("after the retry: %q %q", o.StatusDetail, kp.FraudStatus)
	}
}

// No notification came (lost, or the shop was down for 24 hours): the
// order page asks Order Management itself, at most once a minute.
func TestKlarnaOrderPageAsksAboutAReviewNowAndThen(t *testing.T) {
	k := newKlarnaApp(t)
	b, id := k.reviewedOrder(t)
	reads := k.sb.State.Calls("klarna.om_get_order")
	if page := b.get("/orders/" + id); !strings.Contains(page.body, "Klarna is reviewing") {
		t.Fatalf("order page: %.300s", page.body)
	}
	if n := k.sb.State.Calls("klarna.om_get_order") - reads; n != 1 {
		t.Fatalf("%d reads for the first view, want 1", n)
	}
	k.decideFraud(t, id, "ACCEPTED")
	if page := b.get("/orders/" + id); !strings.Contains(page.body, "Klarna is reviewing") {
		t.Error("a reload within the minute asked Klarna again")
	}
	if n := k.sb.State.Calls("klarna.om_get_order") - reads; n != 1 {
		t.Fatalf("%d reads after a reload within the minute, want 1", n)
	}
	k.clock.Advance(klarnaFraudRecheckAfter)
	if page := b.get("/orders/" + id); strings.Contains(page.body, "Klarna is reviewing") || !strings.Contains(page.body, "Klarna accepted this order") {
		t.Errorf("order page a minute later: %.300s", page.body)
	}
	// Accepted: no more questions.
	k.clock.Advance(klarnaFraudRecheckAfter)
	b.get("/orders/" + id)
	if n := k.sb.State.Calls("klarna.om_get_order") - reads; n != 2 {
		t.Errorf("%d reads in all, want 2", n)
	}
}

// Against a real Klarna API on a plain-http base URL (a shop run locally,
// out of Klarna's reach; Klarna wants https) the shop sends no callback
// URLs; on https it does.
func TestKlarnaCallbackURLsOnlyWhereKlarnaCanCall(t *testing.T) {
	for _, c := range []struct {
		base string
		want bool
	}{{"http://localhost:8080", false}, {"https://shop.example", true}} {
		k := newKlarnaApp(t, func(d *Deps) { d.Config.Klarna.Mode, d.Config.ShopBaseURL = config.Real, c.base })
		b := k.shopper(t, "", "sencha")
		id, sid, _ := k.startKlarna(t, b)
		_, kp := k.order(t, id)
		r, err := http.Get(k.sbURL + "/control/exchanges?operation=klarna.create_session")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body.Close()
		sent := strings.Contains(string(raw), `authorization/`+id)
		if sent != c.want || (kp.CallbackToken != "") != c.want || !strings.Contains(string(raw), sid) {
			t.Errorf("%s: callback URL sent %v, token kept %v; want %v", c.base, sent, kp.CallbackToken != "", c.want)
		}
	}
}

// Klarna slower than the callback's deadline: the callback is answered 200
// in time (the request is stored), and the work it started places the
// order once.
func TestKlarnaAuthorizationCallbackAnswersInTimeWhenKlarnaIsSlow(t *testing.T) {
	k := newKlarnaApp(t)
	b, id, sid, auth := k.approvedGuest(t, "sencha")
	tok := k.callbackToken(t, id)
	k.tinyDeadline()
	k.sb.Delay(t, "klarna.create_order", "1s", 1)
	if got := k.mustCallback(t, klarnaAuthorizationCallback, id, tok, authBody(auth, sid)); got != 200 {
		t.Fatalf("callback: %d, want 200", got)
	}
	if o, kp := k.order(t, id); o.Status != db.StatusPending || !kp.Submitted() {
		t.Fatalf("answered with the order %s (submitted %v): want it stored and still at Klarna", o.Status, kp.Submitted())
	}
	eventually(t, "the order is placed", func() bool { return orderStatus(t, k.testApp, id).Status == db.StatusAuthorized })
	if n := k.sb.State.Calls("klarna.create_order"); n != 1 {
		t.Errorf("create_order calls = %d, want 1", n)
	}
	if cart := b.get("/cart"); !strings.Contains(cart.body, "Your cart is empty") {
		t.Error("the order's items are still in the cart")
	}
}

// Klarna rejects an order part of which was captured meanwhile (in the
// Merchant Portal, within the 4 hours in which a capture accepts the
// risk): money was taken, so the order is not cancelled. It keeps its
// status, says what happened, and the log asks a person to look.
func TestKlarnaNotificationRejectedAfterACaptureKeepsTheOrder(t *testing.T) {
	k := newCallbackApp(t)
	_, id := k.reviewedOrder(t)
	k.decideFraud(t, id, "REJECTED")
	o, _ := k.order(t, id)
	if _, err := k.Klarna.Capture(t.Context(), o.ProviderReference, 1000, "", "portal-capture"); err != nil {
		t.Fatal(err)
	}
	k.deliver()
	o, kp := k.order(t, id)
	if o.Status != db.StatusAuthorized || kp.FraudStatus != klarna.FraudRejected || o.StatusDetail != klarnaRejectedAfterCaptureDetail {
		t.Fatalf("after REJECTED with a capture: %s fraud %q %q", o.Status, kp.FraudStatus, o.StatusDetail)
	}
	if o.Amounts.Captured != 1000 {
		t.Errorf("captured %d, want Klarna's 1000 recorded", o.Amounts.Captured)
	}
	if logs := k.logText(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "after part of it was captured") {
		t.Errorf("no error for a person in the log")
	}
}
