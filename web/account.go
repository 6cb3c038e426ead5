package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

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
	for _, panel := range a.accountPanels {
		comp, err := panel(c, *u)
		if err != nil {
			return err
		}
		if comp != nil {
			v.Linked = append(v.Linked, comp)
		}
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
