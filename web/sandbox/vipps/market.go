package vipps

import (
	"fmt"
	"strings"
	"time"
)

// market is what the sales unit's country decides: the one currency it
// accepts and the phone numbers of its test users.
//
// "The currency used must match the country where your sales unit is
// registered" (https://developer.vippsmobilepay.com/docs/knowledge-base/across-borders),
// and in the test environment "your test user must be in the same market and
// currency as the sales unit"
// (https://developer.vippsmobilepay.com/docs/knowledge-base/test-environment).
// The sandbox stands in for the test environment, so a phone number is
// accepted only with the sales unit's country code. (In production users may
// pay merchants of other Nordic countries; the sandbox has no production.)
type market struct {
	Country  string // ISO 3166-1 alpha-2
	Currency string // ISO 4217
	Calling  string // the country calling code an MSISDN starts with
	// Digits is how many digits follow the calling code in a mobile number
	// (the national significant number): 8 in Norway and Denmark; 6 to 10 in
	// Finland, whose numbers vary in length. The documentation gives only the
	// MSISDN form (country code and number, digits only, 10 to 15 digits in
	// the OpenAPI); these lengths are the countries' numbering plans.
	MinDigits, MaxDigits int
	// CaptureWithin is how long after the user's approval a reservation
	// can be captured before Vipps MobilePay cancels it: 180 days in Norway
	// (Vipps), 14 days in Denmark and Finland (MobilePay; a longer "late
	// capture" is granted only on request)
	// (https://developer.vippsmobilepay.com/docs/knowledge-base/reserve-and-capture/).
	CaptureWithin time.Duration
}

const day = 24 * time.Hour

var markets = map[string]market{
	"NO": {Country: "NO", Currency: "NOK", Calling: "47", MinDigits: 8, MaxDigits: 8, CaptureWithin: 180 * day},
	"DK": {Country: "DK", Currency: "DKK", Calling: "45", MinDigits: 8, MaxDigits: 8, CaptureWithin: 14 * day},
	"FI": {Country: "FI", Currency: "EUR", Calling: "358", MinDigits: 6, MaxDigits: 10, CaptureWithin: 14 * day},
}

// salesUnit is the market of the configured MSN (setting vipps_msn_country).
func (p *provider) salesUnit() market {
	m, ok := markets[p.st.Settings().VippsMSNCountry]
	if !ok { // the control API refuses other values; a stored one may predate it
		return markets["NO"]
	}
	return m
}

// phoneProblem says what is wrong with an MSISDN for this market, or "" when
// nothing is. The number has already matched the OpenAPI's ^\d{10,15}$.
func (m market) phoneProblem(msisdn string) string {
	national, ok := strings.CutPrefix(msisdn, m.Calling)
	if !ok {
		return fmt.Sprintf("The phone number must be a mobile number in the sales unit's market (%s): country code %s, then the number.", m.Country, m.Calling)
	}
	if n := len(national); n < m.MinDigits || n > m.MaxDigits {
		if m.MinDigits == m.MaxDigits {
			return fmt.Sprintf("A mobile number in %s has country code %s and %d digits after it.", m.Country, m.Calling, m.MinDigits)
		}
		return fmt.Sprintf("A mobile number in %s has country code %s and %d to %d digits after it.", m.Country, m.Calling, m.MinDigits, m.MaxDigits)
	}
	return ""
}

// example is a well-formed test number in this market, for page hints.
func (m market) example() string {
	return m.Calling + strings.Repeat("9", m.MinDigits)
}
