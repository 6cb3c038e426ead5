package web

// Pay by invoice with Alternative Payments.
//
//  1. Checkout, "Pay by invoice" (POST /checkout/altpay): the shop places a
//     pending order, creates (once per user or guest session) the provider
//     customer and an invoice for the order, stores both ids, and sends the
//     customer to the invoice page.
//  2. The invoice page (GET /invoices/:id) loads static/js/altpay-invoice.js,
//     which asks the shop for a checkout token (POST
//     /api/altpay/invoices/:id/token), then calls the provider's checkout API
//     from the browser with static/js/altpay-checkout.js: the invoice, the
//     saved payment methods, adding one, paying. When the token expires the
//     snippet's onAccessTokenExpired asks the same endpoint again.
//  3. After paying, the page submits POST /invoices/:id/confirm: the shop asks
//     the provider for the invoice and marks the order paid only when the
//     provider says PAID. The browser's word is never taken.
//
// The OAuth client credentials and the OAuth token stay in web/altpay on the
// server; only the checkout JWT, scoped to one customer and one invoice,
// reaches the browser.

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/altpay"
)

const (
	altpayDueIn   = 14 * 24 * time.Hour // invoices are due two weeks after the order
	altpayFormKey = "altpay_form"       // a refused checkout form, for the method to show again
)

// altpayFlow is pay by invoice with Alternative Payments.
type altpayFlow struct {
	a      *App
	client *altpay.Client
}

// newAltpayFlow builds the flow with the one shared client (Deps.Altpay): one
// OAuth token for the whole process.
func newAltpayFlow(a *App) *altpayFlow { return &altpayFlow{a: a, client: a.Altpay} }

// checkoutMethod renders the checkout option, with what a refused submission
// typed and why it was refused.
func (f *altpayFlow) checkoutMethod(c echo.Context, _ pricedCart) (templ.Component, error) {
	v, _ := c.Get(altpayFormKey).(views.AltpayMethodView)
	v.Guest = currentUser(c) == nil
	return views.AltpayMethod(v), nil
}

// checkout places the order and its invoice, then shows the invoice page.
func (f *altpayFlow) checkout(c echo.Context) error {
	a := f.a
	ctx := c.Request().Context()
	email, name := "", ""
	if u := currentUser(c); u != nil {
		email, name = u.Email, u.Name
	} else {
		v := views.AltpayMethodView{Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")), Errors: views.FormErrors{}}
		if addr, err := mail.ParseAddress(v.Email); err != nil || addr.Address != v.Email {
			v.Errors["email"] = "Enter the email address the invoice should go to, like name@example.com."
		}
		if v.Name == "" {
			v.Errors["name"] = "Enter the name the invoice is addressed to."
		}
		if len(v.Errors) > 0 {
			v.Errors[""] = "Please check the invoice details below."
			return a.checkoutAgain(c, http.StatusUnprocessableEntity, altpayFormKey, v)
		}
		email, name = v.Email, v.Name
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}

	uid, gid := a.owner(c)
	cust, err := f.customer(ctx, uid, gid, email, name)
	if err != nil {
		return altpayUserError(err, "The invoice could not be created")
	}
	o, reused, err := a.placeOrder(c, db.ProviderAltpay)
	if err == nil && reused {
		if done, err := f.resume(c, o, cust); done {
			return err
		}
		o, _, err = a.placeOrder(c, db.ProviderAltpay)
	}
	if err != nil {
		return err
	}
	inv, err := f.client.CreateInvoice(ctx, altpayInvoiceFor(o, cust, a.Clock.Now()), "invoice-"+o.IdempotencyKey)
	if err != nil {
		return f.checkoutFailed(ctx, o, err)
	}
	if err := a.Store.SaveAltpayInvoice(ctx, db.AltpayInvoice{OrderID: o.ID, CustomerID: cust, InvoiceID: inv.ID, Status: inv.Status}); err != nil {
		// The provider has an invoice the shop has no record of: the order
		// cannot be paid through the shop, so it must not wait as pending.
		// Support can archive the invoice at the provider.
		a.Log.Error("altpay: the invoice was created but could not be recorded; archive it at the provider",
			"order", o.PublicID, "invoice", inv.ID, "error", err)
		_ = a.failOrder(ctx, o, "The invoice could not be created.")
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
}

// customer returns the provider customer of the user (or guest
// session), creating it the first time. The external id is stored before the
// provider call, so a retry after a lost answer finds the customer made by
// the first try instead of making a second one.
func (f *altpayFlow) customer(ctx context.Context, uid int64, gid, email, name string) (string, error) {
	a := f.a
	row, err := a.Store.ReserveAltpayCustomer(ctx, uid, gid)
	if err != nil || row.CustomerID != "" {
		return row.CustomerID, err
	}
	cu, err := f.client.EnsureCustomer(ctx, altpay.NewCustomer{Email: email, ExternalID: row.ExternalID, Name: name})
	if err != nil {
		return "", err
	}
	if err := a.Store.SetAltpayCustomerID(ctx, row.ExternalID, cu.ID); err != nil {
		if errors.Is(err, db.ErrStale) { // another request stored it first: use theirs
			row, err = a.Store.AltpayCustomerFor(ctx, uid, gid)
			return row.CustomerID, err
		}
		return "", err
	}
	return cu.ID, nil
}

// altpayInvoiceFor is the invoice for an order: one line per order line at
// its tax-included unit price, due two weeks from now, in the order's
// currency. Alternative Payments documents USD as the only invoice currency;
// the shop's orders are in EUR, which the sandbox accepts, until the markets
// work picks the currency per market (package web/altpay, "Money and
// currency").
func altpayInvoiceFor(o db.Order, customerID string, now time.Time) altpay.NewInvoice {
	n := altpay.NewInvoice{
		Currency: o.Currency, CustomerID: customerID, DueDate: now.Add(altpayDueIn).UTC().Format(time.DateOnly),
		Memo: "Refshop order " + o.PublicID,
	}
	for _, l := range o.Lines {
		n.LineItems = append(n.LineItems, altpay.LineItem{Description: l.Name, Quantity: l.Quantity, Amount: altpay.Decimal(l.UnitPrice)})
	}
	return n
}

// checkoutFailed marks the order failed (it has no invoice and never
// will) and tells the customer; the cart is untouched.
func (f *altpayFlow) checkoutFailed(ctx context.Context, o db.Order, cause error) error {
	a := f.a
	_ = a.failOrder(ctx, o, "The invoice could not be created.") // logged there; the customer's error is the provider's
	return altpayUserError(cause, "The invoice could not be created")
}

// altpayUserError turns a provider error into what the customer reads: fixed
// sentences only. The provider's own message (for developers, perhaps naming
// other records) stays in err, which the central error handler logs.
func altpayUserError(err error, title string) error {
	if _, ok := err.(*UserError); ok {
		return err // a sentence of the shop's own already
	}
	ue := &UserError{Status: http.StatusBadGateway, Title: title, Err: err,
		Message: "Alternative Payments did not answer. Nothing was charged and your cart is kept; please try again in a moment."}
	var e *altpay.Error
	if !errors.As(err, &e) {
		return ue
	}
	switch {
	case e.Kind == altpay.KindAuth: // the shop's credentials: 401, or 403 "Invalid credentials"
		ue.Message = "Pay by invoice is not available right now. Nothing was charged and your cart is kept; please choose another payment method."
	case e.Status >= 400 && e.Status < 500:
		ue.Message = "Alternative Payments could not accept this request. Nothing was charged and your cart is kept; please try again, or choose another payment method."
		ue.Reference = e.RequestID
	default: // a 5xx, or no answer (then there is no request id)
		ue.Reference = e.RequestID
	}
	return ue
}
