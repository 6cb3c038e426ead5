package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/db"
	"refshop/views"
	"refshop/web/config"
)

// paidWithARetry is a Vipps checkout by ann whose first create the sandbox
// refuses with a 503, approved and captured, on a shop that records its
// exchanges. It returns the order's public id, its payment, and every
// secret the checkout involved: the credentials the spy saw go out (the
// sandbox's Bearer tokens among them), the landing page's token and the
// configured provider credentials.
func paidWithARetry(t *testing.T) (v *vippsShop, b *browser, id string, vp db.VippsPayment, secrets []string) {
	t.Helper()
	v, _, sp := recordedVippsShop(t)
	b = v.browser(t)
	b.signUp("ann@example.com")
	v.fault(t, "vipps.create_payment", http.StatusServiceUnavailable, 1)
	landing := v.startPayment(t, b)
	back := v.answer(t, landing, "approve")
	if p := b.get(back); p.status != http.StatusSeeOther {
		t.Fatalf("return: %d", p.status)
	}
	id = orderIDFrom(t, back)
	// The order ships: the back office captures it (admin.go).
	if flash, _ := v.adminBrowser(t).act(t, id, "capture", ship); !strings.Contains(flash, "captured") {
		t.Fatalf("ship: %q", flash)
	}
	o := v.order(t, id)
	if o.Status != db.StatusCaptured {
		t.Fatalf("order %s", o.Status)
	}
	vp = v.payment(t, o.ID)
	secrets = sp.credentials()
	if len(secrets) < 2 {
		t.Fatalf("the spy saw %d credentials", len(secrets))
	}
	secrets = append(secrets, landing.Query().Get("token"), "eyJ0eXAiOiJKV1Qi")
	for _, name := range []string{"VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "KLARNA_PASSWORD", "KLARNA_NA_PASSWORD",
		"KLARNA_CLIENT_SECRET", "ALTPAY_CLIENT_SECRET"} {
		secrets = append(secrets, config.Defaults[name])
	}
	return v, b, id, vp, secrets
}

// noSecretIn fails the test when text holds one of secrets.
func noSecretIn(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (…%s)", what, s[len(s)-4:])
		}
	}
}

// shipKey is the Idempotency-Key the back office's capture of the order
// sent.
func (v *vippsShop) shipKey(t *testing.T, id string) string {
	t.Helper()
	ops := v.operations(t, v.order(t, id).ID)
	if len(ops) != 1 || ops[0].Kind != db.OpCapture {
		t.Fatalf("operations %+v, want the one capture", ops)
	}
	return ops[0].Key
}

// The order page of a Vipps payment lists the shop's calls in the order
// they started (the access token, the refused create, its retry after the
// 503 with the same idempotency key, the get and the event log on the
// return, the capture when the order shipped), each opening
// to redacted headers and bodies; no credential and no Bearer token the
// sandbox issued is anywhere on the page.
func TestTheOrderPageShowsHowAVippsPaymentHappened(t *testing.T) {
	v, b, id, vp, secrets := paidWithARetry(t)
	// No flush by the test: the page waits for the recorder itself.
	p, doc := b.orderPage(t, id)

	sec := doc.Find("section[data-testid=exchanges]")
	if h := strings.TrimSpace(sec.Find("h2").First().Text()); h != "How this payment happened" {
		t.Errorf("section heading %q", h)
	}
	if note := sec.Find("[data-testid=exchanges-browser-note]").Text(); note != browserCallsShown {
		t.Errorf("the page does not say the browser's own calls are shown as the sandbox received them: %q", note)
	}
	if href, _ := sec.Find("a[data-testid=exchanges-har]").Attr("href"); href != "/orders/"+id+"/exchanges.har" {
		t.Errorf("HAR link %q", href)
	}
	items := sec.Find("li[data-testid=exchange]")
	var ops []string
	items.Each(func(_ int, li *goquery.Selection) { ops = append(ops, li.AttrOr("data-operation", "")) })
	want := []string{"accesstoken", "create_payment", "create_payment", "get_payment", "events", "capture"}
	if !strings.HasPrefix(strings.Join(ops, " "), strings.Join(want, " ")) {
		t.Fatalf("listed %v, want %v first", ops, want)
	}
	for _, op := range ops[len(want):] {
		if op != "get_payment" && op != "events" { // showing the order asks Vipps for its state and events
			t.Errorf("listed %v: %s after the capture", ops, op)
		}
	}
	text := func(i int, sel string) string { return strings.TrimSpace(items.Eq(i).Find(sel).First().Text()) }
	checks := []struct {
		i         int
		sel, want string
	}{
		{0, "h3", "Vipps MobilePay: get an access token"},
		{0, "[data-testid=exchange-request]", "POST /accesstoken/get"},
		{1, "h3", "Vipps MobilePay: create the payment"},
		{1, "[data-testid=exchange-request]", "POST /epayment/v1/payments"},
		{1, "[data-testid=exchange-status]", "503 Service Unavailable"},
		{1, "[data-testid=exchange-key]", vp.CreateKey},
		{2, "[data-testid=exchange-status]", "201 Created"},
		{2, "[data-testid=exchange-try]", "try 2 after 503"},
		{2, "[data-testid=exchange-key]", vp.CreateKey},
		{3, "[data-testid=exchange-request]", "GET /epayment/v1/payments/{reference}"},
		{5, "[data-testid=exchange-request]", "POST /epayment/v1/payments/{reference}/capture"},
		{5, "[data-testid=exchange-key]", v.shipKey(t, id)},
	}
	for _, c := range checks {
		if got := text(c.i, c.sel); got != c.want {
			t.Errorf("exchange %d %s: %q, want %q", c.i+1, c.sel, got, c.want)
		}
	}
	if n := items.Eq(1).Find("[data-testid=exchange-try]").Length(); n != 0 {
		t.Errorf("the first create says it was a retry")
	}
	// The details: the credentials as fingerprints, the bodies pretty-printed.
	// The merchant's own credentials show nothing of their value: a keyed
	// fingerprint only (these pages are the customer's).
	if h := text(0, "[data-testid=exchange-req-headers]"); !strings.Contains(h, "Client_secret: [redacted credential #") ||
		!strings.Contains(h, "Ocp-Apim-Subscription-Key: [redacted credential #") {
		t.Errorf("the token request's headers do not show the client secret and subscription key as credential marks:\n%s", h)
	}
	if h := text(1, "[data-testid=exchange-req-headers]"); !strings.Contains(h, "Authorization: Bearer [redacted …") {
		t.Errorf("the create's headers do not show the access token as a fingerprint:\n%s", h)
	}
	if body := text(0, "[data-testid=exchange-resp-body]"); !strings.Contains(body, "\"access_token\": \"[redacted …") {
		t.Errorf("the token answer's body does not show the token as a fingerprint, indented:\n%s", body)
	}
	if got := text(3, "[data-testid=exchange-url]"); !strings.Contains(got, vp.Reference) {
		t.Errorf("the get's URL %q does not name the payment %s", got, vp.Reference)
	}
	if !strings.Contains(items.Eq(0).Find("details summary").Text(), "Headers and bodies") {
		t.Errorf("no details to open")
	}
	noSecretIn(t, "the order page", p.body, secrets)
	if v.Recorder.Dropped() != 0 {
		t.Errorf("the recorder dropped %d exchanges", v.Recorder.Dropped())
	}
}

// The HAR download holds the same exchanges in the same order, parses as
// HAR 1.2 JSON with every field a reader needs, every request URL valid,
// and no secret.
func TestTheHARDownloadHoldsTheOrdersExchangesInOrderWithNoSecret(t *testing.T) {
	v, b, id, vp, secrets := paidWithARetry(t)
	p := b.get("/orders/" + id + "/exchanges.har")
	if p.status != http.StatusOK {
		t.Fatalf("HAR: %d %s", p.status, p.body)
	}
	if cd := p.header.Get("Content-Disposition"); cd != `attachment; filename="refshop-order-`+id+`.har"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	noSecretIn(t, "the HAR", p.body, secrets)

	var doc struct {
		Log struct {
			Version string `json:"version"`
			Creator struct {
				Name, Version string
			} `json:"creator"`
			Entries []map[string]json.RawMessage `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(p.body), &doc); err != nil {
		t.Fatalf("the HAR is not JSON: %v", err)
	}
	if doc.Log.Version != "1.2" || doc.Log.Creator.Name != "refshop" || doc.Log.Creator.Version == "" {
		t.Errorf("log: version %q, creator %+v", doc.Log.Version, doc.Log.Creator)
	}
	stored, _, err := v.Store.ExchangesByOrder(t.Context(), v.order(t, id).ID, orderExchangeLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Log.Entries) != len(stored) || len(stored) < 5 {
		t.Fatalf("%d entries, %d exchanges stored", len(doc.Log.Entries), len(stored))
	}
	var prev time.Time
	for i, e := range doc.Log.Entries {
		for _, k := range []string{"startedDateTime", "time", "request", "response", "cache", "timings"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entry %d has no %s", i, k)
			}
		}
		var entry struct {
			StartedDateTime string  `json:"startedDateTime"`
			Time            float64 `json:"time"`
			Operation       string  `json:"_operation"`
			Key             string  `json:"_idempotencyKey"`
			Try             int     `json:"_try"`
			Request         map[string]json.RawMessage
			Response        map[string]json.RawMessage
		}
		raw, _ := json.Marshal(e)
		if err := json.Unmarshal(raw, &entry); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		for _, k := range []string{"method", "url", "httpVersion", "headers", "queryString", "headersSize", "bodySize", "cookies"} {
			if _, ok := entry.Request[k]; !ok {
				t.Errorf("entry %d's request has no %s", i, k)
			}
		}
		for _, k := range []string{"status", "statusText", "httpVersion", "headers", "content", "redirectURL", "headersSize", "bodySize", "cookies"} {
			if _, ok := entry.Response[k]; !ok {
				t.Errorf("entry %d's response has no %s", i, k)
			}
		}
		at, err := time.Parse(time.RFC3339, entry.StartedDateTime)
		if err != nil || at.Before(prev) {
			t.Errorf("entry %d started %q (%v), before the entry before it (%v)", i, entry.StartedDateTime, err, prev)
		}
		prev = at
		if entry.Operation != stored[i].Operation || entry.Key != stored[i].IdempotencyKey || entry.Try != stored[i].Try {
			t.Errorf("entry %d: %s key %q try %d, stored %s key %q try %d", i, entry.Operation, entry.Key, entry.Try,
				stored[i].Operation, stored[i].IdempotencyKey, stored[i].Try)
		}
		var u string
		json.Unmarshal(entry.Request["url"], &u)
		expectValidURL(t, u)
		var status int
		json.Unmarshal(entry.Response["status"], &status)
		if status != stored[i].Status {
			t.Errorf("entry %d: status %d, stored %d", i, status, stored[i].Status)
		}
	}
	if stored[1].Status != 503 || stored[2].Try != 2 || stored[2].IdempotencyKey != vp.CreateKey {
		t.Errorf("the HAR's source is not the checkout with a retry: %+v", stored[1:3])
	}
}

// expectValidURL fails the test unless u parses with net/url, holds only
// the characters a URL may (RFC 3986), and has no fragment (a redaction
// mark's "#" left bare would start one).
func expectValidURL(t *testing.T, u string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Errorf("URL %q: %v", u, err)
		return
	}
	if parsed.Scheme == "" || parsed.Host == "" || parsed.Fragment != "" {
		t.Errorf("URL %q: scheme %q, host %q, fragment %q", u, parsed.Scheme, parsed.Host, parsed.Fragment)
	}
	for i := 0; i < len(u); i++ {
		if !urlByte(u[i]) || u[i] == '#' {
			t.Errorf("URL %q holds %q", u, u[i])
			return
		}
	}
}

// Another customer, signed in or not, gets 404 for both the order page and
// its HAR: the same owner check.
func TestAnotherCustomerGetsNotFoundForTheOrderPageAndItsHAR(t *testing.T) {
	v, b, id, _, _ := paidWithARetry(t)
	if p := b.get("/orders/" + id + "/exchanges.har"); p.status != http.StatusOK {
		t.Fatalf("the owner's HAR: %d", p.status)
	}
	bob := v.browser(t)
	bob.signUp("bob@example.com")
	guest := v.browser(t)
	for who, other := range map[string]*browser{"another account": bob, "a guest": guest} {
		for _, path := range []string{"/orders/" + id, "/orders/" + id + "/exchanges.har"} {
			p := other.get(path)
			if p.status != http.StatusNotFound {
				t.Errorf("%s got %d for %s", who, p.status, path)
			}
			if strings.Contains(p.body, "How this payment happened") || strings.Contains(p.body, `"entries"`) {
				t.Errorf("%s sees the exchanges at %s", who, path)
			}
		}
	}
	if p := bob.get("/orders/no-such-order/exchanges.har"); p.status != http.StatusNotFound {
		t.Errorf("an unknown order's HAR: %d", p.status)
	}
}

// An order with no recorded exchange says so, with no download.
func TestAnOrderWithNoRecordedExchangesSaysSo(t *testing.T) {
	v := newVippsShop(t) // its client records nothing
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "approve")
	b.get(back)
	_, doc := b.orderPage(t, orderIDFrom(t, back))
	if got := doc.Find("[data-testid=no-exchanges]").Text(); !strings.Contains(got, "no recorded calls") {
		t.Errorf("the page says %q", got)
	}
	if doc.Find("[data-testid=exchange], [data-testid=exchanges-har]").Length() != 0 {
		t.Error("the page lists exchanges or offers a download")
	}
}

// A call that got no answer is listed as such, and its HAR entry has
// status 0 and why; a URL with redaction marks in its path and query (a
// customer token) becomes a valid URL that still reads the marks.
func TestAnUnansweredCallAndARedactedURLInTheListAndTheHAR(t *testing.T) {
	mark := "[redacted …Xy7Q #1f0c9a2b]"
	x := db.Exchange{StartedAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Duration: 20 * time.Second,
		Provider: "klarna", Operation: "customer_token_order", Method: "POST",
		PathTemplate: "/customer-token/v1/tokens/{customer_token}/order",
		URL:          "https://api.klarna.example/customer-token/v1/tokens/" + mark + "/order?token=" + mark + "&x=1",
		Error:        "timeout", Try: 2, RetryReason: "timeout", IdempotencyKey: "k-1",
		ReqHeaders: http.Header{"Content-Type": {"application/json"}}, ReqBody: `{"a":1}`}

	var page bytes.Buffer
	ev := exchangeView(1, x)
	if err := views.OrderExchanges(views.ExchangesView{HARURL: "/h", Items: []views.ExchangeView{ev}}).Render(t.Context(), &page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Klarna: create an order with the customer token", "no answer: timeout", "try 2 after timeout",
		"took 20.0 s", "No answer came", "POST /customer-token/v1/tokens/{customer_token}/order", "{\n  &#34;a&#34;: 1\n}"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the list does not say %q:\n%s", want, page.String())
		}
	}

	e := harEntryOf(x)
	expectValidURL(t, e.Request.URL)
	u, _ := url.Parse(e.Request.URL)
	if !strings.Contains(u.Path, mark) || u.Query().Get("token") != mark || u.Query().Get("x") != "1" {
		t.Errorf("URL %q reads path %q, query %v", e.Request.URL, u.Path, u.Query())
	}
	if len(e.Request.QueryString) != 2 || e.Request.QueryString[0] != (harNameValue{Name: "token", Value: mark}) {
		t.Errorf("queryString %+v", e.Request.QueryString)
	}
	if e.Response.Status != 0 || e.Response.Error != "timeout" || e.Response.Comment != "no answer: timeout" ||
		e.Response.Headers == nil || e.Response.Cookies == nil {
		t.Errorf("response %+v", e.Response)
	}
	if e.Request.PostData == nil || e.Request.PostData.Text != `{"a":1}` || e.Time != 20000 {
		t.Errorf("request %+v, time %v", e.Request, e.Time)
	}
}

// An order with more exchanges than the page lists (a page that refreshes
// itself adds calls for as long as they are kept) shows its latest
// orderExchangeLimit, says how many earlier ones it leaves out, and its HAR
// holds the same ones and says so in its log comment.
func TestAnOrdersPageAndHARHoldItsLatestExchangesAndSayHowManyAreLeftOut(t *testing.T) {
	v := newVippsShop(t) // its client records nothing: the exchanges are stored here
	b := v.browser(t)
	back := v.answer(t, v.startPayment(t, b), "approve")
	b.get(back)
	id := orderIDFrom(t, back)
	o := v.order(t, id)
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	const extra = 3
	for i := range orderExchangeLimit + extra {
		if err := v.Store.RecordExchange(t.Context(), db.Exchange{StartedAt: t0.Add(time.Duration(i) * time.Second), OrderID: o.ID,
			Provider: "vipps", Operation: "get_payment", Method: "GET", URL: fmt.Sprintf("https://sb.example/vipps/epayment/v1/payments/r?n=%d", i),
			Status: 200}); err != nil {
			t.Fatal(err)
		}
	}

	_, doc := b.orderPage(t, id)
	items := doc.Find("[data-testid=exchange]")
	if items.Length() != orderExchangeLimit {
		t.Errorf("the page lists %d exchanges, want %d", items.Length(), orderExchangeLimit)
	}
	if first := items.First().Find("[data-testid=exchange-url]").Text(); !strings.HasSuffix(first, fmt.Sprintf("n=%d", extra)) {
		t.Errorf("the first listed is %q, want the %dth", first, extra+1)
	}
	if got := doc.Find("[data-testid=exchanges-omitted]").Text(); !strings.Contains(got, "The 3 earliest exchanges are not shown") {
		t.Errorf("the page says %q", got)
	}

	p := b.get("/orders/" + id + "/exchanges.har")
	var har struct {
		Log struct {
			Comment string `json:"comment"`
			Entries []struct {
				Request struct{ URL string } `json:"request"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(p.body), &har); err != nil {
		t.Fatal(err)
	}
	if len(har.Log.Entries) != orderExchangeLimit || !strings.HasSuffix(har.Log.Entries[0].Request.URL, fmt.Sprintf("n=%d", extra)) {
		t.Errorf("the HAR has %d entries, the first %+v", len(har.Log.Entries), har.Log.Entries[0])
	}
	if !strings.Contains(har.Log.Comment, "The 3 earliest exchanges are left out") {
		t.Errorf("the HAR's comment: %q", har.Log.Comment)
	}

	// A list within the limit says nothing of the kind.
	var page bytes.Buffer
	all := orderExchangeList{Items: []db.Exchange{{Provider: "vipps", Operation: "get_payment", Method: "GET", URL: "u", Status: 200}}}
	if err := views.OrderExchanges(v.exchangesView(o, all)).Render(t.Context(), &page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "exchanges-omitted") || strings.Contains(orderHARDoc(o, all).Log.Comment, "left out") {
		t.Errorf("a whole list says some are left out: %s", page.String())
	}
}
