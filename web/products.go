package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"refshop/views"
	"refshop/web/catalog"
)

func (a *App) home(c echo.Context) error {
	m := a.market(c)
	var pv []views.ProductView
	for _, p := range catalog.All() {
		if v, ok := productView(p, m); ok {
			pv = append(pv, v)
		}
	}
	return render(c, http.StatusOK, views.Home(a.chrome(c, "Shop"), pv))
}

func (a *App) product(c echo.Context) error {
	p, ok := catalog.Get(c.Param("id"))
	if !ok {
		return echo.ErrNotFound
	}
	v, ok := productView(p, a.market(c))
	if !ok {
		return echo.ErrNotFound
	}
	return render(c, http.StatusOK, views.Product(a.chrome(c, p.Name), v, views.QuantityForm{Value: "1"}))
}
