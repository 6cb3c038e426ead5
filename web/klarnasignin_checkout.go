package web

import (
	"context"
	"errors"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/klarna"
	"refshop/web/klarnasignin/grants"
	"refshop/web/market"
)

// checkoutNotice tells a signed-in customer whose grant of the session's
// market's region ended that signing in with Klarna again skips the Klarna
// login. It reads the database only.
func (f *klarnaSignInFlow) checkoutNotice(c echo.Context) (templ.Component, error) {
	u := currentUser(c)
	if u == nil {
		return nil, nil
	}
	st, err := f.region(f.a.market(c).KlarnaRegion).grants.Status(c.Request().Context(), u.ID)
	if err != nil || !st.Connected || !st.SignInAgain {
		return nil, err
	}
	return views.KlarnaSignInCheckoutNotice(), nil
}

// addAccessToken puts the signed-in customer's access token of region (the
// Klarna region of the order being paid: market.OrDefault(o.Market).
// KlarnaRegion) into a Klarna payments session request as
// customer.klarna_access_token (a refresh first when the stored one has
// expired), so the widget recognises the customer and skips its login. A
// grant from another region's issuer is never sent: Klarna's regions are
// separate, and the customer is then simply not connected in this one (no
// token, no notice). recognised is true only when Klarna confirmed the
// token for this session (its userinfo accepted it now): only then may the
// payment page say so. It never fails a checkout: without a token the
// widget asks the customer to log in. notice is what to show when Klarna
// ended the region's grant. It runs as provider work: ctx, not a request
// (requestID names the request in logs).
func (f *klarnaSignInFlow) addAccessToken(ctx context.Context, requestID string, userID int64, region market.Region, req *klarna.SessionRequest) (recognised bool, notice string) {
	kr, ok := f.regions[region]
	if !ok {
		f.a.Log.Warn("klarnasignin: no Sign in with Klarna in this Klarna region; the widget will ask the customer to log in",
			"request_id", requestID, "region", region)
		return false, ""
	}
	at, err := kr.grants.ConfirmedAccessToken(ctx, userID)
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
			"request_id", requestID, "user_id", userID, "region", region, "error", err)
	}
	return false, ""
}
