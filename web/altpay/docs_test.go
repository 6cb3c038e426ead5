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
		HTTP:  outbound.NewClient(slog.New(slog.DiscardHandler), 5*time.Second, nil),
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
		LineItems: []altpay.LineItem{{Description: "Enamel mug", Quantity: 2, Amount: 1990}}})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "POST /invoices", d.sent("/invoices")[0].body, doc(t, "invoice_request.json"))
	if k := d.sent("/invoices")[0].idempotencyKey; k != "" {
		t.Errorf("Idempotency-Key %q sent: the API documents none for POST /invoices", k)
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
	_, err := d.client().CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "USD", DueDate: "1 April"})
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Kind != altpay.KindInvalid || e.Op != "create_invoice" ||
		e.Code != "bad_request" || e.ValidationErrors["due_date"] == "" || altpay.OutcomeUnknown(err) {
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

// An invoice in another currency than the enum's USD is the documented 422
// with the HttpError body: a refusal (nothing was made), with the field named
// so the shop can tell the customer why.
func TestInvoiceInAnotherCurrencyIsA422Refusal(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /invoices", 422, doc(t, "error_unprocessable.json"))
	_, err := d.client().CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "EUR", CustomerID: "cus_xxx", DueDate: "2025-01-01",
		LineItems: []altpay.LineItem{{Description: "Enamel mug", Quantity: 2, Amount: 1990}}})
	var e *altpay.Error
	if !errors.As(err, &e) || e.Status != 422 || e.Kind != altpay.KindInvalid || e.ValidationErrors["currency"] == "" || altpay.OutcomeUnknown(err) {
		t.Fatalf("err %#v, want a 422 refusal naming currency", err)
	}
	if n := len(d.sent("/invoices")); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

// POST /invoices is sent once: a 5xx is not retried (it could have made the
// invoice) and says the outcome is unknown.
func TestCreateInvoiceIsNeverRetried(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /invoices", 503, []byte(`{"code":"internal_error","message":"Service Unavailable"}`))
	_, err := d.client().CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "USD", CustomerID: "cus_xxx", DueDate: "2025-01-01"})
	if n := len(d.sent("/invoices")); n != 1 || !altpay.OutcomeUnknown(err) {
		t.Errorf("a 503 on create: sent %d times, outcome unknown %v (%v); want once, unknown", n, altpay.OutcomeUnknown(err), err)
	}
	// A failure to get the OAuth token is before the invoice was asked for.
	d2 := newDocServer(t)
	d2.mux = http.NewServeMux()
	d2.answer("POST /oauth/token", 503, []byte(`{"code":"internal_error","message":"Service Unavailable"}`))
	_, err = d2.client().CreateInvoice(t.Context(), altpay.NewInvoice{Currency: "USD"})
	if err == nil || altpay.OutcomeUnknown(err) || len(d2.sent("/invoices")) != 0 {
		t.Errorf("no token: %v, outcome unknown %v; want a known failure and no invoice request", err, altpay.OutcomeUnknown(err))
	}
}

// Both documented list shapes decode to the same Page: the API reference's
// (cursor fields at the top level) and the quick-start guide's (nested under
// "pagination", end_cursor null on the last page).
func TestListPagesReadBothDocumentedShapes(t *testing.T) {
	var top altpay.Page[altpay.Invoice]
	if err := json.Unmarshal(doc(t, "invoices_list_response.json"), &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Data) != 1 || top.Data[0].ID != "text" || !top.HasNextPage || top.HasPreviousPage ||
		top.EndCursor != "gaFpxBACEaXBVABEYbHG+X9LyLnH" || top.StartCursor != "gaFpxBACEaXBVABEYbHG+X9LyLnH" {
		t.Errorf("the reference's shape: %+v", top)
	}
	var nested altpay.Page[altpay.Invoice]
	if err := json.Unmarshal(doc(t, "invoices_list_response_pagination.json"), &nested); err != nil {
		t.Fatal(err)
	}
	if len(nested.Data) != 1 || nested.Data[0].Memo != "Refshop order 4f2a" || nested.Data[0].Total != 3980 ||
		!nested.HasNextPage || nested.EndCursor != "inv_123" {
		t.Errorf("the guide's shape around invoices: %+v", nested)
	}
	var customers altpay.Page[altpay.Customer]
	if err := json.Unmarshal(doc(t, "customers_list_response_pagination.json"), &customers); err != nil {
		t.Fatal(err)
	}
	if len(customers.Data) != 1 || customers.Data[0].ID != "cus_123" || customers.HasNextPage || customers.EndCursor != "" {
		t.Errorf("the guide's customers example: %+v", customers)
	}
	var oldCustomers altpay.Page[altpay.Customer]
	if err := json.Unmarshal(doc(t, "customers_list_response.json"), &oldCustomers); err != nil {
		t.Fatal(err)
	}
	if len(oldCustomers.Data) != 1 || oldCustomers.HasNextPage || oldCustomers.EndCursor != "cus_xxx" {
		t.Errorf("the reference's customers shape: %+v", oldCustomers)
	}
}

// FindInvoices sends the documented filters and follows the cursor of either
// shape to the last page, returning what match accepts.
func TestFindInvoicesWalksPagesOfEitherShape(t *testing.T) {
	for _, nested := range []bool{false, true} {
		t.Run(map[bool]string{false: "top level", true: "nested under pagination"}[nested], func(t *testing.T) {
			d := newDocServer(t)
			d.mux.HandleFunc("GET /invoices", func(w http.ResponseWriter, r *http.Request) {
				after := r.URL.Query().Get("after")
				page := map[string]any{"data": []map[string]any{{"id": "inv_1", "memo": "other"}, {"id": "inv_2", "memo": "mine"}}}
				cursor, more := any("inv_2"), true
				if after == "inv_2" {
					page["data"] = []map[string]any{{"id": "inv_3", "memo": nil}, {"id": "inv_4", "memo": "mine"}}
					cursor, more = nil, false
				}
				if nested {
					page["pagination"] = map[string]any{"has_next_page": more, "end_cursor": cursor}
				} else {
					page["has_next_page"], page["end_cursor"], page["has_previous_page"] = more, cursor, after != ""
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(page)
			})
			since := time.Date(2025, 1, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
			got, err := d.client().FindInvoices(t.Context(), altpay.InvoiceFilter{CustomerID: "cus_1", CreatedAtStart: since},
				func(in altpay.Invoice) bool { return in.Memo == "mine" })
			if err != nil || len(got) != 2 || got[0].ID != "inv_2" || got[1].ID != "inv_4" {
				t.Fatalf("found %+v, %v; want inv_2 and inv_4", got, err)
			}
			reqs := d.sent("/invoices")
			if len(reqs) != 2 || reqs[0].path != "/invoices?created_at_start=2025-01-01T08%3A30%3A00Z&customer_id=cus_1" ||
				!strings.HasSuffix(reqs[1].path, "&after=inv_2") && !strings.Contains(reqs[1].path, "after=inv_2") {
				t.Errorf("requests %+v", reqs)
			}
		})
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
