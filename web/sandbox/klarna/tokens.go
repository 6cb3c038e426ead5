package klarna

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"
)

// link is an account link between a Klarna customer and the shop: made when
// a customer who logged in in the widget keeps "link my Klarna account"
// checked on a buy_and_link purchase. Only its Current token works; rotation
// replaces Current and the old token stops working.
type link struct {
	ID        string
	Persona   Persona
	Current   string
	Cancelled bool
	Country   string // the purchase country it was made in: tokens keep its region
	Currency  string // the currency the customer linked in; token orders must use it
	CreatedAt time.Time
}

// newCustomerToken makes a token in Klarna's account-linking form
// krn:partner:<region>:<env>:identity:customer-token:<id>.
func newCustomerToken(country string) string {
	region := "eu1"
	switch country {
	case "US", "CA", "MX":
		region = "us1"
	case "AU", "NZ":
		region = "oc1"
	}
	return "krn:partner:" + region + ":playground:identity:customer-token:" + rand.Text()
}

// activeLink returns the link a token belongs to when the token still works.
// Callers hold p.mu.
func (p *provider) activeLink(token string) *link {
	l := p.tokens[token]
	if l == nil || l.Cancelled || l.Current != token {
		return nil
	}
	return l
}

func (p *provider) newLink(per Persona, country, currency string) *link {
	l := &link{ID: newID(), Persona: per, Country: country, Currency: currency, CreatedAt: p.st.Now()}
	l.Current = newCustomerToken(country)
	p.links[l.ID] = l
	p.tokens[l.Current] = l
	return l
}

func (p *provider) rotate(l *link) {
	l.Current = newCustomerToken(l.Country)
	p.tokens[l.Current] = l
}

// recognise says who the session's customer is without a login: a valid
// customer token (account linking) or a Sign in with Klarna access token
// the identity part vouches for. An unknown, rotated or cancelled token
// recognises no one: the widget falls back to the login step. Callers hold
// p.mu.
func (p *provider) recognise(s *session) (per Persona, viaToken string, ok bool) {
	if t := s.customerToken(); t != "" {
		if l := p.activeLink(t); l != nil {
			return l.Persona, t, true
		}
	}
	if at := s.accessToken(); at != "" {
		if v, found := validators.Load(p.st); found {
			if email, valid := v.(AccessTokenValidator)(at); valid {
				if per, known := personaByEmail(email); known {
					return per, "", true
				}
				return Persona{Email: email, GivenName: strings.SplitN(email, "@", 2)[0]}, "", true
			}
		}
	}
	return Persona{}, "", false
}

// linkOnOrder decides the customer_token a create-order answer carries
// (account-linking guide): on buy_and_link, the token that recognised the
// customer (a new one when klarna_rotate_customer_tokens is on), or a new
// link's token when the customer logged in and agreed to link; nothing when
// the customer opted out or the intent is not buy_and_link. Callers hold
// p.mu.
func (p *provider) linkOnOrder(a *authorization) string {
	if a.Intent != "buy_and_link" {
		return ""
	}
	if a.ViaToken != "" {
		// Follow the link even when another order rotated this token since
		// the customer approved: the link's latest token is the answer.
		l := p.tokens[a.ViaToken]
		if l == nil || l.Cancelled {
			return ""
		}
		if p.st.Settings().KlarnaRotateCustomerTokens {
			p.rotate(l)
		}
		return l.Current
	}
	if a.Link {
		return p.newLink(a.Persona, a.Country, a.Data.Currency).Current
	}
	return ""
}

// Customer Token API errors (Klarna's "place an order with a customer
// token" table): TOKEN_NOT_FOUND 404, TOKEN_CANCELLED 403,
// PAYMENT_METHOD_CURRENCY_MISMATCH 403.
var tokenNotFound = &apiError{http.StatusNotFound, "TOKEN_NOT_FOUND", []string{"The customer token does not exist"}}

// readToken is GET /customer-token/v1/tokens/{token}.
func (p *provider) readToken(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opTokenRead) || !p.authorized(w, r) {
		return
	}
	tok := r.PathValue("token")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tokens[tok] == nil {
		writeResponse(w, fail(tokenNotFound))
		return
	}
	status := "CANCELLED" // cancelled, or replaced by rotation
	if p.activeLink(tok) != nil {
		status = "ACTIVE"
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "payment_method_type": "INVOICE"})
}

// tokenOrder is POST /customer-token/v1/tokens/{token}/order: an order with
// no customer present.
func (p *provider) tokenOrder(w http.ResponseWriter, r *http.Request) {
	body, proceed := p.begin(w, r, opTokenOrder)
	if !proceed {
		return
	}
	tok := r.PathValue("token")
	p.idempotent(w, r, body, func() response {
		b, e := parseBody(body)
		if e == nil {
			e = validate(b, tokenOrderRules)
		}
		if e == nil && b.MerchantURLs != nil && (b.MerchantURLs.Confirmation == nil || *b.MerchantURLs.Confirmation == "") {
			e = badValue("merchant_urls.confirmation: required when merchant_urls is sent")
		}
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tokens[tok] == nil {
			return fail(tokenNotFound)
		}
		l := p.activeLink(tok)
		if l == nil {
			return fail(&apiError{http.StatusForbidden, "TOKEN_CANCELLED", []string{"The customer token is cancelled or was replaced"}})
		}
		if !strings.EqualFold(*b.PurchaseCurrency, l.Currency) {
			return fail(&apiError{http.StatusForbidden, "PAYMENT_METHOD_CURRENCY_MISMATCH",
				[]string{"The payment method of the token is not available for " + strings.ToUpper(*b.PurchaseCurrency)}})
		}
		o := &order{ID: newID(), CreatedAt: p.st.Now()}
		if b.MerchantURLs != nil {
			o.ConfirmationURL = *b.MerchantURLs.Confirmation
		}
		p.orders[o.ID] = o
		out := map[string]any{
			"order_id": o.ID, "fraud_status": l.Persona.fraudStatus(),
			"redirect_url":              p.st.Config.BaseURL + "/klarna/payments/redirect/" + o.ID,
			"authorized_payment_method": map[string]any{"type": "invoice", "number_of_days": 30},
		}
		// Klarna does not document how a rotated token reaches the merchant
		// after a token order. Chosen: the new token at top level as
		// "customer_token", as in the create-order answer.
		if p.st.Settings().KlarnaRotateCustomerTokens {
			p.rotate(l)
			out["customer_token"] = l.Current
		}
		return ok(http.StatusOK, out)
	})
}

// tokenStatus is PATCH /customer-token/v1/tokens/{token}/status with
// {"status": "CANCELLED"}: 202. Cancelling a token that was already replaced
// or cancelled changes nothing and is still accepted.
func (p *provider) tokenStatus(w http.ResponseWriter, r *http.Request) {
	body, proceed := p.begin(w, r, opTokenStatus)
	if !proceed {
		return
	}
	tok := r.PathValue("token")
	p.idempotent(w, r, body, func() response {
		var req struct {
			Status *string `json:"status"`
		}
		if e := decodeStrict(body, &req); e != nil {
			return fail(e)
		}
		if req.Status == nil || *req.Status != "CANCELLED" {
			return fail(badValue("status: want CANCELLED"))
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tokens[tok] == nil {
			return fail(tokenNotFound)
		}
		if l := p.activeLink(tok); l != nil {
			l.Cancelled = true
		}
		return ok(http.StatusAccepted, nil)
	})
}
