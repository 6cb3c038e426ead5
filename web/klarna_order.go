package web

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/market"
)

// klarnaElsewhere explains an attempt made at another Klarna environment (a
// switch between the sandbox and a real API on one data dir).
const klarnaElsewhere = "This payment was started in another Klarna environment than the shop uses now, so the shop does not ask Klarna about it here."

// refresh leaves an attempt as it is: the shop learns of a Klarna order
// when it places it, and an attempt whose outcome is unknown is settled by
// the sweep (klarnaFlow.settle), not by page views, which would each spend a
// create-order call. An order under Klarna's fraud review asks Order
// Management now and then (recheckFraud), in case its notification went
// missing.
func (k *klarnaFlow) refresh(c echo.Context, o db.Order) (db.Order, error) {
	return k.recheckFraud(c, o)
}

// orderPart adds how the order was paid and the next step: back to the
// widget, or, for a paid order of a customer linked in its Klarna region,
// buy again.
func (k *klarnaFlow) orderPart(c echo.Context, o db.Order) (orderPart, error) {
	ctx := c.Request().Context()
	here := "/orders/" + o.PublicID
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		// Klarna has not answered for the session yet (here, or in another
		// process while the attempt is young): say so, and check again soon.
		if o.Status == db.StatusPending && (k.a.providerWorkRunning(klarnaSessionWork(o.ID)) || !k.a.startStalled(o)) {
			keepChecking(c)
			return orderPart{Actions: []templ.Component{views.KlarnaStarting(here)}}, nil
		}
		return orderPart{}, nil
	}
	if err != nil {
		return orderPart{}, err
	}
	var p orderPart
	v := views.KlarnaOrderView{Legacy: kp.Kind == db.KlarnaCustomerToken, Pending: o.Status == db.StatusPending,
		SourceOrderID: kp.SourceOrder, Reference: kp.CorrelationID}
	elsewhere := k.elsewhere(o, kp)
	if elsewhere {
		v.Notice = klarnaElsewhere
	}
	p.Details = append(p.Details, views.KlarnaOrderDetails(v))
	switch {
	case o.Status == db.StatusPending && elsewhere:
		// Nothing to continue or confirm here: a new checkout replaces it.
	case o.Status == db.StatusPending && (k.a.providerWorkRunning(klarnaOrderWork(o.ID)) || (kp.Kind == db.KlarnaWidget && kp.Submitted())):
		// The order is at Klarna, or its outcome is being settled: no way to
		// pay again, and the page checks again by itself.
		keepChecking(c)
		p.Actions = append(p.Actions, views.KlarnaConfirming(here))
	case o.Status == db.StatusPending && kp.Kind == db.KlarnaWidget:
		p.Actions = append(p.Actions, views.KlarnaContinue("/checkout/klarna/"+o.PublicID))
	case o.Status == db.StatusPending && kp.Kind == db.KlarnaCustomerToken:
		// An old server-to-server "Buy again" left open: a person settles
		// it (settleLegacyBuyAgain); nothing here may send it again.
	case (o.Status == db.StatusAuthorized || o.Status == db.StatusCaptured) && o.UserID != 0:
		u := currentUser(c)
		if u == nil || u.ID != o.UserID {
			break
		}
		st, err := k.in(o).links.Status(ctx, u.ID)
		if err != nil {
			return orderPart{}, err
		}
		if st.Linked {
			p.Actions = append(p.Actions, views.KlarnaBuyAgain(o.PublicID, rand.Text()))
		}
	}
	return p, nil
}

// browserRefs: the sandbox links the widget's calls to the payment session.
func (k *klarnaFlow) browserRefs(ctx context.Context, o db.Order) ([]string, bool, error) {
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, k.a.inSandbox(k.regionOf(market.OrDefault(o.Market)).env), nil
	}
	if err != nil || kp.SessionID == "" {
		return nil, k.a.inSandbox(kp.Environment), err
	}
	return []string{kp.SessionID}, k.a.inSandbox(kp.Environment), nil
}
