package web

import (
	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/catalog"
	"refshop/web/market"
	"refshop/web/money"
)

// chrome builds what every page's frame shows. It must not fail: the error
// page uses it too, so a failed cart count shows as 0.
func (a *App) chrome(c echo.Context, title string) views.Chrome {
	ch := views.Chrome{Title: title}
	ctx := c.Request().Context()
	if u := currentUser(c); u != nil {
		ch.User = &views.UserView{Email: u.Email, Name: u.Name, Admin: u.IsAdmin()}
	}
	if id := a.Sessions.GetInt64(ctx, sessCartID); id != 0 {
		if items, err := a.Store.CartItems(ctx, id); err == nil {
			for _, it := range items {
				ch.CartCount += it.Quantity
			}
		}
	}
	ch.Flash = a.Sessions.PopString(ctx, sessFlash)
	ch.Market = marketChoice(c, a.market(c))
	return ch
}

// cartView is the priced cart as pages show it.
func cartView(pc pricedCart) views.CartView {
	cur := pc.Market.Currency
	v := views.CartView{Subtotal: format(pc.Subtotal, cur), Tax: format(pc.Tax, cur), Total: format(pc.Total, cur),
		Count: pc.Count(), Currency: cur}
	if !pc.Market.TaxIncluded {
		v.SalesTax = format(pc.SalesTax, cur)
		v.SalesTaxRate = money.FormatRate(pc.Market.SalesTaxRate)
	}
	for _, l := range pc.Lines {
		p, _ := catalog.Get(l.ProductID)
		v.Lines = append(v.Lines, views.CartLineView{
			ProductID: l.ProductID, Name: l.Name, Image: p.Image, UnitPrice: format(l.UnitPrice, cur),
			Quantity: l.Quantity, Total: format(l.TotalAmount, cur), TaxRate: lineTax(!pc.Market.TaxIncluded, l.TaxRate),
		})
	}
	return v
}

// productView is a product as the market's pages show it; ok is false when
// it is not sold there.
func productView(p catalog.Product, m market.Market) (views.ProductView, bool) {
	price, ok := p.Price(m)
	return views.ProductView{
		ID: p.ID, Name: p.Name, Summary: p.Summary, Description: p.Description,
		Price: price.Format(), TaxNote: taxNote(m, m.TaxRate(p.TaxClass)), Image: p.Image,
	}, ok
}
