package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/catalog"
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
	v := views.CheckoutView{Cart: cartView(pc), Guest: currentUser(c) == nil}
	for _, m := range a.checkoutMethods {
		comp, err := m(c, pc)
		if err != nil {
			return err
		}
		if comp != nil {
			v.Methods = append(v.Methods, comp)
		}
	}
	return render(c, http.StatusOK, views.Checkout(a.chrome(c, "Checkout"), v))
}

// errEmptyCart is returned by placeOrder when there is nothing to buy.
var errEmptyCart = &UserError{Status: http.StatusConflict, Title: "Your cart is empty",
	Message: "There is nothing to pay for. Add something to your cart first."}

// placeOrder stores a pending order for the session's cart, for the payment
// flows. The cart is left as it is: a flow empties it (emptyCart) only once
// the provider has authorized the payment, so a rejection loses nothing.
func (a *App) placeOrder(c echo.Context, provider string) (db.Order, error) {
	pc, err := a.priceCart(c)
	if err != nil {
		return db.Order{}, err
	}
	if len(pc.Lines) == 0 {
		return db.Order{}, errEmptyCart
	}
	uid, gid := a.owner(c)
	return a.Store.CreateOrder(c.Request().Context(), db.NewOrder{
		UserID: uid, GuestID: gid, CartID: pc.ID, Provider: provider, Currency: catalog.Currency, Lines: pc.Lines,
	})
}
