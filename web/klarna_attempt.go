package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/klarna"
)

// resume answers a second "Klarna" submit for the cart's open attempt o:
// Klarna is asked about its session (within the request's deadline), and
// the customer goes back to its pay page while the session is open, or to
// the order page when an order was placed from it. A submit while this
// process is still opening the session joins that work. done is false when
// the attempt cannot go on and is closed, so the caller starts a new one:
// its session ended at Klarna (48 hours, on Klarna's clock), or it has no
// session recorded and was left by a crash.
func (k *klarnaFlow) resume(c echo.Context, o db.Order) (done bool, err error) {
	ctx := c.Request().Context()
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	switch {
	case err == nil && kp.Submitted():
		// Its order request was sent: Klarna may hold the order, and the
		// attempt cannot be closed (db's closable). Its page says how it
		// stands; no second payment starts for the cart.
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case err == nil && k.elsewhere(o, kp):
		// Made at another Klarna API, which this shop does not ask: a new
		// attempt here.
		err := k.a.Store.CloseAttempt(ctx, o.ID, db.StatusCancelled, klarnaElsewhere)
		if err != nil && !errors.Is(err, db.ErrStale) {
			return true, err
		}
		return false, nil
	case err == nil && kp.Kind == db.KlarnaWidget:
		st, rerr := awaitProvider(k.a, c, workKey("klarna.read_session", o.ID), func(ctx context.Context) (klarna.SessionState, error) {
			return k.in(o).client.ReadSession(ctx, kp.SessionID)
		})
		switch {
		case rerr == nil && st.Status == klarna.SessionComplete:
			// Placed from this session: the sweep records the order.
			return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
		case klarna.StatusOf(rerr) == http.StatusNotFound:
			err := k.a.Store.CloseAttempt(ctx, o.ID, db.StatusCancelled, "The Klarna session expired.")
			if err != nil && !errors.Is(err, db.ErrStale) {
				return true, err
			}
			return false, nil
		}
		// Open, or Klarna could not be asked: the pay page's own checks apply.
		return true, c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
	case err != nil && !errors.Is(err, db.ErrNotFound):
		return true, err
	case k.a.providerWorkRunning(klarnaSessionWork(o.ID)) || k.starting.has(o.ID):
		// This process is opening its session, or about to (the request
		// that made the attempt has not started its work yet): join it.
		return true, k.openSession(c, o, nil, "", "")
	}
	// The work may have ended (its session stored) between the read above
	// and the check of the work: read again before taking it for a crash.
	if _, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID); err == nil {
		return true, c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
	} else if !errors.Is(err, db.ErrNotFound) {
		return true, err
	}
	// No session and nobody here opening one: the request that began it
	// died (a crash, a restart). A Klarna session holds no money, so the
	// attempt is replaced at once rather than after a wait; a session another
	// process may still open for it is never used (authorize refuses a
	// closed attempt).
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
