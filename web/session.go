package web

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/labstack/echo/v4"

	"refshop/db"
)

// Session keys.
const (
	sessUserID  = "user_id"
	sessCartID  = "cart_id"
	sessGuestID = "guest_id" // names a guest's orders
	sessFlash   = "flash"
)

const ctxUser = "user"

// loadUser puts the signed-in user, if any, on the context. A session naming a
// user who no longer exists is signed out.
func (a *App) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if id := a.Sessions.GetInt64(ctx, sessUserID); id != 0 {
			u, err := a.Store.UserByID(ctx, id)
			switch {
			case errors.Is(err, db.ErrNotFound):
				a.Sessions.Remove(ctx, sessUserID)
				a.Sessions.Remove(ctx, sessCartID)
			case err != nil:
				return err
			default:
				c.Set(ctxUser, &u)
			}
		}
		return next(c)
	}
}

// currentUser is the signed-in user, or nil.
func currentUser(c echo.Context) *db.User {
	u, _ := c.Get(ctxUser).(*db.User)
	return u
}

// requireUser returns the signed-in user or redirects to sign-in.
func (a *App) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) == nil {
			return c.Redirect(303, "/signin?next="+safeNext(c.Request().URL.RequestURI()))
		}
		return next(c)
	}
}

// cartID returns the session's cart, creating one when create is set and the
// session has none (or names one that is gone). 0 means no cart.
func (a *App) cartID(c echo.Context, create bool) (int64, error) {
	ctx := c.Request().Context()
	id := a.Sessions.GetInt64(ctx, sessCartID)
	if id != 0 {
		ok, err := a.Store.CartExists(ctx, id)
		if err != nil {
			return 0, err
		}
		if ok {
			return id, nil
		}
	}
	if u := currentUser(c); u != nil {
		// A signed-in user's cart is theirs on every device.
		id, err := a.Store.AdoptCart(ctx, u.ID, 0)
		if err != nil {
			return 0, err
		}
		a.Sessions.Put(ctx, sessCartID, id)
		return id, nil
	}
	if !create {
		return 0, nil
	}
	id, err := a.Store.NewCart(ctx)
	if err != nil {
		return 0, err
	}
	a.Sessions.Put(ctx, sessCartID, id)
	return id, nil
}

// guestID names this guest session's orders, made on first use.
func (a *App) guestID(ctx context.Context) string {
	id := a.Sessions.GetString(ctx, sessGuestID)
	if id == "" {
		id = rand.Text()
		a.Sessions.Put(ctx, sessGuestID, id)
	}
	return id
}

// owner returns who an order placed now belongs to: the user, or the guest session.
func (a *App) owner(c echo.Context) (userID int64, guestID string) {
	if u := currentUser(c); u != nil {
		return u.ID, ""
	}
	return 0, a.guestID(c.Request().Context())
}

// canSee reports whether the current user or guest session owns o.
func (a *App) canSee(c echo.Context, o db.Order) bool {
	var uid int64
	if u := currentUser(c); u != nil {
		uid = u.ID
	}
	return o.OwnedBy(uid, a.Sessions.GetString(c.Request().Context(), sessGuestID))
}

// flash stores a one-time notice for the next page.
func (a *App) flash(c echo.Context, msg string) {
	a.Sessions.Put(c.Request().Context(), sessFlash, msg)
}
