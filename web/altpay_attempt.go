package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/altpay"
)

// resume answers a second "Pay by invoice" for the cart's open attempt o:
// the provider is asked about its invoice, and the customer goes back to the
// invoice page (or to the order page once it is paid). done is false when
// the attempt cannot go on: its invoice is addressed to another customer
// than the one just typed, the provider no longer has it, or a crash left it
// with none. It is then closed, and the caller makes a new attempt.
func (f *altpayFlow) resume(c echo.Context, o db.Order, customerID string) (done bool, err error) {
	a, ctx := f.a, c.Request().Context()
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound) && !a.startStalled(o):
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID) // the first submit is still making it
	case errors.Is(err, db.ErrNotFound):
		return f.replace(ctx, o, db.StatusFailed, "The invoice could not be created. Nothing was charged.")
	case err != nil:
		return true, err
	case inv.CustomerID != customerID:
		return f.replace(ctx, o, db.StatusCancelled, "Replaced by a new invoice to other details. Nothing was charged for this one.")
	}
	paid, err := f.sync(ctx, o, inv)
	switch {
	case altpay.IsKind(err, altpay.KindNotFound):
		return f.replace(ctx, o, db.StatusFailed, altpayInvoiceGone)
	case err != nil:
		return true, altpayUserError(err, "The invoice could not be checked")
	case paid:
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	return true, c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
}

// altpayInvoiceGone is the detail of an attempt whose invoice the provider
// no longer has.
const altpayInvoiceGone = "Alternative Payments no longer has this invoice. Nothing was charged."

// replace closes attempt o so that the caller can make a new one.
func (f *altpayFlow) replace(ctx context.Context, o db.Order, status db.Status, detail string) (done bool, err error) {
	if err := f.a.Store.CloseAttempt(ctx, o.ID, status, detail); err != nil && !errors.Is(err, db.ErrStale) {
		return true, err
	}
	return false, nil
}

// release has nothing to free at the provider: Alternative Payments'
// documented API cannot void or archive an invoice (only customers can be
// archived). The shop refuses checkout tokens and confirmation for a closed
// attempt, shows it closed, and logs an invoice paid after it was closed
// for a refund (sync).
func (f *altpayFlow) release(context.Context, db.Order) error { return nil }
