package klarna

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Klarna has two kinds of customer token, and the sandbox keeps them apart
// as Klarna does:
//
//   - the account-linking customer_token,
//     krn:partner:<region>:<env>:identity:customer-token:<id> (account-linking
//     guide). A buy_and_link order returns it; the merchant sends it back in
//     a session's customer.customer_token so the returning customer is
//     recognised and the widget opens ready to buy. It belongs to Klarna's
//     identity platform: the Customer Token API below does not know it.
//   - the Customer Token API's token_id, made for a session with intent
//     tokenize or buy_and_tokenize by POST
//     /payments/v1/authorizations/{authorizationToken}/customer-token, and
//     charged without the customer by POST
//     /customer-token/v1/tokens/{customerToken}/order.

// link is an account link between a Klarna customer and the shop: made when
// a customer who logged in in the widget keeps "link my Klarna account"
// checked on a buy_and_link purchase. Only its Current token works; rotation
// replaces Current and the old token stops working.
type link struct {
	ID        string
	Region    string
	Persona   Persona
	Current   string
	Cancelled bool
	Country   string // the purchase country it was made in
	Currency  string
	CreatedAt time.Time
}

// newCustomerToken makes a token in Klarna's account-linking form
// krn:partner:<region>:<env>:identity:customer-token:<id>.
func newCustomerToken(reg region) string {
	return "krn:partner:" + reg.tokenRegion() + ":playground:identity:customer-token:" + rand.Text()
}

// accountLinkingToken matches the account-linking form.
var accountLinkingToken = regexp.MustCompile(`^krn:partner:[a-z0-9]+:[a-z]+:identity:customer-token:`)

// activeLink returns the region's link a token belongs to when the token
// still works. Callers hold p.mu.
func (p *provider) activeLink(reg region, token string) *link {
	l := p.tokens[token]
	if l == nil || regionOf(l.Region) != reg || l.Cancelled || l.Current != token {
		return nil
	}
	return l
}

func (p *provider) newLink(reg region, per Persona, country, currency string) *link {
	l := &link{ID: newID(), Region: string(reg), Persona: per, Country: country, Currency: currency, CreatedAt: p.st.Now()}
	l.Current = newCustomerToken(reg)
	p.links[l.ID] = l
	p.tokens[l.Current] = l
	return l
}

func (p *provider) rotate(l *link) {
	l.Current = newCustomerToken(regionOf(l.Region))
	p.tokens[l.Current] = l
}

// recognise says who the session's customer is without a login: a valid
// account-linking customer token of the session's region, or a Sign in with
// Klarna access token the identity part vouches for. An unknown, rotated or
// other-region token recognises no one: the widget falls back to the login
// step. Callers hold p.mu.
func (p *provider) recognise(s *session) (per Persona, viaToken string, ok bool) {
	if t := s.customerToken(); t != "" {
		if l := p.activeLink(regionOf(s.Region), t); l != nil {
			return l.Persona, t, true
		}
	}
	if at := s.accessToken(); at != "" {
		if v, found := validators.Load(p.st); found {
			if email, valid := v.(AccessTokenValidator)(at, string(regionOf(s.Region))); valid {
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
		return p.newLink(regionOf(a.Region), a.Persona, a.Country, a.Data.Currency).Current
	}
	return ""
}

// recurringToken is a Customer Token API token (token_id).
type recurringToken struct {
	ID        string
	Region    string
	Persona   Persona
	SessionID string
	Country   string
	Currency  string
	Category  string
	Method    paymentMethod
	Status    string // ACTIVE or CANCELLED
	// ConfirmationURL is where the token answer's redirect_url leads.
	ConfirmationURL string
	// Failed: a PAYMENT_METHOD_FAILED persona's token failed its first order.
	Failed    bool
	CreatedAt time.Time
}

// The Customer Token API's errors. Read and cancel answer 404 NOT_FOUND
// ("Invalid customer-token ID" on read, "Invalid token ID" on cancel: the
// read and cancel pages); an order answers the table of "place an order
// with a customer token" (TOKEN_NOT_FOUND 404, TOKEN_CANCELLED 403,
// TOKEN_FORBIDDEN 403, UNAVAILABLE_PAYMENT_METHOD 403,
// PAYMENT_METHOD_CURRENCY_MISMATCH 403, PAYMENT_METHOD_FAILED 403,
// SERVICE_UNAVAILABLE 503).
//
// An account-linking token (krn:partner:...) is not a token_id: the
// Customer Token API does not know it and answers as for any unknown token,
// 404. Chosen over 403 TOKEN_FORBIDDEN, which Klarna describes as a token
// that exists but whose use is forbidden ("e.g. by this merchant ID"); the
// two kinds live in different systems, and neither document shows the
// Customer Token API accepting or recognising the krn form.
var (
	tokenReadNotFound   = &apiError{http.StatusNotFound, "NOT_FOUND", []string{"Invalid customer-token ID"}}
	tokenStatusNotFound = &apiError{http.StatusNotFound, "NOT_FOUND", []string{"Invalid token ID"}}
	tokenOrderNotFound  = &apiError{http.StatusNotFound, "TOKEN_NOT_FOUND",
		[]string{"The customer token ID used to trigger order placement could not be found."}}
)

// liveRecurring returns the region's token_id, nil when unknown here.
// Callers hold p.mu.
func (p *provider) liveRecurring(reg region, id string) *recurringToken {
	t := p.recurring[id]
	if t == nil || regionOf(t.Region) != reg {
		return nil
	}
	return t
}

// notFoundNote explains a 404 for an account-linking token in the message.
func notFoundNote(e *apiError, token string) *apiError {
	if !accountLinkingToken.MatchString(token) {
		return e
	}
	return &apiError{e.Status, e.Code, append(append([]string{}, e.Messages...),
		"This is an account-linking customer_token (krn:partner:...): send it in a session's customer.customer_token. "+
			"The Customer Token API only knows the token_id of POST /payments/v1/authorizations/{authorizationToken}/customer-token.")}
}

// createCustomerToken is POST
// /payments/v1/authorizations/{authorizationToken}/customer-token: the
// Customer Token API's token (token_id) for an approved session whose intent
// is tokenize or buy_and_tokenize. With buy_and_tokenize the same
// authorization also places the order ("you have to send two separate
// create order requests"); each use works once.
//
// Request (customer_token_creation_request): description (1..255),
// intended_use SUBSCRIPTION, locale, purchase_country, purchase_currency
// required; billing_address and customer optional. Errors documented on
// "Create a customer token": 404 NOT_FOUND "Invalid authorization token"
// (expired after 60 minutes, or unknown), 400 BAD_VALUE "Bad value:
// purchase_country" when the country is not the session's (the sandbox does
// the same for the currency). Not documented, chosen: a session whose intent
// is buy or buy_and_link cannot be tokenized, 403 INVALID_OPERATION.
//
// Answer (customer_token_creation_response): token_id (required),
// redirect_url (when the session has a confirmation URL),
// payment_method_reference, and billing_address when one was sent.
func (p *provider) createCustomerToken(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opCreateCustomerToken, reg)
	if !proceed {
		return
	}
	authToken := r.PathValue("token")
	p.idempotent(w, r, reg, body, func() response {
		var req struct {
			Description      *string         `json:"description"`
			IntendedUse      *string         `json:"intended_use"`
			Locale           *string         `json:"locale"`
			PurchaseCountry  *string         `json:"purchase_country"`
			PurchaseCurrency *string         `json:"purchase_currency"`
			BillingAddress   json.RawMessage `json:"billing_address"`
		}
		if strings.TrimSpace(string(body)) == "" {
			return fail(&apiError{400, "BAD_REQUEST", []string{"Request body is missing"}})
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return fail(&apiError{400, "BAD_REQUEST", []string{"Could not parse the request body as JSON"}})
		}
		var bad []string
		switch {
		case req.Description == nil:
			bad = append(bad, "description: required")
		case len(*req.Description) < 1 || len(*req.Description) > 255:
			bad = append(bad, "description: length must be 1 to 255")
		}
		if req.IntendedUse == nil || *req.IntendedUse != "SUBSCRIPTION" {
			bad = append(bad, "intended_use: want SUBSCRIPTION")
		}
		if req.Locale == nil || !localePattern.MatchString(*req.Locale) {
			bad = append(bad, "locale: required, RFC 1766 such as de-DE")
		}
		if req.PurchaseCountry == nil || !countryPattern.MatchString(*req.PurchaseCountry) {
			bad = append(bad, "purchase_country: required, ISO 3166 alpha-2")
		}
		if req.PurchaseCurrency == nil || !currencyPattern.MatchString(*req.PurchaseCurrency) {
			bad = append(bad, "purchase_currency: required, ISO 4217")
		}
		if len(bad) > 0 {
			return fail(badValue(bad...))
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		a, e := p.liveAuthorization(reg, authToken)
		if e == nil && a.Tokenized {
			e = invalidAuthorization
		}
		if e != nil {
			return fail(e)
		}
		if a.Intent != "tokenize" && a.Intent != "buy_and_tokenize" {
			return fail(&apiError{http.StatusForbidden, "INVALID_OPERATION", []string{
				"A customer token needs a session with intent tokenize or buy_and_tokenize; this one's is " + a.Intent}})
		}
		if !strings.EqualFold(*req.PurchaseCountry, a.Country) {
			bad = append(bad, "purchase_country: "+strings.ToUpper(*req.PurchaseCountry)+" is not the session's purchase country "+a.Country)
		}
		if !strings.EqualFold(*req.PurchaseCurrency, a.Data.Currency) {
			bad = append(bad, "purchase_currency: "+strings.ToUpper(*req.PurchaseCurrency)+" is not the session's purchase currency "+a.Data.Currency)
		}
		if len(bad) > 0 {
			return fail(badValue(bad...))
		}
		s := p.sessions[a.SessionID]
		t := &recurringToken{ID: newID(), Region: string(reg), Persona: a.Persona, SessionID: a.SessionID,
			Country: a.Country, Currency: a.Data.Currency, Category: a.Category, Method: a.Method, Status: "ACTIVE",
			CreatedAt: p.st.Now()}
		if s != nil {
			t.ConfirmationURL = confirmationURL(wireBody{}, s)
			if a.Intent == "tokenize" {
				s.Complete = true // no order follows: the session is done
			}
		}
		a.Tokenized = true
		p.recurring[t.ID] = t
		out := map[string]any{"token_id": t.ID, "payment_method_reference": newID()}
		if t.ConfirmationURL != "" {
			out["redirect_url"] = p.st.Config.BaseURL + "/klarna/payments/redirect/" + t.ID
		}
		if isObject(req.BillingAddress) {
			out["billing_address"] = req.BillingAddress
		}
		return ok(http.StatusOK, out)
	})
}

// readToken is GET /customer-token/v1/tokens/{token} (customer_token:
// status and payment_method_type required; direct_debit for a direct debit).
func (p *provider) readToken(w http.ResponseWriter, r *http.Request, reg region) {
	if p.st.Hit(w, r, opTokenRead) || !p.authorized(w, r, reg) {
		return
	}
	tok := r.PathValue("token")
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.liveRecurring(reg, tok)
	if t == nil {
		writeResponse(w, fail(notFoundNote(tokenReadNotFound, tok)))
		return
	}
	out := map[string]any{"status": t.Status, "payment_method_type": t.Method.tokenType()}
	if t.Method.Type == "direct_debit" {
		out["direct_debit"] = map[string]string{"masked_number": "**********124"}
	}
	writeJSON(w, http.StatusOK, out)
}

// tokenOrder is POST /customer-token/v1/tokens/{token}/order: an order with
// no customer present, on a token_id. The answer is the Customer Token
// API's order schema: order_id, fraud_status and redirect_url (all
// required there) and authorized_payment_method.
func (p *provider) tokenOrder(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opTokenOrder, reg)
	if !proceed {
		return
	}
	tok := r.PathValue("token")
	p.idempotent(w, r, reg, body, func() response {
		b, e := parseBody(body)
		if e != nil {
			return fail(e)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		t := p.liveRecurring(reg, tok)
		if t == nil {
			return fail(notFoundNote(tokenOrderNotFound, tok))
		}
		if e := validate(b, tokenOrderRules, reg, t.Country); e != nil {
			return fail(e)
		}
		if b.MerchantURLs != nil && (b.MerchantURLs.Confirmation == nil || *b.MerchantURLs.Confirmation == "") {
			return fail(badValue("merchant_urls.confirmation: required when merchant_urls is sent"))
		}
		if t.Status != "ACTIVE" {
			return fail(&apiError{http.StatusForbidden, "TOKEN_CANCELLED", []string{"The purchase token has been cancelled by you."}})
		}
		if !strings.EqualFold(*b.PurchaseCurrency, t.Currency) {
			return fail(&apiError{http.StatusForbidden, "PAYMENT_METHOD_CURRENCY_MISMATCH",
				[]string{"The payment method of the token is not available for the currency of the order (" + strings.ToUpper(*b.PurchaseCurrency) + ")."}})
		}
		switch t.Persona.TokenFailure {
		case "UNAVAILABLE_PAYMENT_METHOD":
			return fail(&apiError{http.StatusForbidden, "UNAVAILABLE_PAYMENT_METHOD",
				[]string{"Payment method type is not available: Klarna was unable to charge the customer token due to a funding source issue."}})
		case "PAYMENT_METHOD_FAILED":
			if !t.Failed {
				t.Failed = true
				return fail(&apiError{http.StatusForbidden, "PAYMENT_METHOD_FAILED",
					[]string{"Purchase for payment method failed. You can try again for PAYMENT_METHOD_FAILED errors."}})
			}
		}
		o := newOrder(reg, p.st.Now(), b, t.Country, t.Method, t.Category, t.Persona.fraudStatus())
		if b.MerchantURLs != nil {
			o.ConfirmationURL = *b.MerchantURLs.Confirmation
			if n := b.MerchantURLs.Notification; n != nil {
				o.NotificationURL = *n
			}
		}
		p.orders[o.ID] = o
		return ok(http.StatusOK, map[string]any{
			"order_id": o.ID, "fraud_status": o.FraudStatus,
			"redirect_url":              p.st.Config.BaseURL + "/klarna/payments/redirect/" + o.ID,
			"authorized_payment_method": t.Method,
		})
	})
}

// tokenStatus is PATCH /customer-token/v1/tokens/{token}/status with
// {"status": "CANCELLED"}: 202 and no body. Cancelling a cancelled token is
// still accepted.
func (p *provider) tokenStatus(w http.ResponseWriter, r *http.Request, reg region) {
	body, proceed := p.begin(w, r, opTokenStatus, reg)
	if !proceed {
		return
	}
	tok := r.PathValue("token")
	p.idempotent(w, r, reg, body, func() response {
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
		t := p.liveRecurring(reg, tok)
		if t == nil {
			return fail(notFoundNote(tokenStatusNotFound, tok))
		}
		t.Status = "CANCELLED"
		return ok(http.StatusAccepted, nil)
	})
}
