package web

import (
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/catalog"
	"refshop/web/money"
)

// pricedCart is a cart with catalogue prices and the shop's tax rule applied:
// what the checkout shows and what an order snapshots.
type pricedCart struct {
	ID    int64
	Lines []db.OrderLine
	Total int64
	Tax   int64
}

// Count is the number of items, counting quantities.
func (p pricedCart) Count() int {
	n := 0
	for _, l := range p.Lines {
		n += l.Quantity
	}
	return n
}

// priceCart prices the session's cart. Items whose product left the catalogue
// are dropped from the price (and from any order) but stay in the database.
func (a *App) priceCart(c echo.Context) (pricedCart, error) {
	id, err := a.cartID(c, false)
	if err != nil || id == 0 {
		return pricedCart{}, err
	}
	items, err := a.Store.CartItems(c.Request().Context(), id)
	if err != nil {
		return pricedCart{}, err
	}
	pc := pricedCart{ID: id}
	for _, it := range items {
		l, ok := priceLine(it.ProductID, it.Quantity)
		if !ok {
			continue
		}
		pc.Lines = append(pc.Lines, l)
		pc.Total += l.TotalAmount
		pc.Tax += l.TotalTaxAmount
	}
	return pc, nil
}

// priceLine is quantity of a product at today's catalogue price, its tax
// included; ok is false when the product is no longer for sale.
func priceLine(productID string, quantity int) (l db.OrderLine, ok bool) {
	p, ok := catalog.Get(productID)
	if !ok {
		return db.OrderLine{}, false
	}
	total := p.Price * int64(quantity)
	return db.OrderLine{
		ProductID: p.ID, Name: p.Name, Quantity: quantity, UnitPrice: p.Price,
		TaxRate: p.TaxRate, TotalAmount: total, TotalTaxAmount: money.TaxIncluded(total, p.TaxRate),
	}, true
}
