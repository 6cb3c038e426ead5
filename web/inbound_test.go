package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"refshop/db"
	"refshop/web/outbound"
	"refshop/web/vipps"
)

// providerCalls is what the store holds of the providers' calls to the
// shop once rec has stored everything: those filed under order orderID, in
// the order they started, and how many are filed under no order.
func providerCalls(t *testing.T, a *testApp, rec *outbound.Recorder, orderID int64) (mine []db.Exchange, orphans int) {
	t.Helper()
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	xs, _, err := a.Store.ExchangesByOrder(t.Context(), orderID, orderExchangeLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if x.Is(db.OriginProvider) {
			mine = append(mine, x)
		}
	}
	if err := a.DB.Read.QueryRow(`SELECT count(*) FROM exchanges WHERE order_id IS NULL AND origin = 'provider'`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	return mine, orphans
}

// expectProviderCallsShown checks order id's page and HAR as b sees them:
// n calls listed as the provider's to the shop, each under heading, drawn
// from the lifeline named lifeline to the shop's, and none of secrets in
// either.
func expectProviderCallsShown(t *testing.T, b *browser, id, heading, lifeline string, n int, secrets []string) *goquery.Document {
	t.Helper()
	p, doc := b.orderPage(t, id)
	items := doc.Find("[data-testid=exchange][data-origin=provider]")
	if items.Length() != n {
		t.Errorf("%d calls from the provider listed, want %d", items.Length(), n)
	}
	items.Each(func(i int, s *goquery.Selection) {
		if h := strings.Join(strings.Fields(s.Find("h3").Text()), " "); h != heading {
			t.Errorf("call %d reads %q, want %q", i, h, heading)
		}
	})
	shopX := doc.Find("g.seq-head-shop text").First().AttrOr("x", "shop?")
	providerX := doc.Find("g.seq-head").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.ChildrenFiltered("title").Text() == lifeline
	}).Find("text").First().AttrOr("x", "provider?")
	rows := doc.Find("g.seq-from-provider")
	if rows.Length() != n {
		t.Errorf("%d rows of the diagram from the provider, want %d", rows.Length(), n)
	}
	rows.Each(func(i int, s *goquery.Selection) {
		req := s.Find("g.seq-request")
		from := req.Find("line").AttrOr("x1", "")
		to, _, _ := strings.Cut(req.Find("polygon").AttrOr("points", ""), ",")
		if from != providerX || to != shopX {
			t.Errorf("row %d's request runs from x=%s to x=%s, want from %s (%s) to %s (the shop)", i, from, to, providerX, lifeline, shopX)
		}
	})
	noSecretIn(t, "the order page", p.body, secrets)

	h := b.get("/orders/" + id + "/exchanges.har")
	var doc2 struct {
		Log struct {
			Entries []struct {
				Origin  string `json:"_origin"`
				Event   string `json:"_event"`
				Comment string `json:"comment"`
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
				Response struct {
					Status int `json:"status"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	if h.status != http.StatusOK || json.Unmarshal([]byte(h.body), &doc2) != nil {
		t.Fatalf("HAR: %d %.200s", h.status, h.body)
	}
	got := 0
	for _, e := range doc2.Log.Entries {
		if e.Origin != "provider" {
			continue
		}
		got++
		if e.Comment != heading || e.Response.Status == 0 {
			t.Errorf("HAR entry %q answered %d, want %q", e.Comment, e.Response.Status, heading)
		}
		expectValidURL(t, e.Request.URL)
	}
	if got != n {
		t.Errorf("%d HAR entries from the provider, want %d", got, n)
	}
	noSecretIn(t, "the HAR", h.body, secrets)
	return doc
}

// Vipps MobilePay's webhook deliveries are the order's exchanges, each
// delivery its own (a repeat too), with the shop's answer; the signature
// and the secret are in no column. A delivery the shop refused, or about a
// payment it does not know, is kept under no order and breaks nothing.
func TestVippsWebhookDeliveriesAreTheOrdersExchanges(t *testing.T) {
	v, rec, _ := recordedVippsShop(t)
	v.storeWebhook(t)
	b := v.browser(t)
	id := v.approveOnly(t, b)
	ev := v.event(t, id, "AUTHORIZED")
	var sent []string
	deliver := func(ev vipps.WebhookEvent, wantCode int, wantAnswer string, edit ...func(*delivery)) {
		t.Helper()
		code, answer, authz := v.deliverSigned(t, ev, edit...)
		if code != wantCode || answer != wantAnswer {
			t.Fatalf("delivery answered %d %q, want %d %q", code, answer, wantCode, wantAnswer)
		}
		_, sig, _ := strings.Cut(authz, "&Signature=")
		sent = append(sent, sig)
	}
	deliver(ev, http.StatusOK, "ok\n")
	deliver(ev, http.StatusOK, "already received\n") // Vipps repeats itself
	deliver(ev, http.StatusUnauthorized, "signature not accepted\n", func(d *delivery) { d.secret = "not-the-registrations-secret" })
	stranger := ev
	stranger.Reference = "another-shops-reference"
	deliver(stranger, http.StatusOK, "unknown reference\n")

	o := v.order(t, id)
	mine, orphans := providerCalls(t, v.testApp, rec, o.ID)
	if len(mine) != 2 || orphans != 2 {
		t.Fatalf("%d deliveries under the order, %d under none; want 2 and 2", len(mine), orphans)
	}
	for i, want := range []string{"ok\n", "already received\n"} {
		x := mine[i]
		if x.Provider != "vipps" || x.Operation != "webhook_delivery" || x.Event != "epayments.payment.authorized.v1" ||
			x.Method != "POST" || x.PathTemplate != vippsWebhookPath || !strings.HasSuffix(x.URL, vippsWebhookPath) ||
			x.Status != http.StatusOK || x.RespBody != want || x.UserID != o.UserID || x.RequestID == "" ||
			!strings.Contains(x.ReqBody, ev.Reference) {
			t.Errorf("delivery %d stored as %+v", i, x)
		}
		if auth := x.ReqHeaders.Get("Authorization"); !strings.HasPrefix(auth,
			"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=[redacted credential #") {
			t.Errorf("delivery %d's Authorization reads %q", i, auth)
		}
	}
	secrets := append(sent, hookSecret)
	scanExchanges(t, v.DB, secrets)

	doc := expectProviderCallsShown(t, b, id, "From Vipps MobilePay to the shop: webhook epayments.payment.authorized.v1",
		"Vipps MobilePay API", 2, secrets)
	// The shop's own calls are listed as before, beside the deliveries.
	if doc.Find("[data-testid=exchange][data-origin=shop][data-operation=create_payment]").Length() != 1 {
		t.Error("the shop's create call is not listed")
	}
	// No signature is taken for a token.
	if toks := doc.Find("[data-testid=token]"); strings.Contains(toks.Text(), "Vipps Authorization") || toks.Length() != 1 {
		t.Errorf("tokens listed: %q", toks.Text())
	}
}

// Klarna's authorization callback is the order's exchange, its replay one
// more; the one-time token in its URL is a fingerprint (and the page lists
// it among the payment's tokens), and a call with another token is kept
// under no order.
func TestKlarnaCallbacksAreTheOrdersExchanges(t *testing.T) {
	var rec *outbound.Recorder
	k := newCallbackApp(t, recordInStore(t, nil, &rec))
	b, id, sid, auth := k.approvedGuest(t, "sencha")
	k.deliver()
	ds := k.sb.Deliveries.List(0)
	if len(ds) != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
	if _, err := k.sb.Deliveries.Replay(t.Context(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	const forged = "not-the-token-of-this-attempt"
	if code := k.mustCallback(t, "authorization", id, forged, authBody(auth, sid)); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token answered %d", code)
	}
	tok := k.callbackToken(t, id)

	o, _ := k.order(t, id)
	mine, orphans := providerCalls(t, k.testApp, rec, o.ID)
	if len(mine) != 2 || orphans != 1 {
		t.Fatalf("%d callbacks under the order, %d under none; want 2 and 1", len(mine), orphans)
	}
	for i, x := range mine {
		if x.Provider != "klarna" || x.Operation != "authorization_callback" || x.Event != "" || x.Status != http.StatusOK ||
			x.PathTemplate != "/callbacks/klarna/authorization/{order}" || !strings.Contains(x.URL, "/authorization/"+id+"?token=[redacted ") ||
			!strings.Contains(x.ReqBody, sid) {
			t.Errorf("callback %d stored as %+v", i, x)
		}
	}
	secrets := []string{tok, auth, forged}
	scanExchanges(t, k.DB, secrets)

	doc := expectProviderCallsShown(t, b, id, "From Klarna to the shop: authorization callback", "Klarna Payments API (Europe)", 2, secrets)
	callbackTokens := doc.Find("[data-testid=token]").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.Contains(s.Text(), "Klarna callback token")
	})
	if callbackTokens.Length() != 1 || callbackTokens.Find("[data-testid=token-event]").Length() != 2 {
		t.Errorf("the callback token's life: %q", callbackTokens.Text())
	}
}

// Alternative Payments' invoice_paid deliveries are the order's exchanges,
// a replay one more; the bearer secret_key is in no column, and a delivery
// with another bearer is kept under no order.
func TestAltpayWebhookDeliveriesAreTheOrdersExchanges(t *testing.T) {
	var rec *outbound.Recorder
	hw := newHookWorld(t, recordInStore(t, nil, &rec))
	hw.subscribe(t, hw.App)
	b := hw.browser(t)
	b.signUp("tess@example.com")
	order, invoice := hw.paidInvoice(t, b, true)
	hw.sb.Deliveries.RunDue(t.Context())
	ds := hw.sb.Deliveries.List(0)
	if len(ds) != 1 {
		t.Fatalf("deliveries %+v", ds)
	}
	if _, err := hw.sb.Deliveries.Replay(t.Context(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	const forged = "Bearer not-the-shops-secret-key"
	if code, _ := hw.deliver(t, forged, paidEvent(invoice)); code != http.StatusUnauthorized {
		t.Fatalf("another bearer answered %d", code)
	}
	key := hw.secretKey(t)

	o, err := hw.Store.OrderByPublicID(t.Context(), order)
	if err != nil {
		t.Fatal(err)
	}
	mine, orphans := providerCalls(t, hw.testApp, rec, o.ID)
	if len(mine) != 2 || orphans != 1 {
		t.Fatalf("%d deliveries under the order, %d under none; want 2 and 1", len(mine), orphans)
	}
	for i, want := range []string{`{"status":"settled"}`, `{"status":"duplicate"}`} {
		x := mine[i]
		if x.Provider != "altpay" || x.Operation != "webhook_delivery" || x.Event != "invoice_paid" || x.Status != http.StatusOK ||
			strings.TrimSpace(x.RespBody) != want || !strings.Contains(x.ReqBody, invoice) {
			t.Errorf("delivery %d stored as %+v", i, x)
		}
		if auth := x.ReqHeaders.Get("Authorization"); !strings.HasPrefix(auth, "Bearer [redacted credential #") {
			t.Errorf("delivery %d's Authorization reads %q", i, auth)
		}
	}
	secrets := []string{key, strings.TrimPrefix(forged, "Bearer ")}
	scanExchanges(t, hw.DB, secrets)
	// No call of the shop's to Alternative Payments is stored here (this
	// world records them apart): the deliveries come from its API by name.
	expectProviderCallsShown(t, b, order, "From Alternative Payments to the shop: webhook invoice_paid", "Alternative Payments API", 2, secrets)
}
