package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/market"
)

// checkout shows the order that will be placed and the payment methods.
func (a *App) checkout(c echo.Context) error {
	pc, err := a.priceCart(c)
	if err != nil {
		return err
	}
	if len(pc.Lines) == 0 {
		a.flash(c, "Your cart is empty. Add something before checking out.")
		return c.Redirect(http.StatusSeeOther, "/cart")
	}
	return a.renderCheckout(c, http.StatusOK, pc)
}

// renderCheckout renders the checkout page for a priced, non-empty cart. A
// flow whose form was refused stores its form state on the context first and
// renders with status 422 (or 503 when its provider is out).
func (a *App) renderCheckout(c echo.Context, status int, pc pricedCart) error {
	v := views.CheckoutView{Cart: cartView(pc), Guest: currentUser(c) == nil, Market: pc.Market.InName}
	for _, p := range pc.Market.Methods {
		comp, err := a.payments[db.Provider(p)].checkoutMethod(c, pc)
		if err != nil {
			return err
		}
		v.Methods = append(v.Methods, comp)
	}
	// A signed-in customer whose Sign in with Klarna grant ended learns that
	// signing in again skips the Klarna login.
	notice, err := a.klarnaSignIn.checkoutNotice(c)
	if err != nil {
		return err
	}
	if notice != nil {
		v.Methods = append(v.Methods, notice)
	}
	return render(c, status, views.Checkout(a.chrome(c, "Checkout"), v))
}

// checkoutAgain re-shows the checkout page for a payment method's refused
// form: form goes on the context under key, where the method's component
// reads it back (its input and messages), and the page is rendered with
// status (422 for a refused field, 503 when the provider is out).
func (a *App) checkoutAgain(c echo.Context, status int, key string, form any) error {
	pc, err := a.priceCart(c)
	if err != nil {
		return err
	}
	if len(pc.Lines) == 0 {
		return errEmptyCart
	}
	c.Set(key, form)
	return a.renderCheckout(c, status, pc)
}

// failOrder ends a pending payment attempt that cannot go on: the order is
// marked failed with detail, a sentence the customer reads on the order page
// ("Nothing was charged."); the cart is untouched. Losing the swap to another
// request is fine (it decided first); another failure is logged and returned.
func (a *App) failOrder(ctx context.Context, o db.Order, detail string) error {
	err := a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusFailed, detail)
	if err == nil || errors.Is(err, db.ErrStale) {
		return nil
	}
	a.Log.Error("marking an order failed", "order", o.PublicID, "provider", o.Provider, "error", err)
	return err
}

// errEmptyCart is returned by placeOrder when there is nothing to buy.
var errEmptyCart = &UserError{Status: http.StatusConflict, Title: "Your cart is empty",
	Message: "There is nothing to pay for. Add something to your cart first."}

// notOffered refuses a payment method the session's market does not offer:
// a form from before the person switched market, in another tab.
func notOffered(provider db.Provider, m market.Market) error {
	return &UserError{Status: http.StatusConflict, Title: "Not offered in " + m.InName,
		Message: providerName(provider) + " is not offered in " + m.InName + ". Go back to checkout and choose one of the payment methods shown there, or switch market in the page header."}
}

// placeOrder returns the open payment attempt of the session's cart for
// provider, or places one (a pending order), for the payment flows. reused
// says the attempt was made by an earlier submit, for the same cart: the
// flow shows that attempt again rather than start a second payment. An open
// attempt made for another cart content is replaced, and released here. The
// cart is left as it is: a flow takes the items out only when the provider
// has the money (Store.SetOrderStatusPaid), so a rejection loses nothing.
func (a *App) placeOrder(c echo.Context, provider db.Provider) (o db.Order, reused bool, err error) {
	pc, err := a.priceCart(c)
	if err != nil {
		return db.Order{}, false, err
	}
	if len(pc.Lines) == 0 {
		return db.Order{}, false, errEmptyCart
	}
	if !pc.Market.Offers(string(provider)) {
		return db.Order{}, false, notOffered(provider, pc.Market)
	}
	ctx := c.Request().Context()
	uid, gid := a.owner(c)
	o, reused, err = a.Store.OpenAttempt(ctx, db.NewOrder{
		UserID: uid, GuestID: gid, CartID: pc.ID, Provider: provider,
		Market: pc.Market.ID, Currency: pc.Market.Currency, Lines: pc.Lines, SalesTax: pc.SalesTax,
	})
	if err == nil && !reused {
		a.releaseClosed(ctx, pc.ID) // the attempt this one replaced, if any
	}
	return o, reused, err
}
