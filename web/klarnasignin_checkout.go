package web

import (
	"errors"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/klarna"
	"refshop/web/klarnasignin/grants"
)

// checkoutNotice tells a signed-in customer whose grant ended that signing in
// with Klarna again skips the Klarna login. It reads the database only.
func (f *klarnaSignInFlow) checkoutNotice(c echo.Context) (templ.Component, error) {
	u := currentUser(c)
	if u == nil {
		return nil, nil
	}
	st, err := f.grants.Status(c.Request().Context(), u.ID)
	if err != nil || !st.Connected || !st.SignInAgain {
		return nil, err
	}
	return views.KlarnaSignInCheckoutNotice(), nil
}

// addAccessToken puts the signed-in customer's fresh access token into a
// Klarna payments session request as customer.klarna_access_token (a refresh
// first when the stored one has expired), so the widget recognises the
// customer and skips its login. It never fails a checkout: without a token
// the widget asks the customer to log in. It returns the notice to show when
// Klarna ended the grant.
func (f *klarnaSignInFlow) addAccessToken(c echo.Context, userID int64, req *klarna.SessionRequest) (notice string) {
	at, err := f.grants.AccessToken(c.Request().Context(), userID)
	switch {
	case err == nil:
		if req.Customer == nil {
			req.Customer = &klarna.Customer{}
		}
		req.Customer.KlarnaAccessToken = at
	case errors.Is(err, grants.ErrSignInAgain):
		return views.KlarnaSignInAgain
	case errors.Is(err, grants.ErrNotConnected):
	default:
		f.a.Log.Warn("klarnasignin: no access token for this checkout; the widget will ask the customer to log in",
			"request_id", requestID(c), "user_id", userID, "error", err)
	}
	return ""
}

// live reports whether the account has a Sign in with Klarna grant Klarna
// has not ended (the payment page says the customer will be recognised).
func (f *klarnaSignInFlow) live(c echo.Context, userID int64) bool {
	st, err := f.grants.Status(c.Request().Context(), userID)
	return err == nil && st.Connected && !st.SignInAgain
}
