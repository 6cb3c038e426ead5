package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/views"
	"refshop/web/config"
)

const (
	minPassword = config.MinPassword
	maxPassword = config.MaxPassword // bcrypt's limit, in bytes
)

// safeNext keeps only local paths for the after-sign-in redirect, so the
// sign-in form cannot send people to another site. Browsers drop tabs and
// newlines from URLs and read "\\" as "/", so "/\t/evil" and "/\\evil"
// would become "//evil": any control character, space or backslash is refused.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return ""
	}
	for _, r := range next {
		if r < 0x21 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

func (a *App) signUpForm(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return render(c, http.StatusOK, views.SignUp(a.chrome(c, "Create an account"),
		views.AuthForm{Next: safeNext(c.QueryParam("next"))}))
}

func (a *App) signUp(c echo.Context) error {
	f := views.AuthForm{
		Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")),
		Next: safeNext(c.FormValue("next")), Errors: views.FormErrors{},
	}
	password := c.FormValue("password")
	if addr, err := mail.ParseAddress(f.Email); err != nil || addr.Address != f.Email || len(f.Email) > 254 {
		f.Errors["email"] = "Enter an email address like name@example.com."
	}
	if len(f.Name) > 100 {
		f.Errors["name"] = "Keep the name to 100 characters or fewer."
	}
	switch {
	case len([]rune(password)) < minPassword:
		f.Errors["password"] = fmt.Sprintf("Use at least %d characters.", minPassword)
	case len(password) > maxPassword:
		f.Errors["password"] = fmt.Sprintf("Use at most %d characters.", maxPassword)
	}
	if len(f.Errors) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.SignUp(a.chrome(c, "Create an account"), f))
	}
	// There is no mail to tell an existing account's owner privately, so
	// sign-up says the email is taken; each time it does counts against the
	// client address as a failed sign-in does, so an address can learn only
	// a few. A sign-up that makes an account counts nothing: it cannot be
	// repeated for that email, and a household or office signing up together
	// must not wait.
	ctx := c.Request().Context()
	addr := "signup:" + c.RealIP()
	wait, err := a.addresses.wait(ctx, addr)
	if err != nil {
		return err
	}
	if wait > 0 {
		tooSoon(c, f, wait, "sign-up")
		return render(c, http.StatusTooManyRequests, views.SignUp(a.chrome(c, "Create an account"), f))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.passwordCost())
	if err != nil {
		return err
	}
	u, err := a.Store.CreateUser(ctx, f.Email, f.Name, string(hash))
	if errors.Is(err, db.ErrEmailTaken) {
		if err := a.addresses.fail(ctx, addr); err != nil {
			return err
		}
		f.Errors["email"] = "An account with this email already exists. Sign in instead."
		return render(c, http.StatusUnprocessableEntity, views.SignUp(a.chrome(c, "Create an account"), f))
	}
	if err != nil {
		return err
	}
	if err := a.startSession(c, u); err != nil {
		return err
	}
	a.flash(c, "Welcome! Your account is ready.")
	return c.Redirect(http.StatusSeeOther, orDefault(f.Next, "/account"))
}

func (a *App) signInForm(c echo.Context) error {
	if currentUser(c) != nil {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return a.renderSignIn(c, http.StatusOK, views.AuthForm{Next: safeNext(c.QueryParam("next"))})
}

func (a *App) renderSignIn(c echo.Context, status int, f views.AuthForm) error {
	f.Extra = append(f.Extra, a.klarnaSignIn.signInOption(c))
	return render(c, status, views.SignIn(a.chrome(c, "Sign in"), f))
}

// dummyHash makes a sign-in for an unknown email cost as much as one for a
// known email, so timing does not tell which emails have accounts.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("refshop-dummy-password"), bcrypt.DefaultCost)

const badCredentials = "That email and password do not match an account. Check them and try again."

func (a *App) signIn(c echo.Context) error {
	f := views.AuthForm{
		Email: strings.TrimSpace(c.FormValue("email")), Next: safeNext(c.FormValue("next")), Errors: views.FormErrors{},
	}
	password := c.FormValue("password")
	if f.Email == "" {
		f.Errors["email"] = "Enter your email address."
	}
	if password == "" {
		f.Errors["password"] = "Enter your password."
	}
	if len(f.Errors) > 0 {
		return a.renderSignIn(c, http.StatusUnprocessableEntity, f)
	}
	// Failures count per client address (a growing delay) and per account
	// (a small fixed one: see fixedDelay).
	ctx := c.Request().Context()
	addr, account := "signin:"+c.RealIP(), strings.ToLower(f.Email)
	addrWait, err := a.addresses.wait(ctx, addr)
	if err != nil {
		return err
	}
	accountWait, err := a.accounts.wait(ctx, account)
	if err != nil {
		return err
	}
	if wait := max(addrWait, accountWait); wait > 0 {
		tooSoon(c, f, wait, "sign-in")
		return a.renderSignIn(c, http.StatusTooManyRequests, f)
	}
	u, err := a.Store.UserByEmail(ctx, f.Email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	hash := dummyHash
	if u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || u.PasswordHash == "" {
		if err := errors.Join(a.addresses.fail(ctx, addr), a.accounts.fail(ctx, account)); err != nil {
			return err
		}
		f.Errors[""] = badCredentials
		return a.renderSignIn(c, http.StatusUnprocessableEntity, f)
	}
	// The account's failures are forgotten, the address's are not: signing
	// in to one's own account must not reset guessing at others'.
	if err := a.accounts.succeed(ctx, account); err != nil {
		return err
	}
	if err := a.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, orDefault(f.Next, "/account"))
}

// tooSoon answers an attempt the throttle refused: Retry-After, and a
// message in f saying how long to wait.
func tooSoon(c echo.Context, f views.AuthForm, wait time.Duration, what string) {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", fmt.Sprint(secs))
	f.Errors[""] = fmt.Sprintf("Too many %s attempts. Please wait %s and try again.", what, plural(secs, "second"))
}

// startSession signs u in: a new session token (no fixation), the user's id,
// and the guest cart merged into the user's cart.
func (a *App) startSession(c echo.Context, u db.User) error {
	ctx := c.Request().Context()
	if err := a.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	cartID, err := a.Store.AdoptCart(ctx, u.ID, a.Sessions.GetInt64(ctx, sessCartID))
	if err != nil {
		return err
	}
	a.Sessions.Put(ctx, sessUserID, u.ID)
	a.Sessions.Put(ctx, sessCartID, cartID)
	c.Set(ctxUser, &u)
	return nil
}

func (a *App) signOut(c echo.Context) error {
	ctx := c.Request().Context()
	if err := a.signOutSession(ctx); err != nil {
		return err
	}
	a.flash(c, "You are signed out.")
	return c.Redirect(http.StatusSeeOther, "/")
}

// signOutSession drops everything the session held (the user's cart stays
// with the user for the next sign-in) and renews the token.
func (a *App) signOutSession(ctx context.Context) error {
	if err := a.Sessions.Clear(ctx); err != nil {
		return err
	}
	return a.Sessions.RenewToken(ctx)
}

func (a *App) passwordCost() int {
	if a.PasswordCost > 0 {
		return a.PasswordCost
	}
	return bcrypt.DefaultCost
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
