package klarna_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	sbklarna "refshop/web/sandbox/klarna"
	"refshop/web/sandbox/sandboxtest"
)

// The sandbox's tests talk HTTP to it as a merchant would, with raw JSON
// built from Klarna's documented examples (testdata/), never through the
// shop's client.

type sb struct {
	t   *testing.T
	url string
	s   *sandboxtest.Server
}

func newSB(t *testing.T) *sb {
	t.Helper()
	s := sandboxtest.Start(t, control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "PK_merchant", Password: "api-key",
			NAUsername: "PN_merchant", NAPassword: "na-api-key"}},
		clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	return &sb{t: t, url: s.URL, s: s}
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func (s *sb) do(method, path string, body any, headers ...string) reply {
	s.t.Helper()
	return s.doAuth(method, path, body, "PK_merchant", "api-key", headers...)
}

// na calls the North American API (/klarna/api-na) with its own account.
func (s *sb) na(method, path string, body any, headers ...string) reply {
	s.t.Helper()
	return s.doAuth(method, "/klarna/api-na"+path, body, "PN_merchant", "na-api-key", headers...)
}

func (s *sb) doAuth(method, path string, body any, user, pass string, headers ...string) reply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var reqBody []byte
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			reqBody, _ = io.ReadAll(b)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	record(req, reqBody, resp, raw)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func example(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// clone deep-copies a JSON object so a test can break one field.
func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// deSession is a valid German session (Klarna sells SE in SEK, the shop in
// DE in EUR) with several tax rates.
func deSession() map[string]any {
	return map[string]any{
		"intent": "buy_and_link", "purchase_country": "DE", "purchase_currency": "EUR", "locale": "de-DE",
		"order_amount": 1490*3 + 1800, "order_tax_amount": 292 + 287,
		"order_lines": []any{
			map[string]any{"type": "physical", "reference": "morning-blend", "name": "Morning Blend", "quantity": 3,
				"unit_price": 1490, "tax_rate": 700, "total_amount": 4470, "total_discount_amount": 0, "total_tax_amount": 292},
			map[string]any{"type": "physical", "reference": "stoneware-mug", "name": "Stoneware Mug", "quantity": 1,
				"unit_price": 1800, "tax_rate": 1900, "total_amount": 1800, "total_discount_amount": 0, "total_tax_amount": 287},
		},
		"merchant_urls": map[string]any{"confirmation": "http://shop.test/orders/1?sid={session.id}&oid={order.id}"},
	}
}

func orderOf(session map[string]any) map[string]any {
	o := clone(session)
	delete(o, "intent")
	delete(o, "customer")
	return o
}

func line(m map[string]any, i int) map[string]any {
	return m["order_lines"].([]any)[i].(map[string]any)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// wantError checks Klarna's ErrorV2: the status, the code, a message
// starting with want, and a correlation id also sent as a header.
func wantError(t *testing.T, r reply, status int, code, want string) {
	t.Helper()
	if r.status != status || r.str("error_code") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	msgs, _ := r.body["error_messages"].([]any)
	found := want == ""
	for _, m := range msgs {
		if s, _ := m.(string); strings.HasPrefix(s, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("messages %v lack %q", msgs, want)
	}
	id := r.str("correlation_id")
	if !uuidPattern.MatchString(id) || r.header.Get("Klarna-Correlation-Id") != id {
		t.Errorf("correlation id %q, header %q", id, r.header.Get("Klarna-Correlation-Id"))
	}
}

func (s *sb) createSession(body map[string]any) string {
	s.t.Helper()
	r := s.do("POST", "/klarna/api/payments/v1/sessions", body)
	if r.status != 200 {
		s.t.Fatalf("create session: %d %s", r.status, r.raw)
	}
	return r.str("session_id")
}

func (s *sb) authorize(sessionID string, body any) string {
	s.t.Helper()
	r := s.doAuth("POST", "/control/klarna/sessions/"+sessionID+"/authorize", body, "", "")
	if r.status != 200 {
		s.t.Fatalf("authorize: %d %s", r.status, r.raw)
	}
	return r.str("authorization_token")
}

func (s *sb) advance(d string) {
	s.t.Helper()
	if r := s.doAuth("POST", "/control/clock", map[string]any{"advance": d}, "", ""); r.status != 200 {
		s.t.Fatalf("clock: %s", r.raw)
	}
}

func (s *sb) setting(name string, v any) {
	s.t.Helper()
	if r := s.doAuth("POST", "/control/settings", map[string]any{name: v}, "", ""); r.status != 200 {
		s.t.Fatalf("settings: %s", r.raw)
	}
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// The documented create-session request is accepted and the answer has
// the documented fields.
func TestDocumentedSessionRequestAndAnswer(t *testing.T) {
	s := newSB(t)
	r := s.do("POST", "/klarna/api/payments/v1/sessions", example(t, "create_session_request.json"))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, k := range sortedKeys(example(t, "create_session_response.json")) {
		if _, ok := r.body[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, r.raw)
		}
	}
	if !uuidPattern.MatchString(r.str("session_id")) || strings.Count(r.str("client_token"), ".") != 2 {
		t.Errorf("session %s", r.raw)
	}
	cat := r.body["payment_method_categories"].([]any)[0].(map[string]any)
	if cat["identifier"] != "klarna" || cat["asset_urls"] == nil {
		t.Errorf("category %v", cat)
	}
}

func TestBasicAuthIsRequired(t *testing.T) {
	s := newSB(t)
	for _, tc := range []struct{ user, pass string }{{"", ""}, {"PK_merchant", "nope"}, {"someone", "api-key"}} {
		r := s.doAuth("POST", "/klarna/api/payments/v1/sessions", deSession(), tc.user, tc.pass)
		wantError(t, r, 401, "UNAUTHORIZED", "Unauthorized")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("no Basic challenge")
		}
	}
	for _, path := range []string{"/klarna/api/payments/v1/sessions/x", "/klarna/api/customer-token/v1/tokens/x"} {
		wantError(t, s.doAuth("GET", path, nil, "", ""), 401, "UNAUTHORIZED", "")
	}
}

// Every documented rejection of a session body, each with Klarna's
// "Bad value: <field>" message.
func TestSessionValidation(t *testing.T) {
	s := newSB(t)
	cases := []struct {
		name   string
		break_ func(m map[string]any)
		field  string
	}{
		{"missing purchase_country", func(m map[string]any) { delete(m, "purchase_country") }, "purchase_country"},
		{"country not alpha-2", func(m map[string]any) { m["purchase_country"] = "DEU" }, "purchase_country"},
		{"country Klarna does not sell in", func(m map[string]any) { m["purchase_country"] = "ZZ" }, "purchase_country"},
		{"missing purchase_currency", func(m map[string]any) { delete(m, "purchase_currency") }, "purchase_currency"},
		{"currency not ISO 4217 form", func(m map[string]any) { m["purchase_currency"] = "EURO" }, "purchase_currency"},
		{"currency of another country", func(m map[string]any) { m["purchase_currency"] = "SEK" }, "purchase_currency"},
		{"bad locale", func(m map[string]any) { m["locale"] = "german" }, "locale"},
		{"unknown intent", func(m map[string]any) { m["intent"] = "buy_now" }, "intent"},
		{"missing order_amount", func(m map[string]any) { delete(m, "order_amount") }, "order_amount"},
		{"order_amount not the sum", func(m map[string]any) { m["order_amount"] = 6271 }, "order_amount"},
		{"order_tax_amount not the sum", func(m map[string]any) { m["order_tax_amount"] = 580 }, "order_tax_amount"},
		{"missing order_lines", func(m map[string]any) { delete(m, "order_lines") }, "order_lines"},
		{"empty order_lines", func(m map[string]any) { m["order_lines"] = []any{}; m["order_amount"] = 0; m["order_tax_amount"] = 0 }, "order_lines"},
		{"line without name", func(m map[string]any) { delete(line(m, 0), "name") }, "order_lines[0].name"},
		{"line total not quantity × price", func(m map[string]any) {
			line(m, 0)["total_amount"] = 4471
			m["order_amount"] = 6271
		}, "order_lines[0].total_amount"},
		{"line tax off by 2", func(m map[string]any) {
			line(m, 1)["total_tax_amount"] = 289
			m["order_tax_amount"] = 581
		}, "order_lines[1].total_tax_amount"},
		{"tax_rate over 100%", func(m map[string]any) { line(m, 1)["tax_rate"] = 10001 }, "order_lines[1].tax_rate"},
		{"negative quantity", func(m map[string]any) { line(m, 0)["quantity"] = -1 }, "order_lines[0].quantity"},
		{"unknown line type", func(m map[string]any) { line(m, 0)["type"] = "service" }, "order_lines[0].type"},
		{"amount as a string", func(m map[string]any) { m["order_amount"] = "6270" }, "order_amount"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := deSession()
			tc.break_(m)
			wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions", m), 400, "BAD_VALUE", "Bad value: "+tc.field)
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions", "{nope"), 400, "BAD_REQUEST", "")
	})
	t.Run("tax within one unit is accepted", func(t *testing.T) {
		m := deSession()
		line(m, 1)["total_tax_amount"] = 288 // exact 287.39
		m["order_tax_amount"] = 580
		if r := s.do("POST", "/klarna/api/payments/v1/sessions", m); r.status != 200 {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("every documented intent", func(t *testing.T) {
		for _, in := range []string{"buy", "tokenize", "buy_and_tokenize", "buy_and_link"} {
			m := deSession()
			m["intent"] = in
			if r := s.do("POST", "/klarna/api/payments/v1/sessions", m); r.status != 200 {
				t.Errorf("%s: %d %s", in, r.status, r.raw)
			}
		}
	})
}

// Each error carries a fresh correlation id.
func TestCorrelationIDsAreFresh(t *testing.T) {
	s := newSB(t)
	a := s.do("GET", "/klarna/api/payments/v1/sessions/nope", nil)
	b := s.do("GET", "/klarna/api/payments/v1/sessions/nope", nil)
	wantError(t, a, 404, "NOT_FOUND", "Invalid session id")
	if a.str("correlation_id") == b.str("correlation_id") {
		t.Error("two errors share a correlation id")
	}
}

func TestSessionsExpireAfter48HoursFromTheLastUpdate(t *testing.T) {
	s := newSB(t)
	id := s.createSession(deSession())
	path := "/klarna/api/payments/v1/sessions/" + id
	s.advance("47h")
	if r := s.do("POST", path, map[string]any{"locale": "en-DE"}); r.status != 204 {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	s.advance("47h") // 94h after creation, 47h after the update
	r := s.do("GET", path, nil)
	if r.status != 200 || r.str("status") != "incomplete" || r.str("locale") != "en-DE" {
		t.Fatalf("read: %d %s", r.status, r.raw)
	}
	s.advance("1h")
	wantError(t, s.do("GET", path, nil), 404, "NOT_FOUND", "Invalid session id")
	wantError(t, s.do("POST", path, map[string]any{"locale": "de-DE"}), 404, "NOT_FOUND", "Invalid session id")
}

func TestUpdateSessionValidatesTheResult(t *testing.T) {
	s := newSB(t)
	id := s.createSession(deSession())
	wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions/"+id, map[string]any{"order_amount": 1}), 400, "BAD_VALUE", "Bad value: order_amount")
}

func TestOrderFromAuthorization(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	id := s.createSession(sess)
	auth := s.authorize(id, map[string]any{"link_account": false})
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, k := range sortedKeys(example(t, "create_order_response.json")) {
		if _, ok := r.body[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, r.raw)
		}
	}
	if _, ok := r.body["customer_token"]; ok {
		t.Error("opted out, yet a customer token came back")
	}
	// redirect_url sends the browser to the confirmation URL, placeholders filled.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(r.str("redirect_url"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://shop.test/orders/1?sid="+id+"&oid="+r.str("order_id") {
		t.Errorf("redirect to %q", loc)
	}
	read := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil)
	if read.str("status") != "complete" {
		t.Errorf("session status %q", read.str("status"))
	}
	wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions/"+id, map[string]any{"locale": "en-DE"}), 404, "SESSION_COMPLETED", "")
}

func TestAUsedAuthorizationCannotOrderTwice(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	path := "/klarna/api/payments/v1/authorizations/" + auth + "/order"
	if r := s.do("POST", path, orderOf(sess)); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	wantError(t, s.do("POST", path, orderOf(sess)), 404, "NOT_FOUND", "Invalid authorization token")
}

func TestAuthorizationsExpireAfter60Minutes(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	s.advance("59m")
	auth2 := s.authorize(s.createSession(sess), nil)
	s.advance("1m")
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)), 404, "NOT_FOUND", "Invalid authorization token")
	if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth2+"/order", orderOf(sess)); r.status != 200 {
		t.Errorf("a 1-minute-old authorization: %d %s", r.status, r.raw)
	}
}

func TestAnOrderThatDoesNotMatchItsSessionIs409(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	o := orderOf(sess)
	line(o, 0)["quantity"] = 4
	line(o, 0)["total_amount"] = 5960
	line(o, 0)["total_tax_amount"] = 390
	o["order_amount"] = 7760
	o["order_tax_amount"] = 677
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", o), 409, "BAD_VALUE",
		"Not matching fields: [order_amount, order_tax_amount, order_lines]")
	// Still valid for the approved order.
	if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)); r.status != 200 {
		t.Errorf("%d %s", r.status, r.raw)
	}
}

func TestOrderBodyIsValidated(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	o := orderOf(sess)
	delete(o, "purchase_currency")
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", o), 400, "BAD_VALUE", "Bad value: purchase_currency")
}

func TestUpdatingASessionVoidsItsUnusedAuthorizations(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	id := s.createSession(sess)
	auth := s.authorize(id, nil)
	if r := s.do("POST", "/klarna/api/payments/v1/sessions/"+id, map[string]any{"locale": "en-DE"}); r.status != 204 {
		t.Fatal(r.status)
	}
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)), 404, "NOT_FOUND", "Invalid authorization token")
}

func TestCancelAuthorization(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	if r := s.do("DELETE", "/klarna/api/payments/v1/authorizations/"+auth, nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	wantError(t, s.do("DELETE", "/klarna/api/payments/v1/authorizations/"+auth, nil), 404, "NOT_FOUND", "")
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)), 404, "NOT_FOUND", "Invalid authorization token")
}

var tokenForm = regexp.MustCompile(`^krn:partner:eu1:playground:identity:customer-token:[A-Za-z0-9]+$`)

// linkedOrder runs a buy_and_link purchase and returns the order answer.
func (s *sb) linkedOrder(token string, auth map[string]any) reply {
	s.t.Helper()
	sess := deSession()
	if token != "" {
		sess["customer"] = map[string]any{"customer_token": token}
	}
	a := s.authorize(s.createSession(sess), auth)
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess))
	if r.status != 200 {
		s.t.Fatalf("order: %d %s", r.status, r.raw)
	}
	return r
}

func TestCustomerTokensOnBuyAndLink(t *testing.T) {
	s := newSB(t)
	first := s.linkedOrder("", map[string]any{"link_account": true})
	tok := first.str("customer_token")
	if !tokenForm.MatchString(tok) {
		t.Fatalf("token %q", tok)
	}
	if opt := s.linkedOrder("", map[string]any{"link_account": false}); opt.str("customer_token") != "" {
		t.Error("opt-out returned a token")
	}
	buy := deSession()
	buy["intent"] = "buy"
	a := s.authorize(s.createSession(buy), map[string]any{"link_account": true})
	if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(buy)); r.str("customer_token") != "" {
		t.Error("intent buy returned a token")
	}
	// The stored token recognises the customer: same token back, no rotation.
	again := s.linkedOrder(tok, map[string]any{"persona": "jonas.weber@example.com"})
	if again.str("customer_token") != tok {
		t.Errorf("recognised customer got %q", again.str("customer_token"))
	}
	// The account-linking token is not a Customer Token API token.
	wantError(t, s.do("GET", "/klarna/api/customer-token/v1/tokens/"+tok, nil), 404, "NOT_FOUND", "Invalid customer-token ID")
}

func TestUnknownOrRotatedTokensFallBackToLoginAndANewTokenIsIssued(t *testing.T) {
	s := newSB(t)
	tok := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	s.setting("klarna_rotate_customer_tokens", true)
	if s.linkedOrder(tok, nil).str("customer_token") == tok {
		t.Fatal("not rotated")
	}
	s.setting("klarna_rotate_customer_tokens", false)
	for _, stale := range []string{tok, "krn:partner:eu1:playground:identity:customer-token:UNKNOWN"} {
		sess := deSession()
		sess["customer"] = map[string]any{"customer_token": stale}
		id := s.createSession(sess)
		st := s.widgetState(id, "http://shop.test")
		if st.str("mode") != "login" || st.body["link_offered"] != true {
			t.Errorf("%s: widget %s", stale, st.raw)
		}
		a := s.authorize(id, map[string]any{"link_account": true})
		r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess))
		if nt := r.str("customer_token"); !tokenForm.MatchString(nt) || nt == tok {
			t.Errorf("no new token after a %s token: %s", stale, r.raw)
		}
	}
}

func TestRotationSetting(t *testing.T) {
	s := newSB(t)
	tok := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	s.setting("klarna_rotate_customer_tokens", true)
	t2 := s.linkedOrder(tok, nil).str("customer_token")
	if t2 == "" || t2 == tok {
		t.Fatalf("no rotation: %q", t2)
	}
	if s.recognises(tok) || !s.recognises(t2) {
		t.Errorf("after rotation the old token still recognises the customer, or the new one does not")
	}
}

// recognises reports whether a session carrying the account-linking token
// opens the widget ready to buy.
func (s *sb) recognises(token string) bool {
	s.t.Helper()
	sess := deSession()
	sess["customer"] = map[string]any{"customer_token": token}
	return s.widgetState(s.createSession(sess), "http://shop.test").str("mode") == "ready"
}

// Two sessions approved with the same token, ordered one after the other
// with rotation on: the second order rotates the link again, so only the
// last token works (the shop must keep the later one).
func TestRotationChainOnlyTheLatestTokenWorks(t *testing.T) {
	s := newSB(t)
	tok := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	s.setting("klarna_rotate_customer_tokens", true)
	sess := deSession()
	sess["customer"] = map[string]any{"customer_token": tok}
	a1 := s.authorize(s.createSession(sess), nil)
	a2 := s.authorize(s.createSession(sess), nil)
	t1 := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a1+"/order", orderOf(sess)).str("customer_token")
	t2 := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a2+"/order", orderOf(sess)).str("customer_token")
	if t1 == "" || t2 == "" || t1 == t2 {
		t.Fatalf("tokens %q %q", t1, t2)
	}
	if s.recognises(t1) {
		t.Error("the earlier token still works")
	}
	if !s.recognises(t2) {
		t.Error("the latest token does not work")
	}
}

func TestCustomerTokenOrderRejections(t *testing.T) {
	s := newSB(t)
	tok := s.recurringToken("", nil)
	good := map[string]any{"purchase_currency": "EUR", "order_amount": 1800, "order_tax_amount": 287,
		"order_lines": []any{line(deSession(), 1)}, "merchant_urls": map[string]any{"confirmation": "http://shop.test/o"}}
	path := "/klarna/api/customer-token/v1/tokens/" + tok + "/order"
	r := s.do("POST", path, good, "Klarna-Idempotency-Key", "tok-1")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got, want := sortedKeys(r.body), sortedKeys(example(t, "customer_token_order_response.json")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("answer fields %v, want %v", got, want)
	}
	noTax := clone(good)
	delete(noTax, "order_tax_amount")
	wantError(t, s.do("POST", path, noTax), 400, "BAD_VALUE", "Bad value: order_tax_amount")
	zero := clone(good)
	zero["order_amount"] = 0
	wantError(t, s.do("POST", path, zero), 400, "BAD_VALUE", "Bad value: order_amount")
	noConf := clone(good)
	noConf["merchant_urls"] = map[string]any{"push": "http://shop.test/push"}
	wantError(t, s.do("POST", path, noConf), 400, "BAD_VALUE", "Bad value: merchant_urls.confirmation")
	nok := clone(good)
	nok["purchase_currency"] = "NOK"
	wantError(t, s.do("POST", path, nok), 403, "PAYMENT_METHOD_CURRENCY_MISMATCH", "")
	wantError(t, s.do("POST", "/klarna/api/customer-token/v1/tokens/"+newUUID()+"/order", good), 404, "TOKEN_NOT_FOUND", "")
	// Cancelled: TOKEN_CANCELLED.
	if r := s.do("PATCH", "/klarna/api/customer-token/v1/tokens/"+tok+"/status", map[string]any{"status": "CANCELLED"}); r.status != 202 || len(r.raw) != 0 {
		t.Fatalf("cancel %d %s", r.status, r.raw)
	}
	wantError(t, s.do("POST", path, good), 403, "TOKEN_CANCELLED", "")
	if r := s.do("GET", "/klarna/api/customer-token/v1/tokens/"+tok, nil); r.str("status") != "CANCELLED" {
		t.Errorf("read after cancel %s", r.raw)
	}
}

func TestTokenStatusRejections(t *testing.T) {
	s := newSB(t)
	tok := s.recurringToken("", nil)
	path := "/klarna/api/customer-token/v1/tokens/" + tok + "/status"
	wantError(t, s.do("PATCH", path, map[string]any{"status": "ACTIVE"}), 400, "BAD_VALUE", "Bad value: status")
	wantError(t, s.do("PATCH", "/klarna/api/customer-token/v1/tokens/nope/status", map[string]any{"status": "CANCELLED"}), 404, "NOT_FOUND", "Invalid token ID")
	wantError(t, s.do("GET", "/klarna/api/customer-token/v1/tokens/nope", nil), 404, "NOT_FOUND", "Invalid customer-token ID")
	if r := s.do("PATCH", path, map[string]any{"status": "CANCELLED"}); r.status != 202 {
		t.Errorf("%d %s", r.status, r.raw)
	}
}

// Either header name replays the first answer for 24 hours on the sandbox
// clock; the same key with another body is refused.
func TestIdempotencyKeys(t *testing.T) {
	for _, header := range []string{"Idempotency-Key", "Klarna-Idempotency-Key"} {
		t.Run(header, func(t *testing.T) {
			s := newSB(t)
			a := s.do("POST", "/klarna/api/payments/v1/sessions", deSession(), header, "key-1")
			b := s.do("POST", "/klarna/api/payments/v1/sessions", deSession(), header, "key-1")
			if a.status != 200 || a.str("session_id") != b.str("session_id") || a.str("client_token") != b.str("client_token") {
				t.Fatalf("not replayed: %s / %s", a.raw, b.raw)
			}
			if b.header.Get("Idempotent-Replayed") != "true" {
				t.Error("replay not marked")
			}
			other := deSession()
			other["locale"] = "en-DE"
			wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions", other, header, "key-1"), 422, "IDEMPOTENCY_KEY_REUSED", "")
			// Same JSON, fields in another order: the same request.
			reordered := []byte(`{"order_lines":` + mustJSON(deSession()["order_lines"]) + `,"purchase_currency":"EUR","purchase_country":"DE",` +
				`"intent":"buy_and_link","locale":"de-DE","order_amount":6270,"order_tax_amount":579,` +
				`"merchant_urls":{"confirmation":"http://shop.test/orders/1?sid={session.id}&oid={order.id}"}}`)
			if r := s.do("POST", "/klarna/api/payments/v1/sessions", reordered, header, "key-1"); r.str("session_id") != a.str("session_id") {
				t.Errorf("reordered body not replayed: %d %s", r.status, r.raw)
			}
			s.advance("23h59m")
			if r := s.do("POST", "/klarna/api/payments/v1/sessions", deSession(), header, "key-1"); r.str("session_id") != a.str("session_id") {
				t.Error("forgotten before 24 hours")
			}
			s.advance("1m")
			if r := s.do("POST", "/klarna/api/payments/v1/sessions", deSession(), header, "key-1"); r.status != 200 || r.str("session_id") == a.str("session_id") {
				t.Errorf("still replayed after 24 hours: %s", r.raw)
			}
			if n := s.s.State.Calls("klarna.create_session"); n != 6 {
				t.Errorf("calls = %d", n)
			}
		})
	}
	t.Run("the two headers disagree", func(t *testing.T) {
		s := newSB(t)
		wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions", deSession(), "Idempotency-Key", "a", "Klarna-Idempotency-Key", "b"),
			400, "BAD_REQUEST", "")
	})
	t.Run("with klarna_create_order_idempotent off an order ignores the key", func(t *testing.T) {
		s := newSB(t)
		s.setting("klarna_create_order_idempotent", false)
		sess := deSession()
		auth := s.authorize(s.createSession(sess), map[string]any{"link_account": true})
		path := "/klarna/api/payments/v1/authorizations/" + auth + "/order"
		if a := s.do("POST", path, orderOf(sess), "Klarna-Idempotency-Key", "o-1"); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		wantError(t, s.do("POST", path, orderOf(sess), "Klarna-Idempotency-Key", "o-1"), 404, "NOT_FOUND", "Invalid authorization token")
	})
	t.Run("an order replays and makes one order", func(t *testing.T) {
		s := newSB(t)
		sess := deSession()
		auth := s.authorize(s.createSession(sess), map[string]any{"link_account": true})
		path := "/klarna/api/payments/v1/authorizations/" + auth + "/order"
		a := s.do("POST", path, orderOf(sess), "Klarna-Idempotency-Key", "o-1")
		b := s.do("POST", path, orderOf(sess), "Klarna-Idempotency-Key", "o-1")
		if a.status != 200 || string(a.raw) != string(b.raw) {
			t.Errorf("%s / %s", a.raw, b.raw)
		}
		wantError(t, s.do("POST", path, orderOf(sess), "Klarna-Idempotency-Key", "o-2"), 404, "NOT_FOUND", "")
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// Faults injected through the control API come back in Klarna's shape.
func TestInjectedFaultsUseErrorV2(t *testing.T) {
	s := newSB(t)
	if r := s.doAuth("POST", "/control/faults", map[string]any{"operation": "klarna.create_order", "status": 503, "times": 1}, "", ""); r.status != 200 {
		t.Fatal(string(r.raw))
	}
	sess := deSession()
	auth := s.authorize(s.createSession(sess), nil)
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)), 503, "INTERNAL_SERVER_ERROR", "")
	if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)); r.status != 200 {
		t.Errorf("after the fault: %d", r.status)
	}
}

func TestResetDropsEverything(t *testing.T) {
	s := newSB(t)
	linked := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	tok := s.recurringToken("", nil)
	s.doAuth("POST", "/control/reset", nil, "", "")
	wantError(t, s.do("GET", "/klarna/api/customer-token/v1/tokens/"+tok, nil), 404, "NOT_FOUND", "")
	if s.recognises(linked) {
		t.Error("a linked customer is still recognised after reset")
	}
}

// --- the browser side ---

func (s *sb) clientToken(id string) string {
	s.t.Helper()
	r := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil)
	if r.status == 404 {
		r = s.na("GET", "/payments/v1/sessions/"+id, nil)
	}
	return r.str("client_token")
}

// widgetState asks the widget's state for the session's first category.
func (s *sb) widgetState(id, parent string) reply {
	s.t.Helper()
	return s.widgetStateFor(id, parent, s.firstCategory(id))
}

func (s *sb) widgetStateFor(id, parent, category string) reply {
	s.t.Helper()
	return s.doAuth("POST", "/klarna/payments/widget/"+id+"/state",
		map[string]any{"client_token": s.clientToken(id), "parent": parent, "category": category}, "", "")
}

func (s *sb) firstCategory(id string) string {
	s.t.Helper()
	cats, _ := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil).body["payment_method_categories"].([]any)
	if len(cats) == 0 {
		return ""
	}
	return cats[0].(map[string]any)["identifier"].(string)
}

func TestSDKIsServedWithTheKlarnaPaymentsSurface(t *testing.T) {
	s := newSB(t)
	resp, err := http.Get(s.url + "/klarna/cdn/kp/lib/v1/api.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	js, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"window.Klarna.Payments", "init:", "load:", "authorize:", "finalize:", "klarnaAsyncCallback",
		"InvalidClientTokenError", "ApplicationNotInitializedError", "InvalidContainerSelectorError", "ev.origin !== sdkOrigin"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("SDK lacks %q", want)
		}
	}
}

func TestWidgetPageOnlyFramedByTheParentOrigin(t *testing.T) {
	s := newSB(t)
	id := s.createSession(deSession())
	resp, err := http.Get(s.url + "/klarna/payments/widget/" + id + "?parent=http://shop.test")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "frame-ancestors http://shop.test") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("%d CSP %q", resp.StatusCode, csp)
	}
	if !bytes.Contains(body, []byte(`data-parent="http://shop.test"`)) || !bytes.Contains(body, []byte("Link my Klarna account to this shop")) {
		t.Error("widget page lacks its parent or the link box")
	}
	for _, bad := range []string{"", "javascript:alert(1)", "http://shop.test/path", "*"} {
		r, _ := http.Get(s.url + "/klarna/payments/widget/" + id + "?parent=" + bad)
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Errorf("parent %q: %d", bad, r.StatusCode)
		}
	}
}

func TestWidgetStateNeedsTheClientTokenAndTheMerchantsOrigin(t *testing.T) {
	s := newSB(t)
	id := s.createSession(deSession())
	other := s.createSession(deSession())
	r := s.doAuth("POST", "/klarna/payments/widget/"+id+"/state", map[string]any{"client_token": s.clientToken(other), "parent": "http://shop.test", "category": "pay_later"}, "", "")
	if r.status != 401 {
		t.Errorf("another session's token: %d", r.status)
	}
	if r := s.widgetState(id, "http://evil.test"); r.status != 403 {
		t.Errorf("foreign origin: %d", r.status)
	}
	st := s.widgetState(id, "http://shop.test")
	if st.status != 200 || st.str("mode") != "login" || st.body["link_offered"] != true || st.str("amount") != "EUR 62.70" {
		t.Errorf("state %s", st.raw)
	}
}

func TestAValidTokenSkipsTheLogin(t *testing.T) {
	s := newSB(t)
	tok := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	sess := deSession()
	sess["customer"] = map[string]any{"customer_token": tok}
	id := s.createSession(sess)
	st := s.widgetState(id, "http://shop.test")
	if st.str("mode") != "ready" || st.str("given_name") != "Anna" || st.body["link_offered"] != false {
		t.Errorf("state %s", st.raw)
	}
	// The widget's authorize needs no persona for a recognised customer.
	r := s.doAuth("POST", "/klarna/payments/widget/"+id+"/authorize",
		map[string]any{"client_token": s.clientToken(id), "parent": "http://shop.test", "category": "pay_later"}, "", "")
	if r.status != 200 || r.body["approved"] != true || r.str("authorization_token") == "" {
		t.Errorf("authorize %d %s", r.status, r.raw)
	}
}

func TestWidgetAuthorizeLogsInAPersonaAndDeclinesTheDeclinedOne(t *testing.T) {
	s := newSB(t)
	id := s.createSession(deSession())
	post := func(persona string) reply {
		return s.doAuth("POST", "/klarna/payments/widget/"+id+"/authorize",
			map[string]any{"client_token": s.clientToken(id), "parent": "http://shop.test", "persona": persona, "link_account": true,
				"category": "pay_over_time"}, "", "")
	}
	if r := post("nobody@example.com"); r.status != 400 {
		t.Errorf("unknown persona: %d", r.status)
	}
	if r := post("declined@example.com"); r.status != 403 || r.str("error") != "declined" {
		t.Errorf("declined: %d %s", r.status, r.raw)
	}
	if r := post("jonas.weber@example.com"); r.status != 200 || r.str("authorization_token") == "" {
		t.Errorf("persona: %d %s", r.status, r.raw)
	}
}

// The identity part recognises Sign in with Klarna access tokens through
// the hook; until it does, the field is accepted and the customer logs in.
func TestAccessTokenHook(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	sess["customer"] = map[string]any{"klarna_access_token": "ory_at_valid"}
	id := s.createSession(sess)
	if st := s.widgetState(id, "http://shop.test"); st.str("mode") != "login" {
		t.Errorf("without a validator: %s", st.raw)
	}
	var asked string
	sbklarna.SetAccessTokenValidator(s.s.State, func(tok, region string) (string, bool) {
		asked = region
		return "jonas.weber@example.com", tok == "ory_at_valid" && region == "eu"
	})
	st := s.widgetState(id, "http://shop.test")
	if st.str("mode") != "ready" || st.str("given_name") != "Jonas" || st.body["link_offered"] != true {
		t.Errorf("with a validator: %s", st.raw)
	}
	if asked != "eu" {
		t.Errorf("the validator was asked for region %q, want eu: a German session is at the European API", asked)
	}
}

func TestControlAuthorizeErrors(t *testing.T) {
	s := newSB(t)
	if r := s.doAuth("POST", "/control/klarna/sessions/nope/authorize", map[string]any{"link_account": true}, "", ""); r.status != 404 {
		t.Errorf("unknown session: %d", r.status)
	}
	id := s.createSession(deSession())
	if r := s.doAuth("POST", "/control/klarna/sessions/"+id+"/authorize", map[string]any{"link": true}, "", ""); r.status != 400 {
		t.Errorf("unknown field: %d", r.status)
	}
	s.advance("48h")
	if r := s.doAuth("POST", "/control/klarna/sessions/"+id+"/authorize", nil, "", ""); r.status != 404 {
		t.Errorf("expired session: %d", r.status)
	}
}

// Klarna's fraud check holds the review persona's orders: PENDING on create
// order and on a customer-token order; other personas' orders are ACCEPTED.
func TestReviewPersonaOrdersArePending(t *testing.T) {
	s := newSB(t)
	if r := s.linkedOrder("", map[string]any{"link_account": true}); r.str("fraud_status") != "ACCEPTED" {
		t.Errorf("Anna's order: %s", r.raw)
	}
	r := s.linkedOrder("", map[string]any{"link_account": true, "persona": "review@example.com"})
	if r.str("fraud_status") != "PENDING" {
		t.Fatalf("the review persona's order: %s", r.raw)
	}
	body := map[string]any{"purchase_currency": "EUR", "order_amount": 1800, "order_tax_amount": 287,
		"order_lines": []any{line(deSession(), 1)}, "merchant_urls": map[string]any{"confirmation": "http://shop.test/o"}}
	tok := s.recurringToken("", map[string]any{"persona": "review@example.com"})
	again := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", body, "Klarna-Idempotency-Key", "rev-1")
	if again.status != 200 || again.str("fraud_status") != "PENDING" {
		t.Errorf("the review persona's token order: %d %s", again.status, again.raw)
	}
}
