package web

import (
	"errors"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
)

// refresh settles a pending invoice order when its page is viewed: a
// customer who paid and closed the tab before the page confirmed finds the
// order paid, and an invoice whose creation got no answer is asked for again
// (reconcile). When the provider cannot be asked, the page shows what the
// shop knows.
func (f *altpayFlow) refresh(c echo.Context, o db.Order) (db.Order, error) {
	a := f.a
	if o.Status != db.StatusPending {
		return o, nil
	}
	ctx := c.Request().Context()
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound) || (err == nil && inv.Environment != f.env()):
		return o, nil
	case err != nil:
		return o, err
	case inv.InvoiceID == "" && a.Clock.Now().Before(inv.SettleAfter):
		return o, nil // the request that asked may still be waiting for the answer
	case inv.InvoiceID == "":
		err = f.reconcile(ctx, o, inv)
	default:
		_, err = f.sync(ctx, o, inv)
	}
	if err != nil {
		a.Log.Warn("altpay: checking the invoice on view", "order", o.PublicID, "error", err)
	}
	return a.Store.OrderByPublicID(ctx, o.PublicID)
}

// orderPart adds the invoice to the order page of an invoice order.
func (f *altpayFlow) orderPart(c echo.Context, o db.Order) (orderPart, error) {
	inv, err := f.a.Store.AltpayInvoiceFor(c.Request().Context(), o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return orderPart{}, nil
	}
	if err != nil {
		return orderPart{}, err
	}
	v := views.AltpayOrderView{OrderID: o.PublicID, InvoiceID: inv.InvoiceID, Status: inv.Status}
	switch {
	case inv.Environment != f.env():
		v.Notice = altpayElsewhere
	case o.Status == db.StatusPending && inv.InvoiceID == "":
		v.Notice = altpayConfirming
	default:
		v.Pending = o.Status == db.StatusPending
	}
	return orderPart{Details: []templ.Component{views.AltpayOrderDetails(v)}, Actions: []templ.Component{views.AltpayOrderActions(v)}}, nil
}
