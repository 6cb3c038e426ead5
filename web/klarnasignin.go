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

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/config"
	"refshop/web/klarnasignin"
	"refshop/web/klarnasignin/grants"
)

// klarnaAuthTTL bounds a sign-in between start and callback.
const klarnaAuthTTL = 10 * time.Minute

// sessKlarnaAuth holds the pending sign-in (klarnaPending as JSON).
const sessKlarnaAuth = "klarna_auth"

// klarnaPending is a sign-in between start and callback.
type klarnaPending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Mode     string    `json:"mode"` // "signin" or "connect"
	UserID   int64     `json:"user_id,omitempty"`
	Next     string    `json:"next,omitempty"`
	Started  time.Time `json:"started"`
}

// klarnaSignInFlow is Sign in with Klarna's handlers and the account grants.
type klarnaSignInFlow struct {
	a      *App
	client *klarnasignin.Client
	grants *grants.Keeper
}

func newKlarnaSignInFlow(a *App) *klarnaSignInFlow {
	client := a.KlarnaSignIn
	return &klarnaSignInFlow{a: a, client: client,
		grants: grants.New(grants.Config{Client: client, Issuer: klarnaIssuer(a.Config), Store: a.Store, Box: a.Box, Log: a.Log})}
}

// klarnaIssuer names the Klarna environment of Sign in with Klarna, whose
// identities and grants the shop keeps: its OIDC issuer.
func klarnaIssuer(cfg config.Config) string { return environment(cfg.Klarna.LoginURL) }

// signInOption is the sign-in page's button.
func (f *klarnaSignInFlow) signInOption(c echo.Context) templ.Component {
	return views.KlarnaSignInOption(safeNext(c.QueryParam("next")))
}

// start is POST /auth/klarna/start: Sign in with Klarna.
func (f *klarnaSignInFlow) start(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return f.redirect(c, klarnaPending{Mode: "signin", Next: safeNext(c.FormValue("next"))})
}

// connect is POST /account/klarna/connect: connect Klarna to the signed-in
// account (or sign in with Klarna again after the grant ended).
func (f *klarnaSignInFlow) connect(c echo.Context) error {
	return f.redirect(c, klarnaPending{Mode: "connect", UserID: currentUser(c).ID})
}

// redirect keeps p in the session with a fresh state, nonce and verifier,
// and sends the browser to Klarna. A second start replaces the first: its
// callback is then refused as not matching.
func (f *klarnaSignInFlow) redirect(c echo.Context, p klarnaPending) error {
	ctx := c.Request().Context()
	ar, err := f.client.NewAuthRequest(ctx)
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

// callback is GET /auth/klarna/callback.
func (f *klarnaSignInFlow) callback(c echo.Context) error {
	a, ctx := f.a, c.Request().Context()
	raw := a.Sessions.GetString(ctx, sessKlarnaAuth)
	var p klarnaPending
	if raw == "" || json.Unmarshal([]byte(raw), &p) != nil {
		// No sign-in in progress: a callback used twice, a bookmarked or
		// forged one, or a session that ended meanwhile.
		return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid",
			"This Sign in with Klarna response was already used, or no sign-in was started in this browser. Nothing changed. Start again from the sign-in page.")
	}
	state := c.QueryParam("state")
	if subtle.ConstantTimeCompare([]byte(state), []byte(p.State)) != 1 {
		// Forged or from another attempt: the pending sign-in stays, so a
		// forged link cannot cancel the customer's real one.
		return f.problem(c, http.StatusBadRequest, "This sign-in link is not valid",
			"The response from Klarna does not match the sign-in this browser started, so the shop refused it. Nothing changed. Start again from the sign-in page.")
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
	id, toks, err := f.client.Exchange(ctx, code, p.Verifier, p.Nonce)
	if err != nil {
		return f.exchangeFailed(c, err)
	}
	if id.Email == "" {
		f.revoke(ctx, toks)
		return f.problem(c, http.StatusBadRequest, "Klarna did not share your email",
			"The shop needs your email address to make your account. Please sign in with Klarna again and allow the shop to see your email.")
	}
	if p.Mode == "connect" {
		return f.connected(c, p, id, toks)
	}
	return f.signedIn(c, p, id, toks)
}

// exchangeFailed explains a code exchange that did not work.
func (f *klarnaSignInFlow) exchangeFailed(c echo.Context, err error) error {
	switch {
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

// revoke gives back tokens the shop will not keep.
func (f *klarnaSignInFlow) revoke(ctx context.Context, t klarnasignin.Tokens) {
	if t.RefreshToken.IsZero() {
		return
	}
	if err := f.client.Revoke(ctx, t.RefreshToken); err != nil {
		f.a.Log.Warn("klarnasignin: revoking unused tokens", "error", err)
	}
}

// signedIn finishes a Sign in with Klarna: the account connected to the
// identity, or a new one.
func (f *klarnaSignInFlow) signedIn(c echo.Context, p klarnaPending, id klarnasignin.Identity, toks klarnasignin.Tokens) error {
	a, ctx := f.a, c.Request().Context()
	issuer := klarnaIssuer(a.Config)
	ident := db.KlarnaIdentity{Issuer: issuer, Sub: id.Sub, Email: id.Email, Name: id.Name()}
	for attempt := 0; ; attempt++ {
		known, err := a.Store.KlarnaIdentityBySub(ctx, issuer, id.Sub)
		if err == nil {
			u, err := a.Store.UserByID(ctx, known.UserID)
			if err != nil {
				return err
			}
			if err := f.grants.Connect(ctx, u.ID, id, toks); err != nil {
				return err
			}
			if err := a.startSession(c, u); err != nil {
				return err
			}
			a.flash(c, "Signed in with Klarna. Welcome back, "+views.UserView{Email: u.Email, Name: u.Name}.Display()+".")
			return c.Redirect(http.StatusSeeOther, orDefault(p.Next, "/account"))
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		u, err := a.Store.CreateKlarnaUser(ctx, id.Email, id.Name(), ident, f.grants.Seal(toks))
		switch {
		case errors.Is(err, db.ErrEmailTaken):
			f.revoke(ctx, toks)
			return f.problem(c, http.StatusConflict, "You already have an account with this email",
				"An account with "+id.Email+" already exists in the shop. The shop never joins accounts by email alone. "+
					"To use Klarna with that account, sign in with its password, then choose \"Connect Klarna\" on your account page.",
				views.KlarnaSignInAction{Label: "Sign in with your password", Href: "/signin?next=/account"},
				views.KlarnaSignInAction{Label: "Back to the shop", Href: "/"})
		case errors.Is(err, db.ErrKlarnaTaken) && attempt == 0:
			continue // made by a parallel callback just now: sign in to it
		case err != nil:
			return err
		}
		if err := a.startSession(c, u); err != nil {
			return err
		}
		a.flash(c, "Welcome, "+views.UserView{Email: u.Email, Name: u.Name}.Display()+"! Your account was made with Klarna.")
		return c.Redirect(http.StatusSeeOther, orDefault(p.Next, "/account"))
	}
}

// connected finishes "Connect Klarna" for the signed-in account.
func (f *klarnaSignInFlow) connected(c echo.Context, p klarnaPending, id klarnasignin.Identity, toks klarnasignin.Tokens) error {
	a, ctx := f.a, c.Request().Context()
	u := currentUser(c)
	if u == nil || u.ID != p.UserID {
		f.revoke(ctx, toks)
		return f.problem(c, http.StatusForbidden, "Signed in as someone else",
			"Klarna was to be connected to the account that started it, and that account is no longer signed in here. Nothing changed.")
	}
	err := f.grants.Connect(ctx, u.ID, id, toks)
	switch {
	case errors.Is(err, db.ErrKlarnaTaken):
		f.revoke(ctx, toks)
		return f.problem(c, http.StatusConflict, "This Klarna account belongs to another shop account",
			"The Klarna account "+id.Email+" is already connected to another account in this shop, so it was not connected to this one.")
	case errors.Is(err, db.ErrKlarnaConnected):
		f.revoke(ctx, toks)
		return f.problem(c, http.StatusConflict, "Another Klarna account is connected",
			"This account is connected to a different Klarna account. Disconnect it first, then connect "+id.Email+".")
	case err != nil:
		return err
	}
	a.flash(c, "Klarna is connected: you can sign in with Klarna, and Klarna recognises you at checkout.")
	return c.Redirect(http.StatusSeeOther, "/account")
}

// disconnect is POST /account/klarna/disconnect.
func (f *klarnaSignInFlow) disconnect(c echo.Context) error {
	a, ctx := f.a, c.Request().Context()
	u := currentUser(c)
	if u.PasswordHash == "" {
		return f.problem(c, http.StatusConflict, "Klarna stays connected",
			"You sign in to this account with Klarna and it has no password, so disconnecting Klarna would lock you out.",
			views.KlarnaSignInAction{Label: "Back to your account", Href: "/account"})
	}
	err := f.grants.Disconnect(ctx, u.ID)
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

// sweep drops expired access tokens from the database every minute.
func (f *klarnaSignInFlow) sweep(ctx context.Context) { f.grants.SweepEvery(ctx, time.Minute) }
