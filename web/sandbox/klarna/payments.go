package klarna

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// session is a Klarna Payments session.
type session struct {
	ID          string
	ClientToken string
	Body        wireBody // the order data as last created or updated
	Intent      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Complete    bool // an order was placed
}

func (s *session) expiresAt() time.Time { return s.UpdatedAt.Add(SessionTTL) }

func (s *session) customerToken() string {
	if s.Body.Customer != nil && s.Body.Customer.CustomerToken != nil {
		return *s.Body.Customer.CustomerToken
	}
	return ""
}

func (s *session) accessToken() string {
	if s.Body.Customer != nil && s.Body.Customer.KlarnaAccessToken != nil {
		return *s.Body.Customer.KlarnaAccessToken
	}
	return ""
}

// authorization is what the customer's approval in the widget produced.
type authorization struct {
	Token     string
	SessionID string
	Data      orderData // the order the customer approved
	Intent    string
	Persona   Persona
	// ViaToken is the customer token that recognised the customer (the
	// widget opened ready to buy); "" when the customer logged in.
	ViaToken string
	// Link: the customer logged in and kept "link my Klarna account" checked.
	Link      bool
	Country   string
	CreatedAt time.Time
	Used      bool
	Cancelled bool
}

// order is a placed order.
type order struct {
	ID              string
	SessionID       string
	ConfirmationURL string
	CreatedAt       time.Time
}

func newID() string { return uuid.NewString() }

func paymentMethodCategories(base string) []map[string]any {
	badge := base + "/assets/klarna-badge.svg"
	return []map[string]any{{
		"identifier": "klarna", "name": "Pay with Klarna",
		"asset_urls": map[string]string{"descriptive": badge, "standard": badge},
	}}
}

// createSession is POST /payments/v1/sessions.
func (p *provider) createSession(w http.ResponseWriter, r *http.Request) {
	body, proceed := p.begin(w, r, opCreateSession)
	if !proceed {
		return
	}
	p.idempotent(w, r, body, func() response {
		b, e := parseBody(body)
		if e == nil {
			e = validate(b, sessionRules)
		}
		if e != nil {
			return fail(e)
		}
		now := p.st.Now()
		s := &session{ID: newID(), Body: b, Intent: "buy", CreatedAt: now, UpdatedAt: now}
		if b.Intent != nil {
			s.Intent = *b.Intent
		}
		s.ClientToken = p.clientToken(s)
		p.mu.Lock()
		p.sessions[s.ID] = s
		p.mu.Unlock()
		return ok(http.StatusOK, map[string]any{
			"session_id": s.ID, "client_token": s.ClientToken,
			"payment_method_categories": paymentMethodCategories(p.st.Config.BaseURL),
		})
	})
}

// liveSession returns the session unless it is unknown or expired (both
// Klarna's 404 NOT_FOUND "Invalid session id"). Callers hold p.mu.
func (p *provider) liveSession(id string) (*session, *apiError) {
	s := p.sessions[id]
	if s == nil || !p.st.Now().Before(s.expiresAt()) {
		return nil, &apiError{http.StatusNotFound, "NOT_FOUND", []string{"Invalid session id"}}
	}
	return s, nil
}

// readSession is GET /payments/v1/sessions/{session_id} (session_read).
func (p *provider) readSession(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opReadSession) || !p.authorized(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, e := p.liveSession(r.PathValue("session_id"))
	if e != nil {
		writeResponse(w, fail(e))
		return
	}
	status := "incomplete"
	if s.Complete {
		status = "complete"
	}
	out := map[string]any{
		"session_id": s.ID, "client_token": s.ClientToken, "status": status,
		"expires_at": s.expiresAt().UTC().Format(time.RFC3339), "intent": s.Intent,
		"purchase_country": s.Body.PurchaseCountry, "purchase_currency": s.Body.PurchaseCurrency,
		"locale": s.Body.Locale, "order_amount": s.Body.OrderAmount, "order_tax_amount": s.Body.OrderTaxAmount,
		"order_lines": s.Body.OrderLines, "merchant_urls": s.Body.MerchantURLs,
		"merchant_reference1": s.Body.MerchantReference1, "merchant_reference2": s.Body.MerchantReference2,
		"payment_method_categories": paymentMethodCategories(p.st.Config.BaseURL),
	}
	// session_read's customer object has no token fields: tokens are not
	// read back.
	if a := p.latestAuthorization(s.ID); a != nil {
		out["authorization_token"] = a.Token
	}
	for k, v := range out {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			delete(out, k) // absent fields are left out, not null
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *provider) latestAuthorization(sessionID string) *authorization {
	var latest *authorization
	for _, a := range p.auths {
		if a.SessionID == sessionID && !a.Cancelled && (latest == nil || a.CreatedAt.After(latest.CreatedAt)) {
			latest = a
		}
	}
	return latest
}

// updateSession is POST /payments/v1/sessions/{session_id}: the fields sent
// replace the session's; the result must still validate. Authorizations not
// yet used become invalid: the customer approved another order, and must
// approve again (authorize() after an update gives a new token).
func (p *provider) updateSession(w http.ResponseWriter, r *http.Request) {
	body, proceed := p.begin(w, r, opUpdateSession)
	if !proceed {
		return
	}
	id := r.PathValue("session_id")
	p.idempotent(w, r, body, func() response {
		upd, e := parseBody(body)
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		s, e := p.liveSession(id)
		if e != nil {
			return fail(e)
		}
		if s.Complete {
			return fail(&apiError{http.StatusNotFound, "SESSION_COMPLETED", []string{"Session is completed: an order was placed"}})
		}
		merged := merge(s.Body, upd)
		if e := validate(merged, sessionRules); e != nil {
			return fail(e)
		}
		s.Body = merged
		if merged.Intent != nil {
			s.Intent = *merged.Intent
		}
		s.UpdatedAt = p.st.Now()
		for _, a := range p.auths {
			if a.SessionID == s.ID && !a.Used {
				a.Cancelled = true
			}
		}
		return ok(http.StatusNoContent, nil)
	})
}

// merge returns cur with every field present in upd replaced.
func merge(cur, upd wireBody) wireBody {
	override(&cur.AcquiringChannel, upd.AcquiringChannel)
	override(&cur.Intent, upd.Intent)
	override(&cur.PurchaseCountry, upd.PurchaseCountry)
	override(&cur.PurchaseCurrency, upd.PurchaseCurrency)
	override(&cur.Locale, upd.Locale)
	override(&cur.MerchantReference1, upd.MerchantReference1)
	override(&cur.MerchantReference2, upd.MerchantReference2)
	override(&cur.MerchantData, upd.MerchantData)
	override(&cur.OrderAmount, upd.OrderAmount)
	override(&cur.OrderTaxAmount, upd.OrderTaxAmount)
	override(&cur.OrderLines, upd.OrderLines)
	override(&cur.MerchantURLs, upd.MerchantURLs)
	override(&cur.Customer, upd.Customer)
	if upd.BillingAddress != nil {
		cur.BillingAddress = upd.BillingAddress
	}
	if upd.ShippingAddress != nil {
		cur.ShippingAddress = upd.ShippingAddress
	}
	return cur
}

// override sets *dst to src when the update sent the field (src not nil).
func override[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

var invalidAuthorization = &apiError{http.StatusNotFound, "NOT_FOUND", []string{"Invalid authorization token"}}

// usableAuthorization returns the authorization unless it is unknown, used,
// cancelled or older than 60 minutes: all Klarna's 404 NOT_FOUND "Invalid
// authorization token". Callers hold p.mu.
func (p *provider) usableAuthorization(token string) (*authorization, *apiError) {
	a := p.auths[token]
	if a == nil || a.Used || a.Cancelled || !p.st.Now().Before(a.CreatedAt.Add(AuthorizationTTL)) {
		return nil, invalidAuthorization
	}
	return a, nil
}

// createOrder is POST /payments/v1/authorizations/{token}/order.
func (p *provider) createOrder(w http.ResponseWriter, r *http.Request) {
	body, proceed := p.begin(w, r, opCreateOrder)
	if !proceed {
		return
	}
	token := r.PathValue("token")
	run := p.idempotent
	if !p.st.Settings().KlarnaCreateOrderIdempotent {
		// klarna_create_order_idempotent off: the key is ignored, so a repeat
		// meets a used authorization (404), as real Klarna may answer.
		run = func(w http.ResponseWriter, _ *http.Request, _ []byte, handle func() response) {
			writeResponse(w, handle())
		}
	}
	run(w, r, body, func() response {
		b, e := parseBody(body)
		if e == nil {
			e = validate(b, orderRules)
		}
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		a, e := p.usableAuthorization(token)
		if e != nil {
			return fail(e)
		}
		s := p.sessions[a.SessionID]
		if s == nil || s.Complete {
			return fail(invalidAuthorization)
		}
		if diff := a.Data.mismatches(dataOf(b)); len(diff) > 0 {
			return fail(&apiError{http.StatusConflict, "BAD_VALUE", []string{"Not matching fields: [" + strings.Join(diff, ", ") + "]"}})
		}
		now := p.st.Now()
		a.Used = true
		s.Complete = true
		o := &order{ID: newID(), SessionID: s.ID, CreatedAt: now}
		if u := confirmationURL(b, s); u != "" {
			o.ConfirmationURL = u
		}
		p.orders[o.ID] = o
		out := map[string]any{
			"order_id": o.ID, "fraud_status": a.Persona.fraudStatus(),
			// Klarna's guide shows the string form; the API reference an object.
			"authorized_payment_method": "invoice",
		}
		if o.ConfirmationURL != "" {
			out["redirect_url"] = p.st.Config.BaseURL + "/klarna/payments/redirect/" + o.ID
		}
		if t := p.linkOnOrder(a); t != "" {
			out["customer_token"] = t
		}
		return ok(http.StatusOK, out)
	})
}

// confirmationURL is the merchant's confirmation URL from the order request,
// else from the session.
func confirmationURL(b wireBody, s *session) string {
	for _, u := range []*wireMerchantURLs{b.MerchantURLs, s.Body.MerchantURLs} {
		if u != nil && u.Confirmation != nil && *u.Confirmation != "" {
			return *u.Confirmation
		}
	}
	return ""
}

// redirect is Klarna's redirect_url: it sends the browser on to the
// merchant's confirmation URL with the placeholders filled in.
func (p *provider) redirect(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	o := p.orders[r.PathValue("order_id")]
	p.mu.Unlock()
	if o == nil || o.ConfirmationURL == "" {
		http.Error(w, "unknown order", http.StatusNotFound)
		return
	}
	u := strings.NewReplacer("{order.id}", url.QueryEscape(o.ID), "{session.id}", url.QueryEscape(o.SessionID)).Replace(o.ConfirmationURL)
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// cancelAuthorization is DELETE /payments/v1/authorizations/{token}.
func (p *provider) cancelAuthorization(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opCancelAuthorization) || !p.authorized(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, e := p.usableAuthorization(r.PathValue("token"))
	if e != nil {
		writeResponse(w, fail(&apiError{http.StatusNotFound, "NOT_FOUND", []string{"The authorization does not exist"}}))
		return
	}
	a.Cancelled = true
	writeRaw(w, http.StatusNoContent, nil)
}
