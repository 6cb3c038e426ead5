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
	"refshop/web/money"
)

const (
	altpayProvider = "altpay"
	altpayDueIn    = 14 * 24 * time.Hour // invoices are due two weeks after the order
	altpayFormKey  = "altpay_form"       // a refused checkout form, for the method to show again
)

// altpayMethod renders the checkout option, with what a refused submission
// typed and why it was refused.
func (a *App) altpayMethod(c echo.Context, _ pricedCart) (templ.Component, error) {
	v, _ := c.Get(altpayFormKey).(views.AltpayMethodView)
	v.Guest = currentUser(c) == nil
	return views.AltpayMethod(v), nil
}

// altpayCheckout places the order and its invoice, then shows the invoice page.
func (a *App) altpayCheckout(c echo.Context) error {
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

	o, err := a.placeOrder(c, altpayProvider)
	if err != nil {
		return err
	}
	uid, gid := a.owner(c)
	cust, err := a.altpayCustomer(ctx, uid, gid, email, name)
	if err != nil {
		return a.altpayCheckoutFailed(ctx, o, err)
	}
	inv, err := a.Altpay.CreateInvoice(ctx, altpayInvoiceFor(o, cust, a.Clock.Now()), "invoice-"+o.IdempotencyKey)
	if err != nil {
		return a.altpayCheckoutFailed(ctx, o, err)
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

// altpayCustomer returns the provider customer of the user (or guest
// session), creating it the first time. The external id is stored before the
// provider call, so a retry after a lost answer finds the customer made by
// the first try instead of making a second one.
func (a *App) altpayCustomer(ctx context.Context, uid int64, gid, email, name string) (string, error) {
	row, err := a.Store.ReserveAltpayCustomer(ctx, uid, gid)
	if err != nil || row.CustomerID != "" {
		return row.CustomerID, err
	}
	cu, err := a.Altpay.EnsureCustomer(ctx, altpay.NewCustomer{Email: email, ExternalID: row.ExternalID, Name: name})
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
// its tax-included unit price, in the order's currency (EUR; see package
// web/altpay on currencies), due two weeks from now.
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

// altpayCheckoutFailed marks the order failed (it has no invoice and never
// will) and tells the customer; the cart is untouched.
func (a *App) altpayCheckoutFailed(ctx context.Context, o db.Order, cause error) error {
	_ = a.failOrder(ctx, o, "The invoice could not be created.") // logged there; the customer's error is the provider's
	return altpayUserError(cause, "The invoice could not be created")
}

// altpayUserError turns a provider error into what the customer reads: fixed
// sentences only. The provider's own message (for developers, perhaps naming
// other records) stays in err, which the central error handler logs.
func altpayUserError(err error, title string) error {
	ue := &UserError{Status: http.StatusBadGateway, Title: title, Err: err,
		Message: "Alternative Payments did not answer. Nothing was charged and your cart is kept; please try again in a moment."}
	var ae *altpay.APIError
	switch {
	case altpay.IsInvalidCredentials(err) || (errors.As(err, &ae) && ae.Status == http.StatusUnauthorized):
		ue.Message = "Pay by invoice is not available right now. Nothing was charged and your cart is kept; please choose another payment method."
	case errors.As(err, &ae) && ae.Status < 500:
		ue.Message = "Alternative Payments could not accept this request. Nothing was charged and your cart is kept; please try again, or choose another payment method."
		ue.Reference = ae.RequestID
	case errors.As(err, &ae):
		ue.Reference = ae.RequestID
	}
	return ue
}

// altpayOrder loads an order the current visitor owns that was paid by
// invoice, with its invoice (404 otherwise, as for any order page).
func (a *App) altpayOrder(c echo.Context) (db.Order, db.AltpayInvoice, error) {
	o, err := a.loadOrder(c, c.Param("id"))
	if err != nil {
		return o, db.AltpayInvoice{}, err
	}
	if o.Provider != altpayProvider {
		return o, db.AltpayInvoice{}, echo.ErrNotFound
	}
	inv, err := a.Store.AltpayInvoiceFor(c.Request().Context(), o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return o, inv, echo.ErrNotFound
	}
	return o, inv, err
}

// altpayInvoicePage shows the invoice page. ?callback=off runs the snippet
// without onAccessTokenExpired, to see AccessTokenExpiredError (README).
func (a *App) altpayInvoicePage(c echo.Context) error {
	o, _, err := a.altpayOrder(c)
	if err != nil {
		return err
	}
	v := views.AltpayInvoiceView{
		OrderID: o.PublicID, InvoiceID: o.ProviderReference, Total: eur(o.TotalAmount), Tax: eur(o.TaxAmount),
		Paid: o.Status == db.StatusCaptured, APIBaseURL: a.Config.Altpay.APIURL,
		TokenURL: "/api/altpay/invoices/" + o.PublicID + "/token", ConfirmURL: "/invoices/" + o.PublicID + "/confirm",
		Callback: c.QueryParam("callback") != "off",
	}
	v.Lines = orderLineViews(o.Lines)
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.AltpayInvoice(a.chrome(c, "Pay your invoice"), v))
}

// altpayToken mints a checkout token for the page (and for its
// onAccessTokenExpired). JSON errors: 401 when the invoice is a customer's
// and nobody is signed in, 403 when it is someone else's, 404 when there is
// no such invoice, 409 when it is paid already. A guest gets tokens for the
// invoices of their own session.
func (a *App) altpayToken(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := a.Store.OrderByPublicID(ctx, c.Param("id"))
	if errors.Is(err, db.ErrNotFound) || (err == nil && o.Provider != altpayProvider) {
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
	if errors.Is(err, db.ErrNotFound) {
		return &UserError{Status: http.StatusNotFound, Title: "No such invoice", Message: "This order has no invoice."}
	}
	if err != nil {
		return err
	}
	tok, err := a.Altpay.CheckoutToken(ctx, inv.CustomerID, inv.InvoiceID)
	if err != nil {
		return altpayUserError(err, "No payment session")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"token": tok.Token.Reveal(), "expires_at": tok.ExpiresAt.Unix()})
}

// altpayConfirm asks the provider whether the invoice is paid and, only when
// it says PAID for the order's amount, marks the order paid.
func (a *App) altpayConfirm(c echo.Context) error {
	o, inv, err := a.altpayOrder(c)
	if err != nil {
		return err
	}
	paid, err := a.altpaySync(c.Request().Context(), o, inv)
	if err != nil {
		return altpayUserError(err, "The payment could not be checked")
	}
	if !paid {
		a.flash(c, "Alternative Payments has not received a payment for this invoice yet.")
		return c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
	}
	if o.Status == db.StatusPending {
		a.flash(c, "Thank you: your invoice is paid.")
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// altpaySync reads the invoice from the provider, stores its status, and
// moves a pending order to captured (taking its items out of the cart) when
// the invoice is PAID. It reports
// whether the order is paid.
func (a *App) altpaySync(ctx context.Context, o db.Order, inv db.AltpayInvoice) (bool, error) {
	got, err := a.Altpay.GetInvoice(ctx, inv.InvoiceID)
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
	if o.Status == db.StatusPending {
		// Paid: the order's items leave the cart in the same transaction.
		err := a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusCaptured, "Invoice "+got.InvoiceNumber+" paid")
		if err != nil && !errors.Is(err, db.ErrStale) { // stale: another request marked it first
			return false, err
		}
	}
	return true, nil
}

// altpayRefresh settles a pending invoice order when its page is viewed: a
// customer who paid and closed the tab before the page confirmed finds the
// order paid. When the provider cannot be asked, the page shows what the
// shop knows.
func (a *App) altpayRefresh(c echo.Context, o db.Order) (db.Order, error) {
	if o.Provider != altpayProvider || o.Status != db.StatusPending {
		return o, nil
	}
	ctx := c.Request().Context()
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	paid, err := a.altpaySync(ctx, o, inv)
	if err != nil {
		a.Log.Warn("altpay: checking the invoice on view", "order", o.PublicID, "error", err)
		return o, nil
	}
	if !paid {
		return o, nil
	}
	return a.Store.OrderByPublicID(ctx, o.PublicID)
}

// altpayUnpaid is the account page's section of unpaid invoices.
func (a *App) altpayUnpaid(c echo.Context, u db.User) (templ.Component, error) {
	orders, err := a.Store.UnpaidAltpayOrders(c.Request().Context(), u.ID)
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	list := make([]views.AltpayUnpaidView, 0, len(orders))
	for _, o := range orders {
		list = append(list, views.AltpayUnpaidView{OrderID: o.PublicID, Created: o.CreatedAt.Local().Format(dateFormat),
			Total: eur(o.TotalAmount), ItemCount: o.ItemCount})
	}
	return views.AltpayUnpaid(list), nil
}

// altpayOrderPart adds the invoice to the order page of an invoice order.
func (a *App) altpayOrderPart(c echo.Context, o db.Order) (orderPart, error) {
	if o.Provider != altpayProvider {
		return orderPart{}, nil
	}
	inv, err := a.Store.AltpayInvoiceFor(c.Request().Context(), o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return orderPart{}, nil
	}
	if err != nil {
		return orderPart{}, err
	}
	v := views.AltpayOrderView{OrderID: o.PublicID, InvoiceID: inv.InvoiceID, Status: inv.Status, Pending: o.Status == db.StatusPending}
	return orderPart{Details: []templ.Component{views.AltpayOrderDetails(v)}, Actions: []templ.Component{views.AltpayOrderActions(v)}}, nil
}
