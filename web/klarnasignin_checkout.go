package web

import (
	"context"
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

// addAccessToken puts the signed-in customer's access token into a Klarna
// payments session request as customer.klarna_access_token (a refresh first
// when the stored one has expired), so the widget recognises the customer
// and skips its login. recognised is true only when Klarna confirmed the
// token for this session (its userinfo accepted it now): only then may the
// payment page say so. It never fails a checkout: without a token the
// widget asks the customer to log in. notice is what to show when Klarna
// ended the grant. It runs as provider work: ctx, not a request
// (requestID names the request in logs).
func (f *klarnaSignInFlow) addAccessToken(ctx context.Context, requestID string, userID int64, req *klarna.SessionRequest) (recognised bool, notice string) {
	at, err := f.grants.ConfirmedAccessToken(ctx, userID)
	switch {
	case err == nil, errors.Is(err, grants.ErrUnconfirmed) && !at.IsZero():
		if req.Customer == nil {
			req.Customer = &klarna.Customer{}
		}
		req.Customer.KlarnaAccessToken = at
		return err == nil, ""
	case errors.Is(err, grants.ErrSignInAgain):
		return false, views.KlarnaSignInAgain
	case errors.Is(err, grants.ErrNotConnected):
	default:
		f.a.Log.Warn("klarnasignin: no access token for this checkout; the widget will ask the customer to log in",
			"request_id", requestID, "user_id", userID, "error", err)
	}
	return false, ""
}
