package web

// Sign in with Klarna (OpenID Connect, code flow with PKCE):
//
//  1. POST /auth/klarna/start (sign-in page) or POST /account/klarna/connect
//     (account page) makes a fresh state, nonce and PKCE verifier, keeps them
//     in the session, and sends the browser to Klarna's authorize endpoint.
//  2. Klarna sends the browser back to GET /auth/klarna/callback with a code
//     and the state. The shop takes the pending sign-in out of the session
//     (a callback works once), checks the state, exchanges the code with the
//     verifier and verifies the ID token (nonce included).
//  3. Sign-in: the account connected to the ID token's sub, or a new account
//     made from it. An account is never joined with another by email alone:
//     when an account already has the email, nothing is created and the page
//     explains how to connect Klarna from that account. Connect: the signed-in
//     account gets the identity. Either way the grant (refresh token sealed,
//     access token) is stored, and a sign-in renews the session token.
//  4. Paying with Klarna, the checkout asks the grant keeper for a fresh access token
//     and passes it as customer.klarna_access_token; a grant Klarna ended
//     shows "Sign in with Klarna again to skip the Klarna login at checkout".
//
// Regions: Klarna's regions are separate, each with its own issuer (Europe's
// is KLARNA_LOGIN_URL itself, North America's KLARNA_LOGIN_URL/na/lp/idp:
// klarnasignin.Issuer). A sign-in goes to the issuer of the session's market
// region and remembers that region until its callback; the identity and
// grant are kept under that issuer, and refreshed and revoked only there.
// A payment session carries only an access token of the order's region.
//
// Every call to Klarna here runs within the request's deadline
// (awaitProvider, deadline.go). Past it: start and connect say Klarna is
// slow; the callback says Klarna is slow to confirm the sign-in and looks
// again at GET /auth/klarna/resume (a code is exchanged only once, so the
// work keeps what it got for that look, by the sign-in's state); Disconnect
// says the revocation is being confirmed, and the work forgets the grant
// once Klarna has.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/config"
	"refshop/web/klarnasignin"
	"refshop/web/klarnasignin/grants"
	"refshop/web/market"
	"refshop/web/outbound"
)

// klarnaAuthTTL bounds a sign-in between start and callback.
const klarnaAuthTTL = 10 * time.Minute

// sessKlarnaAuth holds the pending sign-in (klarnaPending as JSON).
const sessKlarnaAuth = "klarna_auth"

// klarnaPending is a sign-in between start and callback.
type klarnaPending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Mode     string `json:"mode"` // "signin" or "connect"
	// Region is the Klarna region whose issuer the sign-in went to ("" is
	// Europe: sign-ins started before there were regions).
	Region  market.Region `json:"region,omitempty"`
	UserID  int64         `json:"user_id,omitempty"`
	Next    string        `json:"next,omitempty"`
	Started time.Time     `json:"started"`
	// Exchanging: the code's exchange outlived the callback's request; the
	// next look (resume) takes what it got.
	Exchanging bool `json:"exchanging,omitempty"`
}

// klarnaSignInFlow is Sign in with Klarna's handlers and the account grants.
type klarnaSignInFlow struct {
	a         *App
	regions   map[market.Region]*klarnaSignInRegion
	exchanged klarnaExchanges
}

// klarnaSignInRegion is Sign in with Klarna in one Klarna region: the
// client of its issuer and the grants made there.
type klarnaSignInRegion struct {
	region market.Region
	client *klarnasignin.Client
	grants *grants.Keeper
}

// klarnaSignInRegions are the regions in the order the account page lists
// their connections.
var klarnaSignInRegions = []market.Region{market.RegionEU, market.RegionNA}

func newKlarnaSignInFlow(a *App) *klarnaSignInFlow {
	f := &klarnaSignInFlow{a: a, regions: map[market.Region]*klarnaSignInRegion{}}
	for _, r := range klarnaSignInRegions {
		client := a.KlarnaSignIn[r]
		f.regions[r] = &klarnaSignInRegion{region: r, client: client,
			grants: grants.New(grants.Config{Client: client, Issuer: klarnaIssuer(a.Config, r), Store: a.Store, Box: a.Box, Log: a.Log})}
	}
	return f
}

// klarnaSignInClient is the Sign in with Klarna client of a region's issuer,
// authenticating with KLARNA_TOKEN_AUTH. Token lifetimes run on the
// provider's clock, so moving the sandbox clock ages the shop's tokens too.
// WithProviderClients builds one per region and process (each holds its
// issuer's discovery and keys).
func klarnaSignInClient(d Deps, r market.Region) *klarnasignin.Client {
	k := d.Config.Klarna
	return klarnasignin.New(klarnasignin.Config{
		Issuer: klarnaIssuer(d.Config, r), ClientID: k.ClientID, ClientSecret: k.ClientSecret, TokenAuth: k.TokenAuth,
		RedirectURL: d.Config.ShopBaseURL + "/auth/klarna/callback",
		HTTP:        d.HTTP, Clock: providerClock(d, k.Mode), Log: d.Log,
	})
}

// klarnaIssuer names the Klarna environment and region of Sign in with
// Klarna, whose identities and grants the shop keeps: the region's OIDC
// issuer below KLARNA_LOGIN_URL.
func klarnaIssuer(cfg config.Config, r market.Region) string {
	return klarnasignin.Issuer(environment(cfg.Klarna.LoginURL), r)
}

// region is Sign in with Klarna in region r; anything but North America is
// Europe.
func (f *klarnaSignInFlow) region(r market.Region) *klarnaSignInRegion {
	if kr, ok := f.regions[r]; ok {
		return kr
	}
	return f.regions[market.RegionEU]
}

// formRegion is the region a form names (the account page's buttons say
// which connection they act on), else the session's market's.
func (f *klarnaSignInFlow) formRegion(c echo.Context) *klarnaSignInRegion {
	if r := market.Region(c.FormValue("region")); r == market.RegionEU || r == market.RegionNA {
		return f.region(r)
	}
	return f.region(f.a.market(c).KlarnaRegion)
}

// signInOption is the sign-in page's button.
func (f *klarnaSignInFlow) signInOption(c echo.Context) templ.Component {
	return views.KlarnaSignInOption(safeNext(c.QueryParam("next")))
}

// start is POST /auth/klarna/start: Sign in with Klarna.
func (f *klarnaSignInFlow) start(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return f.redirect(c, klarnaPending{Mode: "signin", Next: safeNext(c.FormValue("next")), Region: f.a.market(c).KlarnaRegion})
}

// connect is POST /account/klarna/connect: connect Klarna to the signed-in
// account (or sign in with Klarna again after the grant ended).
func (f *klarnaSignInFlow) connect(c echo.Context) error {
	return f.redirect(c, klarnaPending{Mode: "connect", UserID: currentUser(c).ID, Region: f.formRegion(c).region})
}

// redirect keeps p in the session with a fresh state, nonce and verifier,
// and sends the browser to the authorize endpoint of p's region's issuer. A
// second start replaces the first: its callback is then refused as not
// matching.
func (f *klarnaSignInFlow) redirect(c echo.Context, p klarnaPending) error {
	ctx := c.Request().Context()
	p.Region = f.region(p.Region).region
	ar, err := awaitProvider(f.a, c, "klarnasignin.authorize:"+rand.Text(), f.region(p.Region).client.NewAuthRequest)
	if errors.Is(err, errConfirming) {
		back := views.KlarnaSignInAction{Label: "Try again", Href: "/signin"}
		if p.Mode == "connect" {
			back = views.KlarnaSignInAction{Label: "Back to your account", Href: "/account"}
		}
		return f.problem(c, http.StatusServiceUnavailable, "Klarna is slow to answer",
			"Klarna did not answer in time, so the shop did not send you there. Nothing changed. Please try again in a moment.",
			back, views.KlarnaSignInAction{Label: "Back to the shop", Href: "/"})
	}
	if err != nil {
		return &UserError{Status: http.StatusServiceUnavailable, Title: "Klarna is not answering",
			Message: "Sign in with Klarna is unavailable right now. Please try again in a moment.", Err: err}
	}
	p.State, p.Nonce, p.Verifier, p.Started = ar.State, ar.Nonce, ar.Verifier, f.a.Clock.Now()
	b, _ := json.Marshal(p)
	f.a.Sessions.Put(ctx, sessKlarnaAuth, string(b))
	return c.Redirect(http.StatusSeeOther, ar.URL)
}

// problem renders the page that explains a refused sign-in.
func (f *klarnaSignInFlow) problem(c echo.Context, status int, title, msg string, actions ...views.KlarnaSignInAction) error {
	if len(actions) == 0 {
		actions = []views.KlarnaSignInAction{{Label: "Back to sign in", Href: "/signin"}, {Label: "Back to the shop", Href: "/"}}
		if currentUser(c) != nil {
			actions[0] = views.KlarnaSignInAction{Label: "Back to your account", Href: "/account"}
		}
	}
	return render(c, status, views.KlarnaSignInProblem(f.a.chrome(c, title), views.KlarnaSignInProblemView{Title: title, Message: msg, Actions: actions}))
}

// pending is the sign-in this browser started, if any.
func (f *klarnaSignInFlow) pending(c echo.Context) (klarnaPending, bool) {
	raw := f.a.Sessions.GetString(c.Request().Context(), sessKlarnaAuth)
	var p klarnaPending
	return p, raw != "" && json.Unmarshal([]byte(raw), &p) == nil
}

// notValid answers a callback or look with no sign-in in progress.
func (f *klarnaSignInFlow) notValid(c echo.Context) error {
	// A callback used twice, a bookmarked or forged one, or a session that
	// ended meanwhile.
	return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid",
		"This Sign in with Klarna response was already used, or no sign-in was started in this browser. Nothing changed. Start again from the sign-in page.")
}

// callback is GET /auth/klarna/callback.
func (f *klarnaSignInFlow) callback(c echo.Context) error {
	a, ctx := f.a, c.Request().Context()
	p, ok := f.pending(c)
	if !ok {
		return f.notValid(c)
	}
	state := c.QueryParam("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) != 1 {
		// Forged or from another attempt: the pending sign-in stays, so a
		// forged link cannot cancel the customer's real one.
		return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid",
			"The response from Klarna does not match the sign-in this browser started, so the shop refused it. Nothing changed. Start again from the sign-in page.")
	}
	if p.Exchanging {
		return f.finish(c, p, "") // the callback reloaded while its code is being exchanged
	}
	a.Sessions.Remove(ctx, sessKlarnaAuth) // one callback per sign-in
	if a.Clock.Now().Sub(p.Started) > klarnaAuthTTL {
		return f.problem(c, http.StatusBadRequest, "This sign-in took too long",
			"Signing in with Klarna has to be finished within 10 minutes. Nothing changed. Please start again.")
	}
	if e := c.QueryParam("error"); e != "" {
		if e == "access_denied" {
			a.flash(c, "You did not allow the shop to use your Klarna account. Nothing changed.")
			if p.Mode == "connect" {
				return c.Redirect(http.StatusSeeOther, "/account")
			}
			return c.Redirect(http.StatusSeeOther, "/signin")
		}
		return f.problem(c, http.StatusBadGateway, "Klarna could not sign you in",
			"Klarna answered the sign-in with an error ("+e+"). Nothing changed. Please try again.")
	}
	code := c.QueryParam("code")
	if code == "" {
		return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid", "The response from Klarna has no authorization code. Please start again.")
	}
	return f.finish(c, p, code)
}

// resume is GET /auth/klarna/resume: the next look at a sign-in whose code
// exchange outlived the callback's request.
func (f *klarnaSignInFlow) resume(c echo.Context) error {
	p, ok := f.pending(c)
	if !ok || !p.Exchanging {
		return f.notValid(c)
	}
	return f.finish(c, p, "")
}

// finish exchanges the sign-in's code (code "": takes what an earlier
// request's exchange got) and signs in or connects. Past the deadline the
// pending sign-in stays in the session, marked exchanging, and the page
// looks again by itself.
func (f *klarnaSignInFlow) finish(c echo.Context, p klarnaPending, code string) error {
	a, ctx := f.a, c.Request().Context()
	x, err := f.exchange(c, p, code)
	if errors.Is(err, errConfirming) {
		p.Exchanging = true
		b, _ := json.Marshal(p)
		a.Sessions.Put(ctx, sessKlarnaAuth, string(b))
		c.Response().Header().Set("Refresh", confirmingRefreshSeconds+"; url=/auth/klarna/resume")
		return f.problem(c, http.StatusOK, "Klarna is slow to confirm your sign-in",
			"Klarna has not confirmed your sign-in yet. This page looks again by itself in a moment.",
			views.KlarnaSignInAction{Label: "Try again", Href: "/auth/klarna/resume"},
			views.KlarnaSignInAction{Label: "Back to the shop", Href: "/"})
	}
	a.Sessions.Remove(ctx, sessKlarnaAuth)
	if err == nil {
		err = x.err
	}
	if err != nil {
		return f.exchangeFailed(c, err)
	}
	if x.id.Email == "" {
		f.revokeWithin(c, p, x.toks)
		return f.problem(c, http.StatusBadRequest, "Klarna did not share your email",
			"The shop needs your email address to make your account. Please sign in with Klarna again and allow the shop to see your email.")
	}
	if p.Mode == "connect" {
		return f.connected(c, p, x.id, x.toks)
	}
	return f.signedIn(c, p, x)
}

// klarnaExchange is what exchanging a sign-in's code came to.
type klarnaExchange struct {
	id   klarnasignin.Identity
	toks klarnasignin.Tokens
	err  error
	at   time.Time
	// region is the issuer's: the tokens are revoked there if unused.
	region market.Region
	// requestID is the shop request the exchange's calls are recorded
	// under, since when (on the recorder's clock): once the sign-in's
	// account is known, they are filed under it (attribute).
	requestID string
	since     time.Time
}

// errSignInLost: no exchange of the sign-in's code runs here, and none left
// its result here (another process, or a restart, had it).
var errSignInLost = errors.New("web: the sign-in's code exchange is not known here")

// klarnaExchanges keeps, by sign-in, what a code exchange got until a
// request takes it: Klarna exchanges a code only once, so a look after the
// deadline must find the first exchange's result. Results nobody took for
// klarnaAuthTTL are dropped and their tokens given back.
type klarnaExchanges struct {
	mu sync.Mutex
	m  map[string]klarnaExchange
}

// put keeps x under key and returns the results left untaken too long.
func (e *klarnaExchanges) put(key string, x klarnaExchange) (stale []klarnaExchange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]klarnaExchange{}
	}
	for k, old := range e.m {
		if x.at.Sub(old.at) > klarnaAuthTTL {
			stale = append(stale, old)
			delete(e.m, k)
		}
	}
	e.m[key] = x
	return stale
}

// take returns and forgets the result under key.
func (e *klarnaExchanges) take(key string) (klarnaExchange, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	delete(e.m, key)
	return x, ok
}

// signInKey names a sign-in in work keys and logs without its state, which
// is a secret.
func signInKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:8])
}

func klarnaExchangeWork(state string) string { return "klarnasignin.exchange:" + signInKey(state) }
func klarnaRevokeWork(state string) string   { return "klarnasignin.revoke:" + signInKey(state) }

// exchange trades the sign-in's code for its identity and tokens within the
// request's deadline. The work records its result before it ends, and the
// request (this one, or the next look) takes it. With code "" it only takes
// a result, or waits for the exchange still running.
func (f *klarnaSignInFlow) exchange(c echo.Context, p klarnaPending, code string) (klarnaExchange, error) {
	key := signInKey(p.State)
	if x, ok := f.exchanged.take(key); ok {
		return x, nil
	}
	work := klarnaExchangeWork(p.State)
	if code == "" && !f.a.providerWorkRunning(work) {
		if x, ok := f.exchanged.take(key); ok { // it ended just now
			return x, nil
		}
		return klarnaExchange{}, errSignInLost
	}
	_, err := awaitProvider(f.a, c, work, func(ctx context.Context) (struct{}, error) {
		x := klarnaExchange{err: errSignInLost}
		if code != "" {
			xctx := ctx
			if p.Mode == "connect" {
				// The account is known already: the calls are recorded under it.
				xctx = outbound.WithUser(ctx, p.UserID)
			} else if f.a.Recorder != nil {
				x.requestID, x.since = outbound.RequestIDFrom(ctx), f.a.Recorder.Now()
			}
			x.id, x.toks, x.err = f.region(p.Region).client.Exchange(xctx, code, p.Verifier, p.Nonce)
		}
		x.at, x.region = f.a.Clock.Now(), p.Region
		for _, old := range f.exchanged.put(key, x) {
			// Another, abandoned sign-in's tokens: recorded under the request
			// that got them, so they are not filed with this sign-in's.
			f.revoke(outbound.WithRequestID(ctx, old.requestID), old.region, old.toks)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return klarnaExchange{}, err
	}
	if x, ok := f.exchanged.take(key); ok {
		return x, nil
	}
	return klarnaExchange{}, errSignInLost // taken by a parallel request of the same sign-in
}

// exchangeFailed explains a code exchange that did not work.
func (f *klarnaSignInFlow) exchangeFailed(c echo.Context, err error) error {
	switch {
	case errors.Is(err, errSignInLost):
		return f.problem(c, http.StatusBadRequest, "This sign-in could not be finished",
			"The shop no longer has Klarna's answer to this sign-in. Please start again from the sign-in page.")
	case klarnasignin.InvalidIDToken(err):
		f.a.Log.Warn("klarnasignin: refused an ID token", "error", err)
		return f.problem(c, http.StatusBadRequest, "Klarna's answer could not be verified",
			"The shop could not verify who signed in, so it did not sign you in. Nothing changed. Please start again.")
	case klarnasignin.StatusOf(err) == http.StatusBadRequest:
		// invalid_grant: the code was used already or expired.
		return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid",
			"Klarna refused the sign-in code: it was already used or has expired. Nothing changed. Start again from the sign-in page.")
	default:
		return &UserError{Status: http.StatusBadGateway, Title: "Klarna is not answering",
			Message: "The shop could not finish signing you in with Klarna. Nothing changed. Please try again in a moment.", Err: err}
	}
}

// revoke gives back tokens the shop will not keep, at the issuer of region
// r that made them.
func (f *klarnaSignInFlow) revoke(ctx context.Context, r market.Region, t klarnasignin.Tokens) {
	if t.RefreshToken.IsZero() {
		return
	}
	if err := f.region(r).client.Revoke(ctx, t.RefreshToken); err != nil {
		f.a.Log.Warn("klarnasignin: revoking unused tokens", "error", err)
	}
}

// revokeWithin is revoke within the request's deadline; past it the work
// goes on (best effort either way: the customer's page is the same).
func (f *klarnaSignInFlow) revokeWithin(c echo.Context, p klarnaPending, t klarnasignin.Tokens) {
	_, _ = awaitProvider(f.a, c, klarnaRevokeWork(p.State), func(ctx context.Context) (struct{}, error) {
		f.revoke(ctx, p.Region, t)
		return struct{}{}, nil
	})
}

// signedIn finishes a Sign in with Klarna: the account connected to the
// identity, or a new one.
func (f *klarnaSignInFlow) signedIn(c echo.Context, p klarnaPending, x klarnaExchange) error {
	a, ctx := f.a, c.Request().Context()
	id, toks := x.id, x.toks
	kr := f.region(p.Region)
	issuer := klarnaIssuer(a.Config, kr.region)
	ident := db.KlarnaIdentity{Issuer: issuer, Sub: id.Sub, Email: id.Email, Name: id.Name()}
	for attempt := 0; ; attempt++ {
		known, err := a.Store.KlarnaIdentityBySub(ctx, issuer, id.Sub)
		if err == nil {
			u, err := a.Store.UserByID(ctx, known.UserID)
			if err != nil {
				return err
			}
			if err := kr.grants.Connect(ctx, u.ID, id, toks); err != nil {
				return err
			}
			f.attribute(ctx, x, u.ID)
			if err := a.startSession(c, u); err != nil {
				return err
			}
			a.flash(c, "Signed in with Klarna. Welcome back, "+views.UserView{Email: u.Email, Name: u.Name}.Display()+".")
			return c.Redirect(http.StatusSeeOther, orDefault(p.Next, "/account"))
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		u, err := a.Store.CreateKlarnaUser(ctx, id.Email, id.Name(), ident, kr.grants.Seal(toks))
		switch {
		case errors.Is(err, db.ErrEmailTaken):
			f.revokeWithin(c, p, toks)
			return f.problem(c, http.StatusConflict, "You already have an account with this email",
				"An account with "+id.Email+" already exists in the shop. The shop never joins accounts by email alone. "+
					"To use Klarna with that account, sign in to it (with its password, or with Klarna in a market of the region where you connected Klarna), "+
					"then choose \"Connect Klarna\" on your account page.",
				views.KlarnaSignInAction{Label: "Sign in with your password", Href: "/signin?next=/account"},
				views.KlarnaSignInAction{Label: "Back to the shop", Href: "/"})
		case errors.Is(err, db.ErrKlarnaTaken) && attempt == 0:
			continue // made by a parallel callback just now: sign in to it
		case err != nil:
			return err
		}
		f.attribute(ctx, x, u.ID)
		if err := a.startSession(c, u); err != nil {
			return err
		}
		a.flash(c, "Welcome, "+views.UserView{Email: u.Email, Name: u.Name}.Display()+"! Your account was made with Klarna.")
		return c.Redirect(http.StatusSeeOther, orDefault(p.Next, "/account"))
	}
}

// attribute files the calls of a sign-in's code exchange, recorded before
// its account was known, under the account userID, once the recorder has
// stored them. A failure costs the account page those calls, not the
// sign-in: it is logged.
func (f *klarnaSignInFlow) attribute(ctx context.Context, x klarnaExchange, userID int64) {
	a := f.a
	if a.Recorder == nil || x.requestID == "" {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, exchangeFlushWait)
	if err := a.Recorder.Flush(fctx); err != nil {
		a.Log.Warn("klarnasignin: the recorder did not catch up; some of the sign-in's calls may stay unfiled", "error", err)
	}
	cancel()
	if _, err := a.Store.AttributeExchanges(ctx, x.requestID, x.since, userID); err != nil {
		a.Log.Warn("klarnasignin: the sign-in's recorded calls are not filed under the account", "user_id", userID, "error", err)
	}
}

// connected finishes "Connect Klarna" for the signed-in account.
func (f *klarnaSignInFlow) connected(c echo.Context, p klarnaPending, id klarnasignin.Identity, toks klarnasignin.Tokens) error {
	a, ctx := f.a, c.Request().Context()
	u := currentUser(c)
	if u == nil || u.ID != p.UserID {
		f.revokeWithin(c, p, toks)
		return f.problem(c, http.StatusForbidden, "Signed in as someone else",
			"Klarna was to be connected to the account that started it, and that account is no longer signed in here. Nothing changed.")
	}
	err := f.region(p.Region).grants.Connect(ctx, u.ID, id, toks)
	switch {
	case errors.Is(err, db.ErrKlarnaTaken):
		f.revokeWithin(c, p, toks)
		return f.problem(c, http.StatusConflict, "This Klarna account belongs to another shop account",
			"The Klarna account "+id.Email+" is already connected to another account in this shop, so it was not connected to this one.")
	case errors.Is(err, db.ErrKlarnaConnected):
		f.revokeWithin(c, p, toks)
		return f.problem(c, http.StatusConflict, "Another Klarna account is connected",
			"This account is connected to a different Klarna account. Disconnect it first, then connect "+id.Email+".")
	case err != nil:
		return err
	}
	a.flash(c, "Klarna is connected: you can sign in with Klarna, and Klarna recognises you at checkout.")
	return c.Redirect(http.StatusSeeOther, "/account")
}

// disconnect is POST /account/klarna/disconnect: the connection of the
// region the form names (the session's market's if none), revoked at that
// region's issuer.
func (f *klarnaSignInFlow) disconnect(c echo.Context) error {
	a := f.a
	u := currentUser(c)
	if u.PasswordHash == "" {
		return f.problem(c, http.StatusConflict, "Klarna stays connected",
			"You sign in to this account with Klarna and it has no password, so disconnecting Klarna would lock you out.",
			views.KlarnaSignInAction{Label: "Back to your account", Href: "/account"})
	}
	uid, kr := u.ID, f.formRegion(c)
	_, err := awaitProvider(a, c, userWorkKey("klarnasignin.disconnect:"+string(kr.region), uid), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, kr.grants.Disconnect(ctx, uid)
	})
	if errors.Is(err, errConfirming) {
		a.flash(c, "Klarna has not confirmed the revocation yet. The shop forgets the connection once Klarna confirms it: reload the account page in a moment.")
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	if errors.Is(err, grants.ErrRevoke) {
		return &UserError{Status: http.StatusBadGateway, Title: "Klarna is not answering",
			Message: "Klarna did not confirm the disconnection, so Klarna stays connected. Please try again in a moment.", Err: err}
	}
	if err != nil {
		return err
	}
	a.flash(c, "Klarna is disconnected, and the shop's access at Klarna was revoked.")
	return c.Redirect(http.StatusSeeOther, "/account")
}

// klarnaSignInSweepEvery is how often the background drops expired access
// tokens.
const klarnaSignInSweepEvery = time.Minute

// sweep drops expired access tokens from the database every
// klarnaSignInSweepEvery (the sweep is the store's, across issuers: one
// region's keeper does it).
func (f *klarnaSignInFlow) sweep(ctx context.Context) {
	grants := f.region(market.RegionEU).grants
	f.a.every(ctx, "klarnasignin", klarnaSignInSweepEvery, func(ctx context.Context) {
		if _, err := grants.Sweep(ctx); err != nil && ctx.Err() == nil {
			f.a.Log.Warn("klarnasignin: sweeping expired access tokens", "error", err)
		}
	})
}
