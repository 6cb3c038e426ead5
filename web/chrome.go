package web

import (
	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/catalog"
	"refshop/web/money"
)

// chrome builds what every page's frame shows. It must not fail: the error
// page uses it too, so a failed cart count shows as 0.
func (a *App) chrome(c echo.Context, title string) views.Chrome {
	ch := views.Chrome{Title: title}
	ctx := c.Request().Context()
	if u := currentUser(c); u != nil {
		ch.User = &views.UserView{Email: u.Email, Name: u.Name}
	}
	if id := a.Sessions.GetInt64(ctx, sessCartID); id != 0 {
		if items, err := a.Store.CartItems(ctx, id); err == nil {
			for _, it := range items {
				ch.CartCount += it.Quantity
			}
		}
	}
	ch.Flash = a.Sessions.PopString(ctx, sessFlash)
	return ch
}

func eur(minor int64) string { return money.Amount{Minor: minor, Currency: catalog.Currency}.Format() }

// cartView is the priced cart as pages show it.
func cartView(pc pricedCart) views.CartView {
	v := views.CartView{Subtotal: eur(pc.Total), Tax: eur(pc.Tax), Total: eur(pc.Total), Count: pc.Count()}
	for _, l := range pc.Lines {
		p, _ := catalog.Get(l.ProductID)
		v.Lines = append(v.Lines, views.CartLineView{
			ProductID: l.ProductID, Name: l.Name, Image: p.Image, UnitPrice: eur(l.UnitPrice),
			Quantity: l.Quantity, Total: eur(l.TotalAmount), TaxRate: money.FormatRate(l.TaxRate),
		})
	}
	return v
}

func productView(p catalog.Product) views.ProductView {
	return views.ProductView{
		ID: p.ID, Name: p.Name, Summary: p.Summary, Description: p.Description,
		Price: eur(p.Price), TaxRate: money.FormatRate(p.TaxRate), Image: p.Image,
	}
}
