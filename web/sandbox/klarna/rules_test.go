package klarna_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// Markets, regions, categories and the two kinds of customer token, each
// tried at the HTTP level as a merchant's server (or the widget) would.

// record appends each exchange the tests make to the file named by
// KLARNA_EXCHANGES, one JSON line per exchange in the form
// ../shared/tools/oacheck reads, so the answers can be checked against
// Klarna's OpenAPI files (see doc.go, "Schemas").
var recordMu sync.Mutex

func record(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	path := os.Getenv("KLARNA_EXCHANGES")
	if path == "" {
		return
	}
	flat := func(h http.Header) map[string]string {
		m := map[string]string{}
		for k := range h {
			m[k] = h.Get(k)
		}
		return m
	}
	line, _ := json.Marshal(map[string]any{"method": req.Method, "url": req.URL.String(), "req_headers": flat(req.Header),
		"req_body": string(reqBody), "status": resp.StatusCode, "headers": flat(resp.Header), "body": string(body)})
	recordMu.Lock()
	defer recordMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

func newUUID() string { return uuid.NewString() }

// usSession is a valid US session as Klarna's tax-handling page asks:
// prices without tax, no tax_rate on the products, the tax as a sales_tax
// line named "Sales Tax", order_tax_amount the total of that line.
func usSession() map[string]any {
	return map[string]any{
		"intent": "buy_and_link", "purchase_country": "US", "purchase_currency": "USD", "locale": "en-US",
		"order_amount": 2*1200 + 198, "order_tax_amount": 198,
		"order_lines": []any{
			map[string]any{"type": "physical", "reference": "morning-blend", "name": "Morning Blend", "quantity": 2,
				"unit_price": 1200, "tax_rate": 0, "total_amount": 2400, "total_discount_amount": 0, "total_tax_amount": 0},
			map[string]any{"type": "sales_tax", "reference": "sales-tax", "name": "Sales Tax", "quantity": 1,
				"unit_price": 198, "tax_rate": 0, "total_amount": 198, "total_discount_amount": 0, "total_tax_amount": 0},
		},
		"merchant_urls": map[string]any{"confirmation": "http://shop.test/orders/2?sid={session.id}&oid={order.id}"},
	}
}

// noSession is a valid Norwegian session (NOK, 25% and 15% VAT).
func noSession() map[string]any {
	m := deSession()
	m["purchase_country"], m["purchase_currency"], m["locale"] = "NO", "NOK", "en-NO"
	l0, l1 := line(m, 0), line(m, 1)
	l0["tax_rate"], l0["total_tax_amount"] = 1500, 583 // 4470×1500/11500 = 583.04
	l1["tax_rate"], l1["total_tax_amount"] = 2500, 360 // 1800×2500/12500
	m["order_tax_amount"] = 583 + 360
	return m
}

// recurringToken makes a Customer Token API token_id the documented way: a
// session with intent tokenize, the customer's approval, then POST
// /payments/v1/authorizations/{authorizationToken}/customer-token.
func (s *sb) recurringToken(intent string, auth map[string]any) string {
	s.t.Helper()
	if intent == "" {
		intent = "tokenize"
	}
	sess := deSession()
	sess["intent"] = intent
	a := s.authorize(s.createSession(sess), auth)
	r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/customer-token", example(s.t, "create_customer_token_request.json"))
	if r.status != 200 {
		s.t.Fatalf("customer token: %d %s", r.status, r.raw)
	}
	return r.str("token_id")
}

func TestEachRegionAnswersOnlyItsOwnAccount(t *testing.T) {
	s := newSB(t)
	// Europe's credentials at North America's base and the other way round.
	wantError(t, s.doAuth("POST", "/klarna/api-na/payments/v1/sessions", usSession(), "PK_merchant", "api-key"), 401, "UNAUTHORIZED", "Unauthorized")
	wantError(t, s.doAuth("POST", "/klarna/api/payments/v1/sessions", deSession(), "PN_merchant", "na-api-key"), 401, "UNAUTHORIZED", "Unauthorized")
	for _, path := range []string{"/payments/v1/sessions/x", "/customer-token/v1/tokens/x"} {
		wantError(t, s.doAuth("GET", "/klarna/api-na"+path, nil, "PK_merchant", "api-key"), 401, "UNAUTHORIZED", "")
	}
	if r := s.na("POST", "/payments/v1/sessions", usSession()); r.status != 200 {
		t.Fatalf("US session at North America's base: %d %s", r.status, r.raw)
	}
}

// A North America account that was never provisioned answers nothing.
func TestAnUnprovisionedRegionRefusesEveryone(t *testing.T) {
	s := newSB(t)
	wantError(t, s.doAuth("POST", "/klarna/api-na/payments/v1/sessions", usSession(), "", ""), 401, "UNAUTHORIZED", "")
}

func TestObjectsAreUnknownInTheOtherRegion(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	id := s.createSession(sess)
	wantError(t, s.na("GET", "/payments/v1/sessions/"+id, nil), 404, "NOT_FOUND", "Invalid session id")
	wantError(t, s.na("POST", "/payments/v1/sessions/"+id, map[string]any{"locale": "en-US"}), 404, "NOT_FOUND", "")
	auth := s.authorize(id, map[string]any{"link_account": true})
	wantError(t, s.na("POST", "/payments/v1/authorizations/"+auth+"/order", orderOf(sess)), 404, "NOT_FOUND", "Invalid authorization token")
	wantError(t, s.na("DELETE", "/payments/v1/authorizations/"+auth, nil), 404, "NOT_FOUND", "")
	linked := s.do("POST", "/klarna/api/payments/v1/authorizations/"+auth+"/order", orderOf(sess)).str("customer_token")
	tok := s.recurringToken("", nil)
	wantError(t, s.na("GET", "/customer-token/v1/tokens/"+tok, nil), 404, "NOT_FOUND", "")
	wantError(t, s.na("POST", "/customer-token/v1/tokens/"+tok+"/order", map[string]any{"purchase_currency": "USD",
		"order_amount": 100, "order_tax_amount": 0, "order_lines": []any{map[string]any{"name": "x", "quantity": 1, "unit_price": 100,
			"total_amount": 100}}}), 404, "TOKEN_NOT_FOUND", "")
	// Europe's account-linking token recognises no one in North America.
	us := usSession()
	us["customer"] = map[string]any{"customer_token": linked}
	naID := s.na("POST", "/payments/v1/sessions", us).str("session_id")
	if st := s.widgetStateFor(naID, "http://shop.test", "pay_over_time"); st.str("mode") != "login" {
		t.Errorf("a European token recognised a North American customer: %s", st.raw)
	}
}

// Klarna's table of purchase countries, locales and currencies, and each
// region's own countries. Refusals are 400 BAD_VALUE naming the field.
func TestCountryCurrencyLocaleCombinations(t *testing.T) {
	s := newSB(t)
	type combo struct{ country, currency, locale string }
	with := func(base map[string]any, c combo) map[string]any {
		m := clone(base)
		m["purchase_country"], m["purchase_currency"], m["locale"] = c.country, c.currency, c.locale
		return m
	}
	for _, c := range []combo{{"DE", "EUR", "de-DE"}, {"DE", "EUR", "en-DE"}, {"de", "eur", "EN-de"}} {
		if r := s.do("POST", "/klarna/api/payments/v1/sessions", with(deSession(), c)); r.status != 200 {
			t.Errorf("%v: %d %s", c, r.status, r.raw)
		}
	}
	for _, c := range []combo{{"NO", "NOK", "nb-NO"}, {"NO", "NOK", "en-NO"}} {
		if r := s.do("POST", "/klarna/api/payments/v1/sessions", with(noSession(), c)); r.status != 200 {
			t.Errorf("%v: %d %s", c, r.status, r.raw)
		}
	}
	for _, c := range []combo{{"US", "USD", "en-US"}, {"US", "USD", "es-US"}} {
		if r := s.na("POST", "/payments/v1/sessions", with(usSession(), c)); r.status != 200 {
			t.Errorf("%v: %d %s", c, r.status, r.raw)
		}
	}
	for _, tc := range []struct {
		name  string
		na    bool
		body  map[string]any
		field string
	}{
		{"German locale in Norway", false, with(noSession(), combo{"NO", "NOK", "de-DE"}), "locale"},
		{"en-US in Germany", false, with(deSession(), combo{"DE", "EUR", "en-US"}), "locale"},
		{"nb-DE", false, with(deSession(), combo{"DE", "EUR", "nb-DE"}), "locale"},
		{"EUR in Norway", false, with(noSession(), combo{"NO", "EUR", "en-NO"}), "purchase_currency"},
		{"NOK in Germany", false, with(deSession(), combo{"DE", "NOK", "de-DE"}), "purchase_currency"},
		{"EUR in the US", true, with(usSession(), combo{"US", "EUR", "en-US"}), "purchase_currency"},
		{"US at Europe's base", false, usSession(), "purchase_currency"},
		{"Germany at North America's base", true, deSession(), "purchase_currency"},
		{"Norway at North America's base", true, noSession(), "purchase_currency"},
		{"Australia (Oceania, not emulated)", false, with(deSession(), combo{"AU", "AUD", "en-AU"}), "purchase_currency"},
		{"a country Klarna does not sell in", false, with(deSession(), combo{"JP", "JPY", "ja-JP"}), "purchase_country"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.na {
				r = s.na("POST", "/payments/v1/sessions", tc.body)
			} else {
				r = s.do("POST", "/klarna/api/payments/v1/sessions", tc.body)
			}
			wantError(t, r, 400, "BAD_VALUE", "Bad value: "+tc.field)
		})
	}
	// An update that leaves the combination invalid is refused too.
	id := s.createSession(deSession())
	wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions/"+id, map[string]any{"locale": "sv-SE"}), 400, "BAD_VALUE", "Bad value: locale")
}

// Klarna's US tax rules: the tax as sales_tax lines, no tax in the products.
func TestUSSalesTaxLines(t *testing.T) {
	s := newSB(t)
	for _, tc := range []struct {
		name   string
		break_ func(m map[string]any)
		field  string
	}{
		{"a product with a tax rate beside a sales_tax line", func(m map[string]any) { line(m, 0)["tax_rate"] = 825 }, "order_lines[0].tax_rate"},
		{"a product with a tax amount beside a sales_tax line", func(m map[string]any) {
			line(m, 0)["total_tax_amount"] = 183
		}, "order_lines[0].total_tax_amount"},
		{"order_tax_amount not the sales_tax line", func(m map[string]any) { m["order_tax_amount"] = 0 }, "order_tax_amount"},
		{"order_amount without the tax line", func(m map[string]any) { m["order_amount"] = 2400 }, "order_amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := usSession()
			tc.break_(m)
			wantError(t, s.na("POST", "/payments/v1/sessions", m), 400, "BAD_VALUE", "Bad value: "+tc.field)
		})
	}
	t.Run("without a tax_rate field at all", func(t *testing.T) {
		m := usSession()
		delete(line(m, 0), "tax_rate")
		delete(line(m, 1), "tax_rate")
		if r := s.na("POST", "/payments/v1/sessions", m); r.status != 200 {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("the global way (tax inside each line, no sales_tax line) is Klarna's other way", func(t *testing.T) {
		m := usSession()
		m["order_lines"] = []any{map[string]any{"name": "Morning Blend", "quantity": 2, "unit_price": 1299, "tax_rate": 825,
			"total_amount": 2598, "total_tax_amount": 198}}
		m["order_amount"], m["order_tax_amount"] = 2598, 198
		if r := s.na("POST", "/payments/v1/sessions", m); r.status != 200 {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	// Europe keeps its rule: a line's tax within 1 of its rate.
	m := deSession()
	line(m, 0)["total_tax_amount"] = 0
	m["order_tax_amount"] = 287
	wantError(t, s.do("POST", "/klarna/api/payments/v1/sessions", m), 400, "BAD_VALUE", "Bad value: order_lines[0].total_tax_amount")
}

func categories(t *testing.T, r reply) []string {
	t.Helper()
	list, _ := r.body["payment_method_categories"].([]any)
	var ids []string
	for _, c := range list {
		m := c.(map[string]any)
		urls, _ := m["asset_urls"].(map[string]any)
		if _, ok := m["name"].(string); !ok || urls == nil {
			t.Errorf("category %v lacks name or asset_urls", m)
		}
		for _, k := range []string{"descriptive", "standard"} {
			if u, _ := urls[k].(string); !strings.HasPrefix(u, "http") {
				t.Errorf("category %v: asset_urls.%s %q", m["identifier"], k, u)
			}
		}
		ids = append(ids, m["identifier"].(string))
	}
	return ids
}

func TestPaymentMethodCategoriesFollowTheMarket(t *testing.T) {
	s := newSB(t)
	se := example(t, "create_session_request.json")
	delete(se, "customer")
	for _, tc := range []struct {
		name string
		r    reply
		want []string
	}{
		{"Germany", s.do("POST", "/klarna/api/payments/v1/sessions", deSession()), []string{"pay_later", "pay_now", "pay_over_time"}},
		{"Norway", s.do("POST", "/klarna/api/payments/v1/sessions", noSession()), []string{"pay_later", "pay_over_time"}},
		{"United States", s.na("POST", "/payments/v1/sessions", usSession()), []string{"pay_over_time", "pay_later"}},
		{"Sweden (the single klarna category)", s.do("POST", "/klarna/api/payments/v1/sessions", se), []string{"klarna"}},
	} {
		if got := categories(t, tc.r); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v (%s)", tc.name, got, tc.want, tc.r.raw)
		}
		// The session read lists the same, and so does the client token the
		// SDK decodes.
		id := tc.r.str("session_id")
		read := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil)
		if tc.name == "United States" {
			read = s.na("GET", "/payments/v1/sessions/"+id, nil)
		}
		if got := categories(t, read); !slices.Equal(got, tc.want) {
			t.Errorf("%s read: %v", tc.name, got)
		}
		parts := strings.Split(tc.r.str("client_token"), ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			Categories []string `json:"payment_method_categories"`
		}
		if json.Unmarshal(raw, &claims) != nil || !slices.Equal(claims.Categories, tc.want) {
			t.Errorf("%s client token lists %v", tc.name, claims.Categories)
		}
	}
}

// The authorization records the category the customer approved with, and
// the order reports its payment method; a category the session does not
// offer is refused by the control API and the widget.
func TestTheAuthorizationRecordsTheChosenCategory(t *testing.T) {
	s := newSB(t)
	for _, tc := range []struct {
		category string
		want     map[string]any
	}{
		{"", map[string]any{"type": "invoice", "number_of_days": float64(30)}}, // the first offered: pay_later
		{"pay_later", map[string]any{"type": "invoice", "number_of_days": float64(30)}},
		{"pay_now", map[string]any{"type": "direct_debit"}},
		{"pay_over_time", map[string]any{"type": "fixed_amount", "number_of_installments": float64(3)}},
	} {
		sess := deSession()
		body := map[string]any{"link_account": false}
		if tc.category != "" {
			body["payment_method_category"] = tc.category
		}
		a := s.authorize(s.createSession(sess), body)
		r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess))
		if got, _ := json.Marshal(r.body["authorized_payment_method"]); string(got) != mustJSON(tc.want) {
			t.Errorf("%q: authorized_payment_method %s, want %s", tc.category, got, mustJSON(tc.want))
		}
	}
	id := s.createSession(noSession())
	r := s.doAuth("POST", "/control/klarna/sessions/"+id+"/authorize", map[string]any{"payment_method_category": "pay_now"}, "", "")
	if r.status != 400 || !strings.Contains(r.str("error"), "pay_now") {
		t.Errorf("control authorize with a category Norway does not offer: %d %s", r.status, r.raw)
	}
	post := func(path, category string) reply {
		return s.doAuth("POST", "/klarna/payments/widget/"+id+"/"+path, map[string]any{"client_token": s.clientToken(id),
			"parent": "http://shop.test", "category": category, "persona": "anna.schmidt@example.com"}, "", "")
	}
	for _, path := range []string{"state", "authorize"} {
		if r := post(path, "pay_now"); r.status != 400 || r.str("error") != "payment_method_category_not_supported" {
			t.Errorf("widget %s with pay_now in Norway: %d %s", path, r.status, r.raw)
		}
	}
	if r := post("state", "pay_over_time"); r.status != 200 || r.str("category_name") == "" {
		t.Errorf("widget state: %d %s", r.status, r.raw)
	}
	ok := post("authorize", "pay_over_time")
	o := s.do("POST", "/klarna/api/payments/v1/authorizations/"+ok.str("authorization_token")+"/order", orderOf(noSession()))
	if pm, _ := o.body["authorized_payment_method"].(map[string]any); pm["type"] != "fixed_amount" {
		t.Errorf("widget-authorized pay_over_time order: %s", o.raw)
	}
}

func TestSDKRefusesACategoryTheSessionDoesNotOffer(t *testing.T) {
	s := newSB(t)
	resp, err := http.Get(s.url + "/klarna/cdn/kp/lib/v1/api.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"PaymentMethodCategoryNotSupportedError", "claims.payment_method_categories", "category: category"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("SDK lacks %q", want)
		}
	}
}

// A whole US purchase at North America's base: sales tax line, the
// default category (Pay in 4), a us1 account-linking token.
func TestAUSPurchaseOnTheNorthAmericanAPI(t *testing.T) {
	s := newSB(t)
	sess := usSession()
	id := s.na("POST", "/payments/v1/sessions", sess).str("session_id")
	a := s.authorize(id, map[string]any{"link_account": true})
	o := s.na("POST", "/payments/v1/authorizations/"+a+"/order", orderOf(sess))
	if o.status != 200 || !strings.HasPrefix(o.str("customer_token"), "krn:partner:us1:playground:identity:customer-token:") {
		t.Fatalf("%d %s", o.status, o.raw)
	}
	if pm, _ := o.body["authorized_payment_method"].(map[string]any); pm["type"] != "fixed_amount" || pm["number_of_installments"] != float64(4) {
		t.Errorf("payment method %v", pm)
	}
	if read := s.na("GET", "/payments/v1/sessions/"+id, nil); read.str("status") != "complete" {
		t.Errorf("read %s", read.raw)
	}
}

func TestCustomerTokenFromATokenizeSession(t *testing.T) {
	s := newSB(t)
	sess := deSession()
	sess["intent"] = "tokenize"
	id := s.createSession(sess)
	a := s.authorize(id, map[string]any{"payment_method_category": "pay_now"})
	path := "/klarna/api/payments/v1/authorizations/" + a + "/customer-token"
	req := example(t, "create_customer_token_request.json")
	for _, tc := range []struct {
		break_ func(m map[string]any)
		field  string
	}{
		{func(m map[string]any) { delete(m, "description") }, "description"},
		{func(m map[string]any) { m["intended_use"] = "ONE_CLICK" }, "intended_use"},
		{func(m map[string]any) { delete(m, "locale") }, "locale"},
		{func(m map[string]any) { m["purchase_country"] = "NO" }, "purchase_country"},
		{func(m map[string]any) { m["purchase_currency"] = "NOK" }, "purchase_currency"},
	} {
		m := clone(req)
		tc.break_(m)
		wantError(t, s.do("POST", path, m), 400, "BAD_VALUE", "Bad value: "+tc.field)
	}
	r := s.do("POST", path, req, "Klarna-Idempotency-Key", "tok-create-1")
	if r.status != 200 || !uuidPattern.MatchString(r.str("token_id")) || !strings.Contains(r.str("redirect_url"), "/klarna/payments/redirect/") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	tok := r.str("token_id")
	if again := s.do("POST", path, req, "Klarna-Idempotency-Key", "tok-create-1"); again.str("token_id") != tok {
		t.Errorf("the same key made another token: %s", again.raw)
	}
	wantError(t, s.do("POST", path, req), 404, "NOT_FOUND", "Invalid authorization token")
	read := s.do("GET", "/klarna/api/customer-token/v1/tokens/"+tok, nil)
	if read.status != 200 || read.str("status") != "ACTIVE" || read.str("payment_method_type") != "DIRECT_DEBIT" || read.body["direct_debit"] == nil {
		t.Errorf("read %d %s", read.status, read.raw)
	}
	// A tokenize session places no order.
	wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess)), 404, "NOT_FOUND", "")
	order := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", map[string]any{"purchase_currency": "EUR",
		"order_amount": 1800, "order_tax_amount": 287, "order_lines": []any{line(deSession(), 1)}}, "Klarna-Idempotency-Key", "t-o-1")
	if pm, _ := order.body["authorized_payment_method"].(map[string]any); order.status != 200 || pm["type"] != "direct_debit" {
		t.Errorf("token order %d %s", order.status, order.raw)
	}

	t.Run("buy and buy_and_link sessions cannot be tokenized", func(t *testing.T) {
		for _, intent := range []string{"buy", "buy_and_link"} {
			sess := deSession()
			sess["intent"] = intent
			a := s.authorize(s.createSession(sess), nil)
			wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/customer-token", req), 403, "INVALID_OPERATION", "")
		}
	})
	t.Run("buy_and_tokenize: one authorization places the order and makes the token", func(t *testing.T) {
		sess := deSession()
		sess["intent"] = "buy_and_tokenize"
		a := s.authorize(s.createSession(sess), nil)
		if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/customer-token", req); r.status != 200 {
			t.Fatalf("token %d %s", r.status, r.raw)
		}
		if r := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess)); r.status != 200 {
			t.Fatalf("order %d %s", r.status, r.raw)
		}
	})
	t.Run("after 60 minutes the authorization makes no token", func(t *testing.T) {
		a := s.authorize(s.createSession(sess), nil)
		s.advance("60m")
		wantError(t, s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/customer-token", req), 404, "NOT_FOUND", "Invalid authorization token")
	})
}

// The Customer Token API does not know account-linking tokens: 404, as for
// any token it never issued, with a message saying what the token is for.
func TestTheCustomerTokenAPIRefusesAccountLinkingTokens(t *testing.T) {
	s := newSB(t)
	linked := s.linkedOrder("", map[string]any{"link_account": true}).str("customer_token")
	base := "/klarna/api/customer-token/v1/tokens/" + linked
	order := map[string]any{"purchase_currency": "EUR", "order_amount": 1800, "order_tax_amount": 287, "order_lines": []any{line(deSession(), 1)}}
	for _, r := range []reply{s.do("GET", base, nil), s.do("PATCH", base+"/status", map[string]any{"status": "CANCELLED"})} {
		wantError(t, r, 404, "NOT_FOUND", "Invalid")
	}
	r := s.do("POST", base+"/order", order)
	wantError(t, r, 404, "TOKEN_NOT_FOUND", "")
	if !strings.Contains(string(r.raw), "customer.customer_token") {
		t.Errorf("the message does not say where the account-linking token goes: %s", r.raw)
	}
	// It still recognises the customer in a session: that is its use.
	if !s.recognises(linked) {
		t.Error("the linked customer is not recognised")
	}
}

func TestTokenOrderFailures(t *testing.T) {
	s := newSB(t)
	body := map[string]any{"purchase_currency": "EUR", "order_amount": 1800, "order_tax_amount": 287, "order_lines": []any{line(deSession(), 1)}}
	unfunded := s.recurringToken("", map[string]any{"persona": "unfunded@example.com"})
	for range 2 {
		wantError(t, s.do("POST", "/klarna/api/customer-token/v1/tokens/"+unfunded+"/order", body), 403, "UNAVAILABLE_PAYMENT_METHOD", "")
	}
	flaky := s.recurringToken("", map[string]any{"persona": "flaky@example.com"})
	wantError(t, s.do("POST", "/klarna/api/customer-token/v1/tokens/"+flaky+"/order", body), 403, "PAYMENT_METHOD_FAILED", "")
	if r := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+flaky+"/order", body); r.status != 200 {
		t.Errorf("the retry after PAYMENT_METHOD_FAILED: %d %s", r.status, r.raw)
	}
	tok := s.recurringToken("", nil)
	for status, code := range map[int]string{403: "TOKEN_FORBIDDEN", 503: "SERVICE_UNAVAILABLE", 500: "INTERNAL_SERVER_ERROR"} {
		s.doAuth("POST", "/control/faults", map[string]any{"operation": "klarna.customer_token_order", "status": status, "times": 1}, "", "")
		wantError(t, s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", body), status, code, "")
	}
	if r := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", body); r.status != 200 {
		t.Errorf("after the faults: %d %s", r.status, r.raw)
	}
}

// Every answer has the fields of its OpenAPI schema and no others (the
// account-linking guide's customer_token on create order excepted), and no
// field is null. ../shared/tools/oacheck checks the types as well (see
// doc.go); this keeps the field lists from drifting.
func TestAnswersHaveTheFieldsOfTheOpenAPIFiles(t *testing.T) {
	s := newSB(t)
	allowed := func(name string, r reply, keys ...string) {
		t.Helper()
		for k, v := range r.body {
			if !slices.Contains(keys, k) {
				t.Errorf("%s: field %q is not in the schema: %s", name, k, r.raw)
			}
			if v == nil {
				t.Errorf("%s: %q is null", name, k)
			}
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case nil:
				t.Errorf("%s: %s is null", name, path)
			case map[string]any:
				for k, e := range x {
					walk(path+"."+k, e)
				}
			case []any:
				for i, e := range x {
					walk(path+"["+string(rune('0'+i%10))+"]", e)
				}
			}
		}
		walk(name, map[string]any(r.body))
	}
	errorV2 := []string{"correlation_id", "error_code", "error_messages"}
	sessionRead := []string{"acquiring_channel", "attachment", "authorization_token", "billing_address", "client_token",
		"custom_payment_method_ids", "customer", "design", "expires_at", "locale", "merchant_data", "merchant_reference1",
		"merchant_reference2", "merchant_urls", "options", "order_amount", "order_lines", "order_tax_amount",
		"payment_method_categories", "purchase_country", "purchase_currency", "shipping_address", "status", "intent"}

	sess := deSession()
	sess["customer"] = map[string]any{"date_of_birth": "1990-01-01", "klarna_access_token": "ory_at_x"}
	created := s.do("POST", "/klarna/api/payments/v1/sessions", sess)
	allowed("create session", created, "session_id", "client_token", "payment_method_categories")
	id := created.str("session_id")
	a := s.authorize(id, nil)
	read := s.do("GET", "/klarna/api/payments/v1/sessions/"+id, nil)
	allowed("read session", read, sessionRead...)
	if c, _ := read.body["customer"].(map[string]any); c["klarna_access_token"] != nil || c["date_of_birth"] != "1990-01-01" {
		t.Errorf("read customer %v", c)
	}
	for _, l := range read.body["order_lines"].([]any) {
		for k := range l.(map[string]any) {
			if !slices.Contains([]string{"image_url", "merchant_data", "name", "product_identifiers", "product_url", "quantity",
				"quantity_unit", "reference", "tax_rate", "total_amount", "total_discount_amount", "total_tax_amount", "type",
				"unit_price", "subscription"}, k) {
				t.Errorf("order line field %q", k)
			}
		}
	}
	o := s.do("POST", "/klarna/api/payments/v1/authorizations/"+a+"/order", orderOf(sess))
	allowed("create order", o, "order_id", "fraud_status", "redirect_url", "authorized_payment_method", "customer_token")
	if _, isObject := o.body["authorized_payment_method"].(map[string]any); !isObject {
		t.Errorf("authorized_payment_method is not an object: %s", o.raw)
	}
	tokSess := deSession()
	tokSess["intent"] = "tokenize"
	ta := s.authorize(s.createSession(tokSess), nil)
	ct := s.do("POST", "/klarna/api/payments/v1/authorizations/"+ta+"/customer-token", example(t, "create_customer_token_request.json"))
	allowed("create customer token", ct, "billing_address", "customer", "payment_method_reference", "redirect_url", "token_id")
	tok := ct.str("token_id")
	allowed("read token", s.do("GET", "/klarna/api/customer-token/v1/tokens/"+tok, nil), "card", "direct_debit", "payment_method_type", "status")
	to := s.do("POST", "/klarna/api/customer-token/v1/tokens/"+tok+"/order", map[string]any{"purchase_currency": "EUR",
		"order_amount": 1800, "order_tax_amount": 287, "order_lines": []any{line(deSession(), 1)}})
	allowed("token order", to, "authorized_payment_method", "fraud_status", "order_id", "redirect_url")
	for _, k := range []string{"order_id", "fraud_status", "redirect_url"} {
		if to.str(k) == "" {
			t.Errorf("token order lacks required %q", k)
		}
	}
	for name, r := range map[string]reply{
		"400": s.do("POST", "/klarna/api/payments/v1/sessions", map[string]any{}),
		"401": s.doAuth("GET", "/klarna/api/payments/v1/sessions/"+id, nil, "", ""),
		"404": s.do("GET", "/klarna/api/customer-token/v1/tokens/nope", nil),
		"409": s.do("POST", "/klarna/api/payments/v1/authorizations/"+s.authorize(s.createSession(deSession()), nil)+"/order",
			orderOf(noSession())),
	} {
		allowed("error "+name, r, errorV2...)
		if got := sortedKeys(r.body); !slices.Equal(got, errorV2) {
			t.Errorf("error %s fields %v", name, got)
		}
	}
}
