package klarna

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"refshop/static"
	"refshop/views/sandboxviews"
	"refshop/web/sandbox/exchanges"
)

// The browser side of Klarna Payments. The merchant's page loads the SDK
// (/klarna/cdn/kp/lib/v1/api.js, static/sandbox/klarna-api.js), which frames
// the widget (/klarna/payments/widget/{session_id}, from this origin) and
// talks to it by postMessage, each side checking the other's origin. The
// widget calls the two JSON endpoints below with the session's client
// token; the authorization token it gets goes back to the merchant's page
// in the authorize() callback, as Klarna's does.

// sdk serves the Klarna.Payments SDK.
func (p *provider) sdk(w http.ResponseWriter, r *http.Request) {
	js, err := fs.ReadFile(static.FS, "sandbox/klarna-api.js")
	if err != nil {
		http.Error(w, "SDK missing from the build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Access-Control-Allow-Origin", "*") // a CDN file: any page may load it
	_, _ = w.Write(js)
}

// originOf returns scheme://host[:port] of an absolute http(s) URL, "" otherwise.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// widgetPage is the widget's document, framed by the merchant's page
// (parent: that page's origin, which the SDK passes). frame-ancestors lets
// only that origin frame it; the widget's script posts only to it.
func (p *provider) widgetPage(w http.ResponseWriter, r *http.Request) {
	parent := r.URL.Query().Get("parent")
	if parent == "" || originOf(parent) != parent {
		http.Error(w, "parent must be the origin of the page that frames the widget", http.StatusBadRequest)
		return
	}
	v := sandboxviews.KlarnaWidgetView{SessionID: r.PathValue("session_id"), Parent: parent}
	for _, per := range Personas {
		v.Personas = append(v.Personas, sandboxviews.KlarnaPersona{
			Email: per.Email, Name: per.GivenName + " " + per.FamilyName, Declined: per.Declined})
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "+parent)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = sandboxviews.KlarnaWidget(v).Render(r.Context(), w)
}

// widgetRequest is what the widget sends.
type widgetRequest struct {
	ClientToken string `json:"client_token"`
	Parent      string `json:"parent"`
	// Category is the payment_method_category the merchant's page named in
	// load() and authorize().
	Category    string `json:"category"`
	Persona     string `json:"persona"`
	LinkAccount bool   `json:"link_account"`
}

// widgetError is an answer to the widget (the sandbox's own JSON, between
// its page and its server).
type widgetError struct {
	Status  int    `json:"-"`
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (p *provider) widgetRequest(w http.ResponseWriter, r *http.Request) (widgetRequest, *session, bool) {
	var req widgetRequest
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req) != nil {
		writeJSON(w, http.StatusBadRequest, widgetError{Code: "bad_request", Message: "body must be JSON"})
		return req, nil, false
	}
	id := r.PathValue("session_id")
	exchanges.RefToken(r.Context(), req.ClientToken) // the session's create answer issued it
	if p.clientTokenSession(req.ClientToken) != id {
		writeJSON(w, http.StatusUnauthorized, widgetError{Code: "invalid_client_token", Message: "The client token is not this session's"})
		return req, nil, false
	}
	p.mu.Lock()
	s, e := p.anySession(id)
	var werr *widgetError
	switch {
	case e != nil:
		werr = &widgetError{http.StatusNotFound, "session_expired", "This Klarna session has expired."}
	case s.Complete:
		werr = &widgetError{http.StatusConflict, "session_completed", "An order was already placed for this session."}
	case !p.allowedParent(s, req.Parent):
		werr = &widgetError{http.StatusForbidden, "origin_not_allowed", "This page's origin is not the merchant's."}
	default:
		// The SDK always names the category; a caller of this (the
		// sandbox's own) endpoint that names none gets the first offered.
		if req.Category == "" {
			req.Category = categoriesOf(s.country())[0].ID
		}
		if _, offered := categoryOf(s.country(), req.Category); !offered {
			werr = categoryNotOffered(s, req.Category)
		}
	}
	p.mu.Unlock()
	if werr != nil {
		writeJSON(w, werr.Status, werr)
		return req, nil, false
	}
	return req, s, true
}

// allowedParent: the widget may be framed by the merchant's origins (the
// shop's configured base URL and the session's merchant URLs), as Klarna
// only serves merchants' registered domains. Callers hold p.mu.
func (p *provider) allowedParent(s *session, parent string) bool {
	var allowed []string
	if o := originOf(p.st.Config.ShopBaseURL); o != "" {
		allowed = append(allowed, o)
	}
	if u := s.Body.MerchantURLs; u != nil {
		for _, v := range []*string{u.Confirmation, u.Notification, u.Push, u.Authorization} {
			if v != nil {
				if o := originOf(*v); o != "" {
					allowed = append(allowed, o)
				}
			}
		}
	}
	if len(allowed) == 0 {
		return true
	}
	for _, o := range allowed {
		if o == parent {
			return true
		}
	}
	return false
}

// widgetState tells the widget what to show: the login step, or ready to
// buy for a customer the session recognises.
func (p *provider) widgetState(w http.ResponseWriter, r *http.Request) {
	req, s, good := p.widgetRequest(w, r)
	if !good {
		return
	}
	p.mu.Lock()
	per, via, recognised := p.recognise(s)
	amount := formatAmount(s.Body)
	intent := s.Intent
	cat, _ := categoryOf(s.country(), req.Category)
	p.mu.Unlock()
	out := map[string]any{
		"mode": "login", "amount": amount, "intent": intent, "category": cat.ID, "category_name": cat.Name,
		// A customer the shop already linked (recognised by customer token)
		// is not asked again.
		"link_offered": intent == "buy_and_link" && via == "",
	}
	if recognised {
		out["mode"] = "ready"
		out["given_name"] = per.GivenName
	}
	writeJSON(w, http.StatusOK, out)
}

func formatAmount(b wireBody) string {
	if b.OrderAmount == nil || b.PurchaseCurrency == nil {
		return ""
	}
	return fmt.Sprintf("%s %d.%02d", strings.ToUpper(*b.PurchaseCurrency), *b.OrderAmount/100, *b.OrderAmount%100)
}

// widgetAuthorize is the customer approving in the widget.
func (p *provider) widgetAuthorize(w http.ResponseWriter, r *http.Request) {
	req, s, good := p.widgetRequest(w, r)
	if !good {
		return
	}
	tok, werr := p.authorize(s.ID, req.Category, req.Persona, req.LinkAccount)
	if werr != nil {
		writeJSON(w, werr.Status, werr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"approved": true, "authorization_token": tok})
}

// anySession returns a live session of either region by id: the widget and
// the control API reach a session through its id (and the client token),
// not through a region's API. Callers hold p.mu.
func (p *provider) anySession(id string) (*session, *apiError) {
	if s := p.sessions[id]; s != nil {
		return p.liveSession(regionOf(s.Region), id)
	}
	return nil, invalidSession
}

// categoryNotOffered is the widget's answer for a payment_method_category
// the session does not offer. The real SDK throws
// PaymentMethodCategoryNotSupportedError ("If
// options.payment_method_category is not supported") after calling the load
// callback with { show_form: false }; the sandbox's SDK does that on its own
// from the client token, and the widget's server refuses too.
func categoryNotOffered(s *session, id string) *widgetError {
	return &widgetError{http.StatusBadRequest, "payment_method_category_not_supported",
		fmt.Sprintf("payment_method_category %q is not offered by this session (it offers %s)",
			id, strings.Join(categoryIDs(s.country()), ", "))}
}

// authorize makes an authorization for the session as the widget does when
// the customer approves with the payment method category categoryID: the
// customer is the one the session recognises, else the test persona who
// logged in. linkAccount is the "link my Klarna account" box, which matters
// on buy_and_link for a customer not yet linked.
func (p *provider) authorize(sessionID, categoryID, personaEmail string, linkAccount bool) (string, *widgetError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, e := p.anySession(sessionID)
	if e != nil {
		return "", &widgetError{http.StatusNotFound, "session_expired", "This Klarna session does not exist or has expired."}
	}
	if s.Complete {
		return "", &widgetError{http.StatusConflict, "session_completed", "An order was already placed for this session."}
	}
	cat, offered := categoryOf(s.country(), categoryID)
	if !offered {
		return "", categoryNotOffered(s, categoryID)
	}
	per, via, recognised := p.recognise(s)
	if !recognised {
		var known bool
		if per, known = personaByEmail(personaEmail); !known {
			return "", &widgetError{http.StatusBadRequest, "unknown_persona", "Log in as one of the sandbox's test personas."}
		}
	}
	if per.Declined {
		return "", &widgetError{http.StatusForbidden, "declined", "Klarna cannot offer this payment method to this customer."}
	}
	a := &authorization{
		Token: newID(), Region: s.Region, SessionID: s.ID, Data: dataOf(s.Body), Intent: s.Intent, Persona: per, ViaToken: via,
		Category: cat.ID, Method: cat.Method,
		Link: s.Intent == "buy_and_link" && via == "" && linkAccount, CreatedAt: p.st.Now(),
	}
	a.Country = a.Data.Country
	p.auths[a.Token] = a
	p.notifyAuthorized(s, a)
	return a.Token, nil
}

// controlAuthorize is POST /control/klarna/sessions/{session_id}/authorize
// {"link_account": true, "persona": "...", "payment_method_category": "..."}:
// what the widget does when the customer approves, without a browser.
// link_account defaults to true (the widget's box is checked by default);
// persona defaults to the first test persona and is ignored when the
// session recognises its customer; payment_method_category defaults to the
// first category the session offers, and one it does not offer is refused
// (400). The answer is {"authorization_token": "..."}.
func (p *provider) controlAuthorize(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LinkAccount *bool  `json:"link_account"`
		Persona     string `json:"persona"`
		Category    string `json:"payment_method_category"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"link_account": bool, "persona": email, "payment_method_category": identifier}: ` + err.Error()})
		return
	}
	link := body.LinkAccount == nil || *body.LinkAccount
	if body.Persona == "" {
		body.Persona = Personas[0].Email
	}
	id := r.PathValue("session_id")
	if body.Category == "" {
		p.mu.Lock()
		if s, e := p.anySession(id); e == nil {
			body.Category = categoriesOf(s.country())[0].ID
		}
		p.mu.Unlock()
	}
	tok, werr := p.authorize(id, body.Category, body.Persona, link)
	if werr != nil {
		writeJSON(w, werr.Status, map[string]string{"error": werr.Message})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"authorization_token": tok})
}
