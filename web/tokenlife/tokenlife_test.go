package tokenlife

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"refshop/web/redact"
	"refshop/web/secret"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// call is one exchange as the shop sent and got it, unredacted: the tests
// redact it as the recorder does (web/redact), so the derivation reads the
// marks as they are stored.
type call struct {
	at                 time.Duration // after t0
	order              int64
	provider, op       string
	method, url, tmpl  string
	auth               string // the Authorization header
	reqType, reqBody   string
	status             int
	respType, respBody string
}

func record(calls ...call) []Exchange { return recordFrom(1, calls...) }

// recordFrom is record with the exchanges' ids from first.
func recordFrom(first int64, calls ...call) []Exchange {
	var out []Exchange
	for i, c := range calls {
		reqH := http.Header{}
		if c.auth != "" {
			reqH.Set("Authorization", c.auth)
		}
		if c.reqType != "" {
			reqH.Set("Content-Type", c.reqType)
		}
		respH := http.Header{"Content-Type": {cmpOr(c.respType, "application/json")}}
		r := redact.Redact(c.provider, redact.Exchange{Method: cmpOr(c.method, "POST"), URL: c.url, PathTemplate: c.tmpl,
			ReqHeader: reqH, ReqBody: []byte(c.reqBody), RespHeader: respH, RespBody: []byte(c.respBody)})
		out = append(out, Exchange{ID: first + int64(i), StartedAt: t0.Add(c.at), OrderID: c.order, Provider: c.provider,
			Operation: c.op, PathTemplate: c.tmpl, URL: r.URL, Status: c.status, ReqHeaders: r.ReqHeader,
			ReqBody: string(r.ReqBody), RespHeaders: r.RespHeader, RespBody: string(r.RespBody)})
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fp is a token's fingerprint as its marks show it.
func fp(token string) string { return secret.Tag(token) }

func find(t *testing.T, toks []Token, token string) Token {
	t.Helper()
	for _, tk := range toks {
		if tk.Fingerprint == fp(token) {
			return tk
		}
	}
	t.Fatalf("no token %s among %d", fp(token), len(toks))
	return Token{}
}

// kinds is the events' kinds and exchange ids, for comparing.
func kinds(tk Token) string {
	var b strings.Builder
	for _, e := range tk.Events {
		b.WriteString(eventName[e.Kind])
		if e.Exchange != 0 {
			b.WriteString("@" + string(rune('0'+e.Exchange)))
		}
		b.WriteString(" ")
	}
	return strings.TrimSpace(b.String())
}

var eventName = map[EventKind]string{Obtained: "obtained", Used: "used", Rejected: "rejected", Refreshed: "refreshed",
	Superseded: "superseded", Revocation: "revoked", Expiry: "expired"}

const (
	vippsToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2aXBwcyJ9.c2lnbmF0dXJlLXZpcHBz"
	landing    = "lnd_4f9a8b7c6d5e4f3a2b1c"
)

func vippsToken0(at time.Duration, order int64) call {
	return call{at: at, order: order, provider: "vipps", op: "accesstoken", url: "https://api.vipps.test/accesstoken/get",
		tmpl: "/accesstoken/get", status: 200,
		respBody: `{"token_type":"Bearer","expires_in":"3600","ext_expires_in":"0","access_token":"` + vippsToken + `"}`}
}

func vippsCall(at time.Duration, order int64, op, method, path string, status int) call {
	return call{at: at, order: order, provider: "vipps", op: op, method: method, url: "https://api.vipps.test" + path,
		auth: "Bearer " + vippsToken, reqType: "application/json", status: status, respBody: `{}`}
}

func withAnswer(c call, body string) call {
	c.respBody = body
	return c
}

// One Vipps access token for a whole payment: obtained once with its hour,
// then presented by the create (refused with a 503 once), the get and the
// capture. The landing page's token inside redirectUrl is a URL's part, not
// a token the shop presents: it is not listed.
func TestAVippsAccessTokenIsObtainedOnceAndReused(t *testing.T) {
	xs := record(
		vippsToken0(0, 1),
		withAnswer(vippsCall(time.Second, 1, "create_payment", "POST", "/epayment/v1/payments", 201),
			`{"redirectUrl":"https://api.vipps.test/landing?token=`+landing+`","reference":"refshop-1"}`),
		vippsCall(2*time.Second, 1, "get_payment", "GET", "/epayment/v1/payments/refshop-1", 200),
		vippsCall(3*time.Second, 1, "capture", "POST", "/epayment/v1/payments/refshop-1/capture", 200),
	)
	toks := From(xs, t0.Add(10*time.Minute))
	if len(toks) != 1 {
		t.Fatalf("%d tokens, want the one access token: %+v", len(toks), toks)
	}
	tk := toks[0]
	if tk.Kind != "Vipps access token" || tk.Fingerprint != fp(vippsToken) || tk.Earlier || tk.Account {
		t.Errorf("token %q %q earlier %v account %v", tk.Kind, tk.Fingerprint, tk.Earlier, tk.Account)
	}
	if got := kinds(tk); got != "obtained@1 used@2 used@3 used@4" {
		t.Errorf("events %s", got)
	}
	if tk.Uses != 3 || tk.Events[3].Use != 3 || tk.Events[1].Place != (Place{In: "header", Name: "Authorization"}) {
		t.Errorf("%d uses, the last numbered %d, the first in %+v", tk.Uses, tk.Events[3].Use, tk.Events[1].Place)
	}
	if tk.Lifetime != time.Hour || !tk.ExpiresAt.Equal(t0.Add(time.Hour)) || tk.State != Live {
		t.Errorf("lifetime %v, expires %v, state %v; want an hour from t0, live", tk.Lifetime, tk.ExpiresAt, tk.State)
	}
	if e := tk.Events[0]; e.Operation != "accesstoken" || !e.At.Equal(t0) || e.Place != (Place{In: "answer", Name: "access_token"}) {
		t.Errorf("obtained %+v", e)
	}
}

// An order whose calls did not fetch the process's token shows it from its
// first use, saying where it came from.
func TestATokenFetchedForAnEarlierOrderIsShownFromItsFirstUse(t *testing.T) {
	xs := record(
		vippsCall(time.Minute, 2, "create_payment", "POST", "/epayment/v1/payments", 201),
		vippsCall(2*time.Minute, 2, "get_payment", "GET", "/epayment/v1/payments/refshop-2", 200),
	)
	tk := From(xs, t0.Add(3*time.Minute))[0]
	if !tk.Earlier || !strings.Contains(tk.Origin, "one Vipps access token per process") {
		t.Errorf("earlier %v, origin %q", tk.Earlier, tk.Origin)
	}
	if got := kinds(tk); got != "used@1 used@2" || tk.Uses != 2 {
		t.Errorf("events %s, %d uses", got, tk.Uses)
	}
	if !tk.ExpiresAt.IsZero() || tk.State != Live {
		t.Errorf("expires %v, state %v: nothing here says when it ends", tk.ExpiresAt, tk.State)
	}
}

const (
	altpayOld = "apt_old_8c1d2e3f4a5b6c7d8e9f"
	altpayNew = "apt_new_1a2b3c4d5e6f7a8b9c0d"
	altpayJWT = "eyJhbGciOiJIUzI1NiJ9.eyJpbnYiOiJpbnZfMSJ9.Y2hlY2tvdXQtc2lnbmF0dXJl"
)

func altpayCall(at time.Duration, op, path, token string, status int, resp string) call {
	return call{at: at, order: 7, provider: "altpay", op: op, url: "https://api.altpay.test" + path, auth: "Bearer " + token,
		reqType: "application/json", reqBody: `{}`, status: status, respBody: resp}
}

func altpayTokenCall(at time.Duration, token string) call {
	return call{at: at, order: 7, provider: "altpay", op: "oauth_token", url: "https://api.altpay.test/oauth/token",
		auth: "Basic Y2xpZW50OnNlY3JldA==", reqType: "application/x-www-form-urlencoded", reqBody: "grant_type=client_credentials",
		status: 200, respBody: `{"access_token":"` + token + `","expires_in":3600,"token_type":"Bearer"}`}
}

// The Alternative Payments OAuth token the API refuses with a 401 is
// dropped: a new one is fetched for the same order and replaces it. The
// checkout JWT is obtained with its expires_at (Unix seconds) and is its
// own kind.
func TestAnOAuthTokenRefusedWith401IsReplacedByANewOne(t *testing.T) {
	exp := t0.Add(45 * time.Minute)
	xs := record(
		altpayTokenCall(0, altpayOld),
		altpayCall(time.Second, "create_customer", "/customers", altpayOld, 201, `{"id":"cus_1"}`),
		altpayCall(time.Hour/2, "create_invoice", "/invoices", altpayOld, 401, `{"message":"Unauthorized"}`),
		altpayTokenCall(time.Hour/2+time.Second, altpayNew),
		altpayCall(time.Hour/2+2*time.Second, "create_invoice", "/invoices", altpayNew, 201, `{"id":"inv_1"}`),
		altpayCall(time.Hour/2+3*time.Second, "checkout_auth_init", "/v1/checkout-auth/init", altpayNew, 200,
			`{"expires_at":`+itoa(exp.Unix())+`,"token":"`+altpayJWT+`"}`),
	)
	toks := From(xs, t0.Add(time.Hour/2+time.Minute))
	if len(toks) != 3 {
		t.Fatalf("%d tokens, want the two OAuth tokens and the checkout token", len(toks))
	}
	old, nw, jwt := find(t, toks, altpayOld), find(t, toks, altpayNew), find(t, toks, altpayJWT)
	if old.Kind != "Alternative Payments OAuth token" || nw.Kind != old.Kind || jwt.Kind != "Alternative Payments checkout token (JWT)" {
		t.Errorf("kinds %q %q %q", old.Kind, nw.Kind, jwt.Kind)
	}
	if got := kinds(old); got != "obtained@1 used@2 rejected@3 superseded@4" {
		t.Errorf("old token's events %s", got)
	}
	if e := old.Events[2]; e.Status != 401 || e.Use != 2 || old.State != Replaced || old.Events[3].Other != fp(altpayNew) {
		t.Errorf("refusal %+v, state %v, replaced by %q", e, old.State, old.Events[3].Other)
	}
	if got := kinds(nw); got != "obtained@4 used@5 used@6" || nw.Events[0].Replaces != fp(altpayOld) || nw.State != Live {
		t.Errorf("new token's events %s, replaces %q, state %v", got, nw.Events[0].Replaces, nw.State)
	}
	if jwt.Lifetime != 0 || !jwt.ExpiresAt.Equal(exp) || jwt.Earlier || kinds(jwt) != "obtained@6" {
		t.Errorf("checkout token: lifetime %v, expires %v (want %v), events %s", jwt.Lifetime, jwt.ExpiresAt, exp, kinds(jwt))
	}
}

// A token refused and never presented again stands rejected: the shop
// dropped it.
func TestATokenRefusedAndNotUsedAgainStandsRejected(t *testing.T) {
	xs := record(altpayCall(0, "get_invoice", "/invoices/inv_1", altpayOld, 401, `{}`))
	tk := From(xs, t0.Add(time.Minute))[0]
	if tk.State != Dropped || kinds(tk) != "rejected@1" || !tk.Earlier {
		t.Errorf("state %v, events %s, earlier %v", tk.State, kinds(tk), tk.Earlier)
	}
}

const (
	sikAccess1  = "ory_at_first-access-token-AAAA1111"
	sikAccess2  = "ory_at_second-access-token-BBBB2222"
	sikRefresh1 = "ory_rt_first-refresh-token-CCCC3333"
	sikRefresh2 = "ory_rt_second-refresh-token-DDDD4444"
	sikIDToken  = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm5hIn0.aWQtdG9rZW4tc2lnbmF0dXJl"
	issuer      = "https://login.klarna.test/eu/lp/idp"
)

func userinfo(at time.Duration, order int64, token string, status int) call {
	return call{at: at, order: order, provider: "klarna", op: "userinfo", method: "GET", url: issuer + "/userinfo",
		auth: "Bearer " + token, status: status, respBody: `{"sub":"anna"}`}
}

func sessionCall(at time.Duration, order int64, customer string) call {
	return call{at: at, order: order, provider: "klarna", op: "create_session", url: "https://api.klarna.test/payments/v1/sessions",
		tmpl: "/payments/v1/sessions", auth: "Basic bWVyY2hhbnQ6cGFzc3dvcmQ=", reqType: "application/json",
		reqBody: `{"intent":"buy_and_link","customer":` + customer + `}`, status: 200,
		respBody: `{"session_id":"s-` + itoa(int64(at)) + `","client_token":"eyJhbGciOiJub25lIn0.eyJzZXNzaW9uX2lkIjoi` + itoa(int64(at)) + `In0.x"}`}
}

func refreshCall(at time.Duration, order int64, rt string, status int, resp string) call {
	return call{at: at, order: order, provider: "klarna", op: "token_refresh", url: issuer + "/oauth2/token",
		auth: "Basic Y2xpZW50OnNlY3JldA==", reqType: "application/x-www-form-urlencoded",
		reqBody: "grant_type=refresh_token&refresh_token=" + rt, status: status, respBody: resp}
}

// Sign in with Klarna's refresh: the refresh token presented is rotated
// (replaced by the one the answer gives), the new access token is obtained
// by refresh with its 299 seconds, and replaces the access token the same
// order sent before. A revocation ends the new refresh token.
func TestASignInWithKlarnaRefreshRotatesTheRefreshToken(t *testing.T) {
	xs := record(
		userinfo(0, 3, sikAccess1, 200),
		sessionCall(time.Second, 3, `{"klarna_access_token":"`+sikAccess1+`"}`),
		refreshCall(6*time.Minute, 3, sikRefresh1, 200, `{"access_token":"`+sikAccess2+`","expires_in":299,"id_token":"`+
			sikIDToken+`","refresh_token":"`+sikRefresh2+`","token_type":"Bearer"}`),
		userinfo(6*time.Minute+time.Second, 3, sikAccess2, 200),
		sessionCall(6*time.Minute+2*time.Second, 3, `{"klarna_access_token":"`+sikAccess2+`"}`),
		call{at: 7 * time.Minute, provider: "klarna", op: "revoke", url: issuer + "/oauth2/revoke",
			reqType: "application/x-www-form-urlencoded", reqBody: "token=" + sikRefresh2 + "&token_type_hint=refresh_token", status: 200},
	)
	toks := From(xs, t0.Add(8*time.Minute))
	a1, a2 := find(t, toks, sikAccess1), find(t, toks, sikAccess2)
	r1, r2, id := find(t, toks, sikRefresh1), find(t, toks, sikRefresh2), find(t, toks, sikIDToken)

	if a1.Kind != "Sign in with Klarna access token" || !a1.Account || !a1.Earlier || !strings.Contains(a1.Origin, "signed in with Klarna") {
		t.Errorf("first access token: %q account %v earlier %v origin %q", a1.Kind, a1.Account, a1.Earlier, a1.Origin)
	}
	if got := kinds(a1); got != "used@1 used@2 superseded@3" || a1.Events[1].Place != (Place{In: "body", Name: "klarna_access_token"}) {
		t.Errorf("first access token's events %s, the session's in %+v", got, a1.Events[1].Place)
	}
	if r1.Kind != "Sign in with Klarna refresh token" || !r1.Earlier || kinds(r1) != "refreshed@3" || r1.State != Replaced {
		t.Errorf("first refresh token: %q earlier %v events %s state %v", r1.Kind, r1.Earlier, kinds(r1), r1.State)
	}
	if e := r1.Events[0]; e.Other != fp(sikRefresh2) || e.Place != (Place{In: "form", Name: "refresh_token"}) {
		t.Errorf("the refresh: rotated to %q, in %+v", e.Other, e.Place)
	}
	if e := r2.Events[0]; kinds(r2) != "obtained@3 revoked@6" || e.Via != fp(sikRefresh1) || e.Replaces != fp(sikRefresh1) || r2.State != Revoked {
		t.Errorf("second refresh token: events %s, via %q, replaces %q, state %v", kinds(r2), e.Via, e.Replaces, r2.State)
	}
	if e := a2.Events[0]; kinds(a2) != "obtained@3 used@4 used@5" || e.Via != fp(sikRefresh1) || e.Replaces != fp(sikAccess1) ||
		a2.Lifetime != 299*time.Second || !a2.ExpiresAt.Equal(t0.Add(6*time.Minute+299*time.Second)) || a2.State != Live {
		t.Errorf("second access token: events %s, via %q, replaces %q, lifetime %v, expires %v, state %v",
			kinds(a2), e.Via, e.Replaces, a2.Lifetime, a2.ExpiresAt, a2.State)
	}
	if id.Kind != "Sign in with Klarna ID token" || kinds(id) != "obtained@3" || id.Lifetime != 0 {
		t.Errorf("ID token: %q events %s lifetime %v (expires_in is the access token's)", id.Kind, kinds(id), id.Lifetime)
	}
	// The client tokens are the sessions', not the account's.
	for _, tk := range toks {
		if tk.Kind == "Klarna session client_token" && (tk.Account || kinds(tk) != "obtained@2" && kinds(tk) != "obtained@5") {
			t.Errorf("client token: account %v, events %s", tk.Account, kinds(tk))
		}
	}
	if len(toks) != 7 {
		t.Errorf("%d tokens, want 2 access, 2 refresh, 1 ID and 2 client tokens", len(toks))
	}
}

// A refresh Klarna answers with invalid_grant rejects the refresh token.
func TestARefreshAnsweredInvalidGrantRejectsTheRefreshToken(t *testing.T) {
	xs := record(refreshCall(0, 0, sikRefresh1, 400, `{"error":"invalid_grant","error_description":"revoked"}`))
	tk := From(xs, t0.Add(time.Minute))[0]
	if tk.State != Dropped || kinds(tk) != "rejected@1" {
		t.Errorf("state %v, events %s", tk.State, kinds(tk))
	}
}

const (
	customer1 = "krn:partner:global:account:test:customer-token:1111aaaa-2222-bbbb-3333-cccc4444dddd"
	customer2 = "krn:partner:global:account:test:customer-token:5555eeee-6666-ffff-7777-000011112222"
	authTok1  = "3f2a1b0c-auth-token-one-9d8e7f6a5b4c"
	authTok2  = "7c6b5a4d-auth-token-two-3e2f1a0b9c8d"
)

func placeOrder(at time.Duration, order int64, auth, resp string) call {
	return call{at: at, order: order, provider: "klarna", op: "create_order",
		url:  "https://api.klarna.test/payments/v1/authorizations/" + auth + "/order",
		tmpl: "/payments/v1/authorizations/{authorization_token}/order", auth: "Basic bWVyY2hhbnQ6cGFzc3dvcmQ=",
		reqType: "application/json", reqBody: `{"order_amount":850}`, status: 200, respBody: resp}
}

// Klarna's customer_token: the first order's answer gives it; the next
// order's session presents it and that order's answer gives a new one,
// which replaces it. The authorization_token comes from the widget, in the
// create-order path; the session's client token is given once (a read of
// the session repeating it is no news).
func TestAKlarnaCustomerTokenIsStoredThenRotatedByALaterOrder(t *testing.T) {
	xs := record(
		sessionCall(0, 1, `{}`),
		placeOrder(time.Minute, 1, authTok1, `{"order_id":"o1","customer_token":"`+customer1+`","fraud_status":"ACCEPTED"}`),
		sessionCall(time.Hour, 2, `{"customer_token":"`+customer1+`"}`),
		placeOrder(time.Hour+time.Minute, 2, authTok2, `{"order_id":"o2","customer_token":"`+customer2+`"}`),
	)
	ct := xs[0]
	ct.ID, ct.Operation, ct.StartedAt = 5, "read_session", t0.Add(2*time.Hour)
	xs = append(xs, ct)
	toks := From(xs, t0.Add(3*time.Hour))
	c1, c2, a1 := find(t, toks, customer1), find(t, toks, customer2), find(t, toks, authTok1)
	if c1.Kind != "Klarna customer_token" || !c1.Account || c1.Earlier || kinds(c1) != "obtained@2 used@3 superseded@4" ||
		c1.State != Replaced || c1.Events[2].Other != fp(customer2) {
		t.Errorf("first customer token: %q account %v earlier %v events %s state %v", c1.Kind, c1.Account, c1.Earlier, kinds(c1), c1.State)
	}
	if kinds(c2) != "obtained@4" || c2.Events[0].Replaces != fp(customer1) || c2.State != Live {
		t.Errorf("second customer token: events %s replaces %q state %v", kinds(c2), c2.Events[0].Replaces, c2.State)
	}
	if a1.Kind != "Klarna authorization_token" || !a1.Earlier || !strings.Contains(a1.Origin, "widget") ||
		a1.Events[0].Place != (Place{In: "path", Name: "authorization_token"}) || kinds(a1) != "used@2" {
		t.Errorf("authorization token: %q earlier %v origin %q events %s in %+v", a1.Kind, a1.Earlier, a1.Origin, kinds(a1), a1.Events[0].Place)
	}
	for _, tk := range toks {
		if tk.Kind == "Klarna session client_token" && len(tk.Events) != 1 {
			t.Errorf("client token %s: events %s", tk.Fingerprint, kinds(tk))
		}
	}
}

// Expiry is judged at now: past obtained + lifetime and not used since, a
// token has expired (at that time); before, it has not; used after it with
// success, the lifetime was not its end.
func TestExpiryIsJudgedAtNow(t *testing.T) {
	xs := record(
		refreshCall(0, 0, sikRefresh1, 200, `{"access_token":"`+sikAccess1+`","expires_in":300,"refresh_token":"`+sikRefresh1+`"}`),
		userinfo(time.Minute, 0, sikAccess1, 200),
	)
	cases := []struct {
		name   string
		now    time.Duration
		more   []Exchange
		events string
		state  State
	}{
		{"before its expiry", 4 * time.Minute, nil, "obtained@1 used@2", Live},
		{"at its expiry", 5 * time.Minute, nil, "obtained@1 used@2 expired", Expired},
		{"long after", 10 * time.Minute, nil, "obtained@1 used@2 expired", Expired},
		{"used with success after it", 10 * time.Minute, recordFrom(3, userinfo(6*time.Minute, 0, sikAccess1, 200)),
			"obtained@1 used@2 used@3", Live},
		{"refused after it", 10 * time.Minute, recordFrom(3, userinfo(6*time.Minute, 0, sikAccess1, 401)),
			"obtained@1 used@2 expired rejected@3", Expired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := find(t, From(append(xs[:2:2], c.more...), t0.Add(c.now)), sikAccess1)
			if got := kinds(tk); got != c.events || tk.State != c.state {
				t.Errorf("events %s, state %v; want %s, %v", got, tk.State, c.events, c.state)
			}
			if c.state == Expired {
				e := tk.Events[2]
				if !e.At.Equal(t0.Add(5*time.Minute)) || e.Exchange != 0 {
					t.Errorf("expired at %v (exchange %d), want t0+5m and none", e.At, e.Exchange)
				}
			}
		})
	}
	// The refresh token kept (the answer gave the same one back) is
	// refreshed, not replaced.
	rt := find(t, From(xs, t0), sikRefresh1)
	if kinds(rt) != "refreshed@1" || rt.Events[0].Other != "" || rt.State != Live {
		t.Errorf("kept refresh token: events %s, other %q, state %v", kinds(rt), rt.Events[0].Other, rt.State)
	}
}

func TestKindsByProviderOperationAndField(t *testing.T) {
	cases := []struct{ provider, op, field, hint, want string }{
		{"vipps", "accesstoken", "access_token", "", "Vipps access token"},
		{"vipps", "capture", "Authorization", "", "Vipps access token"},
		{"altpay", "oauth_token", "access_token", "", "Alternative Payments OAuth token"},
		{"altpay", "create_invoice", "Authorization", "", "Alternative Payments OAuth token"},
		{"altpay", "checkout_auth_init", "token", "", "Alternative Payments checkout token (JWT)"},
		{"klarna", "token_code", "access_token", "", "Sign in with Klarna access token"},
		{"klarna", "create_session", "klarna_access_token", "", "Sign in with Klarna access token"},
		{"klarna", "token_refresh", "refresh_token", "", "Sign in with Klarna refresh token"},
		{"klarna", "token_code", "id_token", "", "Sign in with Klarna ID token"},
		{"klarna", "revoke", "token", "refresh_token", "Sign in with Klarna refresh token"},
		{"klarna", "revoke", "token", "access_token", "Sign in with Klarna access token"},
		{"klarna", "create_order", "customer_token", "", "Klarna customer_token"},
		{"klarna", "customer_token_read", "token_id", "", "Klarna customer_token"},
		{"klarna", "create_session", "client_token", "", "Klarna session client_token"},
		{"klarna", "create_order", "authorization_token", "", "Klarna authorization_token"},
		{"altpay", "add_card", "card_provider_token", "", "Alternative Payments card_provider_token"},
		{"klarna", "authorization_callback", "token", "", "Klarna callback token"},
		{"klarna", "fraud_notification", "token", "", "Klarna callback token"},
		{"acme", "x", "", "", "acme token"},
	}
	for _, c := range cases {
		if got := kindOf(c.provider, c.op, c.field, c.hint).label; got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.provider, c.op, c.field, got, c.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A 401 to Basic auth refuses the merchant's credentials, not the token
// the body carried; a 401 refuses the bearer token, and only it.
func TestA401RefusesTheBearerTokenNotTheBodysTokens(t *testing.T) {
	refused := sessionCall(0, 4, `{"customer_token":"`+customer1+`"}`)
	refused.status, refused.respBody = 401, `{"error_code":"UNAUTHORIZED"}`
	both := sessionCall(time.Second, 4, `{"klarna_access_token":"`+sikAccess1+`"}`)
	both.auth, both.status = "Bearer "+sikAccess2, 401
	toks := From(record(refused, both), t0.Add(time.Minute))
	if c := find(t, toks, customer1); kinds(c) != "used@1" || c.State != Live {
		t.Errorf("customer token under a refused Basic auth: events %s, state %v", kinds(c), c.State)
	}
	if a := find(t, toks, sikAccess2); kinds(a) != "rejected@2" || a.State != Dropped {
		t.Errorf("bearer token: events %s, state %v", kinds(a), a.State)
	}
	if a := find(t, toks, sikAccess1); kinds(a) != "used@2" {
		t.Errorf("the body's token beside a refused bearer token: events %s", kinds(a))
	}
}
