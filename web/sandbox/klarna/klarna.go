package klarna

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"refshop/web/sandbox/control"
)

// Lifetimes from Klarna's documentation: a session stays open 48 hours
// (step 1, initiate a payment), an authorization guarantees the order can be
// created within 60 minutes (the SDK's authorize), and an idempotency key
// holds for 24 hours after its first use (escalation and retry policy). The
// package documentation links the pages.
const (
	SessionTTL       = 48 * time.Hour   // after the last update
	AuthorizationTTL = 60 * time.Minute // "the order can be created within 60 minutes"
	IdempotencyTTL   = 24 * time.Hour   // a key replays its first answer this long
)

// Operations the sandbox counts and can fail on demand.
const (
	opCreateSession       = "klarna.create_session"
	opReadSession         = "klarna.read_session"
	opUpdateSession       = "klarna.update_session"
	opCreateOrder         = "klarna.create_order"
	opCancelAuthorization = "klarna.cancel_authorization"
	opTokenRead           = "klarna.customer_token_read"
	opTokenOrder          = "klarna.customer_token_order"
	opTokenStatus         = "klarna.customer_token_status"
	opCreateCustomerToken = "klarna.create_customer_token"

	// Order Management.
	opOMGetOrder = "klarna.om_get_order" // also reads of a capture or a refund
	opOMCapture  = "klarna.om_capture"
	opOMRefund   = "klarna.om_refund"
	opOMCancel   = "klarna.om_cancel"
	opOMExtend   = "klarna.om_extend"
	opOMRelease  = "klarna.om_release"
)

// Persona is a Klarna test customer the widget lets a person log in as.
type Persona struct {
	Email      string
	GivenName  string
	FamilyName string
	// Declined personas are refused at authorization, as Klarna refuses some
	// customers: the widget answers approved false, show_form false.
	Declined bool
	// Review personas' orders are held by Klarna's fraud check: create order
	// (and a customer-token order) answers fraud_status PENDING.
	Review bool
	// TokenFailure is what Klarna answers when a customer-token order for
	// this persona's token is placed (Customer Token API, "place an order
	// with a customer token"): UNAVAILABLE_PAYMENT_METHOD, a funding source
	// issue whose documented answer is the fallback to a new session with
	// the customer present; PAYMENT_METHOD_FAILED, a temporary failure the
	// merchant may retry (the sandbox fails the first order of each such
	// token, then succeeds).
	TokenFailure string
}

// fraudStatus is what create order answers for per's orders.
func (per Persona) fraudStatus() string {
	if per.Review {
		return "PENDING"
	}
	return "ACCEPTED"
}

// Personas are the sandbox's test customers.
var Personas = []Persona{
	{Email: "anna.schmidt@example.com", GivenName: "Anna", FamilyName: "Schmidt"},
	{Email: "jonas.weber@example.com", GivenName: "Jonas", FamilyName: "Weber"},
	{Email: "declined@example.com", GivenName: "Dana", FamilyName: "Declined", Declined: true},
	{Email: "review@example.com", GivenName: "Rita", FamilyName: "Review", Review: true},
	{Email: "unfunded@example.com", GivenName: "Uma", FamilyName: "Unfunded", TokenFailure: "UNAVAILABLE_PAYMENT_METHOD"},
	{Email: "flaky@example.com", GivenName: "Finn", FamilyName: "Flaky", TokenFailure: "PAYMENT_METHOD_FAILED"},
}

func personaByEmail(email string) (Persona, bool) {
	for _, p := range Personas {
		if strings.EqualFold(p.Email, email) {
			return p, true
		}
	}
	return Persona{}, false
}

// AccessTokenValidator recognises a Sign in with Klarna access token sent as
// customer.klarna_access_token to the Payments API of region ("eu" or
// "na"): it returns the customer's email when the token is valid now and
// was issued by that region's issuer (the regions are separate accounts).
type AccessTokenValidator func(accessToken, region string) (email string, ok bool)

var validators sync.Map // *control.State -> AccessTokenValidator

// SetAccessTokenValidator lets the identity (OIDC) part of the sandbox tell
// this one which klarna_access_token values are valid, so a signed-in
// customer's widget skips the login step. Until one is set, the field is
// accepted and ignored (the customer logs in).
func SetAccessTokenValidator(st *control.State, v AccessTokenValidator) { validators.Store(st, v) }

// provider is the emulated Klarna Payments: its stored objects.
type provider struct {
	st  *control.State
	log *slog.Logger
	key []byte // signs client tokens

	mu       sync.Mutex
	sessions map[string]*session
	auths    map[string]*authorization
	orders   map[string]*order
	links    map[string]*link // account links by id
	tokens   map[string]*link // every account-linking customer_token ever issued -> its link
	// recurring are the Customer Token API's tokens by token_id, made by
	// POST /payments/v1/authorizations/{authorizationToken}/customer-token.
	recurring map[string]*recurringToken
	idem      map[string]*idemRecord
	keyLocks  map[string]*sync.Mutex
}

// Register adds Klarna Payments, the Customer Token API, the JS SDK and the
// widget to the sandbox.
func Register(root *http.ServeMux, st *control.State, log *slog.Logger) {
	if !st.Config.Klarna.Enabled {
		return
	}
	p := &provider{st: st, log: log, key: make([]byte, 32)}
	_, _ = rand.Read(p.key)
	p.reset()
	st.Operations(opCreateSession, opReadSession, opUpdateSession, opCreateOrder, opCancelAuthorization,
		opCreateCustomerToken, opTokenRead, opTokenOrder, opTokenStatus,
		opOMGetOrder, opOMCapture, opOMRefund, opOMCancel, opOMExtend, opOMRelease)
	st.ErrorShape("klarna", p.faultShape)
	st.ErrorShape(opTokenOrder, p.tokenOrderFaultShape)
	for op, forbidden := range map[string]string{opOMGetOrder: "NOT_ALLOWED", opOMCapture: "CAPTURE_NOT_ALLOWED",
		opOMRefund: "REFUND_NOT_ALLOWED", opOMCancel: "CANCEL_NOT_ALLOWED", opOMExtend: "NOT_ALLOWED", opOMRelease: "NOT_ALLOWED"} {
		st.ErrorShape(op, omFaultShape(forbidden))
	}
	p.registerCallbacks()
	st.OnReset(p.reset)
	mux := st.Persist("klarna", p, root)

	// Each region is its own merchant account below its own base; the paths
	// below a base are Klarna's.
	for _, reg := range []region{regionEU, regionNA} {
		api := reg.base()
		in := func(h func(http.ResponseWriter, *http.Request, region)) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { h(w, r, reg) }
		}
		mux.HandleFunc("POST "+api+"/payments/v1/sessions", in(p.createSession))
		mux.HandleFunc("GET "+api+"/payments/v1/sessions/{session_id}", in(p.readSession))
		mux.HandleFunc("POST "+api+"/payments/v1/sessions/{session_id}", in(p.updateSession))
		mux.HandleFunc("POST "+api+"/payments/v1/authorizations/{token}/order", in(p.createOrder))
		mux.HandleFunc("POST "+api+"/payments/v1/authorizations/{token}/customer-token", in(p.createCustomerToken))
		mux.HandleFunc("DELETE "+api+"/payments/v1/authorizations/{token}", in(p.cancelAuthorization))
		mux.HandleFunc("GET "+api+"/customer-token/v1/tokens/{token}", in(p.readToken))
		mux.HandleFunc("POST "+api+"/customer-token/v1/tokens/{token}/order", in(p.tokenOrder))
		mux.HandleFunc("PATCH "+api+"/customer-token/v1/tokens/{token}/status", in(p.tokenStatus))

		om := api + "/ordermanagement/v1/orders/{order_id}"
		mux.HandleFunc("GET "+om, in(p.omGetOrder))
		mux.HandleFunc("POST "+om+"/captures", in(p.omCapture))
		mux.HandleFunc("GET "+om+"/captures/{capture_id}", in(p.omGetCapture))
		mux.HandleFunc("POST "+om+"/refunds", in(p.omRefund))
		mux.HandleFunc("GET "+om+"/refunds/{refund_id}", in(p.omGetRefund))
		mux.HandleFunc("POST "+om+"/cancel", in(p.omCancel))
		mux.HandleFunc("POST "+om+"/extend-authorization-time", in(p.omExtend))
		mux.HandleFunc("POST "+om+"/release-remaining-authorization", in(p.omRelease))
	}

	// The browser side: the SDK, the widget it frames, and Klarna's redirect.
	// They serve both regions: the SDK and its CDN are global, and the
	// client token names the session.
	mux.HandleFunc("GET /klarna/cdn/kp/lib/v1/api.js", p.sdk)
	mux.HandleFunc("GET /klarna/payments/widget/{session_id}", p.widgetPage)
	mux.HandleFunc("POST /klarna/payments/widget/{session_id}/state", p.widgetState)
	mux.HandleFunc("POST /klarna/payments/widget/{session_id}/authorize", p.widgetAuthorize)
	mux.HandleFunc("GET /klarna/payments/redirect/{order_id}", p.redirect)

	mux.HandleFunc("POST /control/klarna/sessions/{session_id}/authorize", p.controlAuthorize)
	mux.HandleFunc("POST /control/klarna/orders/{order_id}/fraud", p.controlFraud)
}

func (p *provider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions = map[string]*session{}
	p.auths = map[string]*authorization{}
	p.orders = map[string]*order{}
	p.links = map[string]*link{}
	p.tokens = map[string]*link{}
	p.recurring = map[string]*recurringToken{}
	p.idem = map[string]*idemRecord{}
	p.keyLocks = map[string]*sync.Mutex{}
}

// authorized checks HTTP Basic credentials against the region's merchant
// account and answers 401 when they are wrong. Klarna documents "If the
// credentials are missing or incorrect, Klarna responds with 401
// Unauthorized" (https://docs.klarna.com/api/authentication/) but not the
// body; the sandbox answers ErrorV2 with UNAUTHORIZED, and the client reads
// any body. Each region is a separate merchant account, so the other
// region's credentials are as wrong as any (as at the real hosts: a 401
// from the playground is most often credentials of the other region or
// environment, per Klarna's answers on kco_rest_php#41 and kco_rest_java#45).
func (p *provider) authorized(w http.ResponseWriter, r *http.Request, reg region) bool {
	u, pw, ok := r.BasicAuth()
	cfg := p.st.Config.Klarna
	wantUser, wantPass, env := cfg.Username, cfg.Password, "KLARNA_USERNAME / KLARNA_PASSWORD"
	if reg == regionNA {
		wantUser, wantPass, env = cfg.NAUsername, cfg.NAPassword, "KLARNA_NA_USERNAME / KLARNA_NA_PASSWORD"
	}
	if ok && wantUser != "" && subtle.ConstantTimeCompare([]byte(u), []byte(wantUser)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pw), []byte(wantPass)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Klarna API"`)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED",
		"Unauthorized: wrong or missing HTTP Basic credentials for the "+regionName(reg)+" merchant account ("+env+")")
	return false
}

// writeError answers Klarna's ErrorV2 with a fresh correlation id, also sent
// as the Klarna-Correlation-Id header.
func writeError(w http.ResponseWriter, status int, code string, messages ...string) {
	id := uuid.NewString()
	w.Header().Set("Klarna-Correlation-Id", id)
	writeJSON(w, status, errorV2{CorrelationID: id, ErrorCode: code, ErrorMessages: messages})
}

type errorV2 struct {
	CorrelationID string   `json:"correlation_id"`
	ErrorCode     string   `json:"error_code"`
	ErrorMessages []string `json:"error_messages"`
}

// faultShape writes an injected fault as Klarna Payments would answer it:
// ErrorV2 with the code Klarna's error table gives the status
// (https://docs.klarna.com/resources/error-details/errors-in-klarna-payments/).
// (Sign in with Klarna's operations, below /klarna/login, register their
// own OAuth 2.0 shape in package klarnasignin.)
func (p *provider) faultShape(w http.ResponseWriter, r *http.Request, status int) {
	code := map[int]string{400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "INVALID_OPERATION", 404: "NOT_FOUND", 409: "BAD_VALUE"}[status]
	if code == "" {
		code = "INTERNAL_SERVER_ERROR"
		if status < 500 {
			code = "BAD_REQUEST"
		}
	}
	writeError(w, status, code, http.StatusText(status)+" (fault injected through the sandbox control API)")
}

// tokenOrderFaultShape is faultShape for klarna.customer_token_order, whose
// error table differs ("place an order with a customer token",
// https://docs.klarna.com/klarna-checkout/popular-use-cases/place-order-token/):
// 403 TOKEN_FORBIDDEN ("Customer token usage forbidden, e.g. by this
// merchant ID": the sandbox has one merchant per region, so a fault is the
// way to see it), 404 TOKEN_NOT_FOUND, 500 INTERNAL_SERVER_ERROR and 503
// SERVICE_UNAVAILABLE ("You can try again for a 503").
func (p *provider) tokenOrderFaultShape(w http.ResponseWriter, r *http.Request, status int) {
	code := map[int]string{400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "TOKEN_FORBIDDEN", 404: "TOKEN_NOT_FOUND",
		409: "BAD_VALUE", 500: "INTERNAL_SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}[status]
	if code == "" {
		code = "INTERNAL_SERVER_ERROR"
		if status < 500 {
			code = "BAD_REQUEST"
		}
	}
	writeError(w, status, code, http.StatusText(status)+" (fault injected through the sandbox control API)")
}

// omFaultShape is faultShape for an Order Management operation, with the
// codes of Klarna's Order Management error table
// (https://docs.klarna.com/resources/developer-tools/error-handling/error-codes-and-messages-for-order-management):
// 403 the operation's *_NOT_ALLOWED, 404 NO_SUCH_ORDER, 409 CONFLICT, 429
// TOO_MANY_REQUESTS, 500 INTERNAL_SERVER_ERROR, 502/503/504
// TEMPORARILY_UNAVAILABLE.
func omFaultShape(forbidden string) func(w http.ResponseWriter, r *http.Request, status int) {
	return func(w http.ResponseWriter, r *http.Request, status int) {
		code := map[int]string{400: "BAD_VALUE", 401: "UNAUTHORIZED", 403: forbidden, 404: "NO_SUCH_ORDER", 409: "CONFLICT",
			413: "REQUEST_TOO_LARGE", 422: "UNPROCESSABLE_ENTITY", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_SERVER_ERROR",
			502: "TEMPORARILY_UNAVAILABLE", 503: "TEMPORARILY_UNAVAILABLE", 504: "TEMPORARILY_UNAVAILABLE"}[status]
		if code == "" {
			code = "INTERNAL_SERVER_ERROR"
			if status < 500 {
				code = "BAD_VALUE"
			}
		}
		writeError(w, status, code, http.StatusText(status)+" (fault injected through the sandbox control API)")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Klarna-Correlation-Id") == "" {
		w.Header().Set("Klarna-Correlation-Id", uuid.NewString())
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
