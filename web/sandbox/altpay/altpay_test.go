package altpay_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

const (
	clientID     = "refshop-test-client"
	clientSecret = "test-secret"
	shopOrigin   = "http://shop.test:8080"
)

var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	srv *httptest.Server
	sb  *sandboxtest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandboxtest.Start(t, control.Config{
		BaseURL: "http://sandbox.test", ShopBaseURL: shopOrigin,
		Altpay: control.AltpayConfig{Enabled: true, ClientID: clientID, ClientSecret: clientSecret},
	}, clock.NewManual(t0))
	return &env{t: t, srv: sb.Server, sb: sb}
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// call sends a request; body is a string (sent as is) or a value (sent as JSON).
func (e *env) call(method, path string, hdr map[string]string, body any) reply {
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
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if _, ok := body.(string); !ok && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) want(r reply, status int) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
}

func basic(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))
}

func (e *env) oauth() string {
	e.t.Helper()
	r := e.call("POST", "/altpay/oauth/token", map[string]string{
		"Authorization": basic(clientID, clientSecret), "Content-Type": "application/x-www-form-urlencoded",
	}, "grant_type=client_credentials")
	e.want(r, 200)
	return r.body["access_token"].(string)
}

func auth(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func (e *env) customer(tok, ext string) string {
	e.t.Helper()
	r := e.call("POST", "/altpay/customers", auth(tok), map[string]any{"email": "jane@example.com", "external_id": ext, "name": "Jane Doe"})
	e.want(r, 201)
	return r.body["id"].(string)
}

func (e *env) invoice(tok, cust string) map[string]any {
	e.t.Helper()
	r := e.call("POST", "/altpay/invoices", auth(tok), map[string]any{
		"currency": "USD", "customer_id": cust, "due_date": "2025-03-24",
		"line_items": []map[string]any{{"amount": 19.9, "description": "Enamel mug", "quantity": 2}, {"amount": 5, "description": "Shipping", "quantity": 1}},
	})
	e.want(r, 201)
	return r.body
}

func (e *env) checkoutToken(tok, cust, inv string) string {
	e.t.Helper()
	r := e.call("POST", "/altpay/v1/checkout-auth/init", auth(tok), map[string]any{"customer_id": cust, "invoice_id": inv})
	e.want(r, 200)
	return r.body["token"].(string)
}

// setup makes a customer with an invoice and returns the OAuth token, the
// customer id, the invoice and a checkout token for it.
func (e *env) setup(ext string) (string, string, map[string]any, string) {
	tok := e.oauth()
	cust := e.customer(tok, ext)
	inv := e.invoice(tok, cust)
	return tok, cust, inv, e.checkoutToken(tok, cust, inv["id"].(string))
}

func (e *env) advance(d string) {
	e.t.Helper()
	e.want(e.call("POST", "/control/clock", nil, map[string]string{"advance": d}), 200)
}

func (e *env) setting(name, value string) {
	e.t.Helper()
	e.want(e.call("POST", "/control/settings", nil, map[string]string{name: value}), 200)
}

// sameShape checks that got has every key of the documented example with a
// value of the same JSON kind (null in the example matches anything).
func sameShape(t *testing.T, file string, got []byte) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var d, g any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("reply is not JSON: %s", got)
	}
	if msg := shapeDiff("", d, g); msg != "" {
		t.Errorf("reply does not match %s: %s\nreply: %s", file, msg, got)
	}
}

func shapeDiff(path string, doc, got any) string {
	switch d := doc.(type) {
	case nil:
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %T", path, got)
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s missing", path, k)
			}
			if msg := shapeDiff(path+"."+k, d[k], gv); msg != "" {
				return msg
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want an array, got %T", path, got)
		}
		if len(d) > 0 && len(g) > 0 {
			return shapeDiff(path+"[0]", d[0], g[0])
		}
	default:
		if fmt.Sprintf("%T", doc) != fmt.Sprintf("%T", got) {
			return fmt.Sprintf("%s: want %T, got %T (%v)", path, doc, got, got)
		}
	}
	return ""
}
