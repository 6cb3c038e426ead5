package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/market"
	"refshop/web/money"
)

// sessMarket is the session's market (package market): the page header's
// choice, Germany until the person picks another.
const sessMarket = "market"

// market is where the session shops.
func (a *App) market(c echo.Context) market.Market {
	return market.OrDefault(a.Sessions.GetString(c.Request().Context(), sessMarket))
}

// chooseMarket is the header's market form: the cart and checkout re-price
// in the new market's currency, and checkout offers its methods. An order
// already placed keeps its own market.
func (a *App) chooseMarket(c echo.Context) error {
	m, ok := market.Get(c.FormValue("market"))
	if !ok {
		return &UserError{Status: http.StatusUnprocessableEntity, Title: "Unknown market",
			Message: "Choose one of the markets listed in the page header."}
	}
	a.Sessions.Put(c.Request().Context(), sessMarket, m.ID)
	a.flash(c, "You are shopping in "+m.InName+": prices are in "+m.Currency+".")
	next := safeNext(c.FormValue("next"))
	if next == "" {
		next = "/"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// marketChoice is the header's market picker.
func marketChoice(c echo.Context, cur market.Market) views.MarketChoice {
	// After a form (a POST's error page), come back to the shop, not to a
	// URL that only takes a form.
	// A sign-in callback's URL carries its authorization code: a page it
	// renders (a refusal) must not copy that URL into the page.
	next := "/"
	if r := c.Request(); r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/auth/") {
		next = safeNext(r.URL.RequestURI())
	}
	v := views.MarketChoice{Current: cur.ID, Next: next,
		PriceNote: "Prices are in " + cur.Currency + " and include VAT."}
	if !cur.TaxIncluded {
		v.PriceNote = "Prices are in " + cur.Currency + " and exclude sales tax, which is added at checkout."
	}
	for _, m := range market.All() {
		v.Options = append(v.Options, views.MarketOption{ID: m.ID, Label: m.Name + " (" + m.Currency + ")"})
	}
	return v
}

// format renders an amount in a currency.
func format(minor int64, currency string) string {
	return money.Amount{Minor: minor, Currency: currency}.Format()
}

// taxNote says how a market's prices treat tax, under a product's price.
func taxNote(m market.Market, rate int) string {
	if !m.TaxIncluded {
		return "Plus sales tax, added at checkout."
	}
	return "Includes " + money.FormatRate(rate) + " VAT."
}

// lineTax is a line's tax cell: its VAT rate, or that sales tax applies.
func lineTax(salesTax bool, rate int) string {
	if salesTax {
		return "sales tax"
	}
	return money.FormatRate(rate)
}

// taxLabel names an order's tax by its market's rule: the VAT its prices
// include, or the sales tax added to them.
func taxLabel(o db.Order) string {
	if addsSalesTax(o) {
		return "Sales tax"
	}
	return "Included VAT"
}

// addsSalesTax reports whether order o's market adds sales tax to its
// prices rather than include VAT in them.
func addsSalesTax(o db.Order) bool {
	m, ok := market.Get(o.Market)
	return ok && !m.TaxIncluded
}
