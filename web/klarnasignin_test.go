package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/views"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/klarnasignin/grants"
	"refshop/web/market"
	"refshop/web/sandbox"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// klarnaSignInShop is the shop wired to an embedded sandbox for Sign in with
// Klarna, the shop's provider clock being the sandbox clock as in cmd/shop.
type klarnaSignInShop struct {
	*testApp
	sb       *sandboxtest.Server
	st       *control.State
	sbClk    *clock.Manual
	sessions *sessionRecorder
}

func newKlarnaSignInShop(t *testing.T, use ...func(*Deps)) *klarnaSignInShop {
	t.Helper()
	return klarnaSignInShopOn(t, dbtest.Open(t), use...)
}

// klarnaSignInShopOn is newKlarnaSignInShop on database, with a sandbox of
// its own: given another shop's database, the same shop restarted against
// another Klarna environment. use changes the dependencies after it.
func klarnaSignInShopOn(t *testing.T, database *db.DB, use ...func(*Deps)) *klarnaSignInShop {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sc := sandbox.ConfigFrom(cfg)
	sc.BaseURL = "" // the sandbox names itself by its test server's origin
	sbClk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	sb := sandboxtest.Start(t, sc, sbClk)
	sb.Deliveries.Close() // Klarna's callbacks go only when a test runs them (startKlarnaSandbox)
	srv := sb.Server
	rec := &sessionRecorder{next: http.DefaultTransport}
	app := newTestAppOn(t, database, append([]func(*Deps){func(d *Deps) {
		d.Config.SandboxURL = srv.URL
		d.Config.Klarna.LoginURL = srv.URL + "/klarna/login"
		d.Config.Klarna.APIURL = srv.URL + "/klarna/api"
		d.Config.Klarna.NA.APIURL = srv.URL + "/klarna/api-na"
		d.Config.Klarna.SDKURL = srv.URL + "/klarna/cdn/kp/lib/v1/api.js"
		d.ProviderClock = sb.State.Clock
		d.HTTP = &http.Client{Transport: rec, Timeout: 10 * time.Second}
	}}, use...)...)
	return &klarnaSignInShop{testApp: app, sb: sb, st: sb.State, sbClk: sbClk, sessions: rec}
}

// sessionRecorder keeps the customer.klarna_access_token of every Klarna
// payments create-session request the shop sends.
type sessionRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	sent []string // one per create session: the access token, or ""
}

func (r *sessionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/payments/v1/sessions") {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var s struct {
			Customer struct {
				KlarnaAccessToken string `json:"klarna_access_token"`
			} `json:"customer"`
		}
		_ = json.Unmarshal(body, &s)
		r.mu.Lock()
		r.sent = append(r.sent, s.Customer.KlarnaAccessToken)
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func (r *sessionRecorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

func (k *klarnaSignInShop) sandbox(t *testing.T, method, path, body string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, k.sb.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header
}

// authorize is the customer at Klarna: the sandbox signs email in (auto
// consent) and sends the browser back; it returns the shop callback's path.
func (k *klarnaSignInShop) authorize(t *testing.T, authURL, email string) string {
	t.Helper()
	if code, _ := k.sandbox(t, "POST", "/control/settings", `{"klarna_auto_consent": "`+email+`"}`); code != 200 {
		t.Fatalf("settings: %d", code)
	}
	code, h := k.sandbox(t, "GET", strings.TrimPrefix(authURL, k.sb.URL), "")
	if code != http.StatusSeeOther {
		t.Fatalf("authorize: %d", code)
	}
	back, _ := url.Parse(h.Get("Location"))
	if back.Path != "/auth/klarna/callback" {
		t.Fatalf("Klarna sent the browser to %s", back)
	}
	return back.RequestURI()
}

// start presses a Klarna button and returns the authorize URL.
func (k *klarnaSignInShop) start(t *testing.T, b *browser, path string) string {
	t.Helper()
	p := b.post(path, nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, k.sb.URL+"/klarna/login/eu/lp/idp/oauth2/auth?") {
		t.Fatalf("%s: %d %q, want a redirect to the discovered authorize endpoint", path, p.status, p.location)
	}
	return p.location
}

// signInWithKlarna runs the whole sign-in and returns the callback's answer.
func (k *klarnaSignInShop) signInWithKlarna(t *testing.T, b *browser, email string) page {
	t.Helper()
	return b.get(k.authorize(t, k.start(t, b, "/auth/klarna/start"), email))
}

func (k *klarnaSignInShop) userID(t *testing.T, b *browser) int64 {
	t.Helper()
	p := b.get("/account")
	if p.status != 200 {
		t.Fatalf("account: %d", p.status)
	}
	email := p.doc(t).Find("main strong").First().Text()
	u, err := k.Store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %q: %v", email, err)
	}
	return u.ID
}

func TestSignInWithKlarnaMakesAnAccountAndFindsItAgain(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	page := b.get("/signin")
	if btn := page.doc(t).Find("form[action='/auth/klarna/start'] button"); btn.Text() != "Sign in with Klarna" {
		t.Fatal("the sign-in page has no Sign in with Klarna button")
	}
	authURL := k.start(t, b, "/auth/klarna/start")
	q, _ := url.Parse(authURL)
	if q.Query().Get("code_challenge_method") != "S256" || len(q.Query().Get("state")) < 16 || len(q.Query().Get("nonce")) < 16 ||
		q.Query().Get("redirect_uri") != k.Config.ShopBaseURL+"/auth/klarna/callback" ||
		q.Query().Get("scope") != "openid offline_access payment:request:create profile:name profile:email" {
		t.Fatalf("authorize request %v", q.Query())
	}
	before := b.sessionCookie()
	p := b.get(k.authorize(t, authURL, "anna.schmidt@example.com"))
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("callback: %d %q %s", p.status, p.location, p.body)
	}
	if b.sessionCookie() == before || b.sessionCookie() == "" {
		t.Fatal("signing in did not renew the session token")
	}
	acct := b.get("/account")
	doc := acct.doc(t)
	if !strings.Contains(acct.body, "Welcome, Anna Schmidt") || doc.Find("[data-testid=klarnasignin-email]").Text() != "anna.schmidt@example.com" {
		t.Fatalf("account page after a first sign-in: %s", doc.Find("main").Text())
	}
	if doc.Find("form[action='/account/klarna/disconnect']").Length() != 0 {
		t.Fatal("an account without a password is offered Disconnect")
	}
	first := k.userID(t, b)

	b.post("/signout", nil)
	b2 := k.browser(t)
	p = k.signInWithKlarna(t, b2, "anna.schmidt@example.com")
	if p.status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d %s", p.status, p.body)
	}
	if again := k.userID(t, b2); again != first {
		t.Fatalf("second sign-in landed in account %d, want %d", again, first)
	}
	if n := k.st.Calls("klarna.token_code"); n != 2 {
		t.Fatalf("%d code exchanges, want 2", n)
	}
}

func TestForgedStateAndReplayedCallbackAreRefused(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	callback := k.authorize(t, k.start(t, b, "/auth/klarna/start"), "jonas.weber@example.com")
	cb, _ := url.Parse(callback)

	forged := cb.Query()
	forged.Set("state", "forged-state-value-123")
	p := b.get("/auth/klarna/callback?" + forged.Encode())
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "This sign-in link is not valid") {
		t.Fatalf("forged state: %d", p.status)
	}
	// The page the callback renders keeps its code off the page: the market
	// picker's way back leads home, not to the callback's URL.
	if code := cb.Query().Get("code"); code == "" || strings.Contains(p.body, code) || strings.Contains(p.body, url.QueryEscape(code)) {
		t.Errorf("the refusal page holds the authorization code (…%s)", code[max(len(code)-4, 0):])
	}
	if next, _ := p.doc(t).Find("form[action='/market'] input[name=next]").Attr("value"); next != "/" {
		t.Errorf("the market picker leads back to %q, want /", next)
	}
	// A callback with no state at all.
	noState := cb.Query()
	noState.Del("state")
	if p := b.get("/auth/klarna/callback?" + noState.Encode()); p.status != http.StatusBadRequest {
		t.Fatalf("no state: %d", p.status)
	}
	// Another browser cannot use this browser's callback.
	if p := k.browser(t).get(callback); p.status != http.StatusBadRequest || !strings.Contains(p.body, "already used") {
		t.Fatalf("callback in another browser: %d", p.status)
	}
	if n := k.st.Calls("klarna.token_code"); n != 0 {
		t.Fatalf("refused callbacks made %d code exchanges", n)
	}
	// The real one still works after the forged ones...
	if p := b.get(callback); p.status != http.StatusSeeOther {
		t.Fatalf("real callback: %d %s", p.status, p.body)
	}
	// ...once.
	p = b.get(callback)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "already used") {
		t.Fatalf("replayed callback: %d", p.status)
	}
	if n := k.st.Calls("klarna.token_code"); n != 1 {
		t.Fatalf("%d code exchanges, want 1", n)
	}
}

func TestKlarnaSignInNeverJoinsAPasswordAccountByEmail(t *testing.T) {
	k := newKlarnaSignInShop(t)
	owner := k.browser(t)
	owner.signUp("anna.schmidt@example.com")
	b := k.browser(t)
	p := k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	if p.status != http.StatusConflict || !strings.Contains(p.body, "never joins accounts by email alone") ||
		!strings.Contains(p.body, "Connect Klarna") {
		t.Fatalf("Klarna sign-in with a password account's email: %d", p.status)
	}
	if b.get("/account").status != http.StatusSeeOther {
		t.Fatal("the Klarna sign-in was signed in to the password account")
	}
	u, _ := k.Store.UserByEmail(context.Background(), "anna.schmidt@example.com")
	if _, err := k.Store.KlarnaIdentityByUser(context.Background(), klarnaIssuer(k.Config, market.RegionEU), u.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatal("the password account was connected by email")
	}
	if n := k.st.Calls("klarna.revoke"); n != 1 {
		t.Fatalf("the unused tokens were not revoked (%d revocations)", n)
	}
}

func TestConnectKlarnaToAPasswordAccountAndDisconnect(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	b.signUp("tess@example.com")
	acct := b.get("/account")
	if acct.doc(t).Find("form[action='/account/klarna/connect'] button").Text() != "Connect Klarna" {
		t.Fatal("the account page offers no Connect Klarna")
	}
	p := b.get(k.authorize(t, k.start(t, b, "/account/klarna/connect"), "mia.svensson@example.com"))
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("connect callback: %d %s", p.status, p.body)
	}
	doc := b.get("/account").doc(t)
	if doc.Find("[data-testid=klarnasignin-email]").Text() != "mia.svensson@example.com" ||
		doc.Find("form[action='/account/klarna/disconnect']").Length() != 1 {
		t.Fatalf("account after connecting: %s", doc.Find("[data-testid=klarnasignin-panel]").Text())
	}
	uid := k.userID(t, b)

	// Sign in with Klarna now finds the password account.
	other := k.browser(t)
	k.signInWithKlarna(t, other, "mia.svensson@example.com")
	if k.userID(t, other) != uid {
		t.Fatal("Sign in with Klarna did not find the connected password account")
	}
	// Another account cannot take the same Klarna identity.
	c := k.browser(t)
	c.signUp("someone@example.com")
	p = c.get(k.authorize(t, k.start(t, c, "/account/klarna/connect"), "mia.svensson@example.com"))
	if p.status != http.StatusConflict || !strings.Contains(p.body, "already connected to another account") {
		t.Fatalf("connecting a taken identity: %d", p.status)
	}

	at, err := k.klarnaSignIn.region(market.RegionEU).grants.AccessToken(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	p = b.post("/account/klarna/disconnect", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("disconnect: %d %s", p.status, p.body)
	}
	if acct := b.get("/account").doc(t); acct.Find("[data-testid=klarnasignin-connect]").Length() != 1 || acct.Find("[data-testid=klarnasignin-panel]").Length() != 0 {
		t.Fatal("still connected after Disconnect")
	}
	if k.recognised(t, at.Reveal()) {
		t.Fatal("Disconnect did not revoke the grant at Klarna")
	}
	if p := k.browser(t).post("/account/klarna/connect", nil); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/signin") {
		t.Fatalf("connect while signed out: %d %q", p.status, p.location)
	}
}

// recognised asks the sandbox's userinfo about an access token.
func (k *klarnaSignInShop) recognised(t *testing.T, at string) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", k.sb.URL+"/klarna/login/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == 200
}

func TestKlarnaOnlyAccountCannotDisconnect(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "jonas.weber@example.com")
	p := b.post("/account/klarna/disconnect", nil)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "lock you out") {
		t.Fatalf("disconnect without a password: %d", p.status)
	}
	if n := k.st.Calls("klarna.revoke"); n != 0 {
		t.Fatalf("%d revocations", n)
	}
}

func TestDeadGrantAsksToSignInAgainAndCheckoutCarriesOn(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	if code, _ := k.sandbox(t, "POST", "/control/settings", `{"klarna_refresh_token_ttl": "10m"}`); code != 200 {
		t.Fatal(code)
	}
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	uid := k.userID(t, b)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	if strings.Contains(b.get("/checkout").body, "Sign in with Klarna again") {
		t.Fatal("a live grant asks to sign in again")
	}
	k.st.Clock.Advance(11 * time.Minute)
	if _, err := k.klarnaSignIn.region(market.RegionEU).grants.AccessToken(context.Background(), uid); !errors.Is(err, grants.ErrSignInAgain) {
		t.Fatalf("expired refresh token: %v", err)
	}
	acct := b.get("/account").doc(t)
	if !strings.Contains(acct.Find("[data-testid=klarnasignin-signin-again]").Text(), "Sign in with Klarna again to skip the Klarna login at checkout") {
		t.Fatal("the account page does not ask to sign in with Klarna again")
	}
	co := b.get("/checkout")
	if co.status != 200 || !strings.Contains(co.doc(t).Find("[data-testid=klarnasignin-checkout-notice]").Text(), "Sign in with Klarna again to skip the Klarna login at checkout") {
		t.Fatalf("checkout: %d, no sign-in-again notice", co.status)
	}
	if co.doc(t).Find("form[action='/checkout/klarna']").Length() != 1 {
		t.Fatal("checkout lost its payment methods")
	}
	// Signing in again from the account page revives it.
	p := b.get(k.authorize(t, k.start(t, b, "/account/klarna/connect"), "anna.schmidt@example.com"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d %s", p.status, p.body)
	}
	if at, err := k.klarnaSignIn.region(market.RegionEU).grants.AccessToken(context.Background(), uid); err != nil || !k.recognised(t, at.Reveal()) {
		t.Fatalf("after signing in again: %v", err)
	}
	if strings.Contains(b.get("/checkout").body, "Sign in with Klarna again") {
		t.Fatal("the notice stayed after signing in again")
	}
}

func TestKlarnaCancelledSignInGoesBackCalmly(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	authURL := k.start(t, b, "/auth/klarna/start")
	q, _ := url.Parse(authURL)
	back := "/auth/klarna/callback?" + url.Values{"error": {"access_denied"}, "state": {q.Query().Get("state")}}.Encode()
	p := b.get(back)
	if p.status != http.StatusSeeOther || p.location != "/signin" {
		t.Fatalf("access_denied: %d %q", p.status, p.location)
	}
	if !strings.Contains(b.get("/signin").body, "did not allow") {
		t.Fatal("no message after a cancelled sign-in")
	}
}

// payWithKlarna chooses Klarna at checkout and returns the payment page and
// the widget's mode for it ("ready": recognised, no login; "login").
func (k *klarnaSignInShop) payWithKlarna(t *testing.T, b *browser) (page, string) {
	t.Helper()
	p := b.post("/checkout/klarna", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/checkout/klarna/") {
		t.Fatalf("Pay with Klarna: %d %q %s", p.status, p.location, p.body)
	}
	pay := b.get(p.location)
	tok := pay.doc(t).Find("#klarna-checkout").AttrOr("data-client-token", "")
	parts := strings.Split(tok, ".")
	if pay.status != 200 || len(parts) != 3 {
		t.Fatalf("pay page %d", pay.status)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		SessionID string `json:"session_id"`
	}
	_ = json.Unmarshal(raw, &claims)
	body, _ := json.Marshal(map[string]string{"client_token": tok, "parent": k.Config.ShopBaseURL})
	res, err := http.Post(k.sb.URL+"/klarna/payments/widget/"+claims.SessionID+"/state", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st map[string]any
	_ = json.NewDecoder(res.Body).Decode(&st)
	mode, _ := st["mode"].(string)
	return pay, mode
}

func TestKlarnaCheckoutSendsAFreshAccessToken(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	pay, mode := k.payWithKlarna(t, b)
	if mode != "ready" {
		t.Fatalf("widget %q, want ready (recognised, no login)", mode)
	}
	if !strings.Contains(pay.body, "You signed in with Klarna, so Klarna recognises you") {
		t.Fatal("the payment page does not say the customer will be recognised")
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 0 {
		t.Fatalf("%d refreshes with a fresh access token, want 0", n)
	}
	k.st.Clock.Advance(6 * time.Minute) // past the access token's 5 minutes
	// A changed cart: a new attempt and session (the same cart would return the open attempt).
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	if _, mode := k.payWithKlarna(t, b); mode != "ready" {
		t.Fatalf("after the access token expired: widget %q, want ready", mode)
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	sent := k.sessions.tokens()
	if len(sent) != 2 || sent[0] == "" || sent[1] == "" || sent[0] == sent[1] {
		t.Fatalf("create-session access tokens: %d sent, want two different ones", len(sent))
	}
	if k.recognised(t, sent[0]) || !k.recognised(t, sent[1]) {
		t.Fatal("the second checkout did not carry the refreshed token")
	}
}

func TestKlarnaCheckoutWithoutSignInWithKlarna(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	b.signUp("plain@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	if _, mode := k.payWithKlarna(t, b); mode != "login" {
		t.Fatalf("widget %q, want login", mode)
	}
	if sent := k.sessions.tokens(); len(sent) != 1 || sent[0] != "" {
		t.Fatalf("sent %q, want no klarna_access_token", sent)
	}
}

func TestRevokedGrantAsksToSignInAgainAndKlarnaCheckoutCarriesOn(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "jonas.weber@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	// The customer takes the shop's access back at Klarna.
	if code, _ := k.sandbox(t, "POST", "/control/klarna/login/revoke", `{"email": "jonas.weber@example.com"}`); code != 200 {
		t.Fatal(code)
	}
	k.st.Clock.Advance(6 * time.Minute)
	pay, mode := k.payWithKlarna(t, b)
	if mode != "login" {
		t.Fatalf("widget %q, want login", mode)
	}
	if !strings.Contains(pay.body, "Sign in with Klarna again to skip the Klarna login at checkout.") ||
		strings.Contains(pay.body, "Klarna recognises you") {
		t.Fatal("the payment page does not ask to sign in with Klarna again")
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes, want the 1 that found the grant revoked", n)
	}
	// Later checkouts do not ask Klarna again, and still work.
	if _, mode := k.payWithKlarna(t, b); mode != "login" {
		t.Fatalf("second checkout: %q", mode)
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes after the grant died, want 1", n)
	}
	if !strings.Contains(b.get("/checkout").body, "Sign in with Klarna again") || !strings.Contains(b.get("/account").body, "Sign in with Klarna again") {
		t.Fatal("checkout or account page lacks the sign-in-again message")
	}
}

func TestFiftyConcurrentKlarnaCheckoutsMakeOneRefresh(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "mia.svensson@example.com")
	b.post("/cart/items", url.Values{"product_id": {"hand-grinder"}, "quantity": {"1"}})
	k.st.Clock.Advance(6 * time.Minute)

	var wg sync.WaitGroup
	status := make([]int, 50)
	for i := range 50 {
		wg.Go(func() { status[i] = b.post("/checkout/klarna", nil).status })
	}
	wg.Wait()
	for i, s := range status {
		if s != http.StatusSeeOther {
			t.Fatalf("checkout %d: %d", i, s)
		}
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes for 50 concurrent checkouts, want 1", n)
	}
	// The log tells it once, by the tokens' tags.
	if n := strings.Count(k.logText(), "the refresh token was rotated and the new one stored"); n != 1 {
		t.Errorf("%d rotation lines in the log, want 1", n)
	}
	// One cart has one open attempt: the other 49 submits return it. (The
	// grant keeper's own tests race 50 refreshes.)
	sent := k.sessions.tokens()
	if len(sent) != 1 {
		t.Fatalf("%d sessions created, want 1", len(sent))
	}
	for i, at := range sent {
		if at != sent[0] || at == "" {
			t.Fatalf("session %d carried another access token", i)
		}
	}
	if !k.recognised(t, sent[0]) {
		t.Fatal("the shared access token is not valid")
	}
}

// The payment page says Klarna recognises the customer only when Klarna
// confirmed the access token for this session: not when the customer took
// the shop's access back at Klarna a minute ago (the stored token still has
// minutes to live, and Klarna no longer knows the grant), and not when
// Klarna could not be asked.
func TestPayPageClaimsRecognitionOnlyForATokenKlarnaConfirmed(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "jonas.weber@example.com")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})

	if code, _ := k.sandbox(t, "POST", "/control/faults", `{"operation": "klarna.userinfo", "status": 503, "times": 3}`); code != 200 {
		t.Fatal(code)
	}
	pay, _ := k.payWithKlarna(t, b)
	if strings.Contains(pay.body, "Klarna recognises you") {
		t.Error("the page claims recognition though Klarna could not confirm the token")
	}
	if sent := k.sessions.tokens(); len(sent) != 1 || sent[0] == "" {
		t.Error("the unconfirmed token was not sent (Klarna may still recognise it)")
	}

	if code, _ := k.sandbox(t, "POST", "/control/klarna/login/revoke", `{"email": "jonas.weber@example.com"}`); code != 200 {
		t.Fatal(code)
	}
	// A changed cart makes a new attempt, with a new session (the same cart
	// would go back to the open attempt's page).
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	pay, mode := k.payWithKlarna(t, b)
	if mode != "login" {
		t.Fatalf("widget %q after the revocation, want login", mode)
	}
	if strings.Contains(pay.body, "Klarna recognises you") || !strings.Contains(pay.body, "Sign in with Klarna again") {
		t.Errorf("the page claims recognition Klarna will not give, or does not ask to sign in again:\n%s", pay.body)
	}
}

// A Sign in with Klarna identity and grant belong to the issuer that made
// them. The shop pointed at another Klarna environment on the same data dir
// sends no access token of the old grant and never refreshes it, at either
// issuer, and the account shows Klarna as not connected there; pointed
// back, the connection is still there.
func TestKlarnaSignInGrantsAreKeptPerIssuer(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	k.st.Clock.Advance(6 * time.Minute) // the access token expired: a checkout would refresh it
	oldCalls := k.st.Calls("klarna.token_refresh") + k.st.Calls("klarna.userinfo")

	other := klarnaSignInShopOn(t, k.DB)
	other.st.Clock.Advance(6 * time.Minute)
	b.moveTo(other.testApp)
	if acct := b.get("/account"); acct.status != http.StatusOK || acct.doc(t).Find("[data-testid=klarnasignin-email]").Length() != 0 {
		t.Errorf("the account shows the old issuer's identity: %d", acct.status)
	}
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	if _, mode := other.payWithKlarna(t, b); mode != "login" {
		t.Errorf("widget %q at the new environment, want login", mode)
	}
	if sent := other.sessions.tokens(); len(sent) != 1 || sent[0] != "" {
		t.Errorf("the new environment's session carried an access token: %q", sent)
	}
	if n := other.st.Calls("klarna.token_refresh") + other.st.Calls("klarna.userinfo"); n != 0 {
		t.Errorf("the old grant was used at the new issuer (%d calls)", n)
	}
	if n := k.st.Calls("klarna.token_refresh") + k.st.Calls("klarna.userinfo"); n != oldCalls {
		t.Error("the shop still calls the old issuer")
	}
	b.moveTo(k.testApp)
	if acct := b.get("/account"); acct.doc(t).Find("[data-testid=klarnasignin-email]").Text() != "anna.schmidt@example.com" {
		t.Error("the first issuer's connection was lost")
	}
}

// Klarna's discovery slower than the deadline: "Sign in with Klarna" answers
// in time with a calm page, and the work's discovery serves the next start.
func TestKlarnaSignInSlowDiscoveryAnswersInTime(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.ProviderDeadline = 20 * time.Millisecond
	k.sb.Delay(t, "klarna.discovery", "1s", 1)
	p := b.post("/auth/klarna/start", nil)
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "Klarna is slow to answer") ||
		p.doc(t).Find("a[href='/signin']").Length() == 0 {
		t.Fatalf("start past the deadline: %d %q\n%s", p.status, p.location, p.doc(t).Find("main").Text())
	}
	k.ProviderDeadline = 0 // the default
	k.signInWithKlarna(t, b, "mia.svensson@example.com")
	if n := k.st.Calls("klarna.discovery"); n != 1 {
		t.Errorf("%d discoveries, want the slow one only", n)
	}
}

// Klarna's token endpoint slower than the deadline at the callback: the
// customer reads that Klarna is slow to confirm the sign-in, with a way to
// look again; the work exchanges the code once and keeps what it got, and
// the next look signs the customer in with it.
func TestKlarnaSignInSlowCodeExchangeIsPickedUpByTheNextLook(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	back := k.authorize(t, k.start(t, b, "/auth/klarna/start"), "mia.svensson@example.com")
	k.ProviderDeadline = 20 * time.Millisecond
	k.sb.Delay(t, "klarna.token_code", "1s", 1)
	p := b.get(back)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Klarna is slow to confirm your sign-in") ||
		p.doc(t).Find("a[href='/auth/klarna/resume']").Length() != 1 || p.header.Get("Refresh") == "" {
		t.Fatalf("callback past the deadline: %d %q\n%s", p.status, p.location, p.doc(t).Find("main").Text())
	}
	if strings.Contains(p.body, "could not") {
		t.Error("the slow page says the sign-in failed")
	}
	var done page
	eventually(t, "the next look signs in", func() bool {
		done = b.get("/auth/klarna/resume")
		return done.status != http.StatusOK
	})
	if done.status != http.StatusSeeOther || done.location != "/account" {
		t.Fatalf("the look after the exchange: %d %q\n%s", done.status, done.location, done.body)
	}
	if acct := b.get("/account"); acct.status != http.StatusOK || acct.doc(t).Find("[data-testid=klarnasignin-email]").Text() != "mia.svensson@example.com" {
		t.Errorf("not signed in with Klarna after the slow exchange: %d", acct.status)
	}
	if n := k.st.Calls("klarna.token_code"); n != 1 {
		t.Errorf("the code was exchanged %d times, want 1", n)
	}
	if again := b.get("/auth/klarna/resume"); again.status != http.StatusBadRequest {
		t.Errorf("a look after the sign-in finished: %d, want refused", again.status)
	}
}

// Klarna's revocation slower than the deadline on Disconnect: the account
// page answers in time, says the revocation is being confirmed and still
// shows the connection; the work forgets the grant once Klarna confirms.
func TestKlarnaSignInSlowDisconnectAnswersInTime(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	b.signUp("tess@example.com")
	if p := b.get(k.authorize(t, k.start(t, b, "/account/klarna/connect"), "mia.svensson@example.com")); p.location != "/account" {
		t.Fatalf("connect: %d %q", p.status, p.location)
	}
	uid := k.userID(t, b)
	k.ProviderDeadline = 20 * time.Millisecond
	k.sb.Delay(t, "klarna.revoke", "1s", 1)
	if p := b.post("/account/klarna/disconnect", nil); p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("disconnect: %d %q", p.status, p.location)
	}
	acct := b.get("/account")
	if doc := acct.doc(t); !strings.Contains(acct.body, "Klarna has not confirmed the revocation yet") ||
		doc.Find("[data-testid=klarnasignin-panel]").Length() != 1 {
		t.Errorf("the account page before Klarna answered:\n%s", doc.Find("main").Text())
	}
	eventually(t, "the grant is forgotten", func() bool {
		st, err := k.klarnaSignIn.region(market.RegionEU).grants.Status(t.Context(), uid)
		return err == nil && !st.Connected
	})
	if n := k.st.Calls("klarna.revoke"); n != 1 {
		t.Errorf("revoked at Klarna %d times, want 1", n)
	}
}

// Tokens the shop refuses (an account has the identity's email) are given
// back within the deadline: the customer reads why at once, and the work
// revokes them at Klarna afterwards.
func TestKlarnaSignInSlowRevokeOfRefusedTokensAnswersInTime(t *testing.T) {
	k := newKlarnaSignInShop(t)
	k.browser(t).signUp("mia.svensson@example.com")
	b := k.browser(t)
	back := k.authorize(t, k.start(t, b, "/auth/klarna/start"), "mia.svensson@example.com")
	cb, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	k.sb.Delay(t, "klarna.revoke", "5s", 1)
	k.ProviderDeadline = 500 * time.Millisecond // the exchange fits; the revocation does not
	p := b.get(back)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "You already have an account with this email") {
		t.Fatalf("callback: %d\n%s", p.status, p.doc(t).Find("main").Text())
	}
	if !k.providerWorkRunning(klarnaRevokeWork(cb.Query().Get("state"))) {
		t.Error("the callback answered after the revocation, not within its deadline")
	}
	eventually(t, "the refused tokens are revoked", func() bool { return k.st.Calls("klarna.revoke") == 1 })
}

// chooseMarket picks a market in the page header.
func (k *klarnaSignInShop) chooseMarket(t *testing.T, b *browser, id string) {
	t.Helper()
	if p := b.post("/market", url.Values{"market": {id}, "next": {"/"}}); p.status != http.StatusSeeOther {
		t.Fatalf("choose market %s: %d", id, p.status)
	}
}

// Shopping in the United States, Sign in with Klarna goes to North
// America's issuer (KLARNA_LOGIN_URL/na/lp/idp), and the identity and grant
// are kept under that issuer, not Europe's.
func TestKlarnaSignInInTheUSGoesToTheNorthAmericanIssuer(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.chooseMarket(t, b, "us")
	p := b.post("/auth/klarna/start", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, k.sb.URL+"/klarna/login/na/lp/idp/oauth2/auth?") {
		t.Fatalf("start in the US: %d %q, want North America's authorize endpoint", p.status, p.location)
	}
	// The market changes before Klarna answers: the callback still
	// exchanges the code at the issuer the sign-in went to.
	k.chooseMarket(t, b, "de")
	if p := b.get(k.authorize(t, p.location, "anna.schmidt@example.com")); p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("callback: %d %q %s", p.status, p.location, p.body)
	}
	if n := k.st.Calls("klarna.token_code"); n != 1 {
		t.Fatalf("%d code exchanges, want 1", n)
	}
	uid := k.userID(t, b)
	ctx := context.Background()
	na, err := k.Store.KlarnaIdentityByUser(ctx, klarnaIssuer(k.Config, market.RegionNA), uid)
	if err != nil || na.Issuer != k.sb.URL+"/klarna/login/na/lp/idp" {
		t.Fatalf("NA identity %+v: %v", na, err)
	}
	if _, err := k.Store.KlarnaIdentityByUser(ctx, klarnaIssuer(k.Config, market.RegionEU), uid); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("an EU identity was stored for a North American sign-in: %v", err)
	}
	acct := b.get("/account").doc(t)
	if r := acct.Find("[data-testid=klarnasignin-panel]").AttrOr("data-region", ""); r != "na" {
		t.Fatalf("account panel region %q, want na", r)
	}
	// Its access token is North America's, and refreshes happen there.
	k.st.Clock.Advance(6 * time.Minute)
	at, err := k.klarnaSignIn.region(market.RegionNA).grants.AccessToken(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if k.userinfoAt(t, "/klarna/login/na/lp/idp/userinfo", at.Reveal()) != 200 ||
		k.userinfoAt(t, "/klarna/login/eu/lp/idp/userinfo", at.Reveal()) != 401 {
		t.Fatal("the refreshed access token is not North America's")
	}
	if n := k.st.Calls("klarna.token_refresh"); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

// userinfoAt is the status of the sandbox's userinfo at path for at.
func (k *klarnaSignInShop) userinfoAt(t *testing.T, path, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, k.sb.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A customer connected in Europe pays in the United States: the US payment
// session carries no klarna_access_token (Klarna's regions are separate, so
// the EU grant is neither refreshed nor sent), and no notice. Back in
// Germany, the EU grant is sent again.
func TestAnEUGrantIsNotSentWithAUSPaymentSession(t *testing.T) {
	k := newKlarnaSignInShop(t)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	k.st.Clock.Advance(6 * time.Minute) // the access token expired: sending it would refresh
	k.chooseMarket(t, b, "us")
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	pay := b.post("/checkout/klarna", nil)
	if pay.status == http.StatusSeeOther {
		pay = b.get(pay.location)
	}
	if pay.status != http.StatusOK {
		t.Fatalf("the US payment page: %d", pay.status)
	}
	if sent := k.sessions.tokens(); len(sent) != 1 || sent[0] != "" {
		t.Fatalf("the US session carried an access token: %q", sent)
	}
	if n := k.st.Calls("klarna.token_refresh") + k.st.Calls("klarna.userinfo"); n != 0 {
		t.Fatalf("the EU grant was used for a US payment (%d calls)", n)
	}
	if strings.Contains(pay.body, "Klarna recognises you") || strings.Contains(pay.body, views.KlarnaSignInAgain) {
		t.Fatal("the US payment page speaks of the EU Klarna connection")
	}
	k.chooseMarket(t, b, "de")
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	if _, mode := k.payWithKlarna(t, b); mode != "ready" {
		t.Fatalf("German payment: widget %q, want ready", mode)
	}
	if sent := k.sessions.tokens(); len(sent) != 2 || sent[1] == "" {
		t.Fatalf("the German session did not carry the EU access token: %d sent", len(sent))
	}
}
