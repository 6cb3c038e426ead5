package web

import (
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/catalog"
	"refshop/web/market"
	"refshop/web/money"
)

// pricedCart is a cart with its market's catalogue prices and tax rule
// applied: what the checkout shows and what an order snapshots.
type pricedCart struct {
	ID       int64
	Market   market.Market
	Lines    []db.OrderLine
	Subtotal int64 // the lines' total
	SalesTax int64 // added to Subtotal where prices exclude tax
	Total    int64 // what the customer pays
	Tax      int64 // the VAT inside Total, or SalesTax
}

// Count is the number of items, counting quantities.
func (p pricedCart) Count() int {
	n := 0
	for _, l := range p.Lines {
		n += l.Quantity
	}
	return n
}

// priceCart prices the session's cart in the session's market. Items whose
// product left the catalogue (or is not sold in the market) are dropped from
// the price (and from any order) but stay in the database.
func (a *App) priceCart(c echo.Context) (pricedCart, error) {
	pc := pricedCart{Market: a.market(c)}
	id, err := a.cartID(c, false)
	if err != nil || id == 0 {
		return pc, err
	}
	items, err := a.Store.CartItems(c.Request().Context(), id)
	if err != nil {
		return pc, err
	}
	pc.ID = id
	for _, it := range items {
		l, ok := priceLine(pc.Market, it.ProductID, it.Quantity)
		if !ok {
			continue
		}
		pc.Lines = append(pc.Lines, l)
		pc.Tax += l.TotalTaxAmount
	}
	pc.Subtotal, pc.SalesTax = salesTax(pc.Market, pc.Lines)
	pc.Tax += pc.SalesTax
	pc.Total = pc.Subtotal + pc.SalesTax
	return pc, nil
}

// salesTax is the lines' subtotal in market m and the sales tax added to
// it. US prices exclude sales tax: it is added to the order as a whole, and
// the lines carry none (Klarna's rule for US order lines, see
// web/klarna/doc.go). Where prices include VAT it is 0.
func salesTax(m market.Market, lines []db.OrderLine) (subtotal, tax int64) {
	for _, l := range lines {
		subtotal += l.TotalAmount
	}
	return subtotal, money.TaxAdded(subtotal, m.SalesTaxRate)
}

// priceLine is quantity of a product at today's catalogue price in market m,
// with the VAT it includes there; ok is false when the product is no longer
// for sale there.
func priceLine(m market.Market, productID string, quantity int) (l db.OrderLine, ok bool) {
	p, ok := catalog.Get(productID)
	if !ok {
		return db.OrderLine{}, false
	}
	price, ok := p.Price(m)
	if !ok {
		return db.OrderLine{}, false
	}
	total := price.Minor * int64(quantity)
	rate := m.TaxRate(p.TaxClass)
	return db.OrderLine{
		ProductID: p.ID, Name: p.Name, Quantity: quantity, UnitPrice: price.Minor,
		TaxRate: rate, TotalAmount: total, TotalTaxAmount: money.TaxIncluded(total, rate),
	}, true
}
