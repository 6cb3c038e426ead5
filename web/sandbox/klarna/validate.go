package klarna

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The request bodies as Klarna reads them. Pointers tell a missing field
// from a zero one.
type wireLine struct {
	Type                *string `json:"type"`
	Reference           *string `json:"reference"`
	Name                *string `json:"name"`
	Quantity            *int64  `json:"quantity"`
	QuantityUnit        *string `json:"quantity_unit"`
	UnitPrice           *int64  `json:"unit_price"`
	TaxRate             *int64  `json:"tax_rate"`
	TotalAmount         *int64  `json:"total_amount"`
	TotalDiscountAmount *int64  `json:"total_discount_amount"`
	TotalTaxAmount      *int64  `json:"total_tax_amount"`
	ProductURL          *string `json:"product_url"`
	ImageURL            *string `json:"image_url"`
	MerchantData        *string `json:"merchant_data"`
}

type wireMerchantURLs struct {
	Confirmation  *string `json:"confirmation"`
	Notification  *string `json:"notification"`
	Push          *string `json:"push"`
	Authorization *string `json:"authorization"`
}

type wireCustomer struct {
	// Not in the API reference's customer object; from Klarna's guides: the stored
	// account-linking token and a Sign in with Klarna access token.
	CustomerToken     *string `json:"customer_token"`
	KlarnaAccessToken *string `json:"klarna_access_token"`
	DateOfBirth       *string `json:"date_of_birth"`
	Type              *string `json:"type"`
}

// wireBody is every field the session, order and customer-token order
// bodies share; each operation checks the ones it requires.
type wireBody struct {
	AcquiringChannel   *string           `json:"acquiring_channel"`
	Intent             *string           `json:"intent"`
	PurchaseCountry    *string           `json:"purchase_country"`
	PurchaseCurrency   *string           `json:"purchase_currency"`
	Locale             *string           `json:"locale"`
	OrderAmount        *int64            `json:"order_amount"`
	OrderTaxAmount     *int64            `json:"order_tax_amount"`
	OrderLines         *[]wireLine       `json:"order_lines"`
	MerchantURLs       *wireMerchantURLs `json:"merchant_urls"`
	MerchantReference1 *string           `json:"merchant_reference1"`
	MerchantReference2 *string           `json:"merchant_reference2"`
	MerchantData       *string           `json:"merchant_data"`
	Customer           *wireCustomer     `json:"customer"`
	BillingAddress     json.RawMessage   `json:"billing_address"`
	ShippingAddress    json.RawMessage   `json:"shipping_address"`
	AutoCapture        *bool             `json:"auto_capture"`
}

// parseBody decodes a request body. Unknown fields are ignored, as Klarna
// does; a field of the wrong type is a BAD_VALUE naming it.
func parseBody(data []byte) (wireBody, *apiError) {
	var b wireBody
	if len(strings.TrimSpace(string(data))) == 0 {
		return b, &apiError{400, "BAD_REQUEST", []string{"Request body is missing"}}
	}
	if err := json.Unmarshal(data, &b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return b, badValue(te.Field + ": want " + te.Type.String())
		}
		return b, &apiError{400, "BAD_REQUEST", []string{"Could not parse the request body as JSON"}}
	}
	return b, nil
}

// decodeStrict decodes a small body whose fields are all checked by hand.
func decodeStrict(data []byte, v any) *apiError {
	if err := json.Unmarshal(data, v); err != nil {
		return &apiError{400, "BAD_REQUEST", []string{"Could not parse the request body as JSON"}}
	}
	return nil
}

// apiError is an answer in ErrorV2 form.
type apiError struct {
	Status   int
	Code     string
	Messages []string
}

func badValue(msgs ...string) *apiError {
	for i, m := range msgs {
		msgs[i] = "Bad value: " + m
	}
	return &apiError{400, "BAD_VALUE", msgs}
}

var (
	countryPattern  = regexp.MustCompile(`^[A-Za-z]{2}$`)
	currencyPattern = regexp.MustCompile(`^[A-Za-z]{3}$`)
	localePattern   = regexp.MustCompile(`^[A-Za-z]{2}(?:-[A-Za-z]{2})*$`)
)

// markets are Klarna's purchase countries with the currency each sells in
// (Klarna's "supported countries and currencies" list). A currency that
// matches the format but not the country is refused, as Klarna refuses it.
var markets = map[string]string{
	"AT": "EUR", "AU": "AUD", "BE": "EUR", "CA": "CAD", "CH": "CHF", "CZ": "CZK", "DE": "EUR", "DK": "DKK",
	"ES": "EUR", "FI": "EUR", "FR": "EUR", "GB": "GBP", "GR": "EUR", "HU": "HUF", "IE": "EUR", "IT": "EUR",
	"MX": "MXN", "NL": "EUR", "NO": "NOK", "NZ": "NZD", "PL": "PLN", "PT": "EUR", "RO": "RON", "SE": "SEK",
	"SK": "EUR", "US": "USD",
}

var lineTypes = map[string]bool{"physical": true, "discount": true, "shipping_fee": true, "sales_tax": true,
	"digital": true, "gift_card": true, "store_credit": true, "surcharge": true}

var intents = map[string]bool{"buy": true, "tokenize": true, "buy_and_tokenize": true, "buy_and_link": true}

// rules say which fields an operation requires and how large amounts may be.
type rules struct {
	requireCountry bool
	requireTax     bool  // customer-token order: order_tax_amount is required
	minOrderAmount int64 // customer-token order: at least 1
	maxLineAmount  int64 // 200000000 in Payments, 100000000 in the Customer Token API
	intent         bool  // the field exists (sessions)
}

var (
	sessionRules    = rules{requireCountry: true, maxLineAmount: 200000000, intent: true}
	orderRules      = rules{requireCountry: true, maxLineAmount: 200000000}
	tokenOrderRules = rules{requireTax: true, minOrderAmount: 1, maxLineAmount: 100000000}
)

// validate checks a body as Klarna's documentation describes: required
// fields, formats, lengths, and the order arithmetic (each line's total and
// tax, and the order's sums). It returns every problem at once.
func validate(b wireBody, r rules) *apiError {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	if r.requireCountry {
		switch {
		case b.PurchaseCountry == nil:
			add("purchase_country: required")
		case !countryPattern.MatchString(*b.PurchaseCountry):
			add("purchase_country: want ISO 3166 alpha-2, such as DE")
		case markets[strings.ToUpper(*b.PurchaseCountry)] == "":
			add("purchase_country: Klarna does not sell in %q", *b.PurchaseCountry)
		}
	}
	switch {
	case b.PurchaseCurrency == nil:
		add("purchase_currency: required")
	case !currencyPattern.MatchString(*b.PurchaseCurrency):
		add("purchase_currency: want ISO 4217, such as EUR")
	case b.PurchaseCountry != nil && markets[strings.ToUpper(*b.PurchaseCountry)] != "" &&
		!strings.EqualFold(markets[strings.ToUpper(*b.PurchaseCountry)], *b.PurchaseCurrency):
		add("purchase_currency: %s is not a currency of purchase_country %s (want %s)",
			strings.ToUpper(*b.PurchaseCurrency), strings.ToUpper(*b.PurchaseCountry), markets[strings.ToUpper(*b.PurchaseCountry)])
	}
	if b.Locale != nil && !localePattern.MatchString(*b.Locale) {
		add("locale: want RFC 1766, such as de-DE")
	}
	if r.intent && b.Intent != nil && !intents[*b.Intent] {
		add("intent: want buy, tokenize, buy_and_tokenize or buy_and_link")
	}
	if b.AcquiringChannel != nil {
		switch *b.AcquiringChannel {
		case "ECOMMERCE", "IN_STORE", "TELESALES":
		default:
			add("acquiring_channel: want ECOMMERCE, IN_STORE or TELESALES")
		}
	}
	switch {
	case b.OrderAmount == nil:
		add("order_amount: required")
	case *b.OrderAmount < r.minOrderAmount:
		add("order_amount: must be at least %d", r.minOrderAmount)
	}
	if b.OrderTaxAmount == nil && r.requireTax {
		add("order_tax_amount: required")
	} else if b.OrderTaxAmount != nil && *b.OrderTaxAmount < 0 {
		add("order_tax_amount: must not be negative")
	}
	checkLen := func(field string, v *string, min, max int) {
		if v != nil && (len(*v) < min || len(*v) > max) {
			if min > 0 {
				add("%s: length must be %d to %d", field, min, max)
			} else {
				add("%s: at most %d characters", field, max)
			}
		}
	}
	checkLen("merchant_reference1", b.MerchantReference1, 0, 255)
	checkLen("merchant_reference2", b.MerchantReference2, 0, 255)
	checkLen("merchant_data", b.MerchantData, 0, 6000)
	if u := b.MerchantURLs; u != nil {
		checkLen("merchant_urls.confirmation", u.Confirmation, 0, 2000)
		checkLen("merchant_urls.notification", u.Notification, 0, 2000)
		checkLen("merchant_urls.push", u.Push, 0, 2000)
		checkLen("merchant_urls.authorization", u.Authorization, 0, 2000)
	}
	if c := b.Customer; c != nil && c.Type != nil && *c.Type != "person" && *c.Type != "organization" {
		add("customer.type: want person or organization")
	}

	var sumAmount, sumTax int64
	switch {
	case b.OrderLines == nil:
		add("order_lines: required")
	case len(*b.OrderLines) == 0:
		add("order_lines: at least one line")
	case len(*b.OrderLines) > 1000:
		add("order_lines: at most 1000 lines")
	default:
		for i, l := range *b.OrderLines {
			f := fmt.Sprintf("order_lines[%d].", i)
			a, t := checkLine(l, r, func(format string, args ...any) { add(f+format, args...) })
			sumAmount += a
			sumTax += t
		}
		if b.OrderAmount != nil && *b.OrderAmount != sumAmount {
			add("order_amount: %d is not the sum of the lines' total_amount (%d)", *b.OrderAmount, sumAmount)
		}
		tax := int64(0)
		if b.OrderTaxAmount != nil {
			tax = *b.OrderTaxAmount
		}
		if tax != sumTax {
			add("order_tax_amount: %d is not the sum of the lines' total_tax_amount (%d)", tax, sumTax)
		}
	}
	if len(bad) > 0 {
		return badValue(bad...)
	}
	return nil
}

// checkLine checks one order line and returns its total and tax.
func checkLine(l wireLine, r rules, add func(string, ...any)) (total, tax int64) {
	val := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	switch {
	case l.Name == nil:
		add("name: required")
	case len(*l.Name) < 1 || len(*l.Name) > 255:
		add("name: length must be 1 to 255")
	}
	typ := "physical"
	if l.Type != nil {
		typ = *l.Type
		if !lineTypes[typ] {
			add("type: %q is not an order line type", typ)
		}
	}
	if l.Reference != nil && len(*l.Reference) > 255 {
		add("reference: at most 255 characters")
	}
	if l.QuantityUnit != nil && (len(*l.QuantityUnit) < 1 || len(*l.QuantityUnit) > 8) {
		add("quantity_unit: length must be 1 to 8")
	}
	for _, u := range []struct {
		name string
		v    *string
	}{{"product_url", l.ProductURL}, {"image_url", l.ImageURL}, {"merchant_data", l.MerchantData}} {
		if u.v != nil && len(*u.v) > 1024 {
			add("%s: at most 1024 characters", u.name)
		}
	}
	ok := true
	need := func(name string, p *int64) {
		if p == nil {
			add("%s: required", name)
			ok = false
		}
	}
	need("quantity", l.Quantity)
	need("unit_price", l.UnitPrice)
	need("total_amount", l.TotalAmount)
	qty, unit, total, disc, rate := val(l.Quantity), val(l.UnitPrice), val(l.TotalAmount), val(l.TotalDiscountAmount), val(l.TaxRate)
	tax = val(l.TotalTaxAmount)
	if qty < 0 {
		add("quantity: must not be negative")
		ok = false
	}
	if disc < 0 {
		add("total_discount_amount: must not be negative")
		ok = false
	}
	if unit > r.maxLineAmount || total > r.maxLineAmount {
		add("unit_price and total_amount: at most %d", r.maxLineAmount)
		ok = false
	}
	if rate < 0 || rate > 10000 {
		add("tax_rate: want 0 to 10000 (two implied decimals: 1900 = 19%%)")
		ok = false
	}
	if !ok {
		return total, tax
	}
	if want := qty*unit - disc; total != want {
		add("total_amount: %d is not quantity × unit_price − total_discount_amount (%d)", total, want)
	}
	// Klarna's tax rule: total_tax_amount within ±1 of
	// total_amount − total_amount×10000/(10000+tax_rate), i.e. of
	// total×rate/(10000+rate). Compared in integers: |tax×(10000+rate) −
	// total×rate| ≤ 10000+rate.
	den := 10000 + rate
	if d := tax*den - total*rate; d > den || d < -den {
		add("total_tax_amount: %d is not within 1 of total_amount − total_amount×10000/(10000+tax_rate) (%.2f)",
			tax, float64(total*rate)/float64(den))
	}
	if typ == "discount" && tax > 0 {
		add("total_tax_amount: must be negative or zero on a discount line")
	}
	return total, tax
}

// orderData is what an authorization fixes: the order a create-order call
// must match.
type orderData struct {
	Country  string
	Currency string
	Amount   int64
	Tax      int64
	Lines    []lineKey
}

type lineKey struct {
	Type, Reference, Name               string
	Quantity, UnitPrice, TaxRate, Total int64
	Discount, TotalTax                  int64
}

func dataOf(b wireBody) orderData {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	d := orderData{Country: strings.ToUpper(str(b.PurchaseCountry)), Currency: strings.ToUpper(str(b.PurchaseCurrency)),
		Amount: num(b.OrderAmount), Tax: num(b.OrderTaxAmount)}
	if b.OrderLines != nil {
		for _, l := range *b.OrderLines {
			typ := str(l.Type)
			if typ == "" {
				typ = "physical"
			}
			d.Lines = append(d.Lines, lineKey{Type: typ, Reference: str(l.Reference), Name: str(l.Name),
				Quantity: num(l.Quantity), UnitPrice: num(l.UnitPrice), TaxRate: num(l.TaxRate), Total: num(l.TotalAmount),
				Discount: num(l.TotalDiscountAmount), TotalTax: num(l.TotalTaxAmount)})
		}
	}
	return d
}

// mismatches names the fields of an order that differ from what was
// authorized (Klarna's 409 "Not matching fields: [...]").
func (a orderData) mismatches(b orderData) []string {
	var out []string
	if a.Country != b.Country {
		out = append(out, "purchase_country")
	}
	if a.Currency != b.Currency {
		out = append(out, "purchase_currency")
	}
	if a.Amount != b.Amount {
		out = append(out, "order_amount")
	}
	if a.Tax != b.Tax {
		out = append(out, "order_tax_amount")
	}
	if len(a.Lines) != len(b.Lines) {
		return append(out, "order_lines")
	}
	for i := range a.Lines {
		if a.Lines[i] != b.Lines[i] {
			return append(out, "order_lines")
		}
	}
	return out
}
