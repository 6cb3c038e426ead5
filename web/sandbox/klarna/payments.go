package klarna

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"refshop/web/sandbox/exchanges"
)

// session is a Klarna Payments session.
type session struct {
	ID          string
	Region      string // "" (stored before regions) is Europe
	ClientToken string
	Body        wireBody // the order data as last created or updated
	Intent      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Complete    bool // an order was placed
}

func (s *session) expiresAt() time.Time { return s.UpdatedAt.Add(SessionTTL) }

func (s *session) country() string {
	if s.Body.PurchaseCountry == nil {
		return ""
	}
	return strings.ToUpper(*s.Body.PurchaseCountry)
}

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
	Region    string
	SessionID string
	Data      orderData // the order the customer approved
	Intent    string
	Persona   Persona
	// Category is the payment method category the customer approved with
	// (the one authorize() named); Method what it pays with.
	Category string
	Method   paymentMethod
	// ViaToken is the account-linking customer token that recognised the
	// customer (the widget opened ready to buy); "" when the customer
	// logged in.
	ViaToken string
	// Link: the customer logged in and kept "link my Klarna account" checked.
	Link      bool
	Country   string
	CreatedAt time.Time
	Used      bool // an order was placed with it
	Tokenized bool // a customer token (Customer Token API) was made with it
	Cancelled bool
}

// order is a placed order, as create order or a customer-token order made
// it and Order Management reads and changes it (ordermanagement.go).
type order struct {
	ID              string
	Region          string
	SessionID       string
	ConfirmationURL string
	// NotificationURL is merchant_urls.notification, where the
	// pending-order notification goes (callbacks.go); "" for none.
	NotificationURL string
	CreatedAt       time.Time

	// What Order Management reports. Orders stored before it existed have
	// none of it: they read as an order of 0 with no lines.
	Country            string
	Currency           string
	Locale             string
	Amount             int64 // order_amount, also original_order_amount: no authorization update is emulated
	Lines              []wireLine
	MerchantReference1 string
	MerchantReference2 string
	KlarnaReference    string
	Method             paymentMethod // initial_payment_method
	Category           string        // its name, initial_payment_method.description
	FraudStatus        string        // ACCEPTED, PENDING or REJECTED
	FraudDecidedAt     time.Time     // when a PENDING order's review ended
	ExpiresAt          time.Time     // zero: the default period from CreatedAt
	Captures           []*capture
	Refunds            []*refund
	Cancelled          bool
	Released           bool // the remaining authorization was released
}

func newID() string { return uuid.NewString() }

// paymentMethodCategories is the payment_method_categories of a session in
// the country, in the documented shape: identifier, name, asset_urls
// {descriptive, standard}. Klarna's asset URLs are on its CDN; the
// sandbox's are its own badge.
func paymentMethodCategories(base, countryCode string) []map[string]any {
	badge := base + "/assets/klarna-badge.svg"
	var out []map[string]any
	for _, c := range categoriesOf(countryCode) {
		out = append(out, map[string]any{
			"identifier": c.ID, "name": c.Name,
			"asset_urls": map[string]string{"descriptive": badge, "standard": badge},
		})
	}
	return out
}

// createSession is POST /payments/v1/sessions (merchant_session).
func (p *provider) createSession(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opCreateSession, reg)
	if !proceed {
		return
	}
	p.idempotent(w, r, reg, body, func() response {
		b, e := parseBody(body)
		if e == nil {
			e = validate(b, sessionRules, reg, "")
		}
		if e != nil {
			return fail(e)
		}
		now := p.st.Now()
		s := &session{ID: newID(), Region: string(reg), Body: b, Intent: "buy", CreatedAt: now, UpdatedAt: now}
		if b.Intent != nil {
			s.Intent = *b.Intent
		}
		s.ClientToken = p.clientToken(s)
		p.mu.Lock()
		p.sessions[s.ID] = s
		p.mu.Unlock()
		exchanges.Ref(r.Context(), s.ID)
		exchanges.RefToken(r.Context(), s.ClientToken)
		return ok(http.StatusOK, map[string]any{
			"session_id": s.ID, "client_token": s.ClientToken,
			"payment_method_categories": paymentMethodCategories(p.st.Config.BaseURL, s.country()),
		})
	})
}

var invalidSession = &apiError{http.StatusNotFound, "NOT_FOUND", []string{"Invalid session id"}}

// liveSession returns the region's session unless it is unknown (in this
// region) or expired: all Klarna's 404 NOT_FOUND "Invalid session id".
// Callers hold p.mu.
func (p *provider) liveSession(reg region, id string) (*session, *apiError) {
	s := p.sessions[id]
	if s == nil || regionOf(s.Region) != reg || !p.st.Now().Before(s.expiresAt()) {
		return nil, invalidSession
	}
	return s, nil
}

// readSession is GET /payments/v1/sessions/{session_id}. The answer has
// exactly session_read's fields: no session_id (the schema has none), no
// null for an absent field, and a customer object without the tokens
// (customer_read has none: they are not read back).
func (p *provider) readSession(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opReadSession) || !p.authorized(w, r, reg) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, e := p.liveSession(reg, r.PathValue("session_id"))
	if e != nil {
		writeResponse(w, fail(e))
		return
	}
	status := "incomplete"
	if s.Complete {
		status = "complete"
	}
	b := s.Body
	out := map[string]any{
		"client_token": s.ClientToken, "status": status,
		"expires_at": s.expiresAt().UTC().Format(time.RFC3339), "intent": s.Intent,
		"payment_method_categories": paymentMethodCategories(p.st.Config.BaseURL, s.country()),
	}
	set := func(k string, v any, present bool) {
		if present {
			out[k] = v
		}
	}
	set("acquiring_channel", b.AcquiringChannel, b.AcquiringChannel != nil)
	set("purchase_country", b.PurchaseCountry, b.PurchaseCountry != nil)
	set("purchase_currency", b.PurchaseCurrency, b.PurchaseCurrency != nil)
	set("locale", b.Locale, b.Locale != nil)
	set("order_amount", b.OrderAmount, b.OrderAmount != nil)
	set("order_tax_amount", b.OrderTaxAmount, b.OrderTaxAmount != nil)
	set("order_lines", b.OrderLines, b.OrderLines != nil)
	set("merchant_urls", b.MerchantURLs, b.MerchantURLs != nil)
	set("merchant_reference1", b.MerchantReference1, b.MerchantReference1 != nil)
	set("merchant_reference2", b.MerchantReference2, b.MerchantReference2 != nil)
	set("merchant_data", b.MerchantData, b.MerchantData != nil)
	set("billing_address", b.BillingAddress, isObject(b.BillingAddress))
	set("shipping_address", b.ShippingAddress, isObject(b.ShippingAddress))
	if c := b.Customer; c != nil && (c.DateOfBirth != nil || c.Type != nil) {
		out["customer"] = wireCustomer{DateOfBirth: c.DateOfBirth, Type: c.Type}
	}
	if a := p.latestAuthorization(s.ID); a != nil {
		out["authorization_token"] = a.Token
	}
	writeJSON(w, http.StatusOK, out)
}

// isObject reports whether raw JSON is an object (not absent, not null).
func isObject(raw []byte) bool {
	t := strings.TrimSpace(string(raw))
	return strings.HasPrefix(t, "{")
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
func (p *provider) updateSession(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opUpdateSession, reg)
	if !proceed {
		return
	}
	id := r.PathValue("session_id")
	p.idempotent(w, r, reg, body, func() response {
		upd, e := parseBody(body)
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		s, e := p.liveSession(reg, id)
		if e != nil {
			return fail(e)
		}
		if s.Complete {
			return fail(&apiError{http.StatusNotFound, "SESSION_COMPLETED", []string{"Session is completed: an order was placed"}})
		}
		merged := merge(s.Body, upd)
		if e := validate(merged, sessionRules, reg, ""); e != nil {
			return fail(e)
		}
		s.Body = merged
		if merged.Intent != nil {
			s.Intent = *merged.Intent
		}
		s.UpdatedAt = p.st.Now()
		for _, a := range p.auths {
			if a.SessionID == s.ID && !a.Used && !a.Tokenized {
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

// liveAuthorization returns the region's authorization unless it is
// unknown (in this region), cancelled or older than 60 minutes: all Klarna's
// 404 NOT_FOUND "Invalid authorization token". Callers hold p.mu.
func (p *provider) liveAuthorization(reg region, token string) (*authorization, *apiError) {
	a := p.auths[token]
	if a == nil || regionOf(a.Region) != reg || a.Cancelled || !p.st.Now().Before(a.CreatedAt.Add(AuthorizationTTL)) {
		return nil, invalidAuthorization
	}
	return a, nil
}

// createOrder is POST /payments/v1/authorizations/{token}/order.
func (p *provider) createOrder(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opCreateOrder, reg)
	if !proceed {
		return
	}
	token := r.PathValue("token")
	run := p.idempotent
	if !p.st.Settings().KlarnaCreateOrderIdempotent {
		// klarna_create_order_idempotent off: the key is ignored, so a repeat
		// meets a used authorization (404), as real Klarna may answer.
		run = func(w http.ResponseWriter, _ *http.Request, _ region, _ []byte, handle func() response) {
			writeResponse(w, handle())
		}
	}
	run(w, r, reg, body, func() response {
		b, e := parseBody(body)
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		a, e := p.liveAuthorization(reg, token)
		if e == nil && a.Used {
			e = invalidAuthorization
		}
		if e == nil {
			e = validate(b, orderRules, reg, "")
		}
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
		o := newOrder(reg, now, b, a.Country, a.Method, a.Category, a.Persona.fraudStatus())
		o.SessionID = s.ID
		if o.Locale == "" && s.Body.Locale != nil {
			o.Locale = *s.Body.Locale
		}
		if u := confirmationURL(b, s); u != "" {
			o.ConfirmationURL = u
		}
		o.NotificationURL = notificationURL(b, s)
		p.orders[o.ID] = o
		// The order schema's fields: order_id (required), fraud_status,
		// redirect_url (absent without a confirmation URL, as the guide
		// says) and authorized_payment_method as the OpenAPI types it, an
		// object. (Klarna's create-order guide shows the string "invoice";
		// the API reference wins here, and clients should read both.)
		out := map[string]any{
			"order_id": o.ID, "fraud_status": o.FraudStatus,
			"authorized_payment_method": a.Method,
		}
		if o.ConfirmationURL != "" {
			out["redirect_url"] = p.st.Config.BaseURL + "/klarna/payments/redirect/" + o.ID
		}
		// Not in the OpenAPI order schema: the account-linking guide's
		// sample answer carries customer_token at the top level.
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

// redirect is Klarna's redirect_url of an order or a customer token: it
// sends the browser on to the merchant's confirmation URL with the
// placeholders filled in.
func (p *provider) redirect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	p.mu.Lock()
	var confirm, orderID, sessionID string
	if o := p.orders[id]; o != nil {
		confirm, orderID, sessionID = o.ConfirmationURL, o.ID, o.SessionID
	} else if t := p.recurring[id]; t != nil {
		confirm, sessionID = t.ConfirmationURL, t.SessionID
	}
	p.mu.Unlock()
	if confirm == "" {
		http.Error(w, "unknown order", http.StatusNotFound)
		return
	}
	u := strings.NewReplacer("{order.id}", url.QueryEscape(orderID), "{session.id}", url.QueryEscape(sessionID)).Replace(confirm)
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// cancelAuthorization is DELETE /payments/v1/authorizations/{token}.
func (p *provider) cancelAuthorization(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opCancelAuthorization) || !p.authorized(w, r, reg) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, e := p.liveAuthorization(reg, r.PathValue("token"))
	if e != nil || a.Used {
		writeResponse(w, fail(&apiError{http.StatusNotFound, "NOT_FOUND", []string{"The authorization does not exist"}}))
		return
	}
	a.Cancelled = true
	writeRaw(w, http.StatusNoContent, nil)
}
