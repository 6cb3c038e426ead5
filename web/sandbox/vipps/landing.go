package vipps

import (
	"net/http"
	"strings"

	"refshop/views/sandboxviews"
	"refshop/web/money"
)

// The landing page stands in for landing.vipps.no and the app behind it: the
// customer sees who asks for how much and approves or rejects; the sandbox
// then sends the browser back to the payment's returnUrl. Like the real
// landing page it carries no outcome in that redirect: the merchant must ask
// the API for the payment's state.

// landingPage is GET /vipps/landing?token=...
func (p *provider) landingPage(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opLanding) {
		return
	}
	p.mu.Lock()
	pay := p.byToken(r.URL.Query().Get("token"))
	var v sandboxviews.VippsLandingView
	if pay != nil {
		pay.settle(p.st.Now())
		v = landingView(pay)
	}
	p.mu.Unlock()
	if pay == nil {
		renderLanding(w, r, http.StatusNotFound, sandboxviews.VippsLandingView{Missing: true})
		return
	}
	renderLanding(w, r, http.StatusOK, v)
}

// landingAnswer is the customer's Approve or Reject (POST /vipps/landing).
func (p *provider) landingAnswer(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opLanding) {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad form", http.StatusBadRequest)
		return
	}
	now := p.st.Now()
	p.mu.Lock()
	pay := p.byToken(r.PostForm.Get("token"))
	if pay == nil {
		p.mu.Unlock()
		renderLanding(w, r, http.StatusNotFound, sandboxviews.VippsLandingView{Missing: true})
		return
	}
	pay.settle(now)
	if pay.State != stateCreated {
		// Answered already (another tab) or expired: show where it stands.
		v := landingView(pay)
		p.mu.Unlock()
		renderLanding(w, r, http.StatusConflict, v)
		return
	}
	switch r.PostForm.Get("action") {
	case "approve":
		phone := msisdn(r.PostForm.Get("phone"))
		if !phonePattern.MatchString(phone) {
			v := landingView(pay)
			v.Phone = r.PostForm.Get("phone")
			v.Error = "Enter your mobile number with its country code, for example 4791234567."
			p.mu.Unlock()
			renderLanding(w, r, http.StatusUnprocessableEntity, v)
			return
		}
		pay.authorize(now)
	case "reject":
		pay.abort(now)
	default:
		p.mu.Unlock()
		http.Error(w, "Unknown action", http.StatusBadRequest)
		return
	}
	back := pay.ReturnURL
	p.mu.Unlock()
	if back == "" {
		// PUSH_MESSAGE and QR payments have no returnUrl: stay on the page.
		p.mu.Lock()
		v := landingView(pay)
		p.mu.Unlock()
		renderLanding(w, r, http.StatusOK, v)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (p *provider) byToken(tok string) *payment {
	if tok == "" {
		return nil
	}
	ref, ok := p.landing[tok]
	if !ok {
		return nil
	}
	return p.payments[ref]
}

// msisdn turns what a person types ("+47 912 34 567") into digits.
func msisdn(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == ' ' || r == '+' || r == '-' {
			return -1
		}
		return 'x' // anything else keeps the number invalid
	}, strings.TrimSpace(s))
}

func landingView(pay *payment) sandboxviews.VippsLandingView {
	return sandboxviews.VippsLandingView{
		Token:       pay.LandingToken,
		Merchant:    salesUnitName,
		Amount:      money.Amount{Minor: pay.Amount.Value, Currency: pay.Amount.Currency}.Format(),
		Description: pay.Description,
		Phone:       pay.Phone,
		State:       pay.State,
		ReturnURL:   pay.ReturnURL,
	}
}

func renderLanding(w http.ResponseWriter, r *http.Request, status int, v sandboxviews.VippsLandingView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the payment's token
	w.WriteHeader(status)
	_ = sandboxviews.VippsLanding(v).Render(r.Context(), w)
}
