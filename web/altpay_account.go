package web

import (
	"context"

	"github.com/a-h/templ"

	"refshop/db"
	"refshop/views"
	"refshop/web/money"
)

// unpaidSection is the account page's section of unpaid invoices.
func (f *altpayFlow) unpaidSection(ctx context.Context, u db.User) (templ.Component, error) {
	orders, err := f.a.Store.UnpaidAltpayOrders(ctx, u.ID, f.env())
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	list := make([]views.AltpayUnpaidView, 0, len(orders))
	for _, o := range orders {
		list = append(list, views.AltpayUnpaidView{OrderID: o.PublicID, Created: o.CreatedAt.Local().Format(dateFormat),
			Total: money.Amount{Minor: o.TotalAmount, Currency: o.Currency}.Format(), ItemCount: o.ItemCount})
	}
	return views.AltpayUnpaid(list), nil
}
