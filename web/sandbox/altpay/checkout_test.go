package altpay_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

var testAddress = map[string]any{"street_address": "1 Main St", "city": "Springfield", "postal_code": "12345",
	"state": "IL", "state_code": "IL", "country": "United States", "country_code": "US"}

func (e *env) addCard(checkout, token string) map[string]any {
	e.t.Helper()
	r := e.call("POST", "/altpay/checkout/payment-methods/card", auth(checkout),
		map[string]any{"card_provider_token": token, "provider": "evervault", "address": testAddress})
	e.want(r, 201)
	return r.body
}

func (e *env) pay(checkout, key string, body map[string]any) reply {
	e.t.Helper()
	h := auth(checkout)
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return e.call("POST", "/altpay/checkout/payments", h, body)
}

func payBody(pmID, method, amount string) map[string]any {
	return map[string]any{"amount": amount, "payment_date": "2025-03-10T12:00:00.000Z", "payment_method": method, "payment_method_id": pmID}
}

func TestCheckoutInvoiceMatchesTheDocumentedExampleOnBothPaths(t *testing.T) {
	e := newEnv(t)
	_, _, inv, checkout := e.setup("ext-1")
	for _, path := range []string{"/altpay/checkout/invoice", "/altpay/checkout/v1/invoice"} {
		r := e.call("GET", path, auth(checkout), nil)
		e.want(r, 200)
		sameShape(t, "invoice_response.json", r.raw)
		if r.body["id"] != inv["id"] {
			t.Errorf("%s gave invoice %v, want the token's %v", path, r.body["id"], inv["id"])
		}
	}
}

func TestCheckoutTokenExpiresOnTheSandboxClockWith401(t *testing.T) {
	e := newEnv(t)
	e.setting("altpay_checkout_token_ttl", "5s")
	_, _, _, checkout := e.setup("ext-1")
	e.want(e.call("GET", "/altpay/checkout/invoice", auth(checkout), nil), 200)
	e.advance("4s")
	e.want(e.call("GET", "/altpay/checkout/invoice", auth(checkout), nil), 200)
	e.advance("1s")
	for _, c := range []struct{ method, path string }{
		{"GET", "/altpay/checkout/invoice"}, {"GET", "/altpay/checkout/payment-methods"},
		{"POST", "/altpay/checkout/payment-methods/card"}, {"POST", "/altpay/checkout/payments"},
	} {
		r := e.call(c.method, c.path, auth(checkout), map[string]any{})
		if r.status != 401 || r.body["code"] != "token_expired" {
			t.Errorf("%s %s with an expired token: %d %s, want 401 token_expired", c.method, c.path, r.status, r.raw)
		}
	}
}

func TestCheckoutRefusesForgedOrWrongTokensWith401(t *testing.T) {
	e := newEnv(t)
	oauth, _, _, checkout := e.setup("ext-1")
	parts := strings.Split(checkout, ".")
	forgedClaims := strings.Replace(mustDecode(parts[1]), `"invoice_id":"inv_`, `"invoice_id":"inv_x`, 1)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forgedClaims)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for name, tok := range map[string]string{"forged claims": forged, "alg none": none, "the OAuth token": oauth, "garbage": "abc"} {
		r := e.call("GET", "/altpay/checkout/invoice", auth(tok), nil)
		if r.status != 401 {
			t.Errorf("%s: %d %s, want 401", name, r.status, r.raw)
		}
	}
	e.want(e.call("GET", "/altpay/checkout/invoice", nil, nil), 401)

	// A reset signs with a new key: tokens from before stop working.
	e.want(e.call("POST", "/control/reset", nil, nil), 200)
	e.want(e.call("GET", "/altpay/checkout/invoice", auth(checkout), nil), 401)
}

func mustDecode(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return string(b)
}

func TestCheckoutTokenForAnotherInvoiceIsRefusedWith403(t *testing.T) {
	e := newEnv(t)
	oauth, cust, inv, checkout := e.setup("ext-1")
	other := e.invoice(oauth, cust)["id"].(string)
	for _, path := range []string{"/altpay/checkout/invoice", "/altpay/checkout/v1/invoice", "/altpay/checkout/payment-methods"} {
		r := e.call("GET", path+"?invoice_id="+other, auth(checkout), nil)
		if r.status != 403 || r.body["code"] != "forbidden" {
			t.Errorf("%s for another invoice: %d %s, want 403", path, r.status, r.raw)
		}
		e.want(e.call("GET", path+"?invoice_id="+inv["id"].(string), auth(checkout), nil), 200)
	}
	pm := e.addCard(checkout, "tok_test_visa")
	h := auth(checkout)
	h["Idempotency-Key"] = "k1"
	r := e.call("POST", "/altpay/checkout/payments?invoice_id="+other, h, payBody(pm["id"].(string), "card", "44.80"))
	e.want(r, 403)
	if got := e.call("GET", "/altpay/checkout/invoice", auth(checkout), nil); got.body["status"] == "PAID" {
		t.Error("a refused payment paid the invoice")
	}
}

func TestCheckoutPaymentWithAnotherCustomersMethodIsRefusedWith403(t *testing.T) {
	e := newEnv(t)
	_, _, _, alice := e.setup("alice")
	_, _, _, bob := e.setup("bob")
	bobsCard := e.addCard(bob, "tok_test_visa")["id"].(string)
	r := e.pay(alice, "k1", payBody(bobsCard, "card", "44.80"))
	e.want(r, 403)
	list := e.call("GET", "/altpay/checkout/payment-methods", auth(alice), nil)
	if n := len(list.body["data"].([]any)); n != 0 {
		t.Errorf("alice sees %d payment methods, want none (bob's card is his)", n)
	}
}

func TestPaymentMethodsMatchTheDocumentedExample(t *testing.T) {
	e := newEnv(t)
	_, _, _, checkout := e.setup("ext-1")
	r := e.call("GET", "/altpay/checkout/payment-methods", auth(checkout), nil)
	e.want(r, 200)
	if string(r.raw) != "{\"data\":[]}\n" {
		t.Errorf("no methods yet: %s", r.raw)
	}
	card := e.addCard(checkout, "tok_test_visa")
	if card["default"] != true || card["last4"] != "4242" || card["type"] != "card" || card["brand"] != "visa" {
		t.Errorf("first card: %v, want the default visa 4242", card)
	}
	bank := e.call("POST", "/altpay/checkout/payment-methods/bank", auth(checkout), map[string]any{
		"account_data_type": "us", "institution_name": "Test Bank", "receiver_name": "Jane Doe", "subtype": "checkings",
		"type": "depository", "us_account_data": map[string]any{"account_number": "000123456789", "routing_number": "011000015"},
	})
	e.want(bank, 201)
	if bank.body["type"] != "ach" || bank.body["last4"] != "6789" || bank.body["default"] != false {
		t.Errorf("bank account: %s", bank.raw)
	}
	ca := e.call("POST", "/altpay/checkout/payment-methods/bank", auth(checkout), map[string]any{
		"account_data_type": "ca", "institution_name": "Test Bank", "receiver_name": "Jane Doe", "subtype": "savings",
		"type": "depository", "ca_account_data": map[string]any{"account_number": "1234567", "institution_code": "001", "transit_number": "00011"},
	})
	e.want(ca, 201)
	list := e.call("GET", "/altpay/checkout/payment-methods", auth(checkout), nil)
	e.want(list, 200)
	sameShape(t, "payment_methods_response.json", list.raw)
	data := list.body["data"].([]any)
	if len(data) != 3 || data[0].(map[string]any)["id"] != card["id"] {
		t.Errorf("list: %s, want 3 methods with the default card first", list.raw)
	}
}

func TestAddPaymentMethodValidation(t *testing.T) {
	e := newEnv(t)
	_, _, _, checkout := e.setup("ext-1")
	cases := map[string]struct {
		path  string
		body  map[string]any
		field string
	}{
		"unknown card token": {"/card", map[string]any{"card_provider_token": "4242424242424242", "provider": "evervault", "address": testAddress}, "card_provider_token"},
		"no address":         {"/card", map[string]any{"card_provider_token": "tok_test_visa", "provider": "evervault"}, "address"},
		"other provider":     {"/card", map[string]any{"card_provider_token": "tok_test_visa", "provider": "stripe", "address": testAddress}, "provider"},
		"bad routing checksum": {"/bank", map[string]any{"account_data_type": "us", "institution_name": "B", "receiver_name": "J", "subtype": "checkings", "type": "depository",
			"us_account_data": map[string]any{"account_number": "000123456789", "routing_number": "110000001"}}, "us_account_data.routing_number"},
		"bad subtype": {"/bank", map[string]any{"account_data_type": "us", "institution_name": "B", "receiver_name": "J", "subtype": "checking", "type": "depository",
			"us_account_data": map[string]any{"account_number": "000123456789", "routing_number": "011000015"}}, "subtype"},
		"missing ca data": {"/bank", map[string]any{"account_data_type": "ca", "institution_name": "B", "receiver_name": "J", "subtype": "savings", "type": "depository"}, "ca_account_data"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.call("POST", "/altpay/checkout/payment-methods"+c.path, auth(checkout), c.body)
			e.want(r, 400)
			if ve, _ := r.body["validation_errors"].(map[string]any); ve[c.field] == nil {
				t.Errorf("want a %s validation error, got %s", c.field, r.raw)
			}
		})
	}
}

func TestPaymentsAreIdempotentAndPayTheInvoiceOnce(t *testing.T) {
	e := newEnv(t)
	oauth, _, inv, checkout := e.setup("ext-1")
	pm := e.addCard(checkout, "tok_test_visa")["id"].(string)
	body := payBody(pm, "card", "44.80")

	first := e.pay(checkout, "payment-inv-1", body)
	e.want(first, 200)
	sameShape(t, "payment_response.json", first.raw)
	if first.body["status"] != "succeeded" {
		t.Fatalf("payment: %s", first.raw)
	}
	again := e.pay(checkout, "payment-inv-1", body)
	e.want(again, 200)
	if string(again.raw) != string(first.raw) {
		t.Errorf("replay gave %s, want the stored %s", again.raw, first.raw)
	}
	got := e.call("GET", "/altpay/invoices/"+inv["id"].(string), auth(oauth), nil)
	if got.body["status"] != "PAID" {
		t.Errorf("invoice status %v after payment, want PAID", got.body["status"])
	}

	reused := e.pay(checkout, "payment-inv-1", payBody(pm, "card", "1.00"))
	e.want(reused, 409)
	second := e.pay(checkout, "payment-inv-2", body)
	e.want(second, 400)
	if second.body["message"] != "Invoice is already paid" {
		t.Errorf("a second payment with a new key: %s, want 400 already paid", second.raw)
	}
}

func TestPaymentValidation(t *testing.T) {
	e := newEnv(t)
	_, _, _, checkout := e.setup("ext-1")
	card := e.addCard(checkout, "tok_test_visa")["id"].(string)
	cases := map[string]struct {
		key   string
		body  map[string]any
		field string
	}{
		"no idempotency key":  {"", payBody(card, "card", "44.80"), "Idempotency-Key"},
		"amount not a string": {"k", map[string]any{"amount": "abc", "payment_date": "2025-03-10", "payment_method": "card", "payment_method_id": card}, "amount"},
		"partial amount":      {"k", payBody(card, "card", "10.00"), "amount"},
		"card paid as ach":    {"k", payBody(card, "standard_ach", "44.80"), "payment_method"},
		"manual":              {"k", payBody(card, "manual", "44.80"), "payment_method"},
		"unknown method":      {"k", payBody("pm_nope", "card", "44.80"), "payment_method_id"},
		"bad date":            {"k", map[string]any{"amount": "44.80", "payment_date": "tomorrow", "payment_method": "card", "payment_method_id": card}, "payment_date"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.pay(checkout, c.key, c.body)
			e.want(r, 400)
			if ve, _ := r.body["validation_errors"].(map[string]any); ve[c.field] == nil {
				t.Errorf("want a %s validation error, got %s", c.field, r.raw)
			}
		})
	}
	if n := e.sb.State.Calls("altpay.checkout_payment"); n != len(cases) {
		t.Errorf("altpay.checkout_payment counted %d, want %d", n, len(cases))
	}
}

func TestDeclinedTestCardLeavesTheInvoiceUnpaid(t *testing.T) {
	e := newEnv(t)
	oauth, _, inv, checkout := e.setup("ext-1")
	declined := e.addCard(checkout, "tok_test_declined")["id"].(string)
	r := e.pay(checkout, "k1", payBody(declined, "card", "44.80"))
	e.want(r, 200)
	if r.body["status"] != "failed" {
		t.Errorf("declined card: %s, want status failed", r.raw)
	}
	got := e.call("GET", "/altpay/invoices/"+inv["id"].(string), auth(oauth), nil)
	if got.body["status"] != "UPCOMING" {
		t.Errorf("invoice %v after a declined payment, want UPCOMING", got.body["status"])
	}
	visa := e.addCard(checkout, "tok_test_visa")["id"].(string)
	e.want(e.pay(checkout, "k2", payBody(visa, "card", "44.80")), 200)
}

func TestACHPaymentPaysTheInvoice(t *testing.T) {
	e := newEnv(t)
	oauth, _, inv, checkout := e.setup("ext-1")
	bank := e.call("POST", "/altpay/checkout/payment-methods/bank", auth(checkout), map[string]any{
		"account_data_type": "us", "institution_name": "Test Bank", "receiver_name": "Jane Doe", "subtype": "checkings",
		"type": "depository", "us_account_data": map[string]any{"account_number": "000123456789", "routing_number": "011000015"},
	})
	e.want(bank, 201)
	r := e.pay(checkout, "k1", payBody(bank.body["id"].(string), "standard_ach", "44.80"))
	e.want(r, 200)
	got := e.call("GET", "/altpay/invoices/"+inv["id"].(string), auth(oauth), nil)
	if got.body["status"] != "PAID" {
		t.Errorf("invoice %v after an ACH payment, want PAID", got.body["status"])
	}
}

func TestCORSAllowsOnlyTheShopOrigin(t *testing.T) {
	e := newEnv(t)
	oauth, _, _, checkout := e.setup("ext-1")
	pre := func(origin string) reply {
		return e.call("OPTIONS", "/altpay/checkout/payments", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
		}, nil)
	}
	ok := pre(shopOrigin)
	e.want(ok, http.StatusNoContent)
	if ok.header.Get("Access-Control-Allow-Origin") != shopOrigin ||
		!strings.Contains(ok.header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
		!strings.Contains(ok.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from the shop: %v", ok.header)
	}
	evil := pre("http://evil.test")
	e.want(evil, 403)
	if evil.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin got Allow-Origin %q", evil.header.Get("Access-Control-Allow-Origin"))
	}

	h := auth(checkout)
	h["Origin"] = shopOrigin
	get := e.call("GET", "/altpay/checkout/invoice", h, nil)
	if get.header.Get("Access-Control-Allow-Origin") != shopOrigin || !strings.Contains(get.header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("checkout GET from the shop: %v", get.header)
	}
	h["Authorization"] = "Bearer expired-or-garbage"
	if r := e.call("GET", "/altpay/checkout/invoice", h, nil); r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != shopOrigin {
		t.Errorf("a 401 must carry CORS headers so the snippet can read it: %d %v", r.status, r.header)
	}
	h["Origin"] = "http://evil.test"
	if r := e.call("GET", "/altpay/checkout/invoice", h, nil); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin got Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	s := auth(oauth)
	s["Origin"] = shopOrigin
	if r := e.call("GET", "/altpay/customers", s, nil); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("the server API must not allow browsers")
	}
}

func TestInjectedFaultsUseTheProviderErrorShape(t *testing.T) {
	e := newEnv(t)
	_, _, _, checkout := e.setup("ext-1")
	e.want(e.call("POST", "/control/faults", nil, map[string]any{"operation": "altpay.checkout_invoice", "status": 429}), 200)
	e.want(e.call("POST", "/control/faults", nil, map[string]any{"operation": "altpay.checkout_payment_methods", "status": 503}), 200)
	h := auth(checkout)
	h["Origin"] = shopOrigin
	r := e.call("GET", "/altpay/checkout/invoice", h, nil)
	e.want(r, 429)
	if r.header.Get("Retry-After") != "1" || r.body["code"] != "too_many_requests" || r.header.Get("Access-Control-Allow-Origin") != shopOrigin {
		t.Errorf("429 fault: %v %s", r.header, r.raw)
	}
	r = e.call("GET", "/altpay/checkout/payment-methods", h, nil)
	e.want(r, 503)
	if r.body["code"] == nil || r.body["message"] == nil {
		t.Errorf("503 fault body %s, want {code, message}", r.raw)
	}
	e.want(e.call("GET", "/altpay/checkout/invoice", h, nil), 200)
}

func TestUnknownCheckoutPathIsAJSON404(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/altpay/checkout/nothing-here", nil, nil)
	e.want(r, 404)
	if r.body["code"] != "not_found" {
		t.Errorf("body %s", r.raw)
	}
}
