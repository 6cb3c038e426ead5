package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/market"
)

// loadOrder loads the order named in the URL, answering 404 unless it belongs
// to the signed-in user or to this guest session (404, not 403: another
// person's order number reveals nothing).
func (a *App) loadOrder(c echo.Context, publicID string) (db.Order, error) {
	o, err := a.Store.OrderByPublicID(c.Request().Context(), publicID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !a.canSee(c, o)) {
		return db.Order{}, echo.ErrNotFound
	}
	return o, err
}

func (a *App) order(c echo.Context) error {
	o, err := a.loadOrder(c, c.Param("id"))
	if err != nil {
		return err
	}
	flow := a.payments[o.Provider] // nil for a provider this shop no longer offers
	if flow != nil {
		if o, err = flow.refresh(c, o); err != nil {
			return err
		}
	}
	v := views.OrderView{
		PublicID: o.PublicID, Created: o.CreatedAt.Local().Format(dateFormat), Status: string(o.Status), StatusText: statusText(o),
		StatusDetail: o.StatusDetail, Provider: providerName(o.Provider), ProviderReference: o.ProviderReference,
		Total: format(o.TotalAmount, o.Currency), Tax: format(o.TaxAmount, o.Currency), TaxLabel: taxLabel(o),
		Market: market.OrDefault(o.Market).Name,
	}
	v.Lines = orderLineViews(o)
	if flow != nil {
		p, err := flow.orderPart(c, o)
		if err != nil {
			return err
		}
		v.Details, v.Actions = p.Details, p.Actions
	}
	xs, err := a.orderExchanges(c.Request().Context(), o)
	if err != nil {
		return err
	}
	v.Exchanges = a.exchangesView(o, xs)
	v.Exchanges.Tokens = a.orderTokensView(xs.Items)
	return render(c, http.StatusOK, views.Order(a.chrome(c, "Order"), v))
}

// statusText is an order's status in words, from its money where that says
// more than the status: "Refunded" when all that was taken was paid back,
// "Partly refunded" when some was, "Partly shipped" while part of the
// reservation is captured and the rest is not yet. The stored status stays
// what it is (paid: captured).
func statusText(o db.Order) string {
	am := knownAmounts(o)
	switch {
	case am.Captured > 0 && am.Refunded >= am.Captured:
		return "Refunded"
	case am.Refunded > 0:
		return "Partly refunded"
	case o.Status == db.StatusAuthorized && am.Captured > 0:
		return "Partly shipped"
	}
	return views.StatusLabel(string(o.Status))
}

// orderLineViews is an order's lines as the order, payment and invoice pages
// show them.
func orderLineViews(o db.Order) []views.OrderLineView {
	out := make([]views.OrderLineView, 0, len(o.Lines))
	for _, l := range o.Lines {
		out = append(out, views.OrderLineView{Name: l.Name, Quantity: l.Quantity, UnitPrice: format(l.UnitPrice, o.Currency),
			Total: format(l.TotalAmount, o.Currency), TaxRate: lineTax(addsSalesTax(o), l.TaxRate)})
	}
	return out
}

func (a *App) healthz(c echo.Context) error {
	if err := a.DB.Ping(c.Request().Context()); err != nil {
		a.Log.Error("health check: database", "error", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ok\n")
}
