package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/altpay"
	"refshop/web/money"
)

// loadInvoiceOrder loads an order the current visitor owns that was paid by
// invoice, with its invoice (404 otherwise, as for any order page).
func (f *altpayFlow) loadInvoiceOrder(c echo.Context) (db.Order, db.AltpayInvoice, error) {
	a := f.a
	o, err := a.loadOrder(c, c.Param("id"))
	if err != nil {
		return o, db.AltpayInvoice{}, err
	}
	if o.Provider != db.ProviderAltpay {
		return o, db.AltpayInvoice{}, echo.ErrNotFound
	}
	inv, err := a.Store.AltpayInvoiceFor(c.Request().Context(), o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return o, inv, echo.ErrNotFound
	}
	return o, inv, err
}

// altpayElsewhere explains an invoice of another provider environment.
const altpayElsewhere = "This invoice was made in another Alternative Payments environment than the shop uses now, so it cannot be paid here."

// invoicePage shows the invoice page. ?callback=off runs the snippet
// without onAccessTokenExpired, to see AccessTokenExpiredError (README).
// While the provider has not confirmed the invoice, the order page says so.
func (f *altpayFlow) invoicePage(c echo.Context) error {
	a := f.a
	o, inv, err := f.loadInvoiceOrder(c)
	if err != nil {
		return err
	}
	if inv.InvoiceID == "" {
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	v := views.AltpayInvoiceView{
		OrderID: o.PublicID, InvoiceID: o.ProviderReference, Total: format(o.TotalAmount, o.Currency), Tax: format(o.TaxAmount, o.Currency), TaxLabel: taxLabel(o),
		Paid: o.Status == db.StatusCaptured, APIBaseURL: a.Config.Altpay.APIURL,
		TokenURL: "/api/altpay/invoices/" + o.PublicID + "/token", ConfirmURL: "/invoices/" + o.PublicID + "/confirm",
		Callback: c.QueryParam("callback") != "off",
	}
	switch {
	case o.Status == db.StatusCancelled || o.Status == db.StatusFailed:
		v.Notice = "This invoice is closed: there is nothing to pay. " + o.StatusDetail
	case inv.Environment != f.env():
		v.Notice = altpayElsewhere
	}
	v.Lines = orderLineViews(o)
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.AltpayInvoice(a.chrome(c, "Pay your invoice"), v))
}

// token mints a checkout token for the page (and for its
// onAccessTokenExpired). JSON errors: 401 when the invoice is a customer's
// and nobody is signed in, 403 when it is someone else's, 404 when there is
// no such invoice, 409 when it is paid or closed, not yet confirmed, or of
// another provider environment. A guest gets tokens for the invoices of their
// own session.
func (f *altpayFlow) token(c echo.Context) error {
	a := f.a
	ctx := c.Request().Context()
	o, err := a.Store.OrderByPublicID(ctx, c.Param("id"))
	if errors.Is(err, db.ErrNotFound) || (err == nil && o.Provider != db.ProviderAltpay) {
		return &UserError{Status: http.StatusNotFound, Title: "No such invoice", Message: "There is no invoice at this address."}
	}
	if err != nil {
		return err
	}
	u := currentUser(c)
	switch {
	case o.UserID != 0 && u == nil:
		return &UserError{Status: http.StatusUnauthorized, Title: "Signed out", Message: "You are signed out. Sign in again to pay this invoice."}
	case !a.canSee(c, o):
		return &UserError{Status: http.StatusForbidden, Title: "Not your invoice", Message: "This invoice belongs to another customer."}
	case o.Status != db.StatusPending:
		return &UserError{Status: http.StatusConflict, Title: "Nothing to pay", Message: "This invoice is paid or closed: there is nothing left to pay."}
	}
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return &UserError{Status: http.StatusNotFound, Title: "No such invoice", Message: "This order has no invoice."}
	case err != nil:
		return err
	case inv.InvoiceID == "":
		return &UserError{Status: http.StatusConflict, Title: "Not confirmed yet", Message: altpayConfirming}
	case inv.Environment != f.env():
		return &UserError{Status: http.StatusConflict, Title: "Another environment", Message: altpayElsewhere}
	}
	// Concurrent requests for one invoice share one token.
	tok, err := awaitProvider(a, c, workKey("altpay.token", o.ID), func(ctx context.Context) (altpay.CheckoutToken, error) {
		return f.client.CheckoutToken(ctx, inv.CustomerID, inv.InvoiceID)
	})
	switch {
	case errors.Is(err, errConfirming):
		return &UserError{Status: http.StatusServiceUnavailable, Title: "No payment session",
			Message: "Alternative Payments is not answering right now. Nothing was charged; please try again in a moment."}
	case err != nil:
		return altpayUserError(err, "No payment session")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"token": tok.Token.Reveal(), "expires_at": tok.ExpiresAt.Unix()})
}

// confirm asks the provider whether the invoice is paid and, only when
// it says PAID for the order's amount, marks the order paid.
func (f *altpayFlow) confirm(c echo.Context) error {
	a := f.a
	o, inv, err := f.loadInvoiceOrder(c)
	if err != nil {
		return err
	}
	if inv.InvoiceID == "" || inv.Environment != f.env() {
		return c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID) // which says why there is nothing to check
	}
	paid, err := f.syncWithin(c, o, inv)
	switch {
	case errors.Is(err, errConfirming):
		// The order page asks again, and says what the provider answered.
		a.flash(c, "Alternative Payments has not answered yet. This page shows your invoice as soon as it does.")
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case err != nil:
		var ue *UserError
		if errors.As(err, &ue) {
			return err // the shop's own sentence (the invoice is gone, or does not match)
		}
		// The customer may just have paid: never say nothing was charged on
		// no answer. The order page asks again and shows what the provider
		// says.
		a.Log.Warn("altpay: checking the invoice after payment", "order", o.PublicID, "error", err)
		a.flash(c, altpayUnchecked)
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	if !paid {
		a.flash(c, "Alternative Payments has not received a payment for this invoice yet.")
		return c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
	}
	// Thanked also when the order was already paid: the provider's webhook
	// (altpay_webhook.go) often settles it before the page confirms.
	a.flash(c, "Thank you: your invoice is paid.")
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// altpayUnchecked is what a customer reads when the provider could not say
// whether the invoice is paid.
const altpayUnchecked = "Alternative Payments did not answer, so the shop could not check your payment yet. " +
	"If you paid, do not pay again: this page shows the payment as soon as Alternative Payments confirms it."

// syncWithin is sync for a customer's request, within its deadline
// (awaitProvider): errConfirming when the provider has not answered by then;
// the sync goes on, and requests for the same attempt share it.
func (f *altpayFlow) syncWithin(c echo.Context, o db.Order, inv db.AltpayInvoice) (bool, error) {
	return awaitProvider(f.a, c, altpaySyncWork(o.ID), func(ctx context.Context) (bool, error) {
		return f.sync(ctx, o, inv)
	})
}

// errAltpayInvoiceGone is sync's answer for an invoice the provider no
// longer has: the attempt is closed, as failed.
var errAltpayInvoiceGone = &UserError{Status: http.StatusConflict, Title: "The invoice is gone",
	Message: altpayInvoiceGone + " You can check out again."}

// altpayInvoiceGone is the detail of such an attempt.
const altpayInvoiceGone = "Alternative Payments no longer has this invoice. Nothing was charged."

// sync reads a recorded invoice of the shop's environment from the provider,
// stores its status, and moves a pending order to captured (taking its items
// out of the cart) when the invoice is PAID. It reports whether the order is
// paid. An invoice the provider no longer has closes the attempt
// (errAltpayInvoiceGone).
func (f *altpayFlow) sync(ctx context.Context, o db.Order, inv db.AltpayInvoice) (bool, error) {
	a := f.a
	got, err := f.client.GetInvoice(ctx, inv.InvoiceID)
	if altpay.IsKind(err, altpay.KindNotFound) && o.Status == db.StatusPending {
		a.Log.Warn("altpay: the provider no longer has the invoice; the attempt is closed", "order", o.PublicID, "invoice", inv.InvoiceID)
		if err := a.Store.CloseAttempt(ctx, o.ID, db.StatusFailed, altpayInvoiceGone); err != nil && !errors.Is(err, db.ErrStale) {
			return false, err
		}
		return false, errAltpayInvoiceGone
	}
	if err != nil {
		return false, err
	}
	if err := a.Store.SetAltpayInvoiceStatus(ctx, o.ID, got.Status); err != nil {
		return false, err
	}
	if !got.Paid() {
		return o.Status == db.StatusCaptured, nil
	}
	want := money.Amount{Minor: o.TotalAmount, Currency: o.Currency}
	if got.TotalAmount() != want || got.CustomerID != inv.CustomerID {
		// Never expected: the invoice was made from this order. Refuse rather
		// than mark an order paid by a different amount.
		a.Log.Error("altpay: paid invoice does not match its order", "order", o.PublicID,
			"invoice_total", got.TotalAmount().Format(), "order_total", want.Format())
		return false, &UserError{Status: http.StatusConflict, Title: "Payment needs a look",
			Message: "The paid invoice does not match this order. Please contact us; nothing more will be charged."}
	}
	switch o.Status {
	case db.StatusPending:
		// Paid: the order's items leave the cart, and the cart's other open
		// attempts are closed, in the same transaction; then they are released.
		err := a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusCaptured, "Invoice "+got.InvoiceNumber+" paid")
		if err != nil && !errors.Is(err, db.ErrStale) { // stale: another request marked it first
			return false, err
		}
		if err == nil && o.CartID != 0 {
			a.releaseClosed(ctx, o.CartID)
		}
		if err == nil {
			f.logUnreported(ctx, o, inv.InvoiceID)
		}
	case db.StatusCancelled, db.StatusFailed:
		// Paid after the shop closed the attempt (with a checkout token minted
		// before): the provider cannot void an invoice, so a person refunds it.
		a.Log.Error("altpay: an invoice was paid after its attempt was closed; refund it at Alternative Payments",
			"order", o.PublicID, "invoice", inv.InvoiceID, "status", o.Status)
		return false, &UserError{Status: http.StatusConflict, Title: "This invoice was closed",
			Message: "This invoice was closed before it was paid. Please contact us: we will refund the payment."}
	}
	return true, nil
}
