package klarna

import (
	"slices"
	"strings"
)

// region is one of Klarna's regions. Each is a separate merchant account on
// its own API host (https://docs.klarna.com/api/api-urls/): Europe at
// api.playground.klarna.com (the sandbox's /klarna/api), North America at
// api-na.playground.klarna.com (/klarna/api-na). Oceania
// (api-oc.playground.klarna.com) is not emulated. Objects made in one region
// (sessions, authorizations, orders, tokens) are unknown in the other, and
// each answers only its own account's credentials.
type region string

const (
	regionEU region = "eu"
	regionNA region = "na"
	regionOC region = "oc" // not emulated: its countries are refused by both
)

// of is the region a stored object belongs to; objects stored before
// regions existed were all European.
func regionOf(s string) region {
	if s == "" {
		return regionEU
	}
	return region(s)
}

// base is the sandbox path the region's API answers below.
func (r region) base() string {
	if r == regionNA {
		return "/klarna/api-na"
	}
	return "/klarna/api"
}

// host is the real playground host, for messages.
func (r region) host() string {
	switch r {
	case regionNA:
		return "api-na.playground.klarna.com"
	case regionOC:
		return "api-oc.playground.klarna.com"
	}
	return "api.playground.klarna.com"
}

// tokenRegion is the <region> part of an account-linking customer token
// krn:partner:<region>:<env>:identity:customer-token:<id>. Klarna's
// examples show eu1 and us1 (account-linking guide).
func (r region) tokenRegion() string {
	switch r {
	case regionNA:
		return "us1"
	case regionOC:
		return "oc1"
	}
	return "eu1"
}

// country is one purchase country of Klarna payments: the locales and the
// one currency Klarna accepts with it, and the region that serves it.
type country struct {
	Currency string
	Locales  []string
	Region   region
}

// countries is Klarna's table "Purchase country, locale, and currency"
// (https://docs.klarna.com/klarna-payments/in-depth-knowledge/puchase-countries-currencies-locales/):
// "We support a limited set of locales per country" and "We only support
// the local currency of each country". One copy of the page also lists
// be-BE for Belgium; the current one does not, and neither does this table.
// Romania is not in the page; Klarna lists RON as a transaction currency
// and third-party Klarna integrations list ro-RO and en-RO, so it is kept.
// The region is where Klarna's API URLs page puts the country: North
// America for the United States and Canada, Oceania for Australia and New
// Zealand, Europe for the rest.
var countries = map[string]country{
	"AT": {"EUR", []string{"de-AT", "en-AT"}, regionEU},
	"AU": {"AUD", []string{"en-AU"}, regionOC},
	"BE": {"EUR", []string{"nl-BE", "fr-BE", "en-BE"}, regionEU},
	"CA": {"CAD", []string{"en-CA", "fr-CA"}, regionNA},
	"CH": {"CHF", []string{"de-CH", "fr-CH", "it-CH", "en-CH"}, regionEU},
	"CZ": {"CZK", []string{"cs-CZ", "en-CZ"}, regionEU},
	"DE": {"EUR", []string{"de-DE", "en-DE"}, regionEU},
	"DK": {"DKK", []string{"da-DK", "en-DK"}, regionEU},
	"ES": {"EUR", []string{"es-ES", "en-ES"}, regionEU},
	"FI": {"EUR", []string{"fi-FI", "sv-FI", "en-FI"}, regionEU},
	"FR": {"EUR", []string{"fr-FR", "en-FR"}, regionEU},
	"GB": {"GBP", []string{"en-GB"}, regionEU},
	"GR": {"EUR", []string{"el-GR", "en-GR"}, regionEU},
	"IE": {"EUR", []string{"en-IE"}, regionEU},
	"IT": {"EUR", []string{"it-IT", "en-IT"}, regionEU},
	"NL": {"EUR", []string{"nl-NL", "en-NL"}, regionEU},
	"NO": {"NOK", []string{"nb-NO", "en-NO"}, regionEU},
	"NZ": {"NZD", []string{"en-NZ"}, regionOC},
	"PL": {"PLN", []string{"pl-PL", "en-PL"}, regionEU},
	"PT": {"EUR", []string{"pt-PT", "en-PT"}, regionEU},
	"RO": {"RON", []string{"ro-RO", "en-RO"}, regionEU},
	"SE": {"SEK", []string{"sv-SE", "en-SE"}, regionEU},
	"US": {"USD", []string{"en-US", "es-US"}, regionNA},
}

// currenciesOf lists the currencies a region's merchant account is set up
// for, as Klarna's "configured currencies are: ..." message lists them.
func currenciesOf(r region) string {
	var out []string
	for _, c := range countries {
		if c.Region == r && !slices.Contains(out, c.Currency) {
			out = append(out, c.Currency)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// hasLocale reports whether Klarna accepts locale with the country,
// comparing without case (RFC 1766 tags are case-insensitive).
func (c country) hasLocale(locale string) bool {
	return slices.ContainsFunc(c.Locales, func(l string) bool { return strings.EqualFold(l, locale) })
}

// category is a payment method category a session offers: its identifier
// (the value load() and authorize() take as payment_method_category), the
// name the session answer shows, and the payment method an order paid with
// it reports as authorized_payment_method.
type category struct {
	ID     string
	Name   string
	Method paymentMethod
}

// paymentMethod is authorized_payment_method as the Payments OpenAPI types
// it: {type, number_of_days?, number_of_installments?}.
type paymentMethod struct {
	Type                 string `json:"type"`
	NumberOfDays         int    `json:"number_of_days,omitempty"`
	NumberOfInstallments int    `json:"number_of_installments,omitempty"`
}

// tokenType is the payment_method_type a customer token (Customer Token
// API) reads back for a payment method, as the documented example writes
// it (INVOICE).
func (m paymentMethod) tokenType() string { return strings.ToUpper(m.Type) }

var (
	payNow      = category{"pay_now", "Pay now", paymentMethod{Type: "direct_debit"}}
	payLater    = category{"pay_later", "Pay in 30 days", paymentMethod{Type: "invoice", NumberOfDays: 30}}
	payIn3      = category{"pay_over_time", "Pay in 3 interest-free installments", paymentMethod{Type: "fixed_amount", NumberOfInstallments: 3}}
	payIn4      = category{"pay_over_time", "Pay in 4 interest-free payments", paymentMethod{Type: "fixed_amount", NumberOfInstallments: 4}}
	payWithKlna = category{"klarna", "Pay with Klarna", paymentMethod{Type: "invoice", NumberOfDays: 30}}
)

// categoriesOf returns the payment method categories a session in the
// country offers. Klarna does not publish which categories a session
// returns per country: it depends on the merchant's agreement ("You need to
// sign an agreement ... for each country") and on whether the merchant has
// moved to the single "klarna" category of Klarna's unified purchase flow
// (https://docs.klarna.com/payments/web-payments/additional-resources/payment-method-grouping/,
// the SDK flows page: "The most common value is klarna, but there might be
// cases when you encounter pay_now, pay_later, pay_over_time"). The
// sandbox's merchant account has per-category agreements in the shop's
// markets (different per country, so a shop that hard-codes a category
// fails somewhere) and the single "klarna" category everywhere else. The
// first is the default the control API authorizes with.
func categoriesOf(countryCode string) []category {
	switch strings.ToUpper(countryCode) {
	case "DE":
		return []category{payLater, payNow, payIn3}
	case "NO":
		return []category{payLater, payIn3}
	case "US":
		return []category{payIn4, payLater}
	}
	return []category{payWithKlna}
}

// categoryOf finds an offered category by identifier.
func categoryOf(countryCode, id string) (category, bool) {
	for _, c := range categoriesOf(countryCode) {
		if c.ID == id {
			return c, true
		}
	}
	return category{}, false
}

// categoryIDs lists the identifiers offered in the country.
func categoryIDs(countryCode string) []string {
	var ids []string
	for _, c := range categoriesOf(countryCode) {
		ids = append(ids, c.ID)
	}
	return ids
}
