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
// customer.klarna_access_token: it returns the customer's email when the
// token is valid now.
type AccessTokenValidator func(accessToken string) (email string, ok bool)

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
	tokens   map[string]*link // every customer token ever issued -> its link
	idem     map[string]*idemRecord
	keyLocks map[string]*sync.Mutex
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
		opTokenRead, opTokenOrder, opTokenStatus)
	st.ErrorShape("klarna", p.faultShape)
	st.OnReset(p.reset)
	mux := st.Persist("klarna", p, root)

	api := "/klarna/api"
	mux.HandleFunc("POST "+api+"/payments/v1/sessions", p.createSession)
	mux.HandleFunc("GET "+api+"/payments/v1/sessions/{session_id}", p.readSession)
	mux.HandleFunc("POST "+api+"/payments/v1/sessions/{session_id}", p.updateSession)
	mux.HandleFunc("POST "+api+"/payments/v1/authorizations/{token}/order", p.createOrder)
	mux.HandleFunc("DELETE "+api+"/payments/v1/authorizations/{token}", p.cancelAuthorization)
	mux.HandleFunc("GET "+api+"/customer-token/v1/tokens/{token}", p.readToken)
	mux.HandleFunc("POST "+api+"/customer-token/v1/tokens/{token}/order", p.tokenOrder)
	mux.HandleFunc("PATCH "+api+"/customer-token/v1/tokens/{token}/status", p.tokenStatus)

	// The browser side: the SDK, the widget it frames, and Klarna's redirect.
	mux.HandleFunc("GET /klarna/cdn/kp/lib/v1/api.js", p.sdk)
	mux.HandleFunc("GET /klarna/payments/widget/{session_id}", p.widgetPage)
	mux.HandleFunc("POST /klarna/payments/widget/{session_id}/state", p.widgetState)
	mux.HandleFunc("POST /klarna/payments/widget/{session_id}/authorize", p.widgetAuthorize)
	mux.HandleFunc("GET /klarna/payments/redirect/{order_id}", p.redirect)

	mux.HandleFunc("POST /control/klarna/sessions/{session_id}/authorize", p.controlAuthorize)
}

func (p *provider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions = map[string]*session{}
	p.auths = map[string]*authorization{}
	p.orders = map[string]*order{}
	p.links = map[string]*link{}
	p.tokens = map[string]*link{}
	p.idem = map[string]*idemRecord{}
	p.keyLocks = map[string]*sync.Mutex{}
}

// authorized checks HTTP Basic credentials against the configured ones and
// answers 401 when they are wrong. Klarna does not document the 401 body of
// Payments v1; the sandbox answers ErrorV2 with UNAUTHORIZED, and the client
// reads any body.
func (p *provider) authorized(w http.ResponseWriter, r *http.Request) bool {
	u, pw, ok := r.BasicAuth()
	cfg := p.st.Config.Klarna
	if ok && subtle.ConstantTimeCompare([]byte(u), []byte(cfg.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pw), []byte(cfg.Password)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Klarna API"`)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized: wrong or missing HTTP Basic credentials (KLARNA_USERNAME / KLARNA_PASSWORD)")
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
// ErrorV2. (Sign in with Klarna's operations, below /klarna/login, register
// their own OAuth 2.0 shape in package klarnasignin.)
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Klarna-Correlation-Id") == "" {
		w.Header().Set("Klarna-Correlation-Id", uuid.NewString())
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
