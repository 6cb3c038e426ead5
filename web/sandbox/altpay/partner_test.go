package altpay_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOAuthTokenMatchesTheDocumentedExample(t *testing.T) {
	e := newEnv(t)
	r := e.call("POST", "/altpay/oauth/token", map[string]string{
		"Authorization": basic(clientID, clientSecret), "Content-Type": "application/x-www-form-urlencoded",
	}, "grant_type=client_credentials")
	e.want(r, 200)
	sameShape(t, "oauth_token_response.json", r.raw)
	if r.body["expires_in"] != float64(3600) || !strings.EqualFold(r.body["token_type"].(string), "bearer") {
		t.Errorf("want a bearer token for 3600 seconds (altpay_oauth_token_ttl 1h), got %s", r.raw)
	}
	if _, ok := r.body["refresh_token"]; ok {
		t.Error("client credentials must not return a refresh token")
	}
}

func TestOAuthTokenRefusesBadCredentialsWith403(t *testing.T) {
	e := newEnv(t)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := map[string]map[string]string{
		"wrong secret":    {"Authorization": basic(clientID, "nope")},
		"wrong client id": {"Authorization": basic("someone-else", clientSecret)},
		"no credentials":  {},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range form {
				h[k] = v
			}
			r := e.call("POST", "/altpay/oauth/token", h, "grant_type=client_credentials")
			e.want(r, 403)
			sameShape(t, "oauth_invalid_credentials.json", r.raw)
			if r.body["message"] != "Invalid credentials" {
				t.Errorf("message %q, want the documented \"Invalid credentials\"", r.body["message"])
			}
		})
	}
	t.Run("credentials in the body instead of Basic auth", func(t *testing.T) {
		r := e.call("POST", "/altpay/oauth/token", form, "grant_type=client_credentials&client_id="+clientID+"&client_secret="+clientSecret)
		e.want(r, 403)
	})
	t.Run("wrong grant type", func(t *testing.T) {
		h := map[string]string{"Authorization": basic(clientID, clientSecret), "Content-Type": "application/x-www-form-urlencoded"}
		r := e.call("POST", "/altpay/oauth/token", h, "grant_type=password")
		e.want(r, 400)
		if r.body["validation_errors"].(map[string]any)["grant_type"] == nil {
			t.Errorf("want a grant_type validation error, got %s", r.raw)
		}
	})
}

func TestOAuthTokenExpiresOnTheSandboxClock(t *testing.T) {
	e := newEnv(t)
	e.setting("altpay_oauth_token_ttl", "2m")
	tok := e.oauth()
	e.want(e.call("GET", "/altpay/customers", auth(tok), nil), 200)
	e.advance("119s")
	e.want(e.call("GET", "/altpay/customers", auth(tok), nil), 200)
	e.advance("1s")
	r := e.call("GET", "/altpay/customers", auth(tok), nil)
	e.want(r, 401)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("a 401 should name the Bearer scheme, got %q", r.header.Get("WWW-Authenticate"))
	}
}

func TestServerAPIRefusesCallsWithoutAValidBearer(t *testing.T) {
	e := newEnv(t)
	_, cust, inv, checkout := e.setup("ext-1")
	for _, c := range []struct{ method, path string }{
		{"POST", "/altpay/customers"}, {"GET", "/altpay/customers"}, {"GET", "/altpay/customers/" + cust},
		{"POST", "/altpay/invoices"}, {"GET", "/altpay/invoices"}, {"GET", "/altpay/invoices/" + inv["id"].(string)},
		{"POST", "/altpay/v1/checkout-auth/init"}, {"POST", "/altpay/checkout-auth/init"},
	} {
		for name, h := range map[string]map[string]string{
			"none": nil, "garbage": auth("garbage"), "checkout token": auth(checkout), "basic": {"Authorization": basic(clientID, clientSecret)},
		} {
			r := e.call(c.method, c.path, h, map[string]any{"customer_id": cust, "invoice_id": inv["id"]})
			if r.status != 401 || r.body["code"] != "unauthorized" {
				t.Errorf("%s %s with %s: %d %s, want 401 unauthorized", c.method, c.path, name, r.status, r.raw)
			}
		}
	}
}

func TestCustomersMatchTheDocumentedExamples(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	req, _ := os.ReadFile(filepath.Join("testdata", "customer_request.json"))
	r := e.call("POST", "/altpay/customers", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, string(req))
	e.want(r, 201)
	sameShape(t, "customer_response.json", r.raw)
	id := r.body["id"].(string)
	if !strings.HasPrefix(id, "cus_") {
		t.Errorf("customer id %q, want cus_...", id)
	}
	got := e.call("GET", "/altpay/customers/"+id, auth(tok), nil)
	e.want(got, 200)
	sameShape(t, "customer_response.json", got.raw)

	list := e.call("GET", "/altpay/customers?limit=1", auth(tok), nil)
	e.want(list, 200)
	sameShape(t, "customers_list_response.json", list.raw)

	dup := e.call("POST", "/altpay/customers", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, string(req))
	e.want(dup, 400)
	sameShape(t, "error_bad_request.json", dup.raw)
	if dup.body["message"] != "This external id is already used" {
		t.Errorf("duplicate external_id: %s", dup.raw)
	}
	e.want(e.call("GET", "/altpay/customers/cus_missing", auth(tok), nil), 404)

	bad := e.call("POST", "/altpay/customers", auth(tok), map[string]any{"email": "not-an-email", "name": ""})
	e.want(bad, 400)
	ve := bad.body["validation_errors"].(map[string]any)
	if ve["email"] == nil || ve["name"] == nil {
		t.Errorf("want email and name validation errors, got %s", bad.raw)
	}
}

func TestCustomerListPagesWithCursors(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	var ids []string
	for i := range 5 {
		ids = append(ids, e.customer(tok, "page-"+string(rune('a'+i))))
	}
	var seen []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		r := e.call("GET", "/altpay/customers?limit=2&after="+after, auth(tok), nil)
		e.want(r, 200)
		for _, c := range r.body["data"].([]any) {
			seen = append(seen, c.(map[string]any)["id"].(string))
		}
		if r.body["has_next_page"] != true {
			break
		}
		after = r.body["end_cursor"].(string)
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Errorf("pages gave %v, want %v", seen, ids)
	}
}

func TestInvoicesMatchTheDocumentedExamples(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	raw, _ := os.ReadFile(filepath.Join("testdata", "invoice_request.json"))
	body := strings.Replace(string(raw), "cus_xxx", cust, 1)
	r := e.call("POST", "/altpay/invoices", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, body)
	e.want(r, 201)
	sameShape(t, "invoice_response.json", r.raw)
	if r.body["total"] != 39.8 || r.body["currency"] != "USD" || r.body["customer_id"] != cust {
		t.Errorf("invoice: %s", r.raw)
	}
	got := e.call("GET", "/altpay/invoices/"+r.body["id"].(string), auth(tok), nil)
	e.want(got, 200)
	sameShape(t, "invoice_response.json", got.raw)
	e.want(e.call("GET", "/altpay/invoices/inv_missing", auth(tok), nil), 404)
}

func TestInvoiceAmountsTravelAsTwoDecimalMajorUnits(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	inv := e.invoice(tok, e.customer(tok, "ext-1"))
	r := e.call("GET", "/altpay/invoices/"+inv["id"].(string), auth(tok), nil)
	if !strings.Contains(string(r.raw), `"total":44.80`) {
		t.Errorf("want total 44.80 (2 x 19.90 + 5.00) written with two decimals, got %s", r.raw)
	}
}

func TestInvoiceValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	line := []map[string]any{{"amount": 10, "description": "x", "quantity": 1}}
	cases := map[string]struct {
		body  map[string]any
		field string
	}{
		"no currency":         {map[string]any{"customer_id": cust, "due_date": "2025-04-01", "line_items": line}, "currency"},
		"unknown customer":    {map[string]any{"currency": "USD", "customer_id": "cus_nope", "due_date": "2025-04-01", "line_items": line}, "customer_id"},
		"bad due date":        {map[string]any{"currency": "USD", "customer_id": cust, "due_date": "1 April", "line_items": line}, "due_date"},
		"no lines":            {map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-04-01"}, "line_items"},
		"three decimals":      {map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-04-01", "line_items": []map[string]any{{"amount": "1.234", "description": "x", "quantity": 1}}}, ""},
		"fractional quantity": {map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-04-01", "line_items": []map[string]any{{"amount": 1, "description": "x", "quantity": 1.5}}}, "line_items[0].quantity"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.call("POST", "/altpay/invoices", auth(tok), c.body)
			e.want(r, 400)
			if r.body["code"] != "bad_request" {
				t.Errorf("code %v, want bad_request", r.body["code"])
			}
			if c.field != "" {
				ve, _ := r.body["validation_errors"].(map[string]any)
				if ve[c.field] == nil {
					t.Errorf("want a %s validation error, got %s", c.field, r.raw)
				}
			}
		})
	}
	bad := e.call("POST", "/altpay/invoices", auth(tok), map[string]any{"currency": "USD", "customer_id": cust, "due_date": "1 April", "line_items": line})
	e.want(bad, 400)
	sameShape(t, "error_validation.json", bad.raw)
	e.want(e.call("POST", "/altpay/invoices", auth(tok), map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-04-01", "line_items": line}), 201)
}

// The API reference's currency enum for an invoice has one value, USD: any
// other currency is the documented 422 with the HttpError body naming the
// field, and no invoice is made.
func TestInvoiceInAnotherCurrencyThanUSDIsRefusedWith422(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	for _, cur := range []string{"EUR", "CAD", "NOK", "usd"} {
		t.Run(cur, func(t *testing.T) {
			r := e.call("POST", "/altpay/invoices", auth(tok), map[string]any{"currency": cur, "customer_id": cust, "due_date": "2025-04-01",
				"line_items": []map[string]any{{"amount": 10, "description": "x", "quantity": 1}}})
			e.want(r, 422)
			sameShape(t, "error_unprocessable.json", r.raw)
			if ve, _ := r.body["validation_errors"].(map[string]any); ve["currency"] != "currency must be USD" {
				t.Errorf("want a currency validation error, got %s", r.raw)
			}
		})
	}
	list := e.call("GET", "/altpay/invoices?customer_id="+cust, auth(tok), nil)
	e.want(list, 200)
	if n := len(list.body["data"].([]any)); n != 0 {
		t.Errorf("%d invoices after the refusals, want none", n)
	}
}

// POST /invoices is not documented as idempotent and documents no
// Idempotency-Key: the same request twice, with the same key, makes two
// invoices, as a client must expect of the real API.
func TestCreateInvoiceIgnoresAnIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	h := auth(tok)
	h["Idempotency-Key"] = "invoice-order-1"
	body := map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-04-01", "line_items": []map[string]any{{"amount": 10, "description": "x", "quantity": 1}}}
	a := e.call("POST", "/altpay/invoices", h, body)
	b := e.call("POST", "/altpay/invoices", h, body)
	e.want(a, 201)
	e.want(b, 201)
	if a.body["id"] == b.body["id"] {
		t.Errorf("the same request twice gave one invoice %v: the API documents no idempotency for it", a.body["id"])
	}
}

func TestInvoiceListMatchesTheDocumentedExample(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	e.invoice(tok, e.customer(tok, "ext-1"))
	r := e.call("GET", "/altpay/invoices", auth(tok), nil)
	e.want(r, 200)
	sameShape(t, "invoices_list_response.json", r.raw)
	if r.body["has_next_page"] != false || r.body["has_previous_page"] != false || len(r.body["data"].([]any)) != 1 {
		t.Errorf("list: %s", r.raw)
	}
}

// The documented filters narrow the list: customer_id, status, the creation
// and due date ranges (RFC 3339); a malformed bound is a 400.
func TestInvoiceListFilters(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	alice, bob := e.customer(tok, "alice"), e.customer(tok, "bob")
	mk := func(cust, due, memo string) string {
		r := e.call("POST", "/altpay/invoices", auth(tok), map[string]any{"currency": "USD", "customer_id": cust, "due_date": due, "memo": memo,
			"line_items": []map[string]any{{"amount": 10, "description": "x", "quantity": 1}}})
		e.want(r, 201)
		return r.body["id"].(string)
	}
	a1 := mk(alice, "2025-03-20", "a1") // created 2025-03-10T12:00
	b1 := mk(bob, "2025-03-20", "b1")
	e.advance("48h")
	tok = e.oauth()
	a2 := mk(alice, "2025-04-01", "a2") // created 2025-03-12T12:00
	ids := func(query string) string {
		r := e.call("GET", "/altpay/invoices?"+query, auth(tok), nil)
		e.want(r, 200)
		var got []string
		for _, in := range r.body["data"].([]any) {
			got = append(got, in.(map[string]any)["id"].(string))
		}
		return strings.Join(got, ",")
	}
	for query, want := range map[string]string{
		"":                                          strings.Join([]string{a1, b1, a2}, ","),
		"customer_id=" + alice:                      a1 + "," + a2,
		"customer_id=" + bob:                        b1,
		"created_at_start=2025-03-11T00:00:00Z":     a2,
		"created_at_end=2025-03-11T00:00:00Z":       a1 + "," + b1,
		"due_date_start=2025-03-21T00:00:00Z":       a2,
		"due_date_end=2025-03-20T00:00:00Z":         a1 + "," + b1,
		"customer_id=" + alice + "&status=UPCOMING": a1 + "," + a2,
		"status=PAID":                               "",
	} {
		if got := ids(query); got != want {
			t.Errorf("GET /invoices?%s: %s, want %s", query, got, want)
		}
	}
	e.want(e.call("GET", "/altpay/invoices?created_at_start=yesterday", auth(tok), nil), 400)
	e.want(e.call("GET", "/altpay/invoices?after=inv_nope", auth(tok), nil), 400)
}

func TestInvoiceListPagesWithCursors(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	var want []string
	for range 5 {
		want = append(want, e.invoice(tok, cust)["id"].(string))
	}
	var seen []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		r := e.call("GET", "/altpay/invoices?limit=2&customer_id="+cust+"&after="+after, auth(tok), nil)
		e.want(r, 200)
		for _, in := range r.body["data"].([]any) {
			seen = append(seen, in.(map[string]any)["id"].(string))
		}
		if r.body["has_next_page"] != true {
			break
		}
		after = r.body["end_cursor"].(string)
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("pages gave %v, want %v", seen, want)
	}
}

func TestInvoiceTurnsOverdueAfterItsDueDate(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	inv := e.invoice(tok, e.customer(tok, "ext-1")) // due 2025-03-24, created 2025-03-10
	if inv["status"] != "UPCOMING" {
		t.Fatalf("new invoice status %v, want UPCOMING", inv["status"])
	}
	e.advance("360h") // 2025-03-25
	tok = e.oauth()
	r := e.call("GET", "/altpay/invoices/"+inv["id"].(string), auth(tok), nil)
	if r.body["status"] != "OVERDUE" {
		t.Errorf("status after the due date %v, want OVERDUE", r.body["status"])
	}
}

func TestCheckoutAuthInitServesBothPathsWithTheDocumentedShape(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	inv := e.invoice(tok, cust)["id"].(string)
	for _, path := range []string{"/altpay/v1/checkout-auth/init", "/altpay/checkout-auth/init"} {
		r := e.call("POST", path, auth(tok), map[string]any{"customer_id": cust, "invoice_id": inv})
		e.want(r, 200)
		sameShape(t, "checkout_auth_init_response.json", r.raw)
		if !strings.HasPrefix(r.body["token"].(string), "eyJhbGciOiJIUzI1NiIs") {
			t.Errorf("%s: token %q does not start like the documented HS256 example", path, r.body["token"])
		}
	}
}

func TestCheckoutAuthInitAnswers400WithoutAValidInvoiceForTheCustomer(t *testing.T) {
	e := newEnv(t)
	tok := e.oauth()
	alice := e.customer(tok, "alice")
	bob := e.customer(tok, "bob")
	bobsInvoice := e.invoice(tok, bob)["id"].(string)
	for name, body := range map[string]map[string]any{
		"no invoice id":           {"customer_id": alice},
		"unknown invoice":         {"customer_id": alice, "invoice_id": "inv_nope"},
		"another customer's":      {"customer_id": alice, "invoice_id": bobsInvoice},
		"unknown customer":        {"customer_id": "cus_nope", "invoice_id": bobsInvoice},
		"no customer, an invoice": {"invoice_id": bobsInvoice},
	} {
		for _, path := range []string{"/altpay/v1/checkout-auth/init", "/altpay/checkout-auth/init"} {
			r := e.call("POST", path, auth(tok), body)
			if r.status != 400 || r.body["code"] != "bad_request" {
				t.Errorf("%s on %s: %d %s, want 400 bad_request", name, path, r.status, r.raw)
			}
		}
	}
	r := e.call("POST", "/altpay/v1/checkout-auth/init", auth(tok), map[string]any{"customer_id": alice, "invoice_id": "inv_nope"})
	if r.body["message"] != "invalid invoice id" {
		t.Errorf("message %q, want the reported \"invalid invoice id\"", r.body["message"])
	}
}

func TestCheckoutTokenCarriesTheDocumentedClaimsAndLifetime(t *testing.T) {
	e := newEnv(t)
	e.setting("altpay_checkout_token_ttl", "90s")
	tok := e.oauth()
	cust := e.customer(tok, "ext-1")
	inv := e.invoice(tok, cust)["id"].(string)
	r := e.call("POST", "/altpay/v1/checkout-auth/init", auth(tok), map[string]any{"customer_id": cust, "invoice_id": inv})
	e.want(r, 200)
	parts := strings.Split(r.body["token"].(string), ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a compact JWS: %v", r.body["token"])
	}
	var hdr, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(h, &hdr)
	_ = json.Unmarshal(c, &claims)
	if hdr["alg"] != "HS256" {
		t.Errorf("alg %v, want HS256", hdr["alg"])
	}
	want := map[string]any{"client_id": clientID, "customer_id": cust, "invoice_id": inv, "partner_id": "prt_refshop_sandbox"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	exp := t0.Add(90 * time.Second).Unix()
	if claims["exp"] != float64(exp) || r.body["expires_at"] != float64(exp) {
		t.Errorf("exp %v, expires_at %v, want both %d (sandbox now + altpay_checkout_token_ttl)", claims["exp"], r.body["expires_at"], exp)
	}
}
