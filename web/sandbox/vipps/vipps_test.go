package vipps_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

const (
	clientID = "5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b"
	secret   = "sandbox-vipps-client-secret=="
	subKey   = "0f14ebcab0ec4b29ae0cb90d91b4a84a"
	msn      = "123456"
	shopURL  = "http://localhost:18080"
)

type env struct {
	t   *testing.T
	srv *httptest.Server
	st  *control.State
	sb  *sandboxtest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := control.Config{
		ShopBaseURL: shopURL,
		Vipps:       control.VippsConfig{Enabled: true, ClientID: clientID, ClientSecret: secret, SubscriptionKey: subKey, MSN: msn},
	}
	base := clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sb := sandboxtest.Start(t, cfg, base)
	return &env{t: t, srv: sb.Server, st: sb.State, sb: sb}
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

func (e *env) do(method, path string, h map[string]string, body string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	record(req, body, res, b)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// record appends the exchange to the file VIPPS_EXCHANGES names, one JSON
// line each, for ../shared/tools/oacheck to hold every answer to the
// ePayment OpenAPI file:
//
//	VIPPS_EXCHANGES=/tmp/vipps.jsonl go test ./web/sandbox/vipps/
//	cd ../shared/tools/oacheck && go run . ../../reference/openapi/vipps-epayment-v1.yml /vipps /tmp/vipps.jsonl
var recordMu sync.Mutex

func record(req *http.Request, reqBody string, res *http.Response, body []byte) {
	path := os.Getenv("VIPPS_EXCHANGES")
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
	line, _ := json.Marshal(map[string]any{
		"method": req.Method, "url": req.URL.RequestURI(), "req_headers": flat(req.Header), "req_body": reqBody,
		"status": res.StatusCode, "headers": flat(res.Header), "body": string(body),
	})
	recordMu.Lock()
	defer recordMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

func tokenHeaders() map[string]string {
	return map[string]string{
		"client_id": clientID, "client_secret": secret, "Ocp-Apim-Subscription-Key": subKey,
		"Merchant-Serial-Number": msn, "Vipps-System-Name": "refshop", "Vipps-System-Version": "1.0.0",
		"Vipps-System-Plugin-Name": "refshop-vipps", "Vipps-System-Plugin-Version": "1.0.0",
	}
}

func (e *env) token() string {
	e.t.Helper()
	r := e.do("POST", "/vipps/accesstoken/get", tokenHeaders(), "")
	if r.Status != 200 {
		e.t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return r.json(e.t)["access_token"].(string)
}

// api returns the headers of an ePayment call; extra overrides them ("" drops one).
func (e *env) api(tok, key string, extra ...string) map[string]string {
	h := map[string]string{
		"Authorization": "Bearer " + tok, "Ocp-Apim-Subscription-Key": subKey, "Merchant-Serial-Number": msn,
		"Vipps-System-Name": "refshop", "Vipps-System-Version": "1.0.0",
		"Vipps-System-Plugin-Name": "refshop-vipps", "Vipps-System-Plugin-Version": "1.0.0",
	}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

func createBody(ref string) string {
	return `{"amount":{"currency":"NOK","value":4980},"customer":{"phoneNumber":"4791234567"},
		"paymentMethod":{"type":"WALLET"},"reference":"` + ref + `","paymentDescription":"Order at Refshop",
		"returnUrl":"` + shopURL + `/vipps/return?order=abc","userFlow":"WEB_REDIRECT"}`
}

func (e *env) create(tok, ref string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, ref+"-create"), createBody(ref))
	if r.Status != 201 {
		e.t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.json(e.t)
}

func (e *env) approve(tok, ref string) {
	e.t.Helper()
	r := e.do("POST", "/vipps/epayment/v1/test/payments/"+ref+"/approve", e.api(tok, ""), `{"customer":{"phoneNumber":"4791234567"}}`)
	if r.Status != 200 {
		e.t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
}

func (e *env) get(tok, ref string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/vipps/epayment/v1/payments/"+ref, e.api(tok, ""), "")
	if r.Status != 200 {
		e.t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	return r.json(e.t)
}

// shape maps every JSON path in v to its JSON type, so an answer can be held
// to a documented example without comparing values.
func shape(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		out[path] = "object"
		for k, c := range x {
			shape(c, path+"."+k, out)
		}
	case []any:
		out[path] = "array"
		if len(x) > 0 {
			shape(x[0], path+"[]", out)
		}
	case string:
		out[path] = "string"
	case float64:
		out[path] = "number"
	case bool:
		out[path] = "bool"
	case nil:
		out[path] = "null"
	}
}

// sameShape fails unless got has every path of the documented example with
// the same JSON type (a null in the example accepts a string: nullable).
func sameShape(t *testing.T, example string, got []byte) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", example))
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatalf("%s: %v", example, err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, got)
	}
	ws, hs := map[string]string{}, map[string]string{}
	shape(want, "", ws)
	shape(have, "", hs)
	var paths []string
	for p := range ws {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		switch {
		case hs[p] == "":
			t.Errorf("%s: answer lacks %q (documented as %s): %s", example, p, ws[p], got)
		case hs[p] != ws[p] && !(ws[p] == "null" || hs[p] == "null"):
			t.Errorf("%s: %q is %s, documented as %s", example, p, hs[p], ws[p])
		}
	}
}

func TestAccessTokenAsDocumented(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/vipps/accesstoken/get", tokenHeaders(), "")
	if r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	sameShape(t, "accesstoken_response.json", r.Body)
	m := r.json(t)
	if len(m) != 7 {
		t.Errorf("want the seven documented fields, got %d: %v", len(m), m)
	}
	for k, v := range m {
		if _, ok := v.(string); !ok {
			t.Errorf("%s is %T, documented as a string", k, v)
		}
	}
	if m["token_type"] != "Bearer" || m["expires_in"] != "3600" || m["ext_expires_in"] != "0" || m["resource"] != "00000002-0000-0000-c000-000000000000" {
		t.Errorf("fields: %v", m)
	}
	on, _ := strconv.ParseInt(m["expires_on"].(string), 10, 64)
	nb, _ := strconv.ParseInt(m["not_before"].(string), 10, 64)
	if on-nb != 3600 || nb != e.st.Now().Unix() {
		t.Errorf("expires_on %d - not_before %d: want 3600 from the sandbox clock's now %d", on, nb, e.st.Now().Unix())
	}
	if !strings.HasPrefix(m["access_token"].(string), "eyJ") {
		t.Errorf("access_token is not a JWT: %v", m["access_token"])
	}
	if e.st.Calls("vipps.accesstoken") != 1 {
		t.Errorf("calls = %d", e.st.Calls("vipps.accesstoken"))
	}
}

func TestAccessTokenLifetimeFromSetting(t *testing.T) {
	e := newEnv(t)
	if r := e.do("POST", "/control/settings", nil, `{"vipps_access_token_ttl":"90s"}`); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	r := e.do("POST", "/vipps/accesstoken/get", tokenHeaders(), "")
	m := r.json(t)
	if m["expires_in"] != "90" {
		t.Errorf("expires_in = %v, want \"90\"", m["expires_in"])
	}
	tok := m["access_token"].(string)
	e.st.Clock.Advance(89 * time.Second)
	if r := e.do("GET", "/vipps/epayment/v1/payments/refshop-not-there", e.api(tok, ""), ""); r.Status != 404 {
		t.Errorf("token 1s before expiry: %d %s", r.Status, r.Body)
	}
	e.st.Clock.Advance(time.Second)
	if r := e.do("GET", "/vipps/epayment/v1/payments/refshop-not-there", e.api(tok, ""), ""); r.Status != 401 {
		t.Errorf("token at expiry: %d %s", r.Status, r.Body)
	}
}

func TestAccessTokenRejections(t *testing.T) {
	e := newEnv(t)
	with := func(k, v string) map[string]string {
		h := tokenHeaders()
		h[k] = v
		return h
	}
	cases := []struct {
		name    string
		h       map[string]string
		status  int
		field   string // the body field that names the error
		want    string
		example string
	}{
		{"missing subscription key", with("Ocp-Apim-Subscription-Key", ""), 401, "message", "missing subscription key", "azure_invalid_subscription_key.json"},
		{"wrong subscription key", with("Ocp-Apim-Subscription-Key", "ffffffffffffffffffffffffffffffff"), 401, "message", "invalid subscription key", "azure_invalid_subscription_key.json"},
		{"unknown client_id", with("client_id", "11111111-2222-3333-4444-555555555555"), 400, "error", "unauthorized_client", "entra_unknown_client.json"},
		{"wrong client_secret", with("client_secret", "not-the-secret"), 401, "error", "invalid_client", "entra_unknown_client.json"},
		{"missing client_secret", with("client_secret", ""), 401, "error", "invalid_client", "entra_unknown_client.json"},
		{"missing client_id", with("client_id", ""), 400, "error", "invalid_request", "entra_unknown_client.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/vipps/accesstoken/get", c.h, "")
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			sameShape(t, c.example, r.Body)
			if got, _ := r.json(t)[c.field].(string); !strings.Contains(got, c.want) {
				t.Errorf("%s = %q, want it to contain %q", c.field, got, c.want)
			}
			if strings.Contains(string(r.Body), secret) {
				t.Error("the error echoes the client secret")
			}
		})
	}
	if m := e.do("POST", "/vipps/accesstoken/get", with("client_id", "11111111-2222-3333-4444-555555555555"), "").json(t); m["error_codes"].([]any)[0] != float64(700016) {
		t.Errorf("unknown client_id error_codes = %v, want [700016]", m["error_codes"])
	}
}

func TestAPIRejections(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	e.create(tok, "refshop-rejections-1")
	path := "/vipps/epayment/v1/payments/refshop-rejections-1"

	// An expired token: issued, then the sandbox clock moves past its lifetime.
	old := e.token()
	e.st.Clock.Advance(time.Hour)
	fresh := e.token()

	cases := []struct {
		name   string
		h      map[string]string
		status int
		check  func(t *testing.T, r resp)
	}{
		{"token without the word Bearer", e.api(fresh, "", "Authorization", fresh), 401, azure("Access token is missing or invalid")},
		{"no Authorization", e.api(fresh, "", "Authorization", ""), 401, azure("Access token is missing or invalid")},
		{"expired token", e.api(old, ""), 401, azure("Access token is missing or invalid")},
		{"tampered token", e.api(fresh[:len(fresh)-2]+"xx", ""), 401, azure("Access token is missing or invalid")},
		{"missing subscription key", e.api(fresh, "", "Ocp-Apim-Subscription-Key", ""), 401, azure("missing subscription key")},
		{"wrong subscription key", e.api(fresh, "", "Ocp-Apim-Subscription-Key", "ffffffffffffffffffffffffffffffff"), 401, azure("invalid subscription key")},
		{"missing Merchant-Serial-Number", e.api(fresh, "", "Merchant-Serial-Number", ""), 400, problemNaming("Merchant-Serial-Number")},
		{"malformed Merchant-Serial-Number", e.api(fresh, "", "Merchant-Serial-Number", "12ab"), 400, problemNaming("Merchant-Serial-Number")},
		{"Merchant-Serial-Number of 8 digits", e.api(fresh, "", "Merchant-Serial-Number", "12345678"), 400, problemNaming("Merchant-Serial-Number")},
		// 7 digits match the current spec's ^[0-9]{4,7}$: well formed, just not this sales unit.
		{"another merchant's 7-digit MSN", e.api(fresh, "", "Merchant-Serial-Number", "1234567"), 403, problemNaming("")},
		{"another merchant's MSN", e.api(fresh, "", "Merchant-Serial-Number", "654321"), 403, problemNaming("")},
		{"system header over 30 characters", e.api(fresh, "", "Vipps-System-Name", strings.Repeat("x", 31)), 400, problemNaming("Vipps-System-Name")},
		{"valid", e.api(fresh, ""), 200, func(*testing.T, resp) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", path, c.h, "")
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			c.check(t, r)
		})
	}

	t.Run("create without Idempotency-Key", func(t *testing.T) {
		r := e.do("POST", "/vipps/epayment/v1/payments", e.api(fresh, ""), createBody("refshop-rejections-2"))
		if r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		problemNaming("Idempotency-Key")(t, r)
	})
	t.Run("Idempotency-Key over 50 characters", func(t *testing.T) {
		r := e.do("POST", "/vipps/epayment/v1/payments", e.api(fresh, strings.Repeat("k", 51)), createBody("refshop-rejections-2"))
		if r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		problemNaming("Idempotency-Key")(t, r)
	})
	t.Run("unknown reference", func(t *testing.T) {
		r := e.do("GET", "/vipps/epayment/v1/payments/refshop-unknown-1", e.api(fresh, ""), "")
		if r.Status != 404 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		problemNaming("")(t, r)
	})
	t.Run("malformed reference", func(t *testing.T) {
		r := e.do("GET", "/vipps/epayment/v1/payments/short", e.api(fresh, ""), "")
		if r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		problemNaming("reference")(t, r)
	})
}

func azure(want string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		sameShape(t, "azure_invalid_subscription_key.json", r.Body)
		m := r.json(t)
		if m["statusCode"] != float64(r.Status) || !strings.Contains(m["message"].(string), want) {
			t.Errorf("body %s, want statusCode %d and a message with %q", r.Body, r.Status, want)
		}
	}
}

// problemNaming checks a problem+json body with a traceId, naming field in
// extraDetails when field is not "".
func problemNaming(field string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
		m := r.json(t)
		if m["status"] != float64(r.Status) || m["title"] == "" || m["type"] == "" {
			t.Errorf("problem fields: %s", r.Body)
		}
		if tr, _ := m["traceId"].(string); !strings.HasPrefix(tr, "00-") || len(tr) != 55 {
			t.Errorf("traceId %q is not traceparent-shaped", tr)
		}
		if field == "" {
			return
		}
		sameShape(t, "problem_validation.json", r.Body)
		for _, d := range m["extraDetails"].([]any) {
			if d.(map[string]any)["name"] == field {
				return
			}
		}
		t.Errorf("extraDetails do not name %q: %s", field, r.Body)
	}
}

func TestCreateGetEventsAsDocumented(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	// The documented create example, verbatim (https returnUrl, NOK).
	doc, _ := os.ReadFile("testdata/create_request.json")
	r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "fb492b5e-7907-4d83-ba20-c7fb60ca35de"), string(doc))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	sameShape(t, "create_response.json", r.Body)
	created := r.json(t)
	if created["reference"] != "acme-shop-123-1234589" {
		t.Errorf("reference %v", created["reference"])
	}
	landing, err := url.Parse(created["redirectUrl"].(string))
	if err != nil || landing.Path != "/vipps/landing" || landing.Query().Get("token") == "" {
		t.Errorf("redirectUrl %v", created["redirectUrl"])
	}

	g := e.do("GET", "/vipps/epayment/v1/payments/acme-shop-123-1234589", e.api(tok, ""), "")
	sameShape(t, "get_payment_response.json", g.Body)
	if m := g.json(t); m["state"] != "CREATED" || m["redirectUrl"] != created["redirectUrl"] {
		t.Errorf("get: %s", g.Body)
	}
	e.approve(tok, "acme-shop-123-1234589")
	g = e.do("GET", "/vipps/epayment/v1/payments/acme-shop-123-1234589", e.api(tok, ""), "")
	sameShape(t, "get_payment_response.json", g.Body)
	m := g.json(t)
	if m["state"] != "AUTHORIZED" || m["aggregate"].(map[string]any)["authorizedAmount"].(map[string]any)["value"] != float64(6000) {
		t.Errorf("after approve: %s", g.Body)
	}
	if _, ok := m["redirectUrl"]; ok {
		t.Errorf("an authorized payment still offers its redirectUrl: %s", g.Body)
	}

	ev := e.do("GET", "/vipps/epayment/v1/payments/acme-shop-123-1234589/events", e.api(tok, ""), "")
	sameShape(t, "events_response.json", ev.Body)
	var events []map[string]any
	_ = json.Unmarshal(ev.Body, &events)
	if len(events) != 2 || events[0]["name"] != "CREATED" || events[1]["name"] != "AUTHORIZED" {
		t.Fatalf("events: %s", ev.Body)
	}
	if events[0]["idempotencyKey"] != "fb492b5e-7907-4d83-ba20-c7fb60ca35de" || events[1]["idempotencyKey"] != nil {
		t.Errorf("idempotency keys in events: %s", ev.Body)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(createBody("refshop-validation-1")), &m)
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, field, body string
	}{
		{"reference too short", "reference", edit(func(m map[string]any) { m["reference"] = "short" })},
		{"reference with a bad character", "reference", edit(func(m map[string]any) { m["reference"] = "refshop_order_1" })},
		{"zero amount", "amount.value", edit(func(m map[string]any) { m["amount"] = map[string]any{"currency": "NOK", "value": 0} })},
		{"amount over the maximum", "amount.value", edit(func(m map[string]any) { m["amount"] = map[string]any{"currency": "NOK", "value": 65000001} })},
		{"unsupported currency", "amount.currency", edit(func(m map[string]any) { m["amount"] = map[string]any{"currency": "USD", "value": 100} })},
		{"NOK under 1 krone", "amount.value", edit(func(m map[string]any) { m["amount"] = map[string]any{"currency": "NOK", "value": 99} })},
		{"missing amount", "amount", edit(func(m map[string]any) { delete(m, "amount") })},
		{"phone number with +", "customer.phoneNumber", edit(func(m map[string]any) { m["customer"] = map[string]any{"phoneNumber": "+4791234567"} })},
		{"phone number too short", "customer.phoneNumber", edit(func(m map[string]any) { m["customer"] = map[string]any{"phoneNumber": "912345"} })},
		{"two customer identities", "customer", edit(func(m map[string]any) {
			m["customer"] = map[string]any{"phoneNumber": "4791234567", "personalQr": "https://qr.vipps.no/28/2/01/031/4791234567?v=1"}
		})},
		{"http returnUrl on another origin", "returnUrl", edit(func(m map[string]any) { m["returnUrl"] = "http://evil.example/return" })},
		{"javascript returnUrl", "returnUrl", edit(func(m map[string]any) { m["returnUrl"] = "javascript:alert(1)" })},
		{"WEB_REDIRECT without returnUrl", "returnUrl", edit(func(m map[string]any) { delete(m, "returnUrl") })},
		{"unknown userFlow", "userFlow", edit(func(m map[string]any) { m["userFlow"] = "EMAIL" })},
		{"CARD in test", "paymentMethod.type", edit(func(m map[string]any) { m["paymentMethod"] = map[string]any{"type": "CARD"} })},
		{"description too short", "paymentDescription", edit(func(m map[string]any) { m["paymentDescription"] = "ab" })},
		{"expiresAt with WEB_REDIRECT", "expiresAt", edit(func(m map[string]any) { m["expiresAt"] = "2026-03-02T12:00:00Z" })},
		{"not JSON", "body", `{"amount":`},
		{"value as a string", "body", edit(func(m map[string]any) { m["amount"] = map[string]any{"currency": "NOK", "value": "100"} })},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "validation-"+strconv.Itoa(i)), c.body)
			if r.Status != 400 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			problemNaming(c.field)(t, r)
		})
	}
	t.Run("https returnUrl and the shop's own http origin are accepted", func(t *testing.T) {
		r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "ok-https"),
			edit(func(m map[string]any) {
				m["returnUrl"] = "https://shop.example/return"
				m["reference"] = "refshop-https-1"
			}))
		if r.Status != 201 {
			t.Errorf("https: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "ok-http-shop"), createBody("refshop-http-shop-1"))
		if r.Status != 201 {
			t.Errorf("shop origin: %d %s", r.Status, r.Body)
		}
	})
	t.Run("reusing a reference", func(t *testing.T) {
		r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "another-key"), createBody("refshop-http-shop-1"))
		if r.Status != 409 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		problemNaming("ErrorCode")(t, r)
	})
	t.Run("wrong content type", func(t *testing.T) {
		r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "ct", "Content-Type", "text/plain"), createBody("refshop-ct-1"))
		if r.Status != 415 {
			t.Errorf("status %d: %s", r.Status, r.Body)
		}
	})
}

// modify posts capture/refund/cancel and returns the answer.
func (e *env) modify(tok, ref, op, key, body string) resp {
	e.t.Helper()
	return e.do("POST", "/vipps/epayment/v1/payments/"+ref+"/"+op, e.api(tok, key), body)
}

func amountBody(v int) string {
	return `{"modificationAmount":{"currency":"NOK","value":` + strconv.Itoa(v) + `}}`
}

func aggregateOf(t *testing.T, m map[string]any) [4]float64 {
	t.Helper()
	a := m["aggregate"].(map[string]any)
	v := func(k string) float64 { return a[k].(map[string]any)["value"].(float64) }
	return [4]float64{v("authorizedAmount"), v("capturedAmount"), v("refundedAmount"), v("cancelledAmount")}
}

// domainError checks a documented domain error: its status, its ErrorCode
// and its title, both as the ePayment error table lists them.
func domainError(t *testing.T, r resp, status int, code, title string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	problemNaming("ErrorCode")(t, r)
	m := r.json(t)
	if got := m["title"]; got != title {
		t.Errorf("title %q, want %q", got, title)
	}
	for _, d := range m["extraDetails"].([]any) {
		if d := d.(map[string]any); d["name"] == "ErrorCode" && d["reason"] != code {
			t.Errorf("ErrorCode %v, want %s (%s)", d["reason"], code, title)
		}
	}
}

func TestStateMachineAndAggregates(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	ref := "refshop-states-1"
	e.create(tok, ref)

	r := e.modify(tok, ref, "capture", "cap-1", amountBody(4980))
	domainError(t, r, 400, "6080", "Cannot capture before reservation")
	sameShape(t, "problem_domain.json", r.Body)
	if d := r.json(t)["extraDetails"].([]any)[0].(map[string]any); d["reason"] != "6080" {
		t.Errorf("error code %v, want the documented 6080", d["reason"])
	}
	domainError(t, e.modify(tok, ref, "refund", "ref-0", amountBody(100)), 400, "6020", "Attempted refund before reservation")

	e.approve(tok, ref)
	domainError(t, e.modify(tok, ref, "capture", "cap-2", amountBody(4981)), 400, "6090", "Capture amount too high")
	domainError(t, e.modify(tok, ref, "refund", "ref-00", amountBody(100)), 400, "6150", "Not enough refundable")
	r = e.do("POST", "/vipps/epayment/v1/payments/"+ref+"/capture", e.api(tok, "cap-x"), `{"modificationAmount":{"currency":"EUR","value":100}}`)
	if r.Status != 400 {
		t.Errorf("capture in another currency: %d", r.Status)
	}
	problemNaming("modificationAmount.currency")(t, r)
	r = e.modify(tok, ref, "capture", "cap-0", amountBody(0))
	problemNaming("modificationAmount.value")(t, r)

	r = e.modify(tok, ref, "capture", "cap-3", amountBody(3000))
	if r.Status != 200 {
		t.Fatalf("partial capture: %d %s", r.Status, r.Body)
	}
	sameShape(t, "modification_response.json", r.Body)
	if got := aggregateOf(t, r.json(t)); got != [4]float64{4980, 3000, 0, 0} {
		t.Errorf("after capture 3000: %v", got)
	}
	domainError(t, e.modify(tok, ref, "refund", "ref-1", amountBody(3001)), 400, "6150", "Not enough refundable")
	r = e.modify(tok, ref, "refund", "ref-2", amountBody(1000))
	if got := aggregateOf(t, r.json(t)); r.Status != 200 || got != [4]float64{4980, 3000, 1000, 0} {
		t.Errorf("after refund 1000: %d %v", r.Status, got)
	}
	r = e.modify(tok, ref, "cancel", "can-1", "")
	if got := aggregateOf(t, r.json(t)); r.Status != 200 || got != [4]float64{4980, 3000, 1000, 1980} || r.json(t)["state"] != "AUTHORIZED" {
		t.Errorf("cancel of the rest: %d %s", r.Status, r.Body)
	}
	domainError(t, e.modify(tok, ref, "cancel", "can-2", ""), 400, "6190", "Payment cannot be cancelled")
	domainError(t, e.modify(tok, ref, "capture", "cap-4", amountBody(100)), 400, "6070", "Cannot capture a cancelled payment")

	ev := e.do("GET", "/vipps/epayment/v1/payments/"+ref+"/events", e.api(tok, ""), "")
	var events []map[string]any
	_ = json.Unmarshal(ev.Body, &events)
	var names []string
	for _, x := range events {
		names = append(names, x["name"].(string))
	}
	if strings.Join(names, ",") != "CREATED,AUTHORIZED,CAPTURED,REFUNDED,CANCELLED" {
		t.Errorf("events %v", names)
	}
	if events[2]["idempotencyKey"] != "cap-3" || events[2]["amount"].(map[string]any)["value"] != float64(3000) {
		t.Errorf("capture event: %v", events[2])
	}
}

func TestCancelBeforeAuthorizationTerminates(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	e.create(tok, "refshop-terminate-1")
	r := e.modify(tok, "refshop-terminate-1", "cancel", "can-1", "")
	if r.Status != 200 || r.json(t)["state"] != "TERMINATED" {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	// The documented answer counts the whole amount as cancelled, nothing as
	// authorized (operations/cancel, "Cancel before authorization").
	sameShape(t, "modification_response.json", r.Body)
	if got := aggregateOf(t, r.json(t)); got != [4]float64{0, 0, 0, 4980} {
		t.Errorf("aggregate after cancel before authorization (authorized, captured, refunded, cancelled): %v, want [0 0 0 4980]", got)
	}
	g := e.do("GET", "/vipps/epayment/v1/payments/refshop-terminate-1", e.api(tok, ""), "")
	if got := aggregateOf(t, g.json(t)); g.Status != 200 || got != [4]float64{0, 0, 0, 4980} || g.json(t)["state"] != "TERMINATED" {
		t.Errorf("get after cancel before authorization: %d %s", g.Status, g.Body)
	}
	ap := e.do("POST", "/vipps/epayment/v1/test/payments/refshop-terminate-1/approve", e.api(tok, ""), `{"customer":{"phoneNumber":"4791234567"}}`)
	domainError(t, ap, 400, "10020", "Approve not allowed")
	domainError(t, e.modify(tok, "refshop-terminate-1", "capture", "cap-1", amountBody(100)), 400, "6200", "Payment cannot be captured")
	domainError(t, e.modify(tok, "refshop-terminate-1", "refund", "ref-1", amountBody(100)), 400, "6210", "Payment cannot be refunded")
	domainError(t, e.modify(tok, "refshop-terminate-1", "cancel", "can-again", ""), 400, "6190", "Payment cannot be cancelled")

	e.create(tok, "refshop-terminate-2")
	e.approve(tok, "refshop-terminate-2")
	domainError(t, e.modify(tok, "refshop-terminate-2", "cancel", "can-2", `{"cancelTransactionOnly":true}`), 400, "6060", "Cannot cancel authorized payment")
	e.modify(tok, "refshop-terminate-2", "capture", "cap-2", amountBody(4980))
	domainError(t, e.modify(tok, "refshop-terminate-2", "cancel", "can-3", ""), 400, "6040", "Cannot cancel a captured payment")
}

func TestIdempotencyReplayAndMismatch(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	first := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "attempt-1-create"), createBody("refshop-idem-1"))
	// The same request re-encoded (key order, whitespace) is the same request.
	var m map[string]any
	_ = json.Unmarshal([]byte(createBody("refshop-idem-1")), &m)
	again, _ := json.MarshalIndent(m, "", "   ")
	second := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "attempt-1-create"), string(again))
	if first.Status != 201 || second.Status != 201 || string(first.Body) != string(second.Body) {
		t.Fatalf("replay: %d %s / %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	other := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "attempt-1-create"), createBody("refshop-idem-2"))
	domainError(t, other, 409, "4020", "Idempotency error")

	e.approve(tok, "refshop-idem-1")
	c1 := e.modify(tok, "refshop-idem-1", "capture", "attempt-1-capture", amountBody(2000))
	c2 := e.modify(tok, "refshop-idem-1", "capture", "attempt-1-capture", amountBody(2000))
	if c1.Status != 200 || string(c1.Body) != string(c2.Body) {
		t.Fatalf("capture replay: %s / %s", c1.Body, c2.Body)
	}
	if got := aggregateOf(t, e.get(tok, "refshop-idem-1")); got[1] != 2000 {
		t.Errorf("captured %v after a replayed capture, want 2000 once", got[1])
	}
	domainError(t, e.modify(tok, "refshop-idem-1", "capture", "attempt-1-capture", amountBody(2500)), 409, "4010", "Capture idempotency conflict")
	if r := e.modify(tok, "refshop-idem-1", "capture", "attempt-2-capture", amountBody(2000)); r.Status != 200 {
		t.Errorf("a new key is a new capture: %d %s", r.Status, r.Body)
	}
	ev := e.do("GET", "/vipps/epayment/v1/payments/refshop-idem-1/events", e.api(tok, ""), "")
	if n := strings.Count(string(ev.Body), `"CREATED"`); n != 1 {
		t.Errorf("%d CREATED events after a replayed create", n)
	}
}

func TestUnansweredPaymentExpiresOnTheSandboxClock(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	created := e.create(tok, "refshop-expiry-1")
	e.st.Clock.Advance(9*time.Minute + 59*time.Second)
	if s := e.get(tok, "refshop-expiry-1")["state"]; s != "CREATED" {
		t.Fatalf("state before the 10 minutes: %v", s)
	}
	e.st.Clock.Advance(time.Second)
	tok = e.token() // the first one is still valid, but take a new one anyway
	if s := e.get(tok, "refshop-expiry-1")["state"]; s != "EXPIRED" {
		t.Fatalf("state after 10 minutes: %v", s)
	}
	ev := e.do("GET", "/vipps/epayment/v1/payments/refshop-expiry-1/events", e.api(tok, ""), "")
	if !strings.Contains(string(ev.Body), `"EXPIRED"`) {
		t.Errorf("events: %s", ev.Body)
	}
	landing, _ := url.Parse(created["redirectUrl"].(string))
	page := e.do("GET", landing.RequestURI(), nil, "")
	if page.Status != 200 || !strings.Contains(string(page.Body), "expired") || strings.Contains(string(page.Body), ">Approve<") {
		t.Errorf("landing page of an expired payment: %d %s", page.Status, page.Body)
	}
	ap := e.do("POST", "/vipps/epayment/v1/test/payments/refshop-expiry-1/approve", e.api(tok, ""), `{"customer":{"phoneNumber":"4791234567"}}`)
	domainError(t, ap, 400, "10020", "Approve not allowed")
}

func TestLandingPage(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	created := e.create(tok, "refshop-landing-1")
	landing, _ := url.Parse(created["redirectUrl"].(string))
	if landing.Host != strings.TrimPrefix(e.srv.URL, "http://") {
		t.Errorf("the landing page is not on the sandbox's origin: %s", landing)
	}
	page := e.do("GET", landing.RequestURI(), nil, "")
	body := string(page.Body)
	for _, want := range []string{"NOK 49.80", "Pay Refshop", ">Approve<", ">Reject<", "4791234567", "The shop filled in this number"} {
		if !strings.Contains(body, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	form := func(v url.Values) resp {
		return e.do("POST", "/vipps/landing", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, v.Encode())
	}
	token := landing.Query().Get("token")

	r := form(url.Values{"token": {token}, "action": {"approve"}, "phone": {"12"}})
	if r.Status != 422 || !strings.Contains(string(r.Body), "country code") {
		t.Errorf("bad phone: %d", r.Status)
	}
	r = form(url.Values{"token": {token}, "action": {"approve"}, "phone": {"+45 12 34 56 78"}})
	if r.Status != 422 || !strings.Contains(string(r.Body), "sales unit&#39;s market (NO)") {
		t.Errorf("a Danish number at a Norwegian sales unit: %d %s", r.Status, r.Body)
	}
	r = form(url.Values{"token": {token}, "action": {"approve"}, "phone": {"+47 912 34 567"}})
	if r.Status != 303 || r.Header.Get("Location") != shopURL+"/vipps/return?order=abc" {
		t.Fatalf("approve: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if s := e.get(tok, "refshop-landing-1")["state"]; s != "AUTHORIZED" {
		t.Errorf("state after approve: %v", s)
	}
	if r := form(url.Values{"token": {token}, "action": {"reject"}}); r.Status != 409 {
		t.Errorf("answering twice: %d", r.Status)
	}

	created = e.create(tok, "refshop-landing-2")
	landing, _ = url.Parse(created["redirectUrl"].(string))
	r = form(url.Values{"token": {landing.Query().Get("token")}, "action": {"reject"}})
	if r.Status != 303 {
		t.Fatalf("reject: %d", r.Status)
	}
	if s := e.get(tok, "refshop-landing-2")["state"]; s != "ABORTED" {
		t.Errorf("state after reject: %v", s)
	}

	if r := e.do("GET", "/vipps/landing?token=nope", nil, ""); r.Status != 404 {
		t.Errorf("unknown token: %d", r.Status)
	}
	cross := e.do("POST", "/vipps/landing", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site",
	}, url.Values{"token": {token}, "action": {"approve"}}.Encode())
	if cross.Status != 403 {
		t.Errorf("cross-origin answer: %d", cross.Status)
	}
}

func TestFaultsUseTheProvidersErrorShapes(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	if r := e.do("POST", "/control/faults", nil, `{"operation":"vipps.create_payment","status":503,"times":1}`); r.Status != 200 {
		t.Fatalf("fault: %d %s", r.Status, r.Body)
	}
	r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "f-1"), createBody("refshop-fault-1"))
	if r.Status != 503 {
		t.Fatalf("status %d", r.Status)
	}
	problemNaming("")(t, r)
	if r := e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, "f-1"), createBody("refshop-fault-1")); r.Status != 201 {
		t.Errorf("after the fault: %d %s", r.Status, r.Body)
	}

	e.do("POST", "/control/faults", nil, `{"operation":"vipps.accesstoken","status":500}`)
	r = e.do("POST", "/vipps/accesstoken/get", tokenHeaders(), "")
	if r.Status != 500 || r.json(t)["statusCode"] != float64(500) {
		t.Errorf("token fault: %d %s", r.Status, r.Body)
	}
	state := e.do("GET", "/control/state", nil, "").json(t)
	calls := state["calls"].(map[string]any)
	for _, op := range []string{"vipps.accesstoken", "vipps.create_payment", "vipps.get_payment", "vipps.capture", "vipps.cancel", "vipps.refund", "vipps.events", "vipps.approve"} {
		if _, ok := calls[op]; !ok {
			t.Errorf("operation %s is not declared", op)
		}
	}
	if calls["vipps.create_payment"] != float64(2) || calls["vipps.accesstoken"] != float64(2) {
		t.Errorf("calls: %v", calls)
	}
}

func TestResetDropsPayments(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	e.create(tok, "refshop-reset-1")
	e.do("POST", "/control/reset", nil, "")
	if r := e.do("GET", "/vipps/epayment/v1/payments/refshop-reset-1", e.api(tok, ""), ""); r.Status != 404 {
		t.Errorf("after reset: %d %s", r.Status, r.Body)
	}
}

// createWith posts a create body edited by edit and returns the answer.
func (e *env) createWith(tok, ref string, edit func(map[string]any)) resp {
	e.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(createBody(ref)), &m); err != nil {
		e.t.Fatal(err)
	}
	edit(m)
	b, _ := json.Marshal(m)
	return e.do("POST", "/vipps/epayment/v1/payments", e.api(tok, ref+"-create"), string(b))
}

func (e *env) setCountry(country string) resp {
	e.t.Helper()
	return e.do("POST", "/control/settings", nil, `{"vipps_msn_country":"`+country+`"}`)
}

// The sales unit's country decides its one currency: a create in another
// is refused with the documented ErrorCode 5040, and nothing is stored.
func TestCreateInAnotherCurrencyThanTheSalesUnitsIsRefusedWith5040(t *testing.T) {
	for _, c := range []struct{ country, accepted string }{{"NO", "NOK"}, {"DK", "DKK"}, {"FI", "EUR"}} {
		t.Run(c.country, func(t *testing.T) {
			e := newEnv(t)
			if r := e.setCountry(c.country); r.Status != 200 {
				t.Fatalf("setting vipps_msn_country=%s: %d %s", c.country, r.Status, r.Body)
			}
			tok := e.token()
			phone := map[string]string{"NO": "4791234567", "DK": "4512345678", "FI": "358401234567"}[c.country]
			for _, cur := range []string{"NOK", "DKK", "EUR"} {
				ref := "refshop-cur-" + strings.ToLower(cur)
				r := e.createWith(tok, ref, func(m map[string]any) {
					m["amount"] = map[string]any{"currency": cur, "value": 4980}
					m["customer"] = map[string]any{"phoneNumber": phone}
				})
				if cur == c.accepted {
					if r.Status != 201 {
						t.Errorf("%s at a %s sales unit: %d %s", cur, c.country, r.Status, r.Body)
					}
					continue
				}
				domainError(t, r, 400, "5040", "Invalid currency for merchant")
				sameShape(t, "problem_domain.json", r.Body)
				if d := r.json(t)["detail"].(string); !strings.Contains(d, c.accepted) {
					t.Errorf("detail %q does not name the accepted currency %s", d, c.accepted)
				}
				if g := e.do("GET", "/vipps/epayment/v1/payments/"+ref, e.api(tok, ""), ""); g.Status != 404 {
					t.Errorf("a refused %s create left a payment: %d", cur, g.Status)
				}
			}
		})
	}
}

// customer.phoneNumber must be a mobile number of the sales unit's market:
// its country code, and the length numbers there have. Malformed MSISDNs
// are the OpenAPI's 400 naming the field; well-formed ones of the wrong
// market or length are the documented ErrorCode 4070.
func TestPhoneNumbersAreCheckedForTheSalesUnitsMarket(t *testing.T) {
	cases := []struct {
		country, phone, code string // code "" = accepted, "field" = validation problem
	}{
		{"NO", "4791234567", ""},
		{"NO", "47912345678", "4070"},  // 9 digits after +47
		{"NO", "4512345678", "4070"},   // a Danish number
		{"NO", "358401234567", "4070"}, // a Finnish number
		{"NO", "+4791234567", "field"},
		{"NO", "91234567", "field"}, // no country code: not an MSISDN
		{"DK", "4512345678", ""},
		{"DK", "4791234567", "4070"},
		{"FI", "358401234567", ""},
		{"FI", "3584012345", ""}, // 7 digits after +358
		{"FI", "4512345678", "4070"},
	}
	for i, c := range cases {
		t.Run(c.country+"_"+c.phone, func(t *testing.T) {
			e := newEnv(t)
			e.setCountry(c.country)
			tok := e.token()
			cur := map[string]string{"NO": "NOK", "DK": "DKK", "FI": "EUR"}[c.country]
			ref := fmt.Sprintf("refshop-phone-%d", i)
			r := e.createWith(tok, ref, func(m map[string]any) {
				m["amount"] = map[string]any{"currency": cur, "value": 4980}
				m["customer"] = map[string]any{"phoneNumber": c.phone}
			})
			switch c.code {
			case "":
				if r.Status != 201 {
					t.Errorf("create: %d %s", r.Status, r.Body)
				}
			case "field":
				if r.Status != 400 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				problemNaming("customer.phoneNumber")(t, r)
			default:
				domainError(t, r, 400, c.code, "Invalid phone number")
			}
		})
	}
	// The test-only force approve names the user the same way.
	e := newEnv(t)
	tok := e.token()
	e.create(tok, "refshop-phone-approve")
	r := e.do("POST", "/vipps/epayment/v1/test/payments/refshop-phone-approve/approve", e.api(tok, ""), `{"customer":{"phoneNumber":"4512345678"}}`)
	domainError(t, r, 400, "4070", "Invalid phone number")
}

// The control API takes only the countries a sales unit can be registered
// in, and says which.
func TestVippsMSNCountrySettingRefusesOtherCountries(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{`"SE"`, `"no"`, `""`, `47`} {
		r := e.do("POST", "/control/settings", nil, `{"vipps_msn_country":`+bad+`}`)
		if r.Status != 400 {
			t.Errorf("vipps_msn_country=%s: %d %s", bad, r.Status, r.Body)
			continue
		}
		if bad != "47" && !strings.Contains(string(r.Body), "NO, DK or FI") {
			t.Errorf("vipps_msn_country=%s: the refusal does not say what is accepted: %s", bad, r.Body)
		}
	}
	st := e.do("GET", "/control/state", nil, "")
	if got := st.json(t)["settings"].(map[string]any)["vipps_msn_country"]; got != "NO" {
		t.Errorf("vipps_msn_country after refusals: %v, want the default NO", got)
	}
}

// The landing page asks for the number when the merchant sent none (the
// documented flow: the merchant does not ask, Vipps's page does), reads a
// number typed without a country code as the sales unit's country's, and
// refuses one of another market.
func TestLandingPageAsksForThePhoneNumberWhenTheShopSentNone(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	r := e.createWith(tok, "refshop-ask-1", func(m map[string]any) { delete(m, "customer") })
	if r.Status != 201 {
		t.Fatalf("create without a customer: %d %s", r.Status, r.Body)
	}
	landing, _ := url.Parse(r.json(t)["redirectUrl"].(string))
	page := e.do("GET", landing.RequestURI(), nil, "")
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page.Body))
	if err != nil {
		t.Fatal(err)
	}
	in := doc.Find("input#vipps-phone[name=phone]")
	if val, _ := in.Attr("value"); in.Length() != 1 || val != "" {
		t.Fatalf("the landing page's number field: %d fields, value %q; want one, empty", in.Length(), val)
	}
	if doc.Find("label[for=vipps-phone]").Length() != 1 || !strings.Contains(doc.Find("#vipps-phone-hint").Text(), "+47") {
		t.Errorf("the number field has no label, or its hint does not name the assumed +47: %q", doc.Find("#vipps-phone-hint").Text())
	}
	form := func(phone string) resp {
		return e.do("POST", "/vipps/landing", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			url.Values{"token": {landing.Query().Get("token")}, "action": {"approve"}, "phone": {phone}}.Encode())
	}
	if r := form(""); r.Status != 422 || !strings.Contains(string(r.Body), "Enter your mobile number") {
		t.Errorf("no number: %d", r.Status)
	}
	if r := form("4512345678"); r.Status != 422 {
		t.Errorf("a Danish number at a Norwegian sales unit: %d", r.Status)
	}
	if r := form("912 34 567"); r.Status != 303 {
		t.Fatalf("a Norwegian number without +47: %d %s", r.Status, r.Body)
	}
	if s := e.get(tok, "refshop-ask-1")["state"]; s != "AUTHORIZED" {
		t.Errorf("state after approving with a typed number: %v", s)
	}
}

// A reservation not captured within the sales unit's capture period (180
// days in Norway) is cancelled on the sandbox clock: what was captured
// stays, the rest is released with a CANCELLED event stamped when it
// lapsed, and a capture after it gets 6100.
func TestAReservationLapsesAfterTheCapturePeriod(t *testing.T) {
	e := newEnv(t)
	tok := e.token()
	ref := "refshop-lapse-1"
	e.create(tok, ref)
	e.approve(tok, ref)
	if r := e.modify(tok, ref, "capture", "cap-1", amountBody(1000)); r.Status != 200 {
		t.Fatalf("capture within the period: %d %s", r.Status, r.Body)
	}
	e.st.Clock.Advance(180*24*time.Hour - time.Second)
	tok = e.token()
	if got := aggregateOf(t, e.get(tok, ref)); got != [4]float64{4980, 1000, 0, 0} {
		t.Fatalf("a second before the end: %v", got)
	}
	e.st.Clock.Advance(time.Second)
	domainError(t, e.modify(tok, ref, "capture", "cap-2", amountBody(100)), 400, "6100", "Capture period expired")
	p := e.get(tok, ref)
	if got := aggregateOf(t, p); got != [4]float64{4980, 1000, 0, 3980} || p["state"] != "AUTHORIZED" {
		t.Errorf("after the period: %v %v, want the rest cancelled", p["state"], got)
	}
	ev := e.do("GET", "/vipps/epayment/v1/payments/"+ref+"/events", e.api(tok, ""), "")
	if !strings.Contains(string(ev.Body), `"CANCELLED"`) {
		t.Errorf("events: %s", ev.Body)
	}
	if r := e.modify(tok, ref, "refund", "ref-1", amountBody(1000)); r.Status != 200 {
		t.Errorf("refund of what was captured: %d %s", r.Status, r.Body)
	}
}

// MobilePay's sales units (Denmark, Finland) capture within 14 days.
func TestMobilePayCapturePeriodIs14Days(t *testing.T) {
	e := newEnv(t)
	if r := e.setCountry("DK"); r.Status != 200 {
		t.Fatalf("setting vipps_msn_country=DK: %d %s", r.Status, r.Body)
	}
	tok := e.token()
	ref := "refshop-lapse-dk"
	if r := e.createWith(tok, ref, func(m map[string]any) {
		m["amount"] = map[string]any{"currency": "DKK", "value": 4980}
		m["customer"] = map[string]any{"phoneNumber": "4512345678"}
	}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := e.do("POST", "/vipps/epayment/v1/test/payments/"+ref+"/approve", e.api(tok, ""), `{"customer":{"phoneNumber":"4512345678"}}`); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	e.st.Clock.Advance(14 * 24 * time.Hour)
	tok = e.token()
	r := e.do("POST", "/vipps/epayment/v1/payments/"+ref+"/capture", e.api(tok, "cap-1"), `{"modificationAmount":{"currency":"DKK","value":100}}`)
	domainError(t, r, 400, "6100", "Capture period expired")
}
