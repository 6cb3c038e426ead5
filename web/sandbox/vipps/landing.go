package vipps

import (
	"net/http"
	"strings"

	"refshop/views/sandboxviews"
	"refshop/web/money"
	"refshop/web/sandbox/exchanges"
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
	exchanges.Secret(r.Context(), r.URL.Query().Get("token")) // the page holds it in its form
	p.mu.Lock()
	pay := p.byToken(r.URL.Query().Get("token"))
	var v sandboxviews.VippsLandingView
	if pay != nil {
		exchanges.Ref(r.Context(), pay.Reference) // the token in the URL stands for it
		pay.settle(p.st.Now())
		p.notify(pay)
		v = p.landingView(pay)
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
	exchanges.Secret(r.Context(), r.PostForm.Get("token"))
	now := p.st.Now()
	p.mu.Lock()
	pay := p.byToken(r.PostForm.Get("token"))
	if pay == nil {
		p.mu.Unlock()
		renderLanding(w, r, http.StatusNotFound, sandboxviews.VippsLandingView{Missing: true})
		return
	}
	exchanges.Ref(r.Context(), pay.Reference)
	pay.settle(now)
	p.notify(pay)
	if pay.State != stateCreated {
		// Answered already (another tab) or expired: show where it stands.
		v := p.landingView(pay)
		p.mu.Unlock()
		renderLanding(w, r, http.StatusConflict, v)
		return
	}
	switch r.PostForm.Get("action") {
	case "approve":
		su := p.salesUnit()
		typed := r.PostForm.Get("phone")
		phone := su.msisdn(typed)
		why := ""
		switch {
		case strings.TrimSpace(typed) == "":
			why = "Enter your mobile number."
		case !phonePattern.MatchString(phone):
			why = "Enter your mobile number: digits only, with or without the country code, for example " + su.example() + "."
		default:
			why = su.phoneProblem(phone)
		}
		if why != "" {
			v := p.landingView(pay)
			v.Phone = typed
			v.Error = why
			p.mu.Unlock()
			renderLanding(w, r, http.StatusUnprocessableEntity, v)
			return
		}
		pay.Phone = phone
		pay.authorize(now, p.salesUnit())
	case "reject":
		pay.abort(now)
	default:
		p.mu.Unlock()
		http.Error(w, "Unknown action", http.StatusBadRequest)
		return
	}
	p.notify(pay)
	back := pay.ReturnURL
	p.mu.Unlock()
	if back == "" {
		// PUSH_MESSAGE and QR payments have no returnUrl: stay on the page.
		p.mu.Lock()
		v := p.landingView(pay)
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

// msisdn turns what a person types into an MSISDN, as the landing page's
// number field does: "+47 912 34 567" and "0047 91234567" keep their country
// code; a number typed without one ("912 34 567") is taken to be in the sales
// unit's country, the country the page offers first. Anything but digits,
// spaces, dashes, dots, brackets and a leading + or 00 keeps it invalid.
func (m market) msisdn(s string) string {
	s = strings.TrimSpace(s)
	intl := strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00")
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '+' || r == '-' || r == '.' || r == '(' || r == ')':
			return -1
		}
		return 'x'
	}, strings.TrimPrefix(s, "+"))
	switch {
	case strings.HasPrefix(s, "00"):
		return strings.TrimPrefix(digits, "00")
	case intl:
		return digits
	case len(digits) >= m.MinDigits && len(digits) <= m.MaxDigits && !strings.HasPrefix(digits, "0"):
		return m.Calling + digits
	}
	return digits
}

// landingView is what the page shows of pay. The number field is empty
// unless the merchant sent customer.phoneNumber: then it is filled in, as
// Vipps's landing page does, and the person may change it.
func (p *provider) landingView(pay *payment) sandboxviews.VippsLandingView {
	su := p.salesUnit()
	return sandboxviews.VippsLandingView{
		Token:       pay.LandingToken,
		Merchant:    salesUnitName,
		Amount:      money.Amount{Minor: pay.Amount.Value, Currency: pay.Amount.Currency}.Format(),
		Description: pay.Description,
		Phone:       pay.Phone,
		Prefilled:   pay.Phone != "",
		CallingCode: "+" + su.Calling,
		Example:     su.example(),
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
