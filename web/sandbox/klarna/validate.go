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
	Type                *string `json:"type,omitempty"`
	Reference           *string `json:"reference,omitempty"`
	Name                *string `json:"name,omitempty"`
	Quantity            *int64  `json:"quantity,omitempty"`
	QuantityUnit        *string `json:"quantity_unit,omitempty"`
	UnitPrice           *int64  `json:"unit_price,omitempty"`
	TaxRate             *int64  `json:"tax_rate,omitempty"`
	TotalAmount         *int64  `json:"total_amount,omitempty"`
	TotalDiscountAmount *int64  `json:"total_discount_amount,omitempty"`
	TotalTaxAmount      *int64  `json:"total_tax_amount,omitempty"`
	ProductURL          *string `json:"product_url,omitempty"`
	ImageURL            *string `json:"image_url,omitempty"`
	MerchantData        *string `json:"merchant_data,omitempty"`
}

type wireMerchantURLs struct {
	Confirmation  *string `json:"confirmation,omitempty"`
	Notification  *string `json:"notification,omitempty"`
	Push          *string `json:"push,omitempty"`
	Authorization *string `json:"authorization,omitempty"`
}

type wireCustomer struct {
	// Not in the API reference's customer object; from Klarna's guides: the stored
	// account-linking token and a Sign in with Klarna access token.
	CustomerToken     *string `json:"customer_token,omitempty"`
	KlarnaAccessToken *string `json:"klarna_access_token,omitempty"`
	DateOfBirth       *string `json:"date_of_birth,omitempty"`
	Type              *string `json:"type,omitempty"`
}

// wireBody is every field the session, order and customer-token order
// bodies share; each operation checks the ones it requires.
type wireBody struct {
	AcquiringChannel   *string           `json:"acquiring_channel,omitempty"`
	Intent             *string           `json:"intent,omitempty"`
	PurchaseCountry    *string           `json:"purchase_country,omitempty"`
	PurchaseCurrency   *string           `json:"purchase_currency,omitempty"`
	Locale             *string           `json:"locale,omitempty"`
	OrderAmount        *int64            `json:"order_amount,omitempty"`
	OrderTaxAmount     *int64            `json:"order_tax_amount,omitempty"`
	OrderLines         *[]wireLine       `json:"order_lines,omitempty"`
	MerchantURLs       *wireMerchantURLs `json:"merchant_urls,omitempty"`
	MerchantReference1 *string           `json:"merchant_reference1,omitempty"`
	MerchantReference2 *string           `json:"merchant_reference2,omitempty"`
	MerchantData       *string           `json:"merchant_data,omitempty"`
	Customer           *wireCustomer     `json:"customer,omitempty"`
	BillingAddress     json.RawMessage   `json:"billing_address,omitempty"`
	ShippingAddress    json.RawMessage   `json:"shipping_address,omitempty"`
	AutoCapture        *bool             `json:"auto_capture,omitempty"`
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

// badValue is Klarna's 400 BAD_VALUE. Each message names the field the way
// Klarna does ("Bad value: order_lines[0].total_amount"); a detail after
// the field's name, "field: why", is put in parentheses after it, as in
// Klarna's own "Bad value: purchase_currency (order billing country is:
// NO, configured currencies are: ...)".
func badValue(msgs ...string) *apiError {
	for i, m := range msgs {
		if field, why, found := strings.Cut(m, ": "); found {
			m = field + " (" + why + ")"
		}
		msgs[i] = "Bad value: " + m
	}
	return &apiError{400, "BAD_VALUE", msgs}
}

var (
	countryPattern  = regexp.MustCompile(`^[A-Za-z]{2}$`)
	currencyPattern = regexp.MustCompile(`^[A-Za-z]{3}$`)
	localePattern   = regexp.MustCompile(`^[A-Za-z]{2}(?:-[A-Za-z]{2})*$`)
)

var lineTypes = map[string]bool{"physical": true, "discount": true, "shipping_fee": true, "sales_tax": true,
	"digital": true, "gift_card": true, "store_credit": true, "surcharge": true}

// intents: the OpenAPI enum (buy, tokenize, buy_and_tokenize) and the
// account-linking guide's buy_and_link.
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
// fields, formats, lengths, the purchase country, currency and locale as a
// combination Klarna sells in and the region reg serves, and the order
// arithmetic (each line's total and tax, and the order's sums, by the tax
// rules of the country). It returns every problem at once. tokenCountry is
// the purchase country of a customer-token order, which has no
// purchase_country of its own: the token's.
func validate(b wireBody, r rules, reg region, tokenCountry string) *apiError {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	cc := strings.ToUpper(tokenCountry)
	if r.requireCountry {
		cc = ""
		switch {
		case b.PurchaseCountry == nil:
			add("purchase_country: required")
		case !countryPattern.MatchString(*b.PurchaseCountry):
			add("purchase_country: want ISO 3166 alpha-2, such as DE")
		case countries[strings.ToUpper(*b.PurchaseCountry)].Currency == "":
			add("purchase_country: Klarna payments does not sell in %s", strings.ToUpper(*b.PurchaseCountry))
		default:
			cc = strings.ToUpper(*b.PurchaseCountry)
		}
	}
	market, known := countries[cc]
	switch {
	case b.PurchaseCurrency == nil:
		add("purchase_currency: required")
	case !currencyPattern.MatchString(*b.PurchaseCurrency):
		add("purchase_currency: want ISO 4217, such as EUR")
	case !r.requireCountry:
		// A customer-token order: the token fixes the country; a currency
		// the token's payment method cannot pay in is the Customer Token
		// API's 403 PAYMENT_METHOD_CURRENCY_MISMATCH, not a bad value.
	case known && market.Region != reg:
		// Observed on the European playground for a US/USD/en-US session:
		// 400 BAD_VALUE "Bad value: purchase_currency". The other region is
		// another merchant account, not set up for this country.
		add("purchase_currency: purchase country is: %s, configured currencies are: %s; %s is sold through Klarna's %s API at %s",
			cc, currenciesOf(reg), cc, regionName(market.Region), market.Region.host())
	case known && !strings.EqualFold(market.Currency, *b.PurchaseCurrency):
		add("purchase_currency: %s is not the currency of purchase country %s (Klarna only supports the local currency: %s)",
			strings.ToUpper(*b.PurchaseCurrency), cc, market.Currency)
	}
	if b.Locale != nil {
		switch {
		case !localePattern.MatchString(*b.Locale):
			add("locale: want RFC 1766, such as de-DE")
		case known && r.requireCountry && !market.hasLocale(*b.Locale):
			add("locale: %s is not a locale of purchase country %s (supported: %s)", *b.Locale, cc, strings.Join(market.Locales, ", "))
		}
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

	switch {
	case b.OrderLines == nil:
		add("order_lines: required")
	case len(*b.OrderLines) == 0:
		add("order_lines: at least one line")
	case len(*b.OrderLines) > 1000:
		add("order_lines: at most 1000 lines")
	default:
		checkLines(b, r, cc == "US", add)
	}
	if len(bad) > 0 {
		return badValue(bad...)
	}
	return nil
}

func regionName(r region) string {
	switch r {
	case regionNA:
		return "North American"
	case regionOC:
		return "Oceanian"
	}
	return "European"
}

// checkLines checks every order line and the order's sums.
//
// Tax (https://docs.klarna.com/klarna-payments/in-depth-knowledge/tax-handling/):
// Klarna knows two ways. The global way (Europe, Australia, and any order
// without a sales_tax line): each line carries tax_rate and
// total_tax_amount within ±1 of total_amount×tax_rate/(10000+tax_rate), and
// order_tax_amount is the sum of the lines' total_tax_amount. The US way
// (purchase country US, with tax sent as lines of type sales_tax): "the
// tax_rate field isn't present in any order lines", order_tax_amount "is the
// total_amount of the sales_tax order line" (of all of them: "different tax
// types should be reflected in separate order lines"), and order_amount is
// the sum of every line's total_amount, the tax lines included. So in a US
// order with sales_tax lines a product may not carry a tax rate or a tax
// amount (refused: order_lines[i].tax_rate / total_tax_amount); tax_rate 0
// is accepted as "no tax rate", as the shop's and many real clients' JSON
// writes it. The documents recommend naming the tax line "Tax" or "Sales
// Tax"; no document says Klarna refuses another name, so the name is not
// checked.
func checkLines(b wireBody, r rules, us bool, add func(string, ...any)) {
	usWay := false
	if us {
		for _, l := range *b.OrderLines {
			if l.Type != nil && *l.Type == "sales_tax" {
				usWay = true
			}
		}
	}
	var sumAmount, sumTax, salesTax int64
	for i, l := range *b.OrderLines {
		f := fmt.Sprintf("order_lines[%d].", i)
		lineAdd := func(format string, args ...any) { add(f+format, args...) }
		isTax := l.Type != nil && *l.Type == "sales_tax"
		if usWay {
			if l.TaxRate != nil && *l.TaxRate != 0 {
				lineAdd("tax_rate: a US order that sends its tax as sales_tax lines has no tax_rate in any line")
			}
			if isTax {
				if l.TotalTaxAmount != nil && *l.TotalTaxAmount != 0 && (l.TotalAmount == nil || *l.TotalTaxAmount != *l.TotalAmount) {
					lineAdd("total_tax_amount: a sales_tax line is all tax: 0 or its total_amount")
				}
			} else if l.TotalTaxAmount != nil && *l.TotalTaxAmount != 0 {
				lineAdd("total_tax_amount: in a US order with sales_tax lines the tax is in those lines, not in the products")
			}
		}
		a, t := checkLine(l, r, usWay && isTax, lineAdd)
		sumAmount += a
		sumTax += t
		if isTax {
			salesTax += a
		}
	}
	if b.OrderAmount != nil && *b.OrderAmount != sumAmount {
		add("order_amount: %d is not the sum of the lines' total_amount (%d)", *b.OrderAmount, sumAmount)
	}
	tax := int64(0)
	if b.OrderTaxAmount != nil {
		tax = *b.OrderTaxAmount
	}
	switch {
	case usWay && tax != salesTax:
		add("order_tax_amount: %d is not the total_amount of the sales_tax lines (%d)", tax, salesTax)
	case !usWay && tax != sumTax:
		add("order_tax_amount: %d is not the sum of the lines' total_tax_amount (%d)", tax, sumTax)
	}
}

// checkLine checks one order line and returns its total and tax. A US
// sales_tax line (salesTaxLine) is all tax and skips the tax-rate rule.
func checkLine(l wireLine, r rules, salesTaxLine bool, add func(string, ...any)) (total, tax int64) {
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
	if salesTaxLine {
		return total, tax
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
