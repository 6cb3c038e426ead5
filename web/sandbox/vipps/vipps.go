package vipps

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"refshop/web/sandbox/control"
	"refshop/web/sandbox/deliveries"
)

// Operation names for call counts and faults (the control API's
// "<provider>.<operation>" names).
const (
	opAccessToken = "vipps.accesstoken"
	opCreate      = "vipps.create_payment"
	opGet         = "vipps.get_payment"
	opEvents      = "vipps.events"
	opCapture     = "vipps.capture"
	opCancel      = "vipps.cancel"
	opRefund      = "vipps.refund"
	opApprove     = "vipps.approve" // the test-only force approve
	opLanding     = "vipps.landing" // the landing page (GET and the customer's answer)

	// The Webhooks API.
	opWebhooksRegister = "vipps.webhooks_register"
	opWebhooksList     = "vipps.webhooks_list"
	opWebhooksDelete   = "vipps.webhooks_delete"
	// opWebhookDelivery is the sandbox's delivery of an event to a
	// webhook: faults on it drop, delay, duplicate or reorder deliveries.
	opWebhookDelivery = "vipps.webhook_delivery"
)

// salesUnitName is the name the landing page shows for the merchant. At Vipps
// it belongs to the sales unit (the MSN) and is set when the merchant is
// registered, not sent with each payment; the sandbox registers one sales unit
// for the configured MSN under the shop's name.
const salesUnitName = "Refshop"

// paymentTimeout is how long a customer has to act on a payment before it
// EXPIRES: "By default, a user has a total of 10 minutes to accept a payment"
// (developer.vippsmobilepay.com/docs/knowledge-base/timeouts).
const paymentTimeout = 10 * time.Minute

// provider is the emulated Vipps MobilePay: its signing key and stored objects.
type provider struct {
	st  *control.State
	log *slog.Logger

	mu       sync.Mutex
	key      []byte              // signs access tokens; made at the first start, then stored
	payments map[string]*payment // by reference
	landing  map[string]string   // landing token -> reference
	idem     map[string]idemRecord
	hooks    map[string]*webhook // by id
}

// Register adds Vipps MobilePay's routes, operations and error shape.
func Register(root *http.ServeMux, st *control.State, log *slog.Logger) {
	if !st.Config.Vipps.Enabled {
		return
	}
	p := &provider{st: st, log: log, key: make([]byte, 32)}
	_, _ = rand.Read(p.key)
	p.reset()
	st.Operations(opAccessToken, opCreate, opGet, opEvents, opCapture, opCancel, opRefund, opApprove, opLanding,
		opWebhooksRegister, opWebhooksList, opWebhooksDelete)
	st.DeliveryOperations(opWebhookDelivery)
	if st.Deliveries != nil {
		st.Deliveries.Register("vipps", deliveries.Provider{Sign: p.signDelivery, Backoff: webhookBackoff,
			RetryFor: webhookRetryFor, Timeout: webhookTimeout, Redact: redactDelivery})
		st.Deliveries.BeforeRun(p.expireDue)
	}
	st.ErrorShape("vipps", p.writeFault)
	st.OnReset(p.reset)
	mux := st.Persist("vipps", p, root)

	mux.HandleFunc("POST /vipps/accesstoken/get", p.accessToken)
	mux.HandleFunc("POST /vipps/epayment/v1/payments", p.api(opCreate, p.create))
	mux.HandleFunc("GET /vipps/epayment/v1/payments/{reference}", p.api(opGet, p.onPayment(p.get)))
	mux.HandleFunc("GET /vipps/epayment/v1/payments/{reference}/events", p.api(opEvents, p.onPayment(p.events)))
	mux.HandleFunc("POST /vipps/epayment/v1/payments/{reference}/capture", p.api(opCapture, p.onPayment(p.capture)))
	mux.HandleFunc("POST /vipps/epayment/v1/payments/{reference}/cancel", p.api(opCancel, p.onPayment(p.cancel)))
	mux.HandleFunc("POST /vipps/epayment/v1/payments/{reference}/refund", p.api(opRefund, p.onPayment(p.refund)))
	mux.HandleFunc("POST /vipps/epayment/v1/test/payments/{reference}/approve", p.api(opApprove, p.onPayment(p.approve)))
	mux.HandleFunc("POST /vipps/webhooks/v1/webhooks", p.hooksAPI(opWebhooksRegister, p.register))
	mux.HandleFunc("GET /vipps/webhooks/v1/webhooks", p.hooksAPI(opWebhooksList, p.listHooks))
	mux.HandleFunc("DELETE /vipps/webhooks/v1/webhooks/{id}", p.hooksAPI(opWebhooksDelete, p.deleteHook))

	// The landing page's form posts to its own origin; the sandbox refuses
	// the same post from other sites (control.State.Wrap).
	mux.HandleFunc("GET /vipps/landing", p.landingPage)
	mux.HandleFunc("POST /vipps/landing", p.landingAnswer)
}

// reset drops every payment, landing token, idempotency record and webhook. Access
// tokens are signed, not stored: like the real ones, those already issued stay
// valid until they expire on the sandbox clock.
func (p *provider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.payments = map[string]*payment{}
	p.landing = map[string]string{}
	p.idem = map[string]idemRecord{}
	p.hooks = map[string]*webhook{}
}

// baseURL is the sandbox's own origin, for URLs it hands out.
func (p *provider) baseURL(r *http.Request) string {
	if b := p.st.Config.BaseURL; b != "" {
		return b
	}
	return "http://" + r.Host
}
