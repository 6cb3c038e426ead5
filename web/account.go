package web

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
)

const dateFormat = "2 Jan 2006, 15:04"

func (a *App) account(c echo.Context) error {
	u, ctx := currentUser(c), c.Request().Context()
	orders, err := a.Store.OrdersByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	v := views.AccountView{User: views.UserView{Email: u.Email, Name: u.Name}}
	for _, o := range orders {
		v.Orders = append(v.Orders, views.OrderSummary{
			PublicID: o.PublicID, Created: o.CreatedAt.Local().Format(dateFormat), Status: string(o.Status), StatusText: statusText(o),
			PaidWith: paidWith(o), Total: format(o.TotalAmount, o.Currency), ItemCount: o.ItemCount,
		})
	}
	// Sections after the orders, then the linked accounts.
	if v.Sections, err = components(ctx, *u, a.altpay.unpaidSection, a.klarnaSignIn.connectOffer); err != nil {
		return err
	}
	if v.Linked, err = components(ctx, *u, a.klarna.linkPanel, a.klarnaSignIn.accountPanel); err != nil {
		return err
	}
	if v.Tokens, err = a.accountTokens(ctx, *u, orders); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Account(a.chrome(c, "Your account"), v))
}

// paidWith is the payment method of an order that was paid, and "" for one
// that was not (pending, failed, cancelled): those paid with nothing.
func paidWith(o db.Order) string {
	if o.Status != db.StatusAuthorized && o.Status != db.StatusCaptured {
		return ""
	}
	return providerName(o.Provider)
}

// providerName is a provider as customers know it.
func providerName(p db.Provider) string {
	switch p {
	case db.ProviderKlarna:
		return "Klarna"
	case db.ProviderVipps:
		return "Vipps MobilePay"
	case db.ProviderAltpay:
		return "Invoice"
	}
	return string(p)
}

// components asks each part of the account page for its component for u
// and keeps those it makes (a part with nothing to show makes nil).
func components(ctx context.Context, u db.User, parts ...func(context.Context, db.User) (templ.Component, error)) ([]templ.Component, error) {
	var out []templ.Component
	for _, part := range parts {
		comp, err := part(ctx, u)
		if err != nil {
			return nil, err
		}
		if comp != nil {
			out = append(out, comp)
		}
	}
	return out, nil
}
