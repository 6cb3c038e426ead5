// Package market is where the shop sells. A market has a country, a
// currency, locales, a tax rule and the payment methods offered there,
// because every provider has market rules and one currency cannot serve them
// all:
//
//   - Vipps MobilePay charges in the currency of the merchant's sales unit:
//     NOK for a Norwegian one, DKK for a Danish one, EUR for a Finnish one
//     (https://developer.vippsmobilepay.com/docs/knowledge-base/currencies/).
//   - Alternative Payments invoices are in USD, the only value of the invoice
//     `currency` enum in its API reference
//     (https://docs.alternativepayments.io/).
//   - Klarna needs a purchase_country, purchase_currency and locale that go
//     together, and serves North America from its own hosts and merchant
//     accounts (https://docs.klarna.com/klarna-payments/in-depth-knowledge/puchase-countries-currencies-locales/,
//     https://docs.klarna.com/api/api-urls/).
//
// Prices are set per currency in the catalogue, never converted at runtime;
// an order keeps the market (and so the currency) it was placed in.
package market

import "slices"

// Region is a Klarna region: each is a separate merchant account on its own
// API host (api.… and api-na.…) and its own Sign in with Klarna issuer
// (…/eu/lp/idp and …/na/lp/idp).
type Region string

const (
	RegionEU Region = "eu"
	RegionNA Region = "na"
)

// Payment methods, named as the flows and orders name their provider.
const (
	Vipps  = "vipps"  // Vipps MobilePay ePayment
	Klarna = "klarna" // Klarna payments
	Altpay = "altpay" // pay by invoice (Alternative Payments)
)

// TaxClass is what kind of goods a product is, for the VAT rate a market
// charges on it.
type TaxClass string

const (
	Standard TaxClass = "standard"
	Food     TaxClass = "food"
	Books    TaxClass = "books"
)

// Market is one place the shop sells in.
type Market struct {
	ID       string // "de", "no", "us": in the session and on orders
	Name     string // the country, as the page header shows it
	InName   string // the country in a sentence: "the United States"
	Country  string // ISO 3166-1 alpha-2, Klarna's purchase_country
	Currency string // ISO 4217
	// Locale is what the shop sends providers: its pages are in English, so
	// the English locale of the country. Locales are all the ones Klarna
	// accepts for the country and currency; Locale is one of them.
	Locale  string
	Locales []string
	// TaxIncluded: prices include VAT at VAT's rate per class (Europe).
	// Otherwise (the United States) prices exclude sales tax, which is added
	// to the order at checkout at SalesTaxRate.
	TaxIncluded bool
	VAT         map[TaxClass]int // two implied decimals: 1900 = 19%
	// SalesTaxRate stands in for a tax service: a real US shop computes
	// sales tax from the ship-to address. Two implied decimals.
	SalesTaxRate int
	Methods      []string // the payment methods offered, in checkout order
	KlarnaRegion Region
}

// Offers reports whether the market offers the payment method.
func (m Market) Offers(method string) bool { return slices.Contains(m.Methods, method) }

// TaxRate is the VAT rate of a class in a market that includes tax in its
// prices, and 0 where tax is added at checkout.
func (m Market) TaxRate(c TaxClass) int {
	if !m.TaxIncluded {
		return 0
	}
	return m.VAT[c]
}

var all = []Market{
	{
		ID: "de", Name: "Germany", InName: "Germany", Country: "DE", Currency: "EUR", Locale: "en-DE", Locales: []string{"de-DE", "en-DE"},
		TaxIncluded: true, VAT: map[TaxClass]int{Standard: 1900, Food: 700, Books: 700},
		Methods: []string{Klarna}, KlarnaRegion: RegionEU,
	},
	{
		// Books are zero-rated in Norway; food has the reduced rate.
		ID: "no", Name: "Norway", InName: "Norway", Country: "NO", Currency: "NOK", Locale: "en-NO", Locales: []string{"nb-NO", "en-NO"},
		TaxIncluded: true, VAT: map[TaxClass]int{Standard: 2500, Food: 1500, Books: 0},
		Methods: []string{Vipps, Klarna}, KlarnaRegion: RegionEU,
	},
	{
		ID: "us", Name: "United States", InName: "the United States", Country: "US", Currency: "USD", Locale: "en-US", Locales: []string{"en-US"},
		SalesTaxRate: 825, Methods: []string{Altpay, Klarna}, KlarnaRegion: RegionNA,
	},
}

// Default is the market of a first visit.
const Default = "de"

// All returns the markets in the order the header lists them.
func All() []Market { return slices.Clone(all) }

// Get returns a market by id.
func Get(id string) (Market, bool) {
	for _, m := range all {
		if m.ID == id {
			return m, true
		}
	}
	return Market{}, false
}

// OrDefault returns the market a session names; none, or one the shop no
// longer sells in, is the default.
func OrDefault(id string) Market {
	if m, ok := Get(id); ok {
		return m
	}
	m, _ := Get(Default)
	return m
}
