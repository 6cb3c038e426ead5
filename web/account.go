package web

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
)

const dateFormat = "2 Jan 2006, 15:04"

func (a *App) account(c echo.Context) error {
	u := currentUser(c)
	orders, err := a.Store.OrdersByUser(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	v := views.AccountView{User: views.UserView{Email: u.Email, Name: u.Name}}
	for _, o := range orders {
		v.Orders = append(v.Orders, views.OrderSummary{
			PublicID: o.PublicID, Created: o.CreatedAt.Local().Format(dateFormat), Status: string(o.Status),
			Provider: providerName(o.Provider), Total: eur(o.TotalAmount), ItemCount: o.ItemCount,
		})
	}
	if v.Sections, err = renderParts(c, *u, a.accountSections); err != nil {
		return err
	}
	if v.Linked, err = renderParts(c, *u, a.accountPanels); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Account(a.chrome(c, "Your account"), v))
}

// providerName is a provider as customers know it.
func providerName(p string) string {
	switch p {
	case "klarna":
		return "Klarna"
	case "vipps":
		return "Vipps MobilePay"
	case "altpay":
		return "Invoice"
	}
	return p
}

// renderParts collects the components flows add to the account page.
func renderParts(c echo.Context, u db.User, parts []func(echo.Context, db.User) (templ.Component, error)) ([]templ.Component, error) {
	var out []templ.Component
	for _, part := range parts {
		comp, err := part(c, u)
		if err != nil {
			return nil, err
		}
		if comp != nil {
			out = append(out, comp)
		}
	}
	return out, nil
}
