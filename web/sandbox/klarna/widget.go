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
	if p.clientTokenSession(req.ClientToken) != id {
		writeJSON(w, http.StatusUnauthorized, widgetError{Code: "invalid_client_token", Message: "The client token is not this session's"})
		return req, nil, false
	}
	p.mu.Lock()
	s, e := p.liveSession(id)
	var werr *widgetError
	switch {
	case e != nil:
		werr = &widgetError{http.StatusNotFound, "session_expired", "This Klarna session has expired."}
	case s.Complete:
		werr = &widgetError{http.StatusConflict, "session_completed", "An order was already placed for this session."}
	case !p.allowedParent(s, req.Parent):
		werr = &widgetError{http.StatusForbidden, "origin_not_allowed", "This page's origin is not the merchant's."}
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
	_, s, good := p.widgetRequest(w, r)
	if !good {
		return
	}
	p.mu.Lock()
	per, via, recognised := p.recognise(s)
	amount := formatAmount(s.Body)
	intent := s.Intent
	p.mu.Unlock()
	out := map[string]any{
		"mode": "login", "amount": amount, "intent": intent,
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
	tok, werr := p.authorize(s.ID, req.Persona, req.LinkAccount)
	if werr != nil {
		writeJSON(w, werr.Status, werr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"approved": true, "authorization_token": tok})
}

// authorize makes an authorization for the session as the widget does when
// the customer approves: the customer is the one the session recognises,
// else the test persona who logged in. linkAccount is the "link my Klarna
// account" box, which matters on buy_and_link for a customer not yet linked.
func (p *provider) authorize(sessionID, personaEmail string, linkAccount bool) (string, *widgetError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, e := p.liveSession(sessionID)
	if e != nil {
		return "", &widgetError{http.StatusNotFound, "session_expired", "This Klarna session does not exist or has expired."}
	}
	if s.Complete {
		return "", &widgetError{http.StatusConflict, "session_completed", "An order was already placed for this session."}
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
		Token: newID(), SessionID: s.ID, Data: dataOf(s.Body), Intent: s.Intent, Persona: per, ViaToken: via,
		Link: s.Intent == "buy_and_link" && via == "" && linkAccount, CreatedAt: p.st.Now(),
	}
	a.Country = a.Data.Country
	p.auths[a.Token] = a
	return a.Token, nil
}

// controlAuthorize is POST /control/klarna/sessions/{session_id}/authorize
// {"link_account": true, "persona": "..."}: what the widget does when the
// customer approves, without a browser. link_account defaults to true (the
// widget's box is checked by default); persona defaults to the first test
// persona and is ignored when the session recognises its customer.
func (p *provider) controlAuthorize(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LinkAccount *bool  `json:"link_account"`
		Persona     string `json:"persona"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"link_account\": bool, \"persona\": email}: " + err.Error()})
		return
	}
	link := body.LinkAccount == nil || *body.LinkAccount
	if body.Persona == "" {
		body.Persona = Personas[0].Email
	}
	tok, werr := p.authorize(r.PathValue("session_id"), body.Persona, link)
	if werr != nil {
		writeJSON(w, werr.Status, map[string]string{"error": werr.Message})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"authorization_token": tok})
}
