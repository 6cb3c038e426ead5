package exchanges_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/web/clock"
	"refshop/web/sandbox"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/exchanges"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

const (
	shopURL = "http://shop.test:8080"

	altpayID, altpaySecret = "refshop-test-client", "altpay-client-secret-123"
	klarnaUser, klarnaPass = "PK_merchant", "klarna-api-password-123"
	vippsID, vippsSecret   = "5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b", "vipps-client-secret-123=="
	vippsKey, vippsMSN     = "my-subscription-key-5c1d", "123456" // not the default: the index shows the default key
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

type env struct {
	t  *testing.T
	sb *sandboxtest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandboxtest.Start(t, control.Config{ShopBaseURL: shopURL,
		Klarna: control.KlarnaConfig{Enabled: true, Username: klarnaUser, Password: klarnaPass, NAUsername: "PN_merchant", NAPassword: "na-password"},
		Vipps:  control.VippsConfig{Enabled: true, ClientID: vippsID, ClientSecret: vippsSecret, SubscriptionKey: vippsKey, MSN: vippsMSN},
		Altpay: control.AltpayConfig{Enabled: true, ClientID: altpayID, ClientSecret: altpaySecret},
	}, clock.NewManual(t0))
	return &env{t: t, sb: sb}
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// Browser headers: what Chromium sends on a cross-origin fetch (the
// Alternative Payments snippet) and on a navigation (the landing page). Go's
// client, the "server", sends neither.
var (
	fetchFromShop = map[string]string{"Origin": shopURL, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"}
	navigation    = map[string]string{"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "document"}
)

// do sends a request; body is a string sent as is or a value sent as JSON.
func (e *env) do(method, path string, body any, headers ...map[string]string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.sb.URL+path, rd)
	if _, isString := body.(string); body != nil && !isString {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) want(r reply, status int) reply {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// list is GET /control/exchanges?query, which must answer 200.
func (e *env) list(query string) ([]exchanges.Exchange, []byte) {
	e.t.Helper()
	r := e.want(e.do("GET", "/control/exchanges?"+query, nil), 200)
	var out struct {
		Exchanges []exchanges.Exchange `json:"exchanges"`
	}
	if err := json.Unmarshal(r.raw, &out); err != nil {
		e.t.Fatalf("exchanges: %v: %s", err, r.raw)
	}
	return out.Exchanges, r.raw
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// altpayFlow is the shop's server and the Alternative Payments snippet:
// OAuth, a customer and an invoice, a checkout token, the snippet's call
// with it, the same call once the token expired (401), the renewal
// (onAccessTokenExpired: the shop mints another) and the call again.
type altpayFlow struct {
	oauth, checkout, renewed, invoiceID string
}

func (e *env) altpay() altpayFlow {
	e.t.Helper()
	e.sb.Setting(e.t, "altpay_checkout_token_ttl", "5m")
	var f altpayFlow
	f.oauth = e.want(e.do("POST", "/altpay/oauth/token", "grant_type=client_credentials", basic(altpayID, altpaySecret),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), 200).str("access_token")
	cust := e.want(e.do("POST", "/altpay/customers", map[string]any{"email": "jane@example.com", "external_id": "u1", "name": "Jane Doe"}, bearer(f.oauth)), 201).str("id")
	f.invoiceID = e.want(e.do("POST", "/altpay/invoices", map[string]any{
		"currency": "USD", "customer_id": cust, "due_date": "2026-12-16",
		"line_items": []map[string]any{{"amount": 19.9, "description": "Enamel mug", "quantity": 2}},
	}, bearer(f.oauth)), 201).str("id")
	initBody := map[string]any{"customer_id": cust, "invoice_id": f.invoiceID}
	f.checkout = e.want(e.do("POST", "/altpay/v1/checkout-auth/init", initBody, bearer(f.oauth)), 200).str("token")
	e.want(e.do("GET", "/altpay/checkout/invoice", nil, bearer(f.checkout), fetchFromShop), 200)
	e.sb.Advance(e.t, "5m")
	e.want(e.do("GET", "/altpay/checkout/invoice", nil, bearer(f.checkout), fetchFromShop), 401)
	f.renewed = e.want(e.do("POST", "/altpay/v1/checkout-auth/init", initBody, bearer(f.oauth)), 200).str("token")
	e.want(e.do("GET", "/altpay/checkout/invoice", nil, bearer(f.renewed), fetchFromShop), 200)
	return f
}

// klarnaFlow is a session the shop's server creates, the widget's calls on
// it (from the widget's frame, on the sandbox's own origin), and the
// shop's server cancelling the authorization the widget got.
type klarnaFlow struct {
	sessionID, clientToken, authorizationToken string
}

func (e *env) klarna() klarnaFlow {
	e.t.Helper()
	var f klarnaFlow
	r := e.want(e.do("POST", "/klarna/api/payments/v1/sessions", map[string]any{
		"purchase_country": "DE", "purchase_currency": "EUR", "locale": "de-DE", "order_amount": 1800, "order_tax_amount": 287,
		"order_lines": []any{map[string]any{"type": "physical", "reference": "stoneware-mug", "name": "Stoneware Mug", "quantity": 1,
			"unit_price": 1800, "tax_rate": 1900, "total_amount": 1800, "total_discount_amount": 0, "total_tax_amount": 287}},
	}, basic(klarnaUser, klarnaPass)), 200)
	f.sessionID, f.clientToken = r.str("session_id"), r.str("client_token")
	fromWidget := map[string]string{"Origin": e.sb.URL, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
	widget := "/klarna/payments/widget/" + f.sessionID
	body := map[string]any{"client_token": f.clientToken, "parent": shopURL, "category": "pay_later"}
	e.want(e.do("POST", widget+"/state", body, fromWidget), 200)
	body["persona"] = "anna.schmidt@example.com"
	f.authorizationToken = e.want(e.do("POST", widget+"/authorize", body, fromWidget), 200).str("authorization_token")
	e.want(e.do("DELETE", "/klarna/api/payments/v1/authorizations/"+f.authorizationToken, nil, basic(klarnaUser, klarnaPass)), 204)
	return f
}

// vippsFlow is an access token, a payment and its landing page in the
// customer's browser.
type vippsFlow struct {
	accessToken, reference, landingToken string
}

func (e *env) vipps() vippsFlow {
	e.t.Helper()
	f := vippsFlow{reference: "order-1-attempt-1"}
	sys := map[string]string{"Ocp-Apim-Subscription-Key": vippsKey, "Merchant-Serial-Number": vippsMSN,
		"Vipps-System-Name": "refshop", "Vipps-System-Version": "1.0.0", "Vipps-System-Plugin-Name": "refshop-vipps", "Vipps-System-Plugin-Version": "1.0.0"}
	f.accessToken = e.want(e.do("POST", "/vipps/accesstoken/get", "", sys,
		map[string]string{"client_id": vippsID, "client_secret": vippsSecret}), 200).str("access_token")
	r := e.want(e.do("POST", "/vipps/epayment/v1/payments", `{"amount":{"currency":"NOK","value":4980},"paymentMethod":{"type":"WALLET"},`+
		`"reference":"`+f.reference+`","paymentDescription":"Order at Refshop","returnUrl":"`+shopURL+`/vipps/return","userFlow":"WEB_REDIRECT"}`,
		sys, bearer(f.accessToken), map[string]string{"Idempotency-Key": f.reference + "-create", "Content-Type": "application/json"}), 201)
	u, err := url.Parse(r.str("redirectUrl"))
	if err != nil || u.Query().Get("token") == "" {
		e.t.Fatalf("redirectUrl %q has no token", r.str("redirectUrl"))
	}
	f.landingToken = u.Query().Get("token")
	e.want(e.do("GET", "/vipps/landing?token="+url.QueryEscape(f.landingToken), nil, navigation), 200)
	return f
}

// find returns the exchanges of list that satisfy keep, failing when none does.
func find(t *testing.T, list []exchanges.Exchange, what string, keep func(exchanges.Exchange) bool) []exchanges.Exchange {
	t.Helper()
	var out []exchanges.Exchange
	for _, x := range list {
		if keep(x) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no exchange is %s", what)
	}
	return out
}

func byPattern(p string) func(exchanges.Exchange) bool {
	return func(x exchanges.Exchange) bool { return x.Pattern == p }
}

func TestRecordsTheServersAndTheBrowsersCallsWithTheirOriginOperationAndTimes(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	f := e.altpay()
	list, _ := e.list("")

	oauth := find(t, list, "the OAuth token call", byPattern("POST /altpay/oauth/token"))[0]
	if oauth.Origin != "server" || oauth.Operation != "altpay.oauth_token" || oauth.Provider != "altpay" || oauth.Method != "POST" ||
		oauth.Status != 200 || oauth.Lost || oauth.Path != "/altpay/oauth/token" {
		t.Errorf("OAuth call recorded as %+v", oauth)
	}
	if !oauth.SandboxTime.Equal(t0) {
		t.Errorf("sandbox_time %v, want the sandbox clock's %v", oauth.SandboxTime, t0)
	}
	if oauth.At.Before(before) || oauth.At.After(time.Now()) {
		t.Errorf("at %v is not the wall clock's time of the call", oauth.At)
	}
	if got := oauth.RequestBody; got != "grant_type=client_credentials" {
		t.Errorf("request body %q", got)
	}

	snippet := find(t, list, "the snippet's invoice call", byPattern("GET /altpay/checkout/invoice"))
	if len(snippet) != 3 {
		t.Fatalf("%d snippet calls recorded, want 3", len(snippet))
	}
	for _, x := range snippet {
		if x.Origin != "browser" || x.Operation != "altpay.checkout_invoice" {
			t.Errorf("snippet call recorded as origin %q operation %q", x.Origin, x.Operation)
		}
	}
	if snippet[1].Status != 401 || !strings.Contains(snippet[1].ResponseBody, "token_expired") {
		t.Errorf("the expired token's call: %d %s", snippet[1].Status, snippet[1].ResponseBody)
	}
	if !snippet[1].SandboxTime.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("the expired token's call at sandbox time %v, want %v", snippet[1].SandboxTime, t0.Add(5*time.Minute))
	}
	if got := snippet[0].ResponseHeaders.Get("Access-Control-Allow-Origin"); got != shopURL {
		t.Errorf("response headers as sent: Access-Control-Allow-Origin %q", got)
	}
	if !strings.Contains(snippet[0].ResponseBody, f.invoiceID) {
		t.Errorf("response body %q lacks the invoice", snippet[0].ResponseBody)
	}
	for i := 1; i < len(list); i++ {
		if list[i].ID <= list[i-1].ID {
			t.Fatalf("not oldest first: id %d after %d", list[i].ID, list[i-1].ID)
		}
	}
}

func TestAltpaySnippetCallsAreLinkedToTheInvoiceAndTheCheckoutTokensTag(t *testing.T) {
	e := newEnv(t)
	f := e.altpay()
	list, _ := e.list("ref=" + url.QueryEscape(f.invoiceID))
	var got []string
	for _, x := range list {
		got = append(got, x.Pattern+" "+strconv.Itoa(x.Status))
	}
	want := []string{
		"POST /altpay/v1/checkout-auth/init 200",
		"GET /altpay/checkout/invoice 200",
		"GET /altpay/checkout/invoice 401", // the expired token's call
		"POST /altpay/v1/checkout-auth/init 200",
		"GET /altpay/checkout/invoice 200",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exchanges about the invoice:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first, renewed := secret.Tag(f.checkout), secret.Tag(f.renewed)
	for i, tag := range []string{first, first, first, renewed, renewed} {
		if !slices.Contains(list[i].Refs, tag) || !slices.Contains(list[i].Refs, f.invoiceID) {
			t.Errorf("%s: refs %q, want the invoice and the token's tag %q", got[i], list[i].Refs, tag)
		}
	}
	// The shop sees the same tag in its redacted record of the answer that
	// issued the token.
	if !strings.Contains(list[0].ResponseBody, "[redacted "+first+"]") {
		t.Errorf("the init answer shows %q, not the token's mark", list[0].ResponseBody)
	}
	if !strings.Contains(list[1].RequestHeaders.Get("Authorization"), "Bearer [redacted "+first+"]") {
		t.Errorf("the snippet's Authorization header recorded as %q", list[1].RequestHeaders.Get("Authorization"))
	}
}

func TestKlarnaWidgetCallsAreLinkedToTheSessionAndTheClientTokensTag(t *testing.T) {
	e := newEnv(t)
	f := e.klarna()
	list, _ := e.list("provider=klarna")
	tag := secret.Tag(f.clientToken)

	create := find(t, list, "the session's creation", byPattern("POST /klarna/api/payments/v1/sessions"))[0]
	if !slices.Equal(create.Refs, []string{f.sessionID, tag}) || create.Operation != "klarna.create_session" || create.Origin != "server" {
		t.Errorf("create session: refs %q operation %q origin %q", create.Refs, create.Operation, create.Origin)
	}
	if !strings.Contains(create.ResponseBody, "[redacted "+tag+"]") {
		t.Errorf("create session's answer shows %q, not the client token's mark", create.ResponseBody)
	}
	for _, p := range []string{"POST /klarna/payments/widget/{session_id}/state", "POST /klarna/payments/widget/{session_id}/authorize"} {
		x := find(t, list, p, byPattern(p))[0]
		if !slices.Equal(x.Refs, []string{f.sessionID, tag}) || x.Origin != "browser" || x.Operation != "" {
			t.Errorf("%s: refs %q origin %q operation %q; want the session id and the client token's tag, browser, none", p, x.Refs, x.Origin, x.Operation)
		}
	}
	// A secret path wildcard (the authorization token) is a ref by its tag.
	cancel := find(t, list, "the cancellation", byPattern("DELETE /klarna/api/payments/v1/authorizations/{token}"))[0]
	if !slices.Equal(cancel.Refs, []string{secret.Tag(f.authorizationToken)}) {
		t.Errorf("cancel authorization: refs %q, want the authorization token's tag", cancel.Refs)
	}
	if want := "/klarna/api/payments/v1/authorizations/[redacted " + secret.Tag(f.authorizationToken) + "]"; cancel.Path != want {
		t.Errorf("cancel authorization: path %q, want %q", cancel.Path, want)
	}
}

func TestVippsLandingPageIsLinkedToThePaymentsReference(t *testing.T) {
	e := newEnv(t)
	f := e.vipps()
	list, _ := e.list("provider=vipps")
	landing := find(t, list, "the landing page", byPattern("GET /vipps/landing"))[0]
	if !slices.Equal(landing.Refs, []string{f.reference}) || landing.Origin != "browser" || landing.Operation != "vipps.landing" {
		t.Errorf("landing page: refs %q origin %q operation %q", landing.Refs, landing.Origin, landing.Operation)
	}
	if want := "/vipps/landing?token=[redacted " + secret.Tag(f.landingToken) + "]"; landing.Path != want {
		t.Errorf("landing page path %q, want %q", landing.Path, want)
	}
	create := find(t, list, "the payment's creation", byPattern("POST /vipps/epayment/v1/payments"))[0]
	if create.IdempotencyKey != f.reference+"-create" || !slices.Contains(create.Refs, f.reference) ||
		!slices.Contains(create.Refs, secret.Tag(f.accessToken)) {
		t.Errorf("create payment: idempotency key %q refs %q", create.IdempotencyKey, create.Refs)
	}
	byRef, _ := e.list("ref=" + f.reference)
	if len(byRef) != 2 {
		t.Errorf("%d exchanges about the reference, want the create and the landing page", len(byRef))
	}
}

// No token, credential or key the flows used appears in what the sandbox
// stored: not in its JSON answer, not on its index page.
func TestNoIssuedTokenOrCredentialIsStoredUnredacted(t *testing.T) {
	e := newEnv(t)
	a, k, v := e.altpay(), e.klarna(), e.vipps()
	_, raw := e.list("limit=1000")
	page := string(e.want(e.do("GET", "/", nil), 200).raw)
	secrets := map[string]string{
		"altpay OAuth token": a.oauth, "checkout token": a.checkout, "renewed checkout token": a.renewed,
		"altpay client secret": altpaySecret, "klarna client token": k.clientToken,
		"klarna authorization token": k.authorizationToken, "klarna password": klarnaPass,
		"klarna Basic credential": base64.StdEncoding.EncodeToString([]byte(klarnaUser + ":" + klarnaPass)),
		"vipps access token":      v.accessToken, "vipps client secret": vippsSecret, "vipps subscription key": vippsKey,
		"vipps landing token": v.landingToken,
	}
	for name, s := range secrets {
		if s == "" {
			t.Fatalf("the flow gave no %s", name)
		}
		for where, text := range map[string]string{"GET /control/exchanges": string(raw), "the index": page} {
			// JSON escapes some characters: look for the value as encoded too.
			enc, _ := json.Marshal(s)
			if strings.Contains(text, s) || strings.Contains(text, string(enc[1:len(enc)-1])) {
				t.Errorf("%s shows the %s", where, name)
			}
		}
	}
	if !strings.Contains(string(raw), "[redacted ") {
		t.Error("no redaction mark at all: is anything recorded?")
	}
}

func TestALostAnswerIsRecordedAsLost(t *testing.T) {
	e := newEnv(t)
	e.sb.Control(t, "/control/faults", map[string]any{"operation": "altpay.oauth_token", "lose_answer": true})
	req, _ := http.NewRequest("POST", e.sb.URL+"/altpay/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(altpayID, altpaySecret)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the lost answer arrived: %d", res.StatusCode)
	}
	list, _ := e.list("operation=altpay.oauth_token")
	if len(list) != 1 {
		t.Fatalf("%d exchanges recorded, want 1", len(list))
	}
	x := list[0]
	if !x.Lost || x.Status != 0 || x.ResponseBody != "" || len(x.ResponseHeaders) != 0 {
		t.Errorf("lost answer recorded as lost=%v status=%d headers=%v body=%q", x.Lost, x.Status, x.ResponseHeaders, x.ResponseBody)
	}
	if x.RequestBody != "grant_type=client_credentials" {
		t.Errorf("its request body: %q", x.RequestBody)
	}
	// The operation ran: the next call (no fault) is answered.
	if got := e.do("GET", "/control/state", nil); !strings.Contains(string(got.raw), `"altpay.oauth_token":1`) {
		t.Errorf("state: %s", got.raw)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t)
	a, k, v := e.altpay(), e.klarna(), e.vipps()
	all, _ := e.list("limit=1000")
	count := func(keep func(exchanges.Exchange) bool) int {
		n := 0
		for _, x := range all {
			if keep(x) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		query string
		keep  func(exchanges.Exchange) bool
	}{
		{"provider=vipps", func(x exchanges.Exchange) bool { return x.Provider == "vipps" }},
		{"operation=altpay.checkout_invoice", func(x exchanges.Exchange) bool { return x.Operation == "altpay.checkout_invoice" }},
		{"origin=browser", func(x exchanges.Exchange) bool { return x.Origin == "browser" }},
		{"origin=server&provider=klarna", func(x exchanges.Exchange) bool { return x.Origin == "server" && x.Provider == "klarna" }},
		{"ref=" + url.QueryEscape(k.sessionID) + "&ref=" + url.QueryEscape(v.reference), func(x exchanges.Exchange) bool {
			return slices.Contains(x.Refs, k.sessionID) || slices.Contains(x.Refs, v.reference)
		}},
		{"ref=" + url.QueryEscape(secret.Tag(a.renewed)), func(x exchanges.Exchange) bool { return slices.Contains(x.Refs, secret.Tag(a.renewed)) }},
	} {
		got, _ := e.list(c.query)
		want := count(c.keep)
		if want == 0 {
			t.Fatalf("%s: the flows made no such exchange", c.query)
		}
		if len(got) != want {
			t.Errorf("%s: %d exchanges, want %d", c.query, len(got), want)
		}
		for _, x := range got {
			if !c.keep(x) {
				t.Errorf("%s: gave %s %s", c.query, x.Method, x.Path)
			}
		}
	}
	latest, _ := e.list("limit=2")
	if len(latest) != 2 || latest[0].ID != all[len(all)-2].ID || latest[1].ID != all[len(all)-1].ID {
		t.Errorf("limit=2 gave ids %v, want the latest two, oldest first", ids(latest))
	}
	if def, _ := e.list(""); len(all) > 100 || len(def) != len(all) {
		t.Errorf("default list: %d of %d", len(def), len(all))
	}
}

func TestBadFiltersAreRefusedWith400(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"limit=abc", "limit=0", "limit=1001", "origin=phone", "provider=stripe",
		"operation=altpay.nothing", "refs=x", "provider=vipps&provider=klarna"} {
		r := e.do("GET", "/control/exchanges?"+q, nil)
		if r.status != 400 || r.str("error") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s %s, want 400 with a JSON error", q, r.status, r.header.Get("Content-Type"), r.raw)
		}
	}
	if r := e.do("GET", "/control/exchanges?limit=1000", nil); r.status != 200 {
		t.Errorf("limit=1000: %d %s", r.status, r.raw)
	}
}

func TestOnlyProviderRoutesAreRecordedAndResetClearsThem(t *testing.T) {
	e := newEnv(t)
	e.vipps()
	if list, _ := e.list(""); len(list) == 0 {
		t.Fatal("nothing recorded")
	}
	e.sb.Control(t, "/control/reset", nil)
	e.want(e.do("GET", "/", nil), 200)
	e.want(e.do("GET", "/assets/sandbox.css", nil), 200)
	e.do("GET", "/favicon.ico", nil)
	e.want(e.do("GET", "/control/state", nil), 200)
	if list, _ := e.list(""); len(list) != 0 {
		t.Errorf("after the reset and the sandbox's own routes: %d exchanges, want none", len(list))
	}
	e.do("GET", "/vipps/no-such-route", nil)
	list, _ := e.list("")
	if len(list) != 1 || list[0].Status != 404 || list[0].Pattern != "" {
		t.Errorf("an unknown provider path: %+v, want one 404 with no pattern", list)
	}
}

func TestKeepsOnlyTheLatest(t *testing.T) {
	e := newEnv(t)
	e.sb.Exchanges.SetKeep(3)
	for i := range 5 {
		e.want(e.do("GET", "/altpay/checkout/invoice?invoice_id=inv_"+strconv.Itoa(i), nil), 401)
	}
	list, _ := e.list("")
	var paths []string
	for _, x := range list {
		paths = append(paths, x.Path)
	}
	want := []string{"/altpay/checkout/invoice?invoice_id=inv_2", "/altpay/checkout/invoice?invoice_id=inv_3", "/altpay/checkout/invoice?invoice_id=inv_4"}
	if !slices.Equal(paths, want) {
		t.Errorf("kept %q, want the latest three %q", paths, want)
	}
}

// The exchanges are in the sandbox's file: a restart keeps them.
func TestExchangesSurviveARestart(t *testing.T) {
	e := newEnv(t)
	e.vipps()
	before, _ := e.list("")
	e.sb.Restart(t)
	after, _ := e.list("")
	if len(after) != len(before) || len(after) == 0 || after[len(after)-1].ID != before[len(before)-1].ID {
		t.Errorf("after a restart: ids %v, before %v", ids(after), ids(before))
	}
}

func ids(list []exchanges.Exchange) []int64 {
	var out []int64
	for _, x := range list {
		out = append(out, x.ID)
	}
	return out
}

func (e *env) page(path string) (*goquery.Document, http.Header) {
	e.t.Helper()
	r := e.want(e.do("GET", path, nil), 200)
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(r.raw))
	if err != nil {
		e.t.Fatal(err)
	}
	return doc, r.header
}

func TestIndexListsTheLatestExchangesWithAFilterForm(t *testing.T) {
	e := newEnv(t)
	e.altpay()
	e.vipps()
	e.sb.Control(t, "/control/faults", map[string]any{"operation": "altpay.oauth_token", "lose_answer": true})
	req, _ := http.NewRequest("POST", e.sb.URL+"/altpay/oauth/token", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}

	doc, h := e.page("/?provider=altpay&operation=altpay.checkout_invoice")
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("index CSP %q", csp)
	}
	form := doc.Find(`section[aria-labelledby=exchanges] form[method=get]`)
	if form.Length() != 1 || form.Find(`button[type=submit]`).Text() != "Filter" {
		t.Fatal("no filter form with a Filter button")
	}
	for _, id := range []string{"exchanges-provider", "exchanges-operation"} {
		if form.Find(`label[for=`+id+`]`).Length() != 1 || form.Find(`select#`+id).Length() != 1 {
			t.Errorf("no labelled select %s", id)
		}
	}
	if got, _ := form.Find(`#exchanges-provider option[selected]`).Attr("value"); got != "altpay" {
		t.Errorf("provider selected: %q", got)
	}
	if got, _ := form.Find(`#exchanges-operation option[selected]`).Attr("value"); got != "altpay.checkout_invoice" {
		t.Errorf("operation selected: %q", got)
	}
	if form.Find(`#exchanges-operation option[value="vipps.landing"]`).Length() != 1 {
		t.Error("the operation select does not offer every declared operation")
	}

	table := doc.Find(`table[data-testid=exchanges]`)
	if !strings.Contains(table.Find("caption").Text(), "3 exchanges") {
		t.Errorf("caption %q", table.Find("caption").Text())
	}
	if n := table.Find(`thead th[scope=col]`).Length(); n != 6 {
		t.Errorf("%d column headers", n)
	}
	rows := table.Find("tbody tr")
	var statuses []string
	rows.Each(func(_ int, tr *goquery.Selection) {
		statuses = append(statuses, strings.TrimSpace(tr.Find("td").Eq(2).Text()))
		if !strings.Contains(tr.Find(`th[scope=row] code`).First().Text(), "GET /altpay/checkout/invoice") {
			t.Errorf("row %q", tr.Find(`th[scope=row] code`).First().Text())
		}
		if tr.Find("td").Eq(1).Text() != "browser" {
			t.Errorf("origin %q", tr.Find("td").Eq(1).Text())
		}
		d := tr.Find("details")
		if d.Find("summary").Length() != 1 || !strings.Contains(d.Find("pre").First().Text(), "Authorization: Bearer [redacted ") {
			t.Errorf("details: %q", d.Text())
		}
		if _, ok := tr.Find("time").Attr("datetime"); !ok {
			t.Error("no machine-readable time")
		}
	})
	if !slices.Equal(statuses, []string{"200", "401", "200"}) {
		t.Errorf("statuses %q", statuses)
	}

	doc, _ = e.page("/?provider=altpay&operation=altpay.oauth_token")
	cells := doc.Find(`table[data-testid=exchanges] tbody tr`).Last().Find("td")
	if got := strings.TrimSpace(cells.Eq(2).Text()); got != "answer lost" {
		t.Errorf("the lost answer's status reads %q, want \"answer lost\"", got)
	}

	all, _ := e.list("")
	doc, _ = e.page("/")
	if n := doc.Find(`table[data-testid=exchanges] tbody tr`).Length(); n != min(len(all), 50) {
		t.Errorf("unfiltered index: %d rows, want %d", n, min(len(all), 50))
	}
	doc, _ = e.page("/?provider=stripe")
	if doc.Find(`[role=alert]`).Length() != 1 || doc.Find(`table[data-testid=exchanges]`).Length() != 0 {
		t.Error("an unknown provider is not said")
	}
}

// Recording never fails a request: with the store gone the call is answered
// and the failure logged at WARN.
func TestARecordingFailureIsLoggedAndTheRequestAnswered(t *testing.T) {
	log, buf := sandboxtest.Log()
	sb, err := sandbox.New(control.Config{DataDir: t.TempDir(), BaseURL: "http://sandbox.test",
		Altpay: control.AltpayConfig{Enabled: true, ClientID: altpayID, ClientSecret: altpaySecret}}, log, clock.NewManual(t0))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	_ = sb.Close() // the store is gone from here on
	res, err := http.Get(srv.URL + "/altpay/checkout/invoice")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("status %d, want the provider's 401", res.StatusCode)
	}
	if !strings.Contains(buf.String(), "level=WARN msg=\"sandbox: recording an exchange failed; it is dropped\"") {
		t.Errorf("no WARN line:\n%s", buf.String())
	}
}
