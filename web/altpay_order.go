package web

import (
	"context"
	"errors"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
)

// refresh settles a pending invoice order when its page is viewed: a
// customer who paid and closed the tab before the page confirmed finds the
// order paid, and an invoice whose creation got no answer is asked for again
// (reconcile), within the request's deadline. Nothing is asked while this
// process is still asking for the invoice, nor within altpayRecheckAfter of
// the last view that asked. When the provider cannot be asked, or has not
// answered by the deadline, the page shows what the shop knows.
func (f *altpayFlow) refresh(c echo.Context, o db.Order) (db.Order, error) {
	a := f.a
	if o.Status != db.StatusPending || a.providerWorkRunning(altpayInvoiceWork(o.ID)) {
		return o, nil
	}
	if recent, _ := f.asked.recently(o.ID); recent {
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
		f.asked.mark(o.ID, false)
		_, err = awaitProvider(a, c, altpayInvoiceWork(o.ID), func(ctx context.Context) (struct{}, error) {
			return struct{}{}, f.reconcile(ctx, o, inv)
		})
	default:
		f.asked.mark(o.ID, false)
		_, err = f.syncWithin(c, o, inv)
	}
	if err != nil && !errors.Is(err, errConfirming) {
		a.Log.Warn("altpay: checking the invoice on view", "order", o.PublicID, "error", err)
	}
	return a.Store.OrderByPublicID(ctx, o.PublicID)
}

// orderPart adds the invoice to the order page of an invoice order. While
// the provider has not answered for a pending attempt's invoice, or the shop
// is still asking, it says so and the page checks again by itself.
func (f *altpayFlow) orderPart(c echo.Context, o db.Order) (orderPart, error) {
	a := f.a
	inv, err := a.Store.AltpayInvoiceFor(c.Request().Context(), o.ID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return orderPart{}, err
	}
	recorded := err == nil // the invoice request
	v := views.AltpayOrderView{OrderID: o.PublicID, InvoiceID: inv.InvoiceID, Status: inv.Status}
	asking := a.providerWorkRunning(altpayInvoiceWork(o.ID)) || (recorded && inv.InvoiceID == "") ||
		(!recorded && !a.startStalled(o))
	switch {
	case recorded && inv.Environment != f.env():
		v.Notice = altpayElsewhere
	case o.Status == db.StatusPending && asking:
		v.Confirming = altpayConfirming
		keepChecking(c)
	case !recorded:
		return orderPart{}, nil
	default:
		v.Pending = o.Status == db.StatusPending
	}
	return orderPart{Details: []templ.Component{views.AltpayOrderDetails(v)}, Actions: []templ.Component{views.AltpayOrderActions(v)}}, nil
}

// browserRefs: the sandbox links the snippet's calls to the invoice its
// checkout token was issued for.
func (f *altpayFlow) browserRefs(ctx context.Context, o db.Order) ([]string, bool, error) {
	inv, err := f.a.Store.AltpayInvoiceFor(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, f.a.inSandbox(f.env()), nil
	}
	if err != nil || inv.InvoiceID == "" {
		return nil, f.a.inSandbox(inv.Environment), err
	}
	return []string{inv.InvoiceID}, f.a.inSandbox(inv.Environment), nil
}
