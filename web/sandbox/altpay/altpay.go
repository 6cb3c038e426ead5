package altpay

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"refshop/web/sandbox/control"
	"refshop/web/sandbox/deliveries"
)

// Operation names, as counted on GET /control/state and targeted by faults.
const (
	opOAuthToken          = "altpay.oauth_token"
	opCreateCustomer      = "altpay.create_customer"
	opGetCustomer         = "altpay.get_customer"
	opListCustomers       = "altpay.list_customers"
	opCreateInvoice       = "altpay.create_invoice"
	opGetInvoice          = "altpay.get_invoice"
	opListInvoices        = "altpay.list_invoices"
	opCheckoutAuthInit    = "altpay.checkout_auth_init"
	opCheckoutTheme       = "altpay.checkout_theme"
	opCheckoutInvoice     = "altpay.checkout_invoice"
	opCheckoutPMs         = "altpay.checkout_payment_methods"
	opCheckoutAddPM       = "altpay.checkout_add_payment_method"
	opCheckoutPayment     = "altpay.checkout_payment"
	opCreateWebhook       = "altpay.create_webhook"
	opListWebhooks        = "altpay.list_webhooks"
	opDeleteWebhook       = "altpay.delete_webhook"
	opWebhookDelivery     = "altpay.webhook_delivery" // a delivery to the shop, not a call (control.DeliveryOperations)
	partnerID             = "prt_refshop_sandbox"     // the one partner account the sandbox hosts
	maxBody               = 64 << 10
	invoiceNumberTemplate = "INV-%05d"
)

// provider is the emulated Alternative Payments account: its stored objects
// and the key its checkout tokens are signed with.
type provider struct {
	st  *control.State
	log *slog.Logger

	mu        sync.Mutex
	key       []byte                    // HS256 key for checkout JWTs; new on reset, kept in the store
	tokens    map[string]time.Time      // OAuth access token -> expiry (sandbox clock)
	customers map[string]*customer      // by id
	order     []string                  // customer ids in creation order, for the cursor list
	invoices  map[string]*invoice       // by id
	invOrder  []string                  // invoice ids in creation order, for the cursor list
	methods   map[string]*paymentMethod // by id
	payments  map[string]*payment       // by Idempotency-Key
	hooks     map[string]*subscription  // webhook subscriptions, by id
	nextInv   int
}

// Register adds the Alternative Payments routes to mux below /altpay.
func Register(root *http.ServeMux, st *control.State, log *slog.Logger) {
	if !st.Config.Altpay.Enabled {
		return
	}
	p := &provider{st: st, log: log}
	p.reset()
	st.Operations(opOAuthToken, opCreateCustomer, opGetCustomer, opListCustomers, opCreateInvoice, opGetInvoice, opListInvoices,
		opCheckoutAuthInit, opCheckoutTheme, opCheckoutInvoice, opCheckoutPMs, opCheckoutAddPM, opCheckoutPayment,
		opCreateWebhook, opListWebhooks, opDeleteWebhook)
	st.DeliveryOperations(opWebhookDelivery)
	if st.Deliveries != nil {
		st.Deliveries.Register("altpay", deliveries.Provider{Sign: p.signDelivery, Backoff: webhookBackoff,
			RetryFor: webhookRetryFor, Timeout: webhookTimeout, Redact: redactDelivery})
	}
	st.ErrorShape("altpay", func(w http.ResponseWriter, r *http.Request, status int) {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, codeFor(status), http.StatusText(status), nil)
	})
	st.OnReset(p.reset)
	mux := st.Persist("altpay", p, root)

	// Server-to-server: no CORS headers, so a browser page cannot call these.
	mux.HandleFunc("POST /altpay/oauth/token", p.oauthToken)
	mux.HandleFunc("POST /altpay/customers", p.createCustomer)
	mux.HandleFunc("GET /altpay/customers", p.listCustomers)
	mux.HandleFunc("GET /altpay/customers/{id}", p.getCustomer)
	mux.HandleFunc("POST /altpay/invoices", p.createInvoice)
	mux.HandleFunc("GET /altpay/invoices", p.listInvoices)
	mux.HandleFunc("GET /altpay/invoices/{id}", p.getInvoice)
	mux.HandleFunc("POST /altpay/webhooks", p.createWebhook)
	mux.HandleFunc("GET /altpay/webhooks", p.listWebhooks)
	mux.HandleFunc("DELETE /altpay/webhooks/{subscription_id}", p.deleteWebhook)
	// The docs say /v1/checkout-auth/init; a third-party client reports that
	// the live path has no /v1. The sources disagree, so both are served.
	mux.HandleFunc("POST /altpay/v1/checkout-auth/init", p.checkoutAuthInit)
	mux.HandleFunc("POST /altpay/checkout-auth/init", p.checkoutAuthInit)

	// Browser-facing checkout API: CORS for the shop's origin only. The
	// shop's page calls it from another origin with a bearer checkout token
	// (nothing a browser attaches on its own), so the sandbox's cross-origin
	// check must let it through.
	mux.Handle("/altpay/checkout/", p.cors(p.checkoutRoutes()))
	st.AllowCrossOrigin("/altpay/checkout/")
}

func (p *provider) reset() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key = key
	p.tokens = map[string]time.Time{}
	p.customers = map[string]*customer{}
	p.order = nil
	p.invoices = map[string]*invoice{}
	p.invOrder = nil
	p.methods = map[string]*paymentMethod{}
	p.payments = map[string]*payment{}
	p.hooks = map[string]*subscription{}
	p.nextInv = 0
}

// apiError is the HttpError body of the API reference.
type apiError struct {
	Code             string            `json:"code"`
	Message          string            `json:"message"`
	ValidationErrors map[string]string `json:"validation_errors,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	writeJSON(w, status, apiError{Code: code, Message: msg, ValidationErrors: fields})
}

// validation answers 400 with one message per field: a field missing or
// malformed.
func validation(w http.ResponseWriter, fields map[string]string) {
	writeError(w, http.StatusBadRequest, "bad_request", "Validation failed", fields)
}

// unprocessable answers 422 with one message per field: a well-formed
// request that breaks a business rule, such as an unsupported currency (the
// documented "422 Validation Exception",
// https://docs.alternativepayments.io/getting-started/troubleshooting).
func unprocessable(w http.ResponseWriter, fields map[string]string) {
	writeError(w, http.StatusUnprocessableEntity, codeFor(http.StatusUnprocessableEntity), "Validation failed", fields)
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	}
	if status >= 500 {
		return "internal_error"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", newID("req"))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON object body. Unknown fields are ignored, as JSON APIs
// usually do; a body that is not a JSON object is a 400.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "Request body is too large", nil)
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "Request body must be a JSON object", nil)
		return false
	}
	return true
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// cors lets the shop's origin, and only it, call the checkout API from the
// browser. Retry-After is exposed so the snippet can honour it on 429.
func (p *provider) cors(next http.Handler) http.Handler {
	allowed := p.st.Config.ShopBaseURL
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		ok := origin != "" && origin == allowed
		w.Header().Add("Vary", "Origin")
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !ok {
				writeError(w, http.StatusForbidden, "forbidden", "Origin not allowed", nil)
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
