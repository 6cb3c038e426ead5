package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
)

// resume answers a second "Klarna" submit for the cart's open attempt o:
// back to its pay page, whose own checks end an expired session. done is
// false when o has no Klarna session recorded and was left by a crash: it is
// closed, and the caller starts a new attempt.
func (k *klarnaFlow) resume(c echo.Context, o db.Order) (done bool, err error) {
	ctx := c.Request().Context()
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	switch {
	case err == nil && kp.Kind == db.KlarnaWidget:
		return true, c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
	case err != nil && !errors.Is(err, db.ErrNotFound):
		return true, err
	case !k.a.startStalled(o):
		// The first submit may still be opening the session.
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	err = k.a.Store.CloseAttempt(ctx, o.ID, db.StatusFailed, "Klarna could not start the payment. Nothing was charged.")
	if err != nil && !errors.Is(err, db.ErrStale) {
		return true, err
	}
	return false, nil
}

// release has nothing to free at Klarna: the Payments API cannot close a
// session (it expires after 48 hours), no money moves before the shop places
// the order, and the shop refuses to place one for a closed attempt.
func (k *klarnaFlow) release(context.Context, db.Order) error { return nil }
