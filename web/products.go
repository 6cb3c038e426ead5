package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/catalog"
)

func (a *App) home(c echo.Context) error {
	products := catalog.All()
	pv := make([]views.ProductView, len(products))
	for i, p := range products {
		pv[i] = productView(p)
	}
	return render(c, http.StatusOK, views.Home(a.chrome(c, "Shop"), pv))
}

func (a *App) product(c echo.Context) error {
	p, ok := catalog.Get(c.Param("id"))
	if !ok {
		return echo.ErrNotFound
	}
	return render(c, http.StatusOK, views.Product(a.chrome(c, p.Name), productView(p), views.QuantityForm{Value: "1"}))
}
