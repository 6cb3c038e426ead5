package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
)

// resume answers a second "Pay by invoice" for the cart's open attempt o,
// for payer: the provider is asked about its invoice, and the customer goes
// back to the invoice page (or to the order page once it is paid, or while
// the provider has not answered for it). A submit while this process is
// still asking for the invoice joins that work; an invoice that was never
// confirmed is asked for again with the same request. done is false when the
// attempt cannot go on: its invoice is addressed to other details, belongs
// to another provider environment or is gone at the provider, or a crash
// left the attempt before it recorded its request. It is then closed, and
// the caller makes a new attempt.
func (f *altpayFlow) resume(c echo.Context, o db.Order, payer db.AltpayPayer) (done bool, err error) {
	a, ctx := f.a, c.Request().Context()
	if a.providerWorkRunning(altpayInvoiceWork(o.ID)) {
		return true, f.ask(c, o, payer)
	}
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound) && !a.startStalled(o):
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID) // another process may still be asking
	case errors.Is(err, db.ErrNotFound):
		return f.replace(ctx, o, db.StatusFailed, altpayNotCreated) // the request is recorded before the provider is asked
	case err != nil:
		return true, err
	case inv.Environment != f.env():
		return f.replace(ctx, o, db.StatusCancelled, "Replaced: this invoice was made in another Alternative Payments environment. Nothing was charged for it.")
	}
	row, err := a.Store.AltpayCustomerFor(ctx, payer)
	switch {
	case errors.Is(err, db.ErrNotFound) || (err == nil && row.CustomerID != inv.CustomerID):
		return f.replace(ctx, o, db.StatusCancelled, "Replaced by a new invoice to other details. Nothing was charged for this one.")
	case err != nil:
		return true, err
	case inv.InvoiceID == "" && a.Clock.Now().Before(inv.SettleAfter):
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case inv.InvoiceID == "":
		return true, f.ask(c, o, payer)
	}
	paid, err := f.syncWithin(c, o, inv)
	switch {
	case errors.Is(err, errAltpayInvoiceGone):
		return false, nil
	case errors.Is(err, errConfirming):
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID) // it asks again
	case err != nil:
		return true, altpayUserError(err, "The invoice could not be checked")
	case paid:
		return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	return true, c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
}

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
