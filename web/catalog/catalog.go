// Package catalog is the shop's product list. It is fixed and small, so it
// lives in code; orders snapshot what they need from it.
package catalog

import "refshop/web/money"

// Currency is the shop's one currency. EUR is accepted by all three providers'
// test environments (Klarna DE, Vipps MobilePay FI, Alternative Payments).
const Currency = "EUR"

// Product is something for sale. Price is per unit, tax included.
type Product struct {
	ID          string
	Name        string
	Summary     string
	Description string
	Price       int64 // minor units, tax included
	TaxRate     int   // two implied decimals: 1900 = 19%
	Image       string
}

// PriceAmount is the unit price as an Amount.
func (p Product) PriceAmount() money.Amount { return money.Amount{Minor: p.Price, Currency: Currency} }

var products = []Product{
	{ID: "morning-blend", Name: "Morning Blend Coffee Beans", Summary: "500 g, medium roast",
		Description: "A round, nutty medium roast from Brazilian and Ethiopian beans. Whole beans in a resealable 500 g bag.",
		Price:       1490, TaxRate: 700},
	{ID: "sencha", Name: "Sencha Green Tea", Summary: "100 g loose leaf",
		Description: "Steamed Japanese green tea with a fresh, grassy cup. Brew at 75 °C for one minute.",
		Price:       850, TaxRate: 700},
	{ID: "stoneware-mug", Name: "Stoneware Mug", Summary: "350 ml, glazed by hand",
		Description: "A heavy mug that keeps coffee warm. Each glaze comes out a little different. Dishwasher safe.",
		Price:       1800, TaxRate: 1900},
	{ID: "pour-over", Name: "Pour-over Dripper", Summary: "Porcelain, size 02",
		Description: "A porcelain cone dripper for one to four cups. Takes size 02 paper filters.",
		Price:       2490, TaxRate: 1900},
	{ID: "carafe", Name: "Glass Carafe", Summary: "600 ml borosilicate",
		Description: "Heat-proof borosilicate glass with a cork collar. Serves the dripper or cold brew.",
		Price:       2900, TaxRate: 1900},
	{ID: "tea-towel", Name: "Linen Tea Towel", Summary: "50 × 70 cm",
		Description: "Washed linen that dries glass without streaks and gets softer with every wash.",
		Price:       1250, TaxRate: 1900},
	{ID: "dark-chocolate", Name: "Dark Chocolate 72%", Summary: "80 g bar",
		Description: "Single-origin cocoa from Peru with notes of cherry. Made with three ingredients.",
		Price:       399, TaxRate: 700},
	{ID: "almond-biscuits", Name: "Honey Almond Biscuits", Summary: "200 g tin",
		Description: "Thin, crisp biscuits baked with honey and flaked almonds. For the coffee break.",
		Price:       549, TaxRate: 700},
	{ID: "hand-grinder", Name: "Hand Grinder", Summary: "Steel burrs, 30 g hopper",
		Description: "Conical steel burrs with a stepless setting from espresso to French press.",
		Price:       6400, TaxRate: 1900},
	{ID: "slow-mornings", Name: "Slow Mornings (book)", Summary: "Hardcover, 192 pages",
		Description: "Recipes and short essays about breakfast, brewing and taking your time.",
		Price:       1600, TaxRate: 700},
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
