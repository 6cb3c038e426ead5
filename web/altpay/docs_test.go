package altpay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/altpay"
	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// These tests hold the client to the documented JSON examples in testdata/:
// a fake server answers with them and records what the client sent.

func doc(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type sent struct {
	method, path, auth, contentType, idempotencyKey string
	body                                            []byte
}

type docServer struct {
	t    *testing.T
	mu   sync.Mutex
	reqs []sent
	mux  *http.ServeMux
	srv  *httptest.Server
}

func newDocServer(t *testing.T) *docServer {
	d := &docServer{t: t, mux: http.NewServeMux()}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		d.reqs = append(d.reqs, sent{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), b})
		d.mu.Unlock()
		d.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	d.answer("POST /oauth/token", 200, doc(t, "oauth_token_response.json"))
	return d
}

func (d *docServer) answer(pattern string, status int, body []byte) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

func (d *docServer) sent(path string) []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []sent
	for _, s := range d.reqs {
		if strings.HasPrefix(s.path, path) {
			out = append(out, s)
		}
	}
	return out
}

func (d *docServer) client() *altpay.Client {
	return altpay.New(altpay.Config{BaseURL: d.srv.URL, ClientID: "client-1", ClientSecret: secret.New("s3cret"),
		HTTP:  outbound.NewClient(slog.New(slog.DiscardHandler), 5*time.Second),
		Clock: clock.NewManual(time.Unix(1703900000, 0)),
		Sleep: func(context.Context, time.Duration) error { return nil }})
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: client sent non-JSON %q", what, got)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: client sent\n %s\nwant (documented)\n %s", what, got, want)
	}
}

func TestTokenRequestIsTheDocumentedClientCredentialsExchange(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /v1/checkout-auth/init", 200, doc(t, "checkout_auth_init_response.json"))
	c := d.client()
	if _, err := c.CheckoutToken(t.Context(), "cus_xxx", "inv_xxx"); err != nil {
		t.Fatal(err)
	}
	reqs := d.sent("/oauth/token")
	if len(reqs) != 1 {
		t.Fatalf("%d token requests, want 1", len(reqs))
	}
	r := reqs[0]
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("client-1:s3cret")); r.auth != want {
		t.Errorf("Authorization %q, want %q", r.auth, want)
	}
	if !strings.HasPrefix(r.contentType, "application/x-www-form-urlencoded") || string(r.body) != "grant_type=client_credentials" {
		t.Errorf("token body %q (%s), want grant_type=client_credentials as a form", r.body, r.contentType)
	}
	api := d.sent("/v1/checkout-auth/init")[0]
	if api.auth != "Bearer eyJ0eXAiOiJKV1QiLCJh..." {
		t.Errorf("API call Authorization %q, want the documented token as Bearer", api.auth)
	}
}

func TestTokenReplyVariantsAreAccepted(t *testing.T) {
	for name, body := range map[string]string{
		"documented":                  string(doc(t, "oauth_token_response.json")),
		"API reference, bearer lower": string(doc(t, "oauth_token_response_api_reference.json")),
		"expires_in as a string":      `{"access_token":"abc","token_type":"Bearer","expires_in":"3600"}`,
		"with a scope":                `{"access_token":"abc","token_type":"Bearer","expires_in":3600,"scope":"payments:read payments:write"}`,
	} {
		t.Run(name, func(t *testing.T) {
			d := newDocServer(t)
			d.mux = http.NewServeMux()
			d.answer("POST /oauth/token", 200, []byte(body))
			tok, err := d.client().Tokens().Token(t.Context())
			if err != nil || tok.IsZero() {
				t.Fatalf("token %v, err %v", tok, err)
			}
		})
	}
}

func TestInvalidCredentialsAre403AndNotRetried(t *testing.T) {
	d := newDocServer(t)
	d.mux = http.NewServeMux()
	d.answer("POST /oauth/token", 403, doc(t, "oauth_invalid_credentials.json"))
	_, err := d.client().GetInvoice(t.Context(), "inv_1")
	var e *altpay.Error
	if !errors.As(err, &e) || e.Kind != altpay.KindAuth || e.Op != "oauth_token" || e.Status != 403 {
		t.Fatalf("err %v, want invalid credentials", err)
	}
	if e.Message != "Invalid credentials" {
		t.Errorf("err %#v, want the documented message", err)
	}
	if n := len(d.sent("/oauth/token")); n != 1 {
		t.Errorf("%d token requests, want 1: a 403 is not retried, and the secret is never retried in the body", n)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Error("the error text contains the client secret")
	}
}

func TestCheckoutAuthInitSendsAndReadsTheDocumentedBodies(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /v1/checkout-auth/init", 200, doc(t, "checkout_auth_init_response.json"))
	tok, err := d.client().CheckoutToken(t.Context(), "cus_xxx", "inv_xxx")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "checkout-auth/init", d.sent("/v1/checkout-auth/init")[0].body, doc(t, "checkout_auth_init_request.json"))
	if tok.Token.Reveal() != "eyJhbGciOiJIUzI1NiIs..." || !tok.ExpiresAt.Equal(time.Unix(1703980800, 0)) {
		t.Errorf("token %q expiring %v", tok.Token.Reveal(), tok.ExpiresAt)
	}
}

func TestCheckoutAuthInitFallsBackToThePathWithoutV1(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /v1/checkout-auth/init", 404, []byte(`{"code":"not_found","message":"Not Found"}`))
	d.answer("POST /checkout-auth/init", 200, doc(t, "checkout_auth_init_response.json"))
	c := d.client()
	for range 2 {
		if _, err := c.CheckoutToken(t.Context(), "cus_xxx", "inv_xxx"); err != nil {
			t.Fatal(err)
		}
	}
	if v1, plain := len(d.sent("/v1/checkout-auth/init")), len(d.sent("/checkout-auth/init")); v1 != 1 || plain != 2 {
		t.Errorf("/v1 tried %d times, plain %d times; want 1 and 2 (the working path is remembered)", v1, plain)
	}
}

func TestCustomerAndInvoiceBodiesMatchTheDocs(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /customers", 201, doc(t, "customer_response.json"))
	d.answer("POST /invoices", 201, doc(t, "invoice_response.json"))
	d.answer("GET /invoices/{id}", 200, doc(t, "invoice_response.json"))
	c := d.client()
	cu, err := c.CreateCustomer(t.Context(), altpay.NewCustomer{Email: "jane@example.com", ExternalID: "refshop-4f2a", Name: "Jane Doe"})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "POST /customers", d.sent("/customers")[0].body, doc(t, "customer_request.json"))
	if cu.ID != "cus_xxx" || cu.ExternalID != "refshop-4f2a" {
		t.Errorf("customer %+v", cu)
	}
	in, err := c.CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "USD", CustomerID: "cus_xxx", DueDate: "2025-01-01",
		LineItems: []altpay.LineItem{{Description: "Enamel mug", Quantity: 2, Amount: 1990}}}, "invoice-order-1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "POST /invoices", d.sent("/invoices")[0].body, doc(t, "invoice_request.json"))
	if k := d.sent("/invoices")[0].idempotencyKey; k != "invoice-order-1" {
		t.Errorf("Idempotency-Key %q", k)
	}
	if in.ID != "inv_xxx" || in.Total != 3980 || in.Status != altpay.InvoiceUpcoming || in.LineItems[0].Amount != 1990 {
		t.Errorf("invoice %+v", in)
	}
	got, err := c.GetInvoice(t.Context(), "inv_xxx")
	if err != nil || got.TotalAmount().Format() != "$39.80" || got.Paid() {
		t.Errorf("GetInvoice %+v, %v", got, err)
	}
}

func TestEnsureCustomerFindsTheCustomerWhenItsExternalIDIsTaken(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /customers", 400, doc(t, "error_bad_request.json"))
	d.answer("GET /customers", 200, doc(t, "customers_list_response.json"))
	cu, err := d.client().EnsureCustomer(t.Context(), altpay.NewCustomer{Email: "jane@example.com", ExternalID: "refshop-4f2a", Name: "Jane Doe"})
	if err != nil || cu.ID != "cus_xxx" {
		t.Fatalf("customer %+v, err %v", cu, err)
	}
	_, err = d.client().EnsureCustomer(t.Context(), altpay.NewCustomer{Email: "x@example.com", ExternalID: "someone-else", Name: "X"})
	if !errors.Is(err, altpay.ErrNotFound) {
		t.Errorf("err %v, want ErrNotFound for an external id on no page", err)
	}
}

func TestErrorBodiesBecomeErrors(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /invoices", 400, doc(t, "error_validation.json"))
	_, err := d.client().CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "NOK"}, "")
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Kind != altpay.KindInvalid || e.Op != "create_invoice" ||
		e.Code != "bad_request" || e.ValidationErrors["currency"] == "" {
		t.Fatalf("err %#v", err)
	}
	if n := len(d.sent("/invoices")); n != 1 {
		t.Errorf("a 400 was sent %d times, want 1 (4xx is not retried)", n)
	}

	d.answer("GET /invoices/{id}", 404, []byte(`{"code":"not_found","message":"Invoice not found"}`))
	_, err = d.client().GetInvoice(t.Context(), "inv_gone")
	if !errors.Is(err, altpay.ErrNotFound) || !errors.As(err, &e) || e.Status != 404 || e.Op != "get_invoice" {
		t.Errorf("unknown invoice: %#v, want a 404 that is ErrNotFound", err)
	}
}

// A customer list that never ends (a new cursor on every page) is walked for
// MaxCustomerPages pages at most; the search then fails with its own error,
// not ErrNotFound (the customer may exist further on).
func TestFindCustomerByExternalIDStopsAfterMaxPages(t *testing.T) {
	d := newDocServer(t)
	var n int
	var mu sync.Mutex
	d.mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		page := n
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"data":          []map[string]any{{"id": "cus_other", "external_id": "someone-else"}},
			"end_cursor":    "cursor-" + strings.Repeat("n", page), // a new one every time
			"has_next_page": true,
		})
	})
	_, err := d.client().FindCustomerByExternalID(t.Context(), "refshop-abc")
	if err == nil || errors.Is(err, altpay.ErrNotFound) {
		t.Fatalf("err %v, want a bounded-search error", err)
	}
	if got := len(d.sent("/customers")); got != altpay.MaxCustomerPages {
		t.Errorf("%d pages read, want %d", got, altpay.MaxCustomerPages)
	}
}
