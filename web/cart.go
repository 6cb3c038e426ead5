package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/catalog"
)

// parseQuantity reads a quantity field: a whole number from min to 99.
func parseQuantity(raw string, min int) (int, string) {
	q, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return 0, "Enter the quantity as a whole number."
	case q < min:
		return 0, "The quantity must be at least " + strconv.Itoa(min) + "."
	case q > db.MaxQuantity:
		return 0, "You can order at most " + strconv.Itoa(db.MaxQuantity) + " of one product."
	}
	return q, ""
}

func (a *App) cart(c echo.Context) error {
	pc, err := a.priceCart(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Cart(a.chrome(c, "Cart"), cartView(pc), nil))
}

// addToCart adds a product. An unknown product is 404; a bad quantity
// re-renders the product page with the message and what was typed.
func (a *App) addToCart(c echo.Context) error {
	p, ok := catalog.Get(c.FormValue("product_id"))
	if !ok {
		return echo.ErrNotFound
	}
	pv, ok := productView(p, a.market(c))
	if !ok {
		return echo.ErrNotFound
	}
	raw := c.FormValue("quantity")
	q, msg := parseQuantity(raw, 1)
	if msg != "" {
		return render(c, http.StatusUnprocessableEntity, views.Product(a.chrome(c, p.Name), pv,
			views.QuantityForm{Value: raw, Error: msg}))
	}
	id, err := a.cartID(c, true)
	if err != nil {
		return err
	}
	if err := a.Store.AddToCart(c.Request().Context(), id, p.ID, q); err != nil {
		return err
	}
	a.flash(c, "Added "+p.Name+" to your cart.")
	return c.Redirect(http.StatusSeeOther, "/cart")
}

// updateCartItem sets a line's quantity (0 removes it).
func (a *App) updateCartItem(c echo.Context) error {
	pid := c.Param("id")
	if _, ok := catalog.Get(pid); !ok {
		return echo.ErrNotFound
	}
	raw := c.FormValue("quantity")
	q, msg := parseQuantity(raw, 0)
	if msg != "" {
		pc, err := a.priceCart(c)
		if err != nil {
			return err
		}
		v := cartView(pc)
		for i := range v.Lines {
			if v.Lines[i].ProductID == pid {
				v.Lines[i].QuantityInput = raw
			}
		}
		return render(c, http.StatusUnprocessableEntity, views.Cart(a.chrome(c, "Cart"), v,
			views.FormErrors{"qty-" + pid: msg}))
	}
	return a.setQuantity(c, pid, q)
}

func (a *App) removeCartItem(c echo.Context) error {
	if _, ok := catalog.Get(c.Param("id")); !ok {
		return echo.ErrNotFound
	}
	return a.setQuantity(c, c.Param("id"), 0)
}

func (a *App) setQuantity(c echo.Context, productID string, q int) error {
	id, err := a.cartID(c, false)
	if err != nil {
		return err
	}
	if id != 0 {
		if err := a.Store.SetCartQuantity(c.Request().Context(), id, productID, q); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/cart")
}
