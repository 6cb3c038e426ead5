package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/vipps"
)

// resume answers a second Vipps MobilePay submit for the cart's open attempt
// o: Vipps is asked where its payment stands, and the customer goes back to
// its landing page while it waits for them, or to the order page. done is
// false when the caller must go on: the attempt ended (rejected, expired) or
// was left by a crash before anything reached Vipps, and is closed, so
// placeOrder starts a new one; or Vipps has not answered for its payment
// yet, and placeOrder hands back the same attempt to create it again with
// its stored key.
func (f *vippsFlow) resume(c echo.Context, o db.Order) (done bool, err error) {
	a, ctx := f.a, c.Request().Context()
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound) && !a.startStalled(o):
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID) // the first submit is still starting it
	case errors.Is(err, db.ErrNotFound):
		// The reference and keys are stored before the first call to Vipps:
		// without them, nothing reached Vipps.
		err := a.Store.CloseAttempt(ctx, o.ID, db.StatusFailed, "The payment could not be started. Nothing was charged.")
		if err != nil && !errors.Is(err, db.ErrStale) {
			return true, err
		}
		return false, nil
	case err != nil:
		return true, err
	case vp.Environment != f.env():
		// Made at another Vipps API, which this shop no longer asks: a new
		// attempt here.
		err := a.Store.CloseAttempt(ctx, o.ID, db.StatusCancelled, vippsElsewhere)
		if err != nil && !errors.Is(err, db.ErrStale) {
			return true, err
		}
		return false, nil
	case vp.State == "":
		// Vipps has not answered for this payment yet: the first submit is
		// still asking, or its answers were lost. The caller goes on with
		// this attempt, whose stored create key makes Vipps hand back the
		// same payment (and joins the first submit's call while it runs).
		return false, nil
	}
	if settled, err := f.settleWithin(c, o); err == nil {
		o = settled
	}
	if o.Status == db.StatusCancelled || o.Status == db.StatusFailed {
		return false, nil
	}
	if vp, err = a.Store.VippsPaymentByOrder(ctx, o.ID); err != nil {
		return true, err
	}
	if o.Status == db.StatusPending && vp.RedirectURL != "" && landingAllowed(vp.RedirectURL, a.Config.Vipps) {
		return true, c.Redirect(http.StatusSeeOther, vp.RedirectURL)
	}
	return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// release cancels a closed attempt's payment with its stored cancel key, so
// a landing page still open cannot approve it and a reservation is given
// back. A payment Vipps will not cancel is over already, or was captured:
// Vipps is asked which, and a captured one is logged for a refund.
func (f *vippsFlow) release(ctx context.Context, o db.Order) error {
	a := f.a
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil // nothing was sent to Vipps
	}
	if err != nil {
		return err
	}
	switch vp.State {
	case vipps.StateAborted, vipps.StateExpired, vipps.StateTerminated:
		return nil
	}
	if vp.Environment != f.env() {
		// Its API is not the one configured: it cannot be asked. A payment
		// nobody approves expires there by itself.
		a.Log.Warn("vipps: a closed attempt's payment was made at another Vipps API; not released from here",
			"order", o.PublicID, "reference", vp.Reference)
		return nil
	}
	m, err := f.client.Cancel(ctx, vp.Reference, vp.CancelKey)
	switch {
	case err == nil:
		return f.record(ctx, o.ID, m.State, m.PSPReference, m.Aggregate)
	case vipps.IsKind(err, vipps.KindNotFound):
		if vp.State == "" && a.Clock.Now().Before(vp.SettleAfter) {
			return err // the create may still reach Vipps
		}
		return nil
	case !vippsRefused(err):
		return err
	}
	p, err := f.client.GetPayment(ctx, vp.Reference)
	if err != nil {
		return err
	}
	if err := f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate); err != nil {
		return err
	}
	if p.Aggregate.CapturedAmount.Value > 0 {
		a.Log.Error("vipps: a closed attempt's payment was captured; refund it at Vipps MobilePay",
			"order", o.PublicID, "reference", vp.Reference, "captured", p.Aggregate.CapturedAmount.Value)
	}
	return nil
}
