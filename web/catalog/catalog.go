// Package catalog is the shop's product list. It is fixed and small, so it
// lives in code; orders snapshot what they need from it. Each product has a
// price per market currency (package market).
package catalog

import (
	"refshop/web/market"
	"refshop/web/money"
)

// Product is something for sale.
type Product struct {
	ID          string
	Name        string
	Summary     string
	Description string
	// Prices are per unit in minor units, by currency: set for each market,
	// never converted. In a market whose prices include tax they include
	// VAT; in the United States they exclude sales tax.
	Prices   map[string]int64
	TaxClass market.TaxClass
	Image    string
}

// Price is the product's unit price in a market; ok is false when it has
// none there (it is not sold in that market).
func (p Product) Price(m market.Market) (money.Amount, bool) {
	v, ok := p.Prices[m.Currency]
	return money.Amount{Minor: v, Currency: m.Currency}, ok
}

func prices(eur, nok, usd int64) map[string]int64 {
	return map[string]int64{"EUR": eur, "NOK": nok, "USD": usd}
}

var products = []Product{
	{ID: "morning-blend", Name: "Morning Blend Coffee Beans", Summary: "500 g, medium roast",
		Description: "A round, nutty medium roast from Brazilian and Ethiopian beans. Whole beans in a resealable 500 g bag.",
		Prices:      prices(1490, 17900, 1599), TaxClass: market.Food},
	{ID: "sencha", Name: "Sencha Green Tea", Summary: "100 g loose leaf",
		Description: "Steamed Japanese green tea with a fresh, grassy cup. Brew at 75 °C for one minute.",
		Prices:      prices(850, 9900, 899), TaxClass: market.Food},
	{ID: "stoneware-mug", Name: "Stoneware Mug", Summary: "350 ml, glazed by hand",
		Description: "A heavy mug that keeps coffee warm. Each glaze comes out a little different. Dishwasher safe.",
		Prices:      prices(1800, 22900, 1900), TaxClass: market.Standard},
	{ID: "pour-over", Name: "Pour-over Dripper", Summary: "Porcelain, size 02",
		Description: "A porcelain cone dripper for one to four cups. Takes size 02 paper filters.",
		Prices:      prices(2490, 29900, 2500), TaxClass: market.Standard},
	{ID: "carafe", Name: "Glass Carafe", Summary: "600 ml borosilicate",
		Description: "Heat-proof borosilicate glass with a cork collar. Serves the dripper or cold brew.",
		Prices:      prices(2900, 34900, 2900), TaxClass: market.Standard},
	{ID: "tea-towel", Name: "Linen Tea Towel", Summary: "50 × 70 cm",
		Description: "Washed linen that dries glass without streaks and gets softer with every wash.",
		Prices:      prices(1250, 14900, 1300), TaxClass: market.Standard},
	{ID: "dark-chocolate", Name: "Dark Chocolate 72%", Summary: "80 g bar",
		Description: "Single-origin cocoa from Peru with notes of cherry. Made with three ingredients.",
		Prices:      prices(399, 4900, 450), TaxClass: market.Food},
	{ID: "almond-biscuits", Name: "Honey Almond Biscuits", Summary: "200 g tin",
		Description: "Thin, crisp biscuits baked with honey and flaked almonds. For the coffee break.",
		Prices:      prices(549, 6900, 599), TaxClass: market.Food},
	{ID: "hand-grinder", Name: "Hand Grinder", Summary: "Steel burrs, 30 g hopper",
		Description: "Conical steel burrs with a stepless setting from espresso to French press.",
		Prices:      prices(6400, 74900, 6900), TaxClass: market.Standard},
	{ID: "slow-mornings", Name: "Slow Mornings (book)", Summary: "Hardcover, 192 pages",
		Description: "Recipes and short essays about breakfast, brewing and taking your time.",
		Prices:      prices(1600, 19900, 1800), TaxClass: market.Books},
}

var byID = func() map[string]Product {
	m := make(map[string]Product, len(products))
	for i := range products {
		products[i].Image = "/static/img/products/" + products[i].ID + ".svg"
		m[products[i].ID] = products[i]
	}
	return m
}()

// All returns every product in display order.
func All() []Product { return append([]Product(nil), products...) }

// Get returns a product by id.
func Get(id string) (Product, bool) {
	p, ok := byID[id]
	return p, ok
}
